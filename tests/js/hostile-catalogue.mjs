// The hostile-request catalogue: every row is a request against the demo worker (www-demo/worker.js)
// in workerd that must be refused with the stated status and reason, without a 5xx, a wasm trap,
// an accepted session or a single store write. tests/hostile.test.mjs runs the rows;
// docs/HOSTILE-REQUESTS.md is rendered from them (`node tests/js/hostile-catalogue.mjs --write`)
// and the test fails when the committed file differs.
//
// A row: { category, name, request (what is sent, in words), status, reason, accepted: false,
// build(ctx) => { method, path, headers, body } }. `reason` is the JSON body's `reason` (or its
// `error` where the demo gives no reason: the admin routes' 401 and 429). `build` may send requests
// of its own first (the worker's clock, an admin client's earlier failures); they are counted too.
//
// `ctx` (tests/hostile.test.mjs) holds the sessions set up before the rows run: `value.<name>`, the
// cookie values; `handle.<name>`; `fields`, the parsed envelope of the live session `alice`;
// `sign(changes, options)` and `flip(changes, lengths)`, that envelope with `changes` signed again
// with the demo's key or not; `now()`, the worker's clock; `token`, the admin token.
import { writeFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { U32_MAX, U64_MAX } from './hostile-envelope.mjs';

export const ORIGIN = 'https://demo.test';
export const COOKIE = '__Host-session';
export const DOC = 'docs/HOSTILE-REQUESTS.md';

// Times of the demo's configuration (wrangler.toml [vars]) and the package's defaults, in ms.
export const ENVELOPE_TTL_MS = 60_000;
export const IDLE_MS = 1_800_000;
export const SKEW_MS = 5_000;
// How long a record may be missing because KV has not shown it yet: propagation 60 s + clock
// skew 5 s + write grace (twice the 5 s store timeout) 10 s (ARCHITECTURE.md, "A record not
// visible yet").
export const NOT_VISIBLE_WINDOW_MS = 75_000;

export const CATEGORIES = {
  header: 'Oversized and malformed Cookie headers',
  duplicate: 'Duplicate and conflicting cookies',
  tossing: 'Cookie tossing',
  encoding: 'Percent-encoded, quoted and unicode tricks',
  extreme: "Envelope fields at their extremes, signed with the demo's key",
  flipped: 'A valid envelope with one field changed, not signed again',
  replay: 'Replays after logout, rotate, update and revoke',
  v1: 'Version 1 cookies',
  origin: 'Wrong-origin state changes',
  admin: 'Wrong and short admin tokens',
  body: 'Bodies that are not JSON or too large',
  expiry: 'Expiry boundaries to the millisecond',
};

const JSON_TYPE = { 'content-type': 'application/json' };
const session = (value) => ({ cookie: `${COOKIE}=${value}` });
const me = (cookie) => ({ method: 'GET', path: '/api/me', headers: { cookie } });
const meWith = (value) => me(`${COOKIE}=${value}`);
const post = (path, { cookie, body, headers = {} } = {}) => ({
  method: 'POST',
  path,
  headers: { origin: ORIGIN, ...(body !== undefined ? JSON_TYPE : {}), ...(cookie ? { cookie } : {}), ...headers },
  body: body === undefined || typeof body === 'string' || body instanceof Uint8Array ? body : JSON.stringify(body),
});
const admin = (ip, authorization, { method = 'GET', path = '/admin/status', body } = {}) => ({
  method,
  path,
  headers: {
    'cf-connecting-ip': ip,
    ...(authorization !== null ? { authorization } : {}),
    ...(body !== undefined ? { ...JSON_TYPE, origin: ORIGIN } : {}),
  },
  body: body === undefined ? undefined : JSON.stringify(body),
});
// UTF-8 bytes as a header string (a header carries bytes; fetch takes them one char per byte).
const utf8 = (text) => Buffer.from(text, 'utf8').toString('latin1');

const rows = [];
function row(category, name, request, status, reason, build) {
  if (!(category in CATEGORIES)) throw new Error(`unknown category ${category}`);
  rows.push({ category, name, request, status, reason, accepted: false, build });
}

// ---- oversized and malformed Cookie headers ---------------------------------------------------

row('header', 'header over 16 KiB', 'GET /api/me, Cookie: 16,385 bytes (the live session + a padding cookie)', 401, 'header_too_large', (c) => {
  const head = `${COOKIE}=${c.value.alice}; pad=`;
  return me(head + 'a'.repeat(16 * 1024 + 1 - head.length));
});
row('header', 'header of 64 KiB', 'GET /api/me, Cookie: 64 KiB of one cookie', 401, 'header_too_large', () => me(`x=${'y'.repeat(64 * 1024)}`));
row('header', 'value not base64url', 'GET /api/me, session value `!!!!`', 401, 'malformed', () => meWith('!!!!'));
row('header', 'value too short', 'GET /api/me, session value `AgJrMQ` (version 2, key id `k1`, nothing more)', 401, 'malformed', () => meWith('AgJrMQ'));
row('header', 'value of zero bytes', 'GET /api/me, session value `AAAA` (3 zero bytes: version 0 is read first)', 401, 'bad_version', () => meWith('AAAA'));
row('header', 'value too long', 'GET /api/me, session value of 2,000 base64url characters', 401, 'malformed', () => meWith('A'.repeat(2000)));
row('header', 'standard base64 alphabet', 'GET /api/me, the live envelope with `+` and `/` for `-` and `_`', 401, 'malformed', (c) =>
  meWith(`${c.value.alice.replaceAll('-', '+').replaceAll('_', '/')}+/`));
row('header', 'base64 padding', 'GET /api/me, the live envelope followed by `==`', 401, 'malformed', (c) => meWith(`${c.value.alice}==`));
row('header', 'non-canonical base64url', 'GET /api/me, the live envelope with trailing bits set in its last character', 401, 'malformed', (c) => {
  // 198 characters carry 148 bytes and 4 unused bits, which canonical base64url leaves at zero.
  const last = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
  const v = c.value.alice;
  return meWith(v.slice(0, -1) + last[last.indexOf(v.at(-1)) | 0b1111]);
});
row('header', 'white space inside the value', 'GET /api/me, session value `AAAA AAAA`', 401, 'malformed', () => meWith('AAAA AAAA'));
row('header', 'session cookie without `=`', 'GET /api/me, Cookie: `__Host-session`', 401, 'missing', () => me(COOKIE));
row('header', 'only separators', 'GET /api/me, Cookie: `; ;;  ;`', 401, 'missing', () => me('; ;;  ;'));
row('header', 'cleared cookie', 'GET /api/me, Cookie: `__Host-session=`', 401, 'missing', () => me(`${COOKIE}=`));

// ---- duplicate and conflicting cookies --------------------------------------------------------

row('duplicate', 'the live cookie twice', 'GET /api/me, the live session cookie sent twice', 401, 'duplicate_cookie', (c) =>
  me(`${COOKIE}=${c.value.alice}; ${COOKIE}=${c.value.alice}`));
row('duplicate', 'live + empty', 'GET /api/me, the live session cookie and an empty one', 401, 'duplicate_cookie', (c) =>
  me(`${COOKIE}=${c.value.alice}; ${COOKIE}=`));
row('duplicate', 'live + garbage', 'GET /api/me, the live session cookie and `__Host-session=!!`', 401, 'duplicate_cookie', (c) =>
  me(`${COOKIE}=${c.value.alice}; ${COOKIE}=!!`));
row('duplicate', 'two users', "GET /api/me, alice's and mallory's live session cookies", 401, 'duplicate_cookie', (c) =>
  me(`${COOKIE}=${c.value.alice}; ${COOKIE}=${c.value.mallory}`));
row('duplicate', 'name with trailing space', 'GET /api/me, `__Host-session =<mallory>` and the live cookie', 401, 'duplicate_cookie', (c) =>
  me(`${COOKIE} =${c.value.mallory}; ${COOKIE}=${c.value.alice}`));
row('duplicate', 'two Cookie header lines', 'POST /api/rotate, two Cookie header lines (mallory, alice), joined by the runtime', 401, 'duplicate_cookie', (c) => ({
  ...post('/api/rotate'),
  headers: [['origin', ORIGIN], ['cookie', `${COOKIE}=${c.value.mallory}`], ['cookie', `${COOKIE}=${c.value.alice}`]],
}));

// ---- cookie tossing ---------------------------------------------------------------------------

row('tossing', 'tossed session first', "POST /api/data, mallory's session (as a Path=/api cookie a sibling set) before alice's", 401, 'duplicate_cookie', (c) =>
  post('/api/data', { cookie: `${COOKIE}=${c.value.mallory}; ${COOKIE}=${c.value.alice}`, body: { data: { theme: 'dark' } } }));
row('tossing', 'tossed session to logout', "POST /api/logout, mallory's session then alice's (nothing ended: not a 200)", 401, 'duplicate_cookie', (c) =>
  post('/api/logout', { cookie: `${COOKIE}=${c.value.mallory}; ${COOKIE}=${c.value.alice}` }));
row('tossing', 'session without the prefix', 'GET /api/me, the live envelope as `session=` (no `__Host-`)', 401, 'missing', (c) => me(`session=${c.value.alice}`));
row('tossing', '__Secure- instead of __Host-', 'GET /api/me, the live envelope as `__Secure-session=`', 401, 'missing', (c) => me(`__Secure-session=${c.value.alice}`));
row('tossing', 'prefix in lower case', 'GET /api/me, the live envelope as `__host-session=`', 401, 'missing', (c) => me(`__host-session=${c.value.alice}`));
row('tossing', 'envelope of another cookie name', 'GET /api/me, the live envelope signed for the name `session`, sent as `__Host-session`', 401, 'bad_signature', (c) =>
  meWith(c.sign({}, { name: 'session' })));

// ---- percent-encoded, quoted and unicode tricks -----------------------------------------------

row('encoding', 'percent-encoded value', 'GET /api/me, every character of the live envelope as `%XX`', 401, 'malformed', (c) =>
  meWith([...c.value.alice].map((ch) => `%${ch.charCodeAt(0).toString(16).toUpperCase()}`).join('')));
row('encoding', 'percent-encoded name', 'GET /api/me, `__Host%2Dsession=<live envelope>`', 401, 'missing', (c) => me(`__Host%2Dsession=${c.value.alice}`));
row('encoding', 'quoted value', 'GET /api/me, `__Host-session="<live envelope>"`', 401, 'malformed', (c) => meWith(`"${c.value.alice}"`));
row('encoding', 'homoglyph name', 'GET /api/me, the name with a Cyrillic `е` (UTF-8)', 401, 'missing', (c) => me(utf8(`__Host-s\u0435ssion=${c.value.alice}`)));
row('encoding', 'zero-width space in the value', 'GET /api/me, U+200B (UTF-8) inside the live envelope', 401, 'malformed', (c) =>
  meWith(c.value.alice.slice(0, 50) + utf8('\u200b') + c.value.alice.slice(50)));
row('encoding', 'non-ASCII after the value', 'GET /api/me, the live envelope followed by `é` (UTF-8)', 401, 'malformed', (c) => meWith(c.value.alice + utf8('é')));
row('encoding', 'value starting with `=`', 'GET /api/me, `__Host-session==<live envelope>`', 401, 'malformed', (c) => meWith(`=${c.value.alice}`));

// ---- envelope fields at their extremes (signed with the demo's key) ----------------------------
// A fresh envelope that verifies under the current key is the key's word and is trusted without
// the store (ARCHITECTURE.md). So each extreme here is either refused on its own or sent with
// `expires_at` = 0, which makes the worker judge it against the stored record, the authority.

const stale = { expiresAt: 0n };
row('extreme', 'version 0', 'GET /api/me, version byte 0', 401, 'bad_version', (c) => meWith(c.sign({ version: 0 })));
row('extreme', 'version 255', 'GET /api/me, version byte 255', 401, 'bad_version', (c) => meWith(c.sign({ version: 255 })));
row('extreme', 'key id of 0 bytes', 'GET /api/me, kid_len 0', 401, 'malformed', (c) => meWith(c.sign({ kid: '' })));
row('extreme', 'key id of 17 bytes', 'GET /api/me, kid_len 17 (the limit is 16)', 401, 'malformed', (c) => meWith(c.sign({ kid: 'k'.repeat(17) })));
row('extreme', 'unknown key id of 16 bytes', 'GET /api/me, kid `kkkkkkkkkkkkkkkk`', 401, 'unknown_key', (c) => meWith(c.sign({ kid: 'k'.repeat(16) })));
row('extreme', 'user id of 0 bytes', 'GET /api/me, user_len 0', 401, 'malformed', (c) => meWith(c.sign({ user: '' })));
row('extreme', 'user id of 129 bytes', 'GET /api/me, user_len 129 (the limit is 128)', 401, 'malformed', (c) => meWith(c.sign({ user: 'a'.repeat(129) })));
row('extreme', 'user id with NUL', 'GET /api/me, user `ali\\0ce`', 401, 'malformed', (c) => meWith(c.sign({ user: 'ali\0ce' })));
row('extreme', 'user id not UTF-8', 'GET /api/me, user bytes `ff fe`', 401, 'malformed', (c) => meWith(c.sign({ user: Buffer.from([0xff, 0xfe]) })));
row('extreme', 'data of 1,025 bytes', 'GET /api/me, a JSON object of 1,025 bytes (the limit is 1,024)', 401, 'malformed', (c) =>
  meWith(c.sign({ data: `{"a":"${'x'.repeat(1017)}"}` })));
row('extreme', 'data_len 65,535', 'GET /api/me, data_len 0xFFFF over 33 bytes of data', 401, 'malformed', (c) => meWith(c.sign({}, { lengths: { data: 0xffff } })));
row('extreme', 'data not an object', 'GET /api/me, data `[1]`', 401, 'malformed', (c) => meWith(c.sign({ data: '[1]' })));
row('extreme', 'data with braces, not JSON', 'GET /api/me, data `{x}` (fresh: judged without the store)', 401, 'malformed', (c) => meWith(c.sign({ data: '{x}' })));
row('extreme', 'data with braces, not JSON, stale', 'GET /api/sessions, data `{x}`, expires_at = 0', 401, 'record_mismatch', (c) => ({
  method: 'GET',
  path: '/api/sessions',
  headers: session(c.sign({ data: '{x}', ...stale })),
}));
row('extreme', 'issued_at 2^64-1', 'GET /api/me, issued_at = 2^64-1', 401, 'issued_in_future', (c) => meWith(c.sign({ issuedAt: U64_MAX })));
row('extreme', 'absolute_deadline 0', 'GET /api/me, absolute_deadline = 0', 401, 'expired_absolute', (c) => meWith(c.sign({ absoluteDeadline: 0n })));
row('extreme', 'idle_deadline 0', 'GET /api/me, idle_deadline = 0', 401, 'expired_idle', (c) => meWith(c.sign({ idleDeadline: 0n })));
row('extreme', 'issued_at 0', 'GET /api/me, issued_at = 0, expires_at = 0 (idle judged from signing time)', 401, 'expired_idle', (c) =>
  meWith(c.sign({ issuedAt: 0n, ...stale })));
row('extreme', 'idle_deadline 2^64-1', 'GET /api/me, idle_deadline = 2^64-1, signed 30 min ago, expires_at = 0', 401, 'expired_idle', async (c) =>
  meWith(c.sign({ idleDeadline: U64_MAX, issuedAt: BigInt((await c.now()) - IDLE_MS), ...stale })));
row('extreme', 'expires_at 2^64-1 on a rotated ID', 'GET /api/me, the rotated-away session re-signed with expires_at = 2^64-1', 401, 'rotated', (c) =>
  meWith(c.signFrom('aliceRotatedOld', { expiresAt: U64_MAX })));
row('extreme', 'created_at 2^64-1', 'GET /api/me, created_at = 2^64-1, expires_at = 0', 401, 'record_mismatch', (c) => meWith(c.sign({ createdAt: U64_MAX, ...stale })));
row('extreme', 'created_at 0', 'GET /api/me, created_at = 0, expires_at = 0', 401, 'record_mismatch', (c) => meWith(c.sign({ createdAt: 0n, ...stale })));
row('extreme', 'generation 2^32-1', 'GET /api/me, generation = 2^32-1, expires_at = 0', 401, 'record_mismatch', (c) => meWith(c.sign({ generation: U32_MAX, ...stale })));
row('extreme', 'absolute_deadline 2^64-1', 'POST /api/rotate, absolute_deadline = 2^64-1, expires_at = 0', 401, 'record_mismatch', (c) =>
  post('/api/rotate', session(c.sign({ absoluteDeadline: U64_MAX, ...stale }))));
row('extreme', 'lineage all zero', 'GET /api/me, lineage = 16 zero bytes, expires_at = 0', 401, 'record_mismatch', (c) =>
  meWith(c.sign({ lineage: Buffer.alloc(16), ...stale })));
row('extreme', 'user id of 128 bytes', 'GET /api/me, user = 128 bytes (the limit), expires_at = 0', 401, 'record_mismatch', (c) =>
  meWith(c.sign({ user: 'a'.repeat(128), ...stale })));
row('extreme', 'data of 1,024 bytes', 'POST /api/data, data = a 1,024-byte object (the limit), expires_at = 0', 401, 'record_mismatch', (c) =>
  post('/api/data', { ...session(c.sign({ data: `{"a":"${'x'.repeat(1016)}"}`, ...stale })), body: { data: { theme: 'dark' } } }));
row('extreme', 'session ID all zero, no record', 'GET /api/me, session_id = 32 zero bytes, signed 80 s ago, expires_at = 0', 401, 'session_not_found', async (c) =>
  meWith(c.sign({ sessionId: Buffer.alloc(32), issuedAt: BigInt((await c.now()) - 80_000), ...stale })));
row('extreme', 'session ID all ones, rotate', 'POST /api/rotate, session_id = 32 bytes of 0xff, no record, signed 80 s ago', 401, 'session_not_found', async (c) =>
  post('/api/rotate', session(c.sign({ sessionId: Buffer.alloc(32, 0xff), issuedAt: BigInt((await c.now()) - 80_000), ...stale }))));
row('extreme', 'tag of 31 bytes', 'GET /api/me, the live envelope with its last tag byte cut', 401, 'malformed', (c) =>
  meWith(Buffer.from(c.value.alice, 'base64url').subarray(0, -1).toString('base64url')));
row('extreme', 'version byte only', 'GET /api/me, the single byte 02', 401, 'malformed', () => meWith(Buffer.from([2]).toString('base64url')));

// ---- a valid envelope with one field changed, not signed again --------------------------------

const plus1 = (n) => n + 1n;
const xor0 = (b) => {
  const copy = Buffer.from(b);
  copy[0] ^= 0x01;
  return copy;
};
row('flipped', 'version', 'GET /api/me, version 2 → 3', 401, 'bad_version', (c) => meWith(c.flip({ version: 3 })));
row('flipped', 'kid_len', 'GET /api/me, kid_len 2 → 1', 401, 'unknown_key', (c) => meWith(c.flip({}, { kid: 1 })));
row('flipped', 'kid', 'GET /api/me, kid `k1` → `k2`', 401, 'unknown_key', (c) => meWith(c.flip({ kid: 'k2' })));
row('flipped', 'session_id', 'GET /api/me, one bit of session_id', 401, 'bad_signature', (c) => meWith(c.flip({ sessionId: xor0(c.fields.sessionId) })));
row('flipped', 'lineage', 'GET /api/me, one bit of lineage', 401, 'bad_signature', (c) => meWith(c.flip({ lineage: xor0(c.fields.lineage) })));
row('flipped', 'generation', 'GET /api/me, generation + 1', 401, 'bad_signature', (c) => meWith(c.flip({ generation: c.fields.generation + 1 })));
row('flipped', 'created_at', 'GET /api/me, created_at + 1 ms', 401, 'bad_signature', (c) => meWith(c.flip({ createdAt: plus1(c.fields.createdAt) })));
row('flipped', 'issued_at', 'GET /api/me, issued_at + 1 ms', 401, 'bad_signature', (c) => meWith(c.flip({ issuedAt: plus1(c.fields.issuedAt) })));
row('flipped', 'expires_at', 'GET /api/me, expires_at + 1 ms', 401, 'bad_signature', (c) => meWith(c.flip({ expiresAt: plus1(c.fields.expiresAt) })));
row('flipped', 'idle_deadline', 'GET /api/me, idle_deadline + 1 ms', 401, 'bad_signature', (c) => meWith(c.flip({ idleDeadline: plus1(c.fields.idleDeadline) })));
row('flipped', 'absolute_deadline', 'GET /api/me, absolute_deadline + 1 ms', 401, 'bad_signature', (c) =>
  meWith(c.flip({ absoluteDeadline: plus1(c.fields.absoluteDeadline) })));
row('flipped', 'user_len', 'GET /api/me, user_len 5 → 6', 401, 'malformed', (c) => meWith(c.flip({}, { user: c.fields.user.length + 1 })));
row('flipped', 'user', 'GET /api/me, user `alice` → `alicf`', 401, 'bad_signature', (c) => meWith(c.flip({ user: 'alicf' })));
row('flipped', 'data_len', 'GET /api/me, data_len + 1', 401, 'malformed', (c) => meWith(c.flip({}, { data: c.fields.data.length + 1 })));
row('flipped', 'data', 'GET /api/me, data `"member"` → `"admin!"`', 401, 'bad_signature', (c) =>
  meWith(c.flip({ data: c.fields.data.toString().replace('"member"', '"admin!"') })));
row('flipped', 'tag', 'GET /api/me, one bit of the tag', 401, 'bad_signature', (c) => meWith(c.flip({}, {}, xor0(c.fields.tag))));
row('flipped', 'another secret, same kid', 'GET /api/me, the live envelope signed with another 32-byte secret under `k1`', 401, 'bad_signature', (c) =>
  meWith(c.sign({}, { secret: Buffer.alloc(32, 0x11) })));

// ---- replays after logout, rotate, update and revoke -------------------------------------------

row('replay', 'after logout: me', 'GET /api/me with a cookie that logged out', 401, 'revoked', (c) => meWith(c.value.aliceLoggedOut));
row('replay', 'after logout: rotate', 'POST /api/rotate with a cookie that logged out', 401, 'revoked', (c) =>
  post('/api/rotate', session(c.value.aliceLoggedOut)));
row('replay', 'after logout: login', 'POST /api/login with a logged-out cookie and a wrong password', 401, 'invalid_credentials', (c) =>
  post('/api/login', { ...session(c.value.aliceLoggedOut), body: { username: 'alice', password: 'nope' } }));
row('replay', 'after rotate: me', 'GET /api/me with the cookie a rotation replaced', 401, 'rotated', (c) => meWith(c.value.aliceRotatedOld));
row('replay', 'after rotate: rotate', 'POST /api/rotate with the cookie a rotation replaced', 401, 'rotated', (c) =>
  post('/api/rotate', session(c.value.aliceRotatedOld)));
row('replay', 'after update: data', 'POST /api/data with the cookie a data update replaced', 401, 'rotated', (c) =>
  post('/api/data', { ...session(c.value.aliceUpdatedOld), body: { data: { theme: 'dark' } } }));
row('replay', 'after update: sessions', 'GET /api/sessions with the cookie a data update replaced', 401, 'rotated', (c) => ({
  method: 'GET',
  path: '/api/sessions',
  headers: session(c.value.aliceUpdatedOld),
}));
row('replay', 'after revoke: me', 'GET /api/me with a session its user revoked from another device', 401, 'revoked', (c) => meWith(c.value.aliceRevoked));
row('replay', 'after revoke: revoke another', "DELETE /api/sessions/<alice2's handle> with the revoked session", 401, 'revoked', (c) => ({
  method: 'DELETE',
  path: `/api/sessions/${c.handle.alice2}`,
  headers: { origin: ORIGIN, ...session(c.value.aliceRevoked) },
}));
row('replay', 'after revoke-others', 'POST /api/sessions/revoke-others with a session "log out my other sessions" ended', 401, 'revoked', (c) =>
  post('/api/sessions/revoke-others', session(c.value.bobOthersRevoked)));
row('replay', 'after admin revoke of the user', 'POST /api/rotate with a session of a user the operator revoked', 401, 'revoked', (c) =>
  post('/api/rotate', session(c.value.carolRevoked)));
row('replay', 'rotated cookie re-signed fresh', 'GET /api/me, the rotated-away envelope signed again with a fresh issued_at', 401, 'rotated', async (c) => {
  const t = BigInt(await c.now());
  return meWith(c.signFrom('aliceRotatedOld', { issuedAt: t, expiresAt: t + BigInt(ENVELOPE_TTL_MS) }));
});

// ---- version 1 cookies ------------------------------------------------------------------------

row('v1', 'v1 signed', 'GET /api/me, the live envelope with version byte 1, signed with the demo key', 401, 'bad_version', (c) => meWith(c.sign({ version: 1 })));
row('v1', 'v1 unsigned', 'GET /api/me, the live envelope with version byte 1, tag unchanged', 401, 'bad_version', (c) => meWith(c.flip({ version: 1 })));
row('v1', 'v1 on rotate', 'POST /api/rotate, a version 1 envelope', 401, 'bad_version', (c) => post('/api/rotate', session(c.sign({ version: 1 }))));

// ---- wrong-origin state changes (all with alice's live cookie) ---------------------------------

const fromOrigin = (path, origin, c, extra = {}) => post(path, { ...session(c.value.alice), headers: { origin, ...extra } });
row('origin', 'logout from another site', 'POST /api/logout, Origin: https://evil.example', 403, 'cross_origin', (c) => fromOrigin('/api/logout', 'https://evil.example', c));
row('origin', 'rotate from Origin null', 'POST /api/rotate, Origin: null', 403, 'cross_origin', (c) => fromOrigin('/api/rotate', 'null', c));
row('origin', 'data from a sibling subdomain', 'POST /api/data, Origin: https://evil.demo.test, JSON body', 403, 'cross_origin', (c) =>
  post('/api/data', { ...session(c.value.alice), body: { data: { theme: 'dark' } }, headers: { origin: 'https://evil.demo.test' } }));
row('origin', 'http instead of https', 'POST /api/sessions/revoke-others, Origin: http://demo.test', 403, 'cross_origin', (c) =>
  fromOrigin('/api/sessions/revoke-others', 'http://demo.test', c));
row('origin', 'another port', 'DELETE /api/sessions/<alice2>, Origin: https://demo.test:8443', 403, 'cross_origin', (c) => ({
  method: 'DELETE',
  path: `/api/sessions/${c.handle.alice2}`,
  headers: { origin: 'https://demo.test:8443', ...session(c.value.alice) },
}));
row('origin', 'cross-site without Origin', 'POST /api/rotate, no Origin, Sec-Fetch-Site: cross-site', 403, 'cross_site', (c) => ({
  method: 'POST',
  path: '/api/rotate',
  headers: { 'sec-fetch-site': 'cross-site', ...session(c.value.alice) },
}));
row('origin', 'form post without Origin', 'POST /api/data, no Origin, Content-Type: application/x-www-form-urlencoded', 403, 'content_type', (c) => ({
  method: 'POST',
  path: '/api/data',
  headers: { 'content-type': 'application/x-www-form-urlencoded', ...session(c.value.alice) },
  body: 'data=%7B%7D',
}));
row('origin', 'text/plain JSON', 'POST /api/data, same origin, Content-Type: text/plain with a JSON body', 403, 'content_type', (c) =>
  post('/api/data', { ...session(c.value.alice), body: '{"data":{"theme":"dark"}}', headers: { 'content-type': 'text/plain' } }));
row('origin', 'login from another site', 'POST /api/login with the right password, Origin: https://evil.example', 403, 'cross_origin', () =>
  post('/api/login', { body: { username: 'mallory', password: 'demo' }, headers: { origin: 'https://evil.example' } }));
row('origin', 'admin revoke from another site', 'POST /admin/revoke with the right token, Origin: https://evil.example', 403, 'cross_origin', (c) => {
  const r = admin('198.51.100.1', `Bearer ${c.token}`, { method: 'POST', path: '/admin/revoke', body: { userId: 'alice' } });
  return { ...r, headers: { ...r.headers, origin: 'https://evil.example' } };
});

// ---- wrong and short admin tokens ---------------------------------------------------------------

row('admin', 'no Authorization', 'GET /admin/status without Authorization', 401, 'unauthorized', () => admin('192.0.2.1', null));
row('admin', 'empty bearer', 'GET /admin/status, `Authorization: Bearer `', 401, 'unauthorized', () => admin('192.0.2.2', 'Bearer '));
row('admin', 'short token', 'GET /admin/status, a 1-character token', 401, 'unauthorized', () => admin('192.0.2.3', 'Bearer x'));
row('admin', 'wrong token, same length', 'GET /admin/status, a wrong token of the right length', 401, 'unauthorized', (c) =>
  admin('192.0.2.4', `Bearer ${'A'.repeat(c.token.length)}`));
row('admin', 'token minus its last character', 'GET /admin/sessions?userId=alice, the token without its last character', 401, 'unauthorized', (c) =>
  admin('192.0.2.5', `Bearer ${c.token.slice(0, -1)}`, { path: '/admin/sessions?userId=alice' }));
row('admin', 'token plus a character', 'POST /admin/revoke {userId: alice}, the token followed by `x`', 401, 'unauthorized', (c) =>
  admin('192.0.2.6', `Bearer ${c.token}x`, { method: 'POST', path: '/admin/revoke', body: { userId: 'alice' } }));
row('admin', 'Basic scheme', 'GET /admin/status, `Authorization: Basic <token>`', 401, 'unauthorized', (c) => admin('192.0.2.7', `Basic ${c.token}`));
row('admin', 'token in a query string', 'GET /admin/status?token=<token>, no Authorization', 401, 'unauthorized', (c) =>
  admin('192.0.2.8', null, { path: `/admin/status?token=${c.token}` }));
row('admin', 'right token after 5 failures', 'POST /admin/revoke {userId: alice} with the right token from a client that just failed 5 times', 429, 'too_many_requests', async (c) => {
  for (let i = 0; i < 5; i++) {
    const res = await c.send(admin('192.0.2.9', 'Bearer wrong-token-wrong-token-wrong-token-xx'));
    if (res.status !== 401) throw new Error(`failure ${i + 1} answered ${res.status}`);
  }
  return admin('192.0.2.9', `Bearer ${c.token}`, { method: 'POST', path: '/admin/revoke', body: { userId: 'alice' } });
});

// ---- bodies that are not JSON or too large ------------------------------------------------------

row('body', 'login: not JSON', 'POST /api/login, body `username=alice&password=demo` as application/json', 400, 'malformed_json', () =>
  post('/api/login', { body: 'username=alice&password=demo', headers: JSON_TYPE }));
row('body', 'login: JSON array', 'POST /api/login, body `["alice","demo"]`', 400, 'json_object_required', () => post('/api/login', { body: ['alice', 'demo'] }));
row('body', 'login: JSON null', 'POST /api/login, body `null`', 400, 'json_object_required', () => post('/api/login', { body: 'null', headers: JSON_TYPE }));
row('body', 'login: empty body', 'POST /api/login, empty application/json body', 400, 'json_object_required', () => post('/api/login', { body: '', headers: JSON_TYPE }));
row('body', 'login: body over 16 KiB', 'POST /api/login, a 16,385-byte JSON body', 413, 'body_too_large', () =>
  post('/api/login', { body: `{"username":"alice","password":"demo","pad":"${'x'.repeat(16 * 1024 + 1 - 46)}"}` }));
row('body', 'login: 1 MiB without Content-Length', 'POST /api/login, a 1 MiB streamed body (no Content-Length)', 413, 'body_too_large', () => ({
  ...post('/api/login', { headers: JSON_TYPE }),
  stream: 1024 * 1024,
}));
row('body', 'login: invalid UTF-8', 'POST /api/login, body bytes `{"username":"\\xff"}`', 401, 'invalid_username', () =>
  post('/api/login', { body: Buffer.concat([Buffer.from('{"username":"'), Buffer.from([0xff]), Buffer.from('","password":"demo"}')]), headers: JSON_TYPE }));
row('body', 'login: username too long', 'POST /api/login, a 33-character username', 401, 'invalid_username', () =>
  post('/api/login', { body: { username: 'a'.repeat(33), password: 'demo' } }));
row('body', 'login: homoglyph username', 'POST /api/login, username `аlice` (Cyrillic а)', 401, 'invalid_username', () =>
  post('/api/login', { body: { username: '\u0430lice', password: 'demo' } }));
row('body', 'login: password not a string', 'POST /api/login, password `["demo"]`', 401, 'invalid_credentials', () =>
  post('/api/login', { body: { username: 'alice', password: ['demo'] } }));
row('body', 'data: not JSON', 'POST /api/data with the live cookie, body `{data:{}}`', 400, 'malformed_json', (c) =>
  post('/api/data', { ...session(c.value.alice), body: '{data:{}}', headers: JSON_TYPE }));
row('body', 'data: array', 'POST /api/data with the live cookie, `{"data":[1,2]}`', 400, 'invalid_data', (c) =>
  post('/api/data', { ...session(c.value.alice), body: { data: [1, 2] } }));
row('body', 'data: sets role', 'POST /api/data with the live cookie, `{"data":{"role":"admin"}}`', 400, 'role_read_only', (c) =>
  post('/api/data', { ...session(c.value.alice), body: { data: { role: 'admin' } } }));
row('body', 'data: over 1,024 bytes', 'POST /api/data with the live cookie, data of 2,000 bytes', 400, 'invalid_data', (c) =>
  post('/api/data', { ...session(c.value.alice), body: { data: { theme: 'x'.repeat(2000) } } }));
row('body', 'data: body over 16 KiB', 'POST /api/data with the live cookie, a 20,000-byte body', 413, 'body_too_large', (c) =>
  post('/api/data', { ...session(c.value.alice), body: { data: { theme: 'x'.repeat(20_000) } } }));
row('body', 'admin: not JSON', 'POST /admin/revoke with the right token, body `userId=alice`', 400, 'malformed_json', (c) => ({
  ...admin('198.51.100.2', `Bearer ${c.token}`, { method: 'POST', path: '/admin/revoke', body: {} }),
  body: 'userId=alice',
}));
row('body', 'admin: two scopes', 'POST /admin/revoke with the right token, `{"userId":"alice","issuedBefore":0}`', 400, 'exactly_one_of_userId_handle_issuedBefore', (c) =>
  admin('198.51.100.3', `Bearer ${c.token}`, { method: 'POST', path: '/admin/revoke', body: { userId: 'alice', issuedBefore: 0 } }));
row('body', 'admin: issuedBefore in the future', 'POST /admin/revoke with the right token, issuedBefore = now + 1 day', 400, 'invalid_issuedBefore', async (c) =>
  admin('198.51.100.4', `Bearer ${c.token}`, { method: 'POST', path: '/admin/revoke', body: { issuedBefore: (await c.now()) + 86_400_000 } }));
row('body', 'admin: issuedBefore 1e300', 'POST /admin/revoke with the right token, issuedBefore = 1e300', 400, 'invalid_issuedBefore', (c) =>
  admin('198.51.100.5', `Bearer ${c.token}`, { method: 'POST', path: '/admin/revoke', body: { issuedBefore: 1e300 } }));
row('body', 'admin: handle not a handle', 'POST /admin/revoke with the right token, handle `../../x`', 400, 'invalid_handle', (c) =>
  admin('198.51.100.6', `Bearer ${c.token}`, { method: 'POST', path: '/admin/revoke', body: { handle: '../../x' } }));

// ---- expiry boundaries to the millisecond -------------------------------------------------------
// t is the worker's clock read by a request just before (workerd's clock moves only between I/O,
// and the row's request comes later, so the worker judges it at some now >= t): a deadline of t
// has been reached exactly or passed, t - 1 passed by at least 1 ms. The test also sends the same
// envelopes with the deadline 60 s ahead and sees them accepted.

row('expiry', 'absolute deadline = now', 'GET /api/me, the live envelope with absolute_deadline = t', 401, 'expired_absolute', async (c) =>
  meWith(c.sign({ absoluteDeadline: BigInt(await c.now()) })));
row('expiry', 'absolute deadline = now - 1 ms', 'GET /api/me, the live envelope with absolute_deadline = t - 1', 401, 'expired_absolute', async (c) =>
  meWith(c.sign({ absoluteDeadline: BigInt((await c.now()) - 1) })));
row('expiry', 'idle deadline = now', 'GET /api/me, the live envelope with idle_deadline = t', 401, 'expired_idle', async (c) =>
  meWith(c.sign({ idleDeadline: BigInt(await c.now()) })));
row('expiry', 'idle deadline = now - 1 ms', 'GET /api/sessions, the live envelope with idle_deadline = t - 1', 401, 'expired_idle', async (c) => ({
  method: 'GET',
  path: '/api/sessions',
  headers: session(c.sign({ idleDeadline: BigInt((await c.now()) - 1) })),
}));
row('expiry', 'signed exactly the idle timeout ago', 'GET /api/me, issued_at = t - 30 min, expires_at = t - 1 (the record judges idle)', 401, 'expired_idle', async (c) => {
  const t = BigInt(await c.now());
  return meWith(c.sign({ issuedAt: t - BigInt(IDLE_MS), expiresAt: t - 1n }));
});
row('expiry', 'signed the idle timeout + 1 ms ago', 'POST /api/data, issued_at = t - 30 min - 1 ms, expires_at = t - 1', 401, 'expired_idle', async (c) => {
  const t = BigInt(await c.now());
  return post('/api/data', { ...session(c.sign({ issuedAt: t - BigInt(IDLE_MS) - 1n, expiresAt: t - 1n })), body: { data: { theme: 'dark' } } });
});
row('expiry', 'no record, exactly past the not-visible window', 'GET /api/me, an unknown session ID signed exactly 75 s before t, expires_at = t - 1', 401, 'session_not_found', async (c) => {
  const t = BigInt(await c.now());
  return meWith(c.sign({ sessionId: Buffer.alloc(32, 0x42), issuedAt: t - BigInt(NOT_VISIBLE_WINDOW_MS), expiresAt: t - 1n }));
});
row('expiry', 'issued further ahead than the clock skew', 'GET /api/me, issued_at = t + 5 s + 60 s', 401, 'issued_in_future', async (c) => {
  const t = BigInt(await c.now());
  return meWith(c.sign({ issuedAt: t + BigInt(SKEW_MS + 60_000), expiresAt: t + BigInt(SKEW_MS + 120_000) }));
});

export const ROWS = rows;

// ---- the document -------------------------------------------------------------------------------

const cell = (text) => String(text).replaceAll('|', '\\|').replaceAll('\n', ' ');

/** docs/HOSTILE-REQUESTS.md, from ROWS. */
export function renderMarkdown(list = ROWS) {
  const lines = [
    '# Hostile-request catalogue',
    '',
    '<!-- Generated from tests/js/hostile-catalogue.mjs by `node tests/js/hostile-catalogue.mjs --write`;',
    '     tests/hostile.test.mjs fails when this file differs from the table. Do not edit by hand. -->',
    '',
    `${list.length} requests against the demo worker (\`www-demo/worker.js\`, unchanged) in workerd, with a`,
    'local KV namespace and the revocation hub Durable Object (`tests/hostile.test.mjs`, part of',
    '`make test-js`). Each must be answered with the status and reason below; none may answer 5xx, trap',
    'in wasm, log an error, hand out a session (a 200 with a session or a `Set-Cookie` carrying one), or',
    'write to the store: KV puts and deletes and hub appends are counted around every request.',
    'The demo runs with wrangler.toml\'s `[vars]`, a fresh random `SESSION_KEYS` and `ADMIN_TOKEN`, and',
    'an envelope lifetime of 900 s (instead of 60 s) so that the live session never needs a refresh',
    'in the middle of the table; the whole table takes about 10 s.',
    '',
    'The reason is the JSON body\'s `reason` (the package\'s reject reason, `src/error.rs`, for session',
    'refusals), or its `error` for the admin routes\' 401 and 429. "The live envelope" is the cookie of',
    'a session that stays valid throughout (checked after the last row); rows marked "signed" were',
    'signed again by the test with the demo\'s key, so the change reaches the checks after the MAC.',
    '',
    'A fresh envelope that verifies under the current key is trusted without a store read (that is',
    'the fast path), so a key holder can mint sessions: the key is the root of trust. Signed extremes',
    'that are not refused by themselves are therefore sent with `expires_at` = 0, and the stored record',
    'decides. Expiry rows read the worker\'s clock (t) through a test-only route just before the',
    'request; workerd\'s clock moves only between I/O, so the worker judges the row at some now ≥ t: a',
    'deadline of t is refused however late the request runs, and the test sends the same envelopes with',
    'the deadline 60 s ahead and sees them accepted. The exact boundary (deadline = now refused, now + 1',
    'accepted) is also checked in Node with an injected clock.',
    '',
  ];
  for (const [key, title] of Object.entries(CATEGORIES)) {
    const inCategory = list.filter((r) => r.category === key);
    if (inCategory.length === 0) continue;
    lines.push(`## ${title}`, '', '| # | case | request | status | reason |', '|---|---|---|---|---|');
    for (const r of inCategory) {
      lines.push(`| ${list.indexOf(r) + 1} | ${cell(r.name)} | ${cell(r.request)} | ${r.status} | \`${cell(r.reason)}\` |`);
    }
    lines.push('');
  }
  return lines.join('\n');
}

export const docPath = (root) => join(root, DOC);

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const root = fileURLToPath(new URL('../..', import.meta.url));
  const text = renderMarkdown();
  if (process.argv.includes('--write')) {
    writeFileSync(docPath(root), text);
    console.log(`wrote ${DOC} (${ROWS.length} rows)`);
  } else {
    const same = readFileSync(docPath(root), 'utf8') === text;
    console.log(same ? `${DOC} is up to date` : `${DOC} differs: run with --write`);
    process.exitCode = same ? 0 : 1;
  }
}
