// The hostile-request catalogue (tests/js/hostile-catalogue.mjs, rendered as
// docs/HOSTILE-REQUESTS.md) against the demo worker in workerd: one Miniflare instance runs
// www-demo/worker.js unchanged behind tests/js/hostile-worker.mjs, which counts every KV and hub
// call, with a local KV namespace and the RevocationHub Durable Object. Each row must get its
// status and reason, never a 5xx or a session, and must write nothing (KV put/delete, hub append:
// counted before and after the row). Afterwards: no error logged, no wasm trap, the live session
// untouched; the expiry rows' envelopes with the deadline ahead are accepted (so the rows are
// refused for their deadline); the committed document matches the table.
process.env.WRANGLER_SEND_METRICS = 'false';

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { after, before, test } from 'node:test';

import { CATEGORIES, COOKIE, IDLE_MS, NOT_VISIBLE_WINDOW_MS, ORIGIN, ROWS, docPath, renderMarkdown } from './js/hostile-catalogue.mjs';
import { startDemo } from './js/hostile-demo.mjs';
import { body, cookieValue, parse, signed, unsigned } from './js/hostile-envelope.mjs';
import { root } from './js/workerd.mjs';

const SECRET = randomBytes(32);
const TOKEN = randomBytes(32).toString('base64url');

/** wrangler.toml's [vars], as `wrangler dev` gives them to the demo. */
function wranglerVars() {
  const text = readFileSync(`${root}/wrangler.toml`, 'utf8');
  const section = text.split(/^\[vars\]\s*$/m)[1].split(/^\[/m)[0];
  return Object.fromEntries([...section.matchAll(/^(\w+)\s*=\s*"([^"]*)"/gm)].map(([, k, v]) => [k, v]));
}

const VARS = {
  ...wranglerVars(),
  // The envelope lifetime is the demo's unless the rows run slower than it: the live session
  // must not need a refresh (which writes a last-seen time) in the middle of the table.
  ENVELOPE_TTL_S: '900',
  SESSION_KEYS: `k1:${SECRET.toString('base64url')}`,
  ADMIN_TOKEN: TOKEN,
};

let mf;
let stdio = '';
const ctx = { value: {}, handle: {}, token: TOKEN };

async function send(req) {
  const init = { method: req.method, headers: req.headers, redirect: 'manual' };
  if (req.stream !== undefined) {
    let left = req.stream;
    init.body = new ReadableStream({
      pull(controller) {
        if (left <= 0) return controller.close();
        const n = Math.min(left, 64 * 1024);
        left -= n;
        controller.enqueue(new Uint8Array(n).fill(0x20));
      },
    });
    init.duplex = 'half';
  } else if (req.body !== undefined) {
    init.body = req.body;
  }
  return mf.dispatchFetch(`${ORIGIN}${req.path}`, init);
}

const control = async (path) => (await mf.dispatchFetch(`${ORIGIN}/__test/${path}`)).json();

async function call(req) {
  const res = await send(req);
  const text = await res.text();
  let json = null;
  try {
    json = JSON.parse(text);
  } catch {
    // not JSON: the assertions below say so
  }
  return { res, json, text };
}

const post = (path, cookieValue, body) => ({
  method: 'POST',
  path,
  headers: { origin: ORIGIN, 'content-type': 'application/json', ...(cookieValue ? { cookie: `${COOKIE}=${cookieValue}` } : {}) },
  body: JSON.stringify(body ?? {}),
});

async function ok(req, what) {
  const { res, json, text } = await call(req);
  assert.equal(res.status, 200, `${what}: ${res.status} ${text}`);
  return { json, value: cookieValue(res.headers.get('set-cookie'), COOKIE) };
}

async function login(user) {
  const { json, value } = await ok(post('/api/login', null, { username: user, password: VARS.DEMO_PASSWORD }), `login ${user}`);
  assert.ok(value, `login ${user} sets a session cookie`);
  return { value, handle: json.handle };
}

before(async () => {
  mf = await startDemo(VARS, (text) => (stdio += text));

  const alice = await login('alice');
  const alice2 = await login('alice');
  const revoked = await login('alice');
  await ok({ method: 'DELETE', path: `/api/sessions/${revoked.handle}`, headers: { origin: ORIGIN, cookie: `${COOKIE}=${alice2.value}` } }, 'revoke a device');
  const loggedOut = await login('alice');
  await ok(post('/api/logout', loggedOut.value), 'logout');
  const rotated = await login('alice');
  await ok(post('/api/rotate', rotated.value), 'rotate');
  const updated = await login('alice');
  await ok(post('/api/data', updated.value, { data: { theme: 'dark' } }), 'update');
  const bob1 = await login('bob');
  const bob2 = await login('bob');
  const others = await ok(post('/api/sessions/revoke-others', bob2.value), 'revoke-others');
  assert.ok(others.json.revoked >= 1);
  const carol = await login('carol');
  await ok(
    { ...post('/admin/revoke', null, { userId: 'carol' }), headers: { origin: ORIGIN, 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` } },
    'admin revoke',
  );
  const mallory = await login('mallory');

  Object.assign(ctx.value, {
    alice: alice.value,
    alice2: alice2.value,
    aliceRevoked: revoked.value,
    aliceLoggedOut: loggedOut.value,
    aliceRotatedOld: rotated.value,
    aliceUpdatedOld: updated.value,
    bobOthersRevoked: bob1.value,
    carolRevoked: carol.value,
    mallory: mallory.value,
  });
  Object.assign(ctx.handle, { alice: alice.handle, alice2: alice2.handle });
  ctx.fields = parse(alice.value);
  // The test's signer agrees with the package's: the live envelope signed again is itself.
  assert.equal(signed(body(ctx.fields), SECRET, COOKIE), alice.value);
  ctx.sign = (changes, { lengths, name = COOKIE, secret = SECRET } = {}) => signed(body({ ...ctx.fields, ...changes }, lengths), secret, name);
  ctx.signFrom = (which, changes) => signed(body({ ...parse(ctx.value[which]), ...changes }), SECRET, COOKIE);
  ctx.flip = (changes, lengths = {}, tag = ctx.fields.tag) => unsigned(body({ ...ctx.fields, ...changes }, lengths), tag);
  ctx.now = async () => (await control('now')).now;
  ctx.send = send;
});

after(async () => {
  await mf?.dispose();
});

test('the catalogue has at least 40 rows, every category, unique names, all refusals', () => {
  assert.ok(ROWS.length >= 40, `${ROWS.length} rows`);
  for (const category of Object.keys(CATEGORIES)) {
    assert.ok(ROWS.some((r) => r.category === category), `a row for ${category}`);
  }
  assert.equal(new Set(ROWS.map((r) => `${r.category}/${r.name}`)).size, ROWS.length);
  // The catalogue's idle timeout is the demo's (wrangler.toml).
  assert.equal(Number(VARS.IDLE_TIMEOUT_S) * 1000, IDLE_MS);
  for (const r of ROWS) {
    assert.equal(r.accepted, false);
    assert.ok(r.status >= 400 && r.status < 500, `${r.name}: a refusal status`);
  }
});

const writes = [];

test('every hostile request is refused as catalogued and writes nothing', async (t) => {
  for (const [i, r] of ROWS.entries()) {
    await t.test(`${i + 1} ${r.category}: ${r.name}`, async () => {
      const before = await control('counts');
      const req = await r.build(ctx);
      const { res, json, text } = await call(req);
      const afterward = await control('counts');
      writes.push(afterward.writes - before.writes);

      assert.ok(res.status < 500, `no 5xx: ${res.status} ${text.slice(0, 300)}`);
      assert.deepEqual({ status: res.status, reason: json?.reason ?? json?.error }, { status: r.status, reason: r.reason }, text.slice(0, 300));
      // No session: no user in the answer, and no Set-Cookie that sets a session value.
      assert.equal(json?.userId, undefined);
      for (const setCookie of res.headers.getSetCookie()) {
        assert.ok(!cookieValue(setCookie, COOKIE), `a Set-Cookie that sets a session: ${setCookie.slice(0, 80)}`);
      }
      assert.deepEqual(
        { put: afterward.put - before.put, delete: afterward.delete - before.delete, append: afterward.append - before.append, other: afterward.other - before.other },
        { put: 0, delete: 0, append: 0, other: 0 },
        'store writes',
      );
    });
  }
  assert.equal(writes.length, ROWS.length);
});

test('nothing was logged as an error and nothing trapped', async () => {
  assert.deepEqual(await control('errors'), []);
  assert.doesNotMatch(stdio, /unreachable|RuntimeError|panicked|"type":"error"|config_error/);
});

test('the live session is untouched by the table', async () => {
  const { json } = await ok({ method: 'GET', path: '/api/me', headers: { cookie: `${COOKIE}=${ctx.value.alice}` } }, 'alice');
  assert.equal(json.userId, 'alice');
  assert.equal(json.handle, ctx.handle.alice);
  assert.equal(json.generation, 0);
  assert.deepEqual(json.data, { role: 'member', theme: 'light' });
});

// The expiry rows with the deadline 60 s ahead instead: accepted, so what the rows changed (the
// deadline, to the millisecond of the worker's clock) is why they were refused.
test('the expiry rows with the deadline ahead are accepted', async () => {
  const me = (value) => ({ method: 'GET', path: '/api/me', headers: { cookie: `${COOKIE}=${value}` } });
  const ahead = 60_000n;
  let t = BigInt(await ctx.now());
  let r = await ok(me(ctx.sign({ absoluteDeadline: t + ahead })), 'absolute deadline ahead');
  assert.equal(r.json.absoluteExpiresAt, Number(t + ahead));
  t = BigInt(await ctx.now());
  r = await ok(me(ctx.sign({ idleDeadline: t + ahead })), 'idle deadline ahead');
  assert.equal(r.json.idleExpiresAt, Number(t + ahead));
  // Signed 60 s less than the idle timeout ago and stale: the record is read and the session refreshed.
  t = BigInt(await ctx.now());
  r = await ok(me(ctx.sign({ issuedAt: t - BigInt(IDLE_MS) + ahead, expiresAt: t - 1n })), 'signed within the idle timeout');
  assert.ok(r.value, 'refreshed: a new envelope');
  assert.ok(parse(r.value).issuedAt >= t);
  // No record, signed within the not-visible window: accepted on the envelope alone, not refreshed
  // (a record may still be on its way), which is why the row's envelope is signed exactly at it.
  t = BigInt(await ctx.now());
  r = await ok(me(ctx.sign({ sessionId: Buffer.alloc(32, 0x43), issuedAt: t - BigInt(NOT_VISIBLE_WINDOW_MS) + ahead, expiresAt: t - 1n })), 'young record');
  assert.equal(r.value, null);
});

test('docs/HOSTILE-REQUESTS.md is the table (node tests/js/hostile-catalogue.mjs --write)', () => {
  assert.equal(readFileSync(docPath(root), 'utf8'), renderMarkdown());
});

// The exact boundaries, which workerd's real clock cannot pin: the package in Node with an injected
// clock. Deadlines are exclusive (a session whose deadline equals now has ended); an envelope may
// be signed up to the clock skew (5 s) ahead of the verifier's clock, not 1 ms more.
test('exact millisecond boundaries, in Node with an injected clock', async () => {
  const { MemoryStore, SessionManager } = await import('../pkg/node.js');
  const t0 = 1_800_000_000_000;
  let now = t0;
  const clock = () => now;
  const manager = new SessionManager({
    store: new MemoryStore({ now: clock }),
    keys: `k1:${SECRET.toString('base64url')}`,
    now: clock,
    envelopeTtl: 60,
    idleTimeout: 120,
    absoluteTimeout: 300,
  });
  const header = (setCookie) => setCookie.split(';')[0];
  const at = async (t, cookie) => {
    now = t;
    const r = await manager.validate(new Request(`${ORIGIN}/`, { headers: { cookie } }));
    return r.ok ? { ok: true, refreshed: r.refreshed, cookie: r.setCookie ? header(r.setCookie) : cookie } : { ok: false, reason: r.reason };
  };
  const created = await manager.create(null, 'alice');
  const c1 = header(created.setCookie);
  assert.deepEqual(await at(t0 + 60_000 - 1, c1), { ok: true, refreshed: false, cookie: c1 }, 'envelope lifetime - 1 ms: no store read');
  const r2 = await at(t0 + 60_000, c1);
  assert.equal(r2.refreshed, true, 'envelope lifetime reached: refreshed from the record');
  assert.equal((await at(t0 + 120_000 - 1, c1)).ok, true, 'idle deadline - 1 ms');
  assert.deepEqual(await at(t0 + 120_000, c1), { ok: false, reason: 'expired_idle' }, 'idle deadline reached');
  assert.equal((await at(t0 + 55_000, r2.cookie)).ok, true, 'signed exactly the clock skew ahead');
  assert.deepEqual(await at(t0 + 55_000 - 1, r2.cookie), { ok: false, reason: 'issued_in_future' }, 'signed the skew + 1 ms ahead');
  const r3 = await at(t0 + 170_000, r2.cookie);
  const r4 = await at(t0 + 280_000, r3.cookie);
  assert.equal(r4.refreshed, true);
  assert.deepEqual(await at(t0 + 300_000 - 1, r4.cookie), { ok: true, refreshed: false, cookie: r4.cookie }, 'absolute deadline - 1 ms');
  assert.deepEqual(await at(t0 + 300_000, r4.cookie), { ok: false, reason: 'expired_absolute' }, 'absolute deadline reached');
});
