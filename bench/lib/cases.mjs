// The verifiers `make bench` compares, built the same way in workerd and in Node: every one takes
// the request's Cookie header (the floor takes the envelope text) and answers true when it
// accepts the session. Libraries arrive as arguments, so this file imports nothing and runs in
// both runtimes unchanged.

export const USER = 'user-12345';
export const COOKIE_NAME = '__Host-session';
const TAG_LEN = 32;
// The refresh cases run on a fixed clock: a login at T0, validated one envelope TTL (60 s, the
// default) plus a second later. T0 sits on a whole hour, so the validation falls in the same
// 3-minute touch interval and asks for no last-seen write: exactly the reads, no writes.
const HOUR_MS = 3_600_000;
const ENVELOPE_TTL_MS = 60_000;

/** Session data whose JSON text is exactly 100 bytes. */
export const DATA_100 = (() => {
  const base = { role: 'member', theme: 'light', pad: '' };
  base.pad = 'x'.repeat(100 - JSON.stringify(base).length);
  return base;
})();

const B64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const SEXTET = new Int16Array(128).fill(-1);
for (let i = 0; i < 64; i++) SEXTET[B64URL.charCodeAt(i)] = i;
const ENCODER = new TextEncoder();
const DECODER = new TextDecoder();

/** Unpadded base64url text to bytes (null when it is not base64url). */
export function b64urlDecode(text) {
  const out = new Uint8Array((text.length * 3) >> 2);
  let acc = 0;
  let bits = 0;
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    const v = c < 128 ? SEXTET[c] : -1;
    if (v < 0) return null;
    acc = ((acc << 6) | v) & 0xffffff;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[n++] = (acc >> bits) & 0xff;
    }
  }
  return out;
}

/** Bytes to unpadded base64url text. */
export function b64urlEncode(bytes) {
  let s = '';
  for (let i = 0; i < bytes.length; i += 3) {
    const n = (bytes[i] << 16) | ((bytes[i + 1] ?? 0) << 8) | (bytes[i + 2] ?? 0);
    const chars = Math.min(4, Math.ceil(((bytes.length - i) * 8) / 6));
    for (let k = 0; k < chars; k++) s += B64URL[(n >> (18 - 6 * k)) & 63];
  }
  return s;
}

/** The value of cookie `name` in a Cookie header, or undefined. */
export function cookieValue(header, name) {
  for (const pair of header.split(';')) {
    const eq = pair.indexOf('=');
    if (eq > 0 && pair.slice(0, eq).trim() === name) return pair.slice(eq + 1).trim();
  }
  return undefined;
}

const nameValue = (setCookie) => setCookie.split(';')[0];

/** The same cookie with one character of its value changed, halfway along (inside the signed part). */
function forge(text) {
  const at = text.indexOf('=') + 1 + ((text.length - text.indexOf('=') - 1) >> 1);
  return `${text.slice(0, at)}${text[at] === 'A' ? 'B' : 'A'}${text.slice(at + 1)}`;
}

/** edge-session's envelope subkey: HMAC-SHA256(secret, "edge-session/v1/envelope/" || name). */
export async function envelopeSubkey(secret, cookieName = COOKIE_NAME) {
  const root = await crypto.subtle.importKey('raw', secret, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  return new Uint8Array(await crypto.subtle.sign('HMAC', root, ENCODER.encode(`edge-session/v1/envelope/${cookieName}`)));
}

/** A store that keeps nothing (the fast path never reads one; create() writes to it). */
export const discardStore = {
  async get() {
    return null;
  },
  async put() {},
  async delete() {},
  async list() {
    return { keys: [], list_complete: true };
  },
};

/** Wraps a store, counting its calls and remembering the keys read. */
function countingStore(store) {
  const counts = { get: 0, put: 0, delete: 0, list: 0, keys: [] };
  return {
    counts,
    store: {
      get: (key, type) => {
        counts.get++;
        counts.keys.push(key);
        return store.get(key, type);
      },
      put: (...a) => (counts.put++, store.put(...a)),
      delete: (...a) => (counts.delete++, store.delete(...a)),
      list: (...a) => (counts.list++, store.list(...a)),
    },
  };
}

/**
 * A store call under a deadline the way the package makes one (pkg-template/core.js `#io`: a
 * 5 s setTimeout raced against the call, cleared after), to split the refresh path's cost.
 */
function underDeadline(call) {
  let timer;
  const deadline = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error('timed out')), 5000);
  });
  return Promise.race([Promise.resolve().then(call), deadline]).finally(() => clearTimeout(timer));
}

/**
 * Hand-written WebCrypto verification of an edge-session envelope (the same cookie the fast path
 * reads): find the cookie, decode it, verify the tag with a key imported once, read the user id,
 * the three deadlines and the data (parsed, as the package hands it over), check the deadlines.
 * Truthy when accepted.
 */
async function webCryptoVerifier(subkey) {
  const key = await crypto.subtle.importKey('raw', subkey, { name: 'HMAC', hash: 'SHA-256' }, false, ['verify']);
  return async (header) => {
    const value = cookieValue(header, COOKIE_NAME);
    const raw = value && b64urlDecode(value);
    if (!raw || raw.length < 2 + TAG_LEN) return false;
    const signedLen = raw.length - TAG_LEN;
    if (!(await crypto.subtle.verify('HMAC', key, raw.subarray(signedLen), raw.subarray(0, signedLen)))) return false;
    // version, kid_len, kid, session id [32], lineage [16], generation u32, then five u64 times.
    const view = new DataView(raw.buffer, raw.byteOffset, signedLen);
    const times = 2 + raw[1] + 32 + 16 + 4;
    const expiresAt = Number(view.getBigUint64(times + 16));
    const idleDeadline = Number(view.getBigUint64(times + 24));
    const absoluteDeadline = Number(view.getBigUint64(times + 32));
    const userAt = times + 40;
    const userId = DECODER.decode(raw.subarray(userAt + 1, userAt + 1 + raw[userAt]));
    const dataAt = userAt + 1 + raw[userAt];
    const dataLen = view.getUint16(dataAt);
    const data = dataLen === 0 ? null : JSON.parse(DECODER.decode(raw.subarray(dataAt + 2, dataAt + 2 + dataLen)));
    const now = Date.now();
    // What the application gets, like the package's session: truthy when accepted.
    return userId === USER && now < expiresAt && now < idleDeadline && now < absoluteDeadline && { userId, data };
  };
}

/** The bare wasm HMAC floor (bench/floor): the envelope text in, 1 or 0 out. */
function floorVerifier(floorModule, subkey) {
  const { memory, buf, set_key: setKey, verify } = new WebAssembly.Instance(floorModule, {}).exports;
  const ptr = buf();
  const scratch = new Uint8Array(memory.buffer, ptr, 4096);
  scratch.set(subkey);
  setKey(subkey.length);
  // Like wasm-bindgen's string passing: encode into the module's memory, then call.
  return (envelope) => verify(ptr, ENCODER.encodeInto(envelope, scratch).written) === 1;
}

/** Claims equivalent to the envelope's, for the hono and jose cookies (times in seconds). */
function equivalentClaims(sessionId, lineage, nowMs) {
  const s = Math.floor(nowMs / 1000);
  return { sub: USER, sid: sessionId, lin: lineage, gen: 0, iat: s, exp: s + 3600, idle: s + 7200, abs: s + 43200 };
}

/**
 * The refresh path against one store, and the same reads without the package around them: a
 * session seeded at T0, its cookie validated at T0 + TTL + 1 s on a fixed clock. Case names end
 * in `suffix`. Also counts the store calls one refresh makes.
 */
async function storeCases(lib, keys, suffix, name, store, validates) {
  const t0 = Math.floor(Date.now() / HOUR_MS) * HOUR_MS;
  const later = t0 + ENVELOPE_TTL_MS + 1000;
  const seeder = new lib.SessionManager({ keys, store, now: () => t0 });
  const stale = nameValue((await seeder.create(null, USER)).setCookie);
  const refresher = new lib.SessionManager({ keys, store, now: () => later });
  const counted = countingStore(store);
  const probe = new lib.SessionManager({ keys, store: counted.store, now: () => later });
  const probed = await probe.validate(stale);
  if (!probed.ok || !probed.refreshed) throw new Error(`refresh probe (${name}): ${JSON.stringify(probed)}`);
  const { keys: reads, ...calls } = counted.counts;
  const all = async (get) => (await Promise.all(reads.map(get))).length === reads.length;
  return {
    calls,
    reads: reads.length,
    cookieLength: stale.length,
    cases: {
      [`refresh${suffix}`]: { what: `edge-session refresh path (${name})`, run: validates(refresher, stale, true) },
      [`get4${suffix}`]: { what: `${reads.length} parallel ${name} gets (bare)`, run: () => all((k) => store.get(k, 'text')) },
      [`get4Deadline${suffix}`]: {
        what: `${reads.length} parallel ${name} gets, each under a deadline as the package sets one`,
        run: () => all((k) => underDeadline(() => store.get(k, 'text'))),
      },
      [`get1${suffix}`]: { what: `one ${name} get (bare)`, run: async () => (await store.get(reads[0], 'text')) !== null },
    },
  };
}

/**
 * Builds every case. `lib`: { SessionManager, parseSigned, serializeSigned, jose, floorModule };
 * `secret`: 32 bytes; `stores`: { suffix: [name, store] } for the refresh cases (workerd: its KV
 * binding and a MemoryStore; Node: a MemoryStore). Each case: { run, sync, what }. Also checks
 * that each accepts its cookie, and reports what a refresh does to each store (`info`).
 */
export async function buildCases(lib, { secret, stores }) {
  const keys = `k1:${b64urlEncode(secret)}`;
  // A long envelope TTL for the fast-path cookies, so they stay fresh however long the run takes.
  const fastOptions = { keys, envelopeTtl: 3600, idleTimeout: 7200, absoluteTimeout: 43200 };
  const fast = new lib.SessionManager({ ...fastOptions, store: discardStore });
  const issue = async (data) => nameValue((await fast.create(null, USER, data ? { data } : {})).setCookie);
  const plain = await issue();
  const withData = await issue(DATA_100);
  // Distinct sessions validated in turn: more than the fast path's 256 memo slots, so each call
  // derives its strings afresh (the cost of a cookie this isolate has not seen lately).
  const distinct = [];
  for (let i = 0; i < 1024; i++) distinct.push(await issue());
  let turn = 0;

  const validates = (manager, header, refreshed) => async () => {
    const r = await manager.validate(header);
    return r.ok === true && r.session.userId === USER && Boolean(r.refreshed) === refreshed;
  };
  const refresh = {};
  for (const [suffix, [name, store]] of Object.entries(stores)) refresh[suffix] = await storeCases(lib, keys, suffix, name, store, validates);

  const subkey = await envelopeSubkey(secret);
  const webCrypto = await webCryptoVerifier(subkey);
  const floor = floorVerifier(lib.floorModule, subkey);

  // hono: the same claims, base64url JSON, signed with hono's serializeSigned; parseSigned imports
  // the key on every call (its API takes the secret, not a CryptoKey).
  const sessionValue = cookieValue(plain, COOKIE_NAME);
  const raw = b64urlDecode(sessionValue);
  const kidEnd = 2 + raw[1];
  const claims = equivalentClaims(b64urlEncode(raw.subarray(kidEnd, kidEnd + 32)), b64urlEncode(raw.subarray(kidEnd + 32, kidEnd + 48)), Date.now());
  const claimsText = b64urlEncode(ENCODER.encode(JSON.stringify(claims)));
  const honoCookie = nameValue(await lib.serializeSigned(COOKIE_NAME, claimsText, secret, { path: '/', secure: true, httpOnly: true }));
  const hono = async (header) => {
    const value = (await lib.parseSigned(header, secret, COOKIE_NAME))[COOKIE_NAME];
    if (!value) return false;
    const c = JSON.parse(DECODER.decode(b64urlDecode(value)));
    return c.sub === USER && Date.now() < c.exp * 1000;
  };

  // jose: an HS256 JWT of the same claims, verified with a CryptoKey imported once.
  const joseKey = await crypto.subtle.importKey('raw', secret, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign', 'verify']);
  const { sub, iat, exp, ...rest } = claims;
  const jwt = await new lib.jose.SignJWT(rest).setProtectedHeader({ alg: 'HS256' }).setSubject(sub).setIssuedAt(iat).setExpirationTime(exp).sign(joseKey);
  const joseCookie = `${COOKIE_NAME}=${jwt}`;
  const jose = async (header) => {
    try {
      const { payload } = await lib.jose.jwtVerify(cookieValue(header, COOKIE_NAME), joseKey, { algorithms: ['HS256'] });
      return payload.sub === USER;
    } catch {
      return false;
    }
  };

  const dataValue = cookieValue(withData, COOKIE_NAME);
  // A verifier case: `verify(input)` timed on its own input, and checked to refuse a forgery.
  const verifier = (what, verify, input, sync = false) => ({ what, verify, input, sync, run: () => verify(input) });
  const accepts = (manager) => async (header) => {
    const r = await manager.validate(header);
    return r.ok === true && r.session.userId === USER && !r.refreshed;
  };
  const cases = {
    fast: verifier('edge-session fast path', accepts(fast), plain),
    fastData: verifier('edge-session fast path, 100 B data', accepts(fast), withData),
    fastDistinct: ((accept) => ({
      what: 'edge-session fast path, 1,024 distinct sessions in turn',
      run: () => accept(distinct[turn++ & 1023]),
    }))(accepts(fast)),
    ...Object.assign({}, ...Object.values(refresh).map((r) => r.cases)),
    webCrypto: verifier('hand-written WebCrypto', webCrypto, plain),
    webCryptoData: verifier('hand-written WebCrypto, 100 B data', webCrypto, withData),
    hono: verifier('hono parseSigned', hono, honoCookie),
    jose: verifier('jose jwtVerify (HS256)', jose, joseCookie),
    floor: verifier('bare wasm HMAC floor', floor, sessionValue, true),
    floorData: verifier('bare wasm HMAC floor, 100 B data cookie', floor, dataValue, true),
  };
  for (const [name, c] of Object.entries(cases)) {
    if (!(await c.run())) throw new Error(`${name}: the cookie was not accepted`);
    if (c.verify && (await c.verify(forge(c.input)))) throw new Error(`${name}: a forged cookie was accepted`);
  }
  const cookieLengths = {
    fast: plain.length,
    fastData: withData.length,
    fastDistinct: plain.length,
    webCrypto: plain.length,
    webCryptoData: withData.length,
    hono: honoCookie.length,
    jose: joseCookie.length,
    floor: sessionValue.length,
    floorData: dataValue.length,
  };
  const what = Object.fromEntries(Object.entries(cases).map(([name, c]) => [name, c.what]));
  const stored = Object.fromEntries(Object.entries(refresh).map(([suffix, r]) => [suffix, { name: stores[suffix][0], calls: r.calls, reads: r.reads }]));
  for (const [suffix, r] of Object.entries(refresh)) cookieLengths[`refresh${suffix}`] = r.cookieLength;
  return { cases, info: { names: Object.keys(cases), what, stores: stored, cookieLengths } };
}

/** Runs case `c` `n` times; the number of calls that accepted. */
export async function loop(c, n) {
  let ok = 0;
  if (c.sync) {
    for (let i = 0; i < n; i++) ok += c.run() ? 1 : 0;
  } else {
    for (let i = 0; i < n; i++) ok += (await c.run()) ? 1 : 0;
  }
  return ok;
}
