// The package's behaviour, written once and run three times: in Node 20 against MemoryStore
// (tests/node.test.mjs), inside workerd against a real local KV namespace (tests/workerd.test.mjs,
// through tests/js/worker.mjs) and in Chromium (tests/e2e/package-browser.test.mjs). Each scenario
// gets `{ SessionManager, MemoryStore, SessionConfigError, freshStore }` and throws on failure.
// Only web platform APIs are used here (no Buffer, no node: modules), so the same file runs in all
// three. Each scenario must work on a store that other scenarios have used before (unique user
// ids), except for the global cutoff `r:issued_before`, which the workerd runner clears between
// scenarios.

// Test keys: base64url of 32 random bytes each (what `randomBytes(32).toString('base64url')` gives).
const SECRET_1 = 'sRLUy3HHmFHB9pR7bauAKvrK9KlIEpodHOXnVPhi4eg';
const SECRET_2 = 'jZsDOuBbowf3vOIAhZfdvpMoJbQDR6-_lGPOrMk7aCo';
// The secrets the v1 test suite used: any text of 32+ characters was accepted then.
const V1_SECRET_1 = 'k1-secret-0123456789abcdefghijklmnopqrstuvwxyz';
const V1_SECRET_2 = 'k2-secret-ZYXWVUTSRQPONMLKJIHGFEDCBA9876543210';
// A multiple of the default touch interval (idle / 10 = 180 s), so bucket edges are predictable.
const T0 = 1_800_000_000_000;
const SECOND = 1000;
// Every key the library writes: record, lineage tombstone (under the user's hash; the lineage is
// 16 random bytes, not derived from the session ID), user index, last-seen, user cutoff, global
// cutoff.
const KEY_NAME = /^(s:[A-Za-z0-9_-]{43}|l:[A-Za-z0-9_-]{43}:[A-Za-z0-9_-]{22}|u:[A-Za-z0-9_-]{43}:[A-Za-z0-9_-]{43}|t:[A-Za-z0-9_-]{43}:[A-Za-z0-9_-]{43}|c:[A-Za-z0-9_-]{43}|o:[A-Za-z0-9_-]{43}|r:issued_before)$/;

export class Failure extends Error {}

function check(condition, message) {
  if (!condition) throw new Failure(message);
}

function equal(actual, expected, message) {
  if (!Object.is(actual, expected)) {
    throw new Failure(`${message}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`);
  }
}

/** JSON text with object keys sorted, for structural comparison. */
function canonical(value) {
  return JSON.stringify(value, (_, v) =>
    v && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : v,
  );
}

function same(actual, expected, message) {
  const [a, e] = [canonical(actual), canonical(expected)];
  if (a !== e) throw new Failure(`${message}: expected ${e}, got ${a}`);
}

/** Runs `call` (sync or async) and expects it to fail with `reason`; returns the error. */
async function rejects(call, reason, message) {
  try {
    await (typeof call === 'function' ? call() : call);
  } catch (error) {
    equal(error && error.reason, reason, `${message} (error reason; got ${error})`);
    return error;
  }
  throw new Failure(`${message}: expected a ${reason} error`);
}

/** Expects a SessionConfigError with `reason` from `call`. */
async function configError(ctx, call, reason, message) {
  const error = await rejects(call, reason, message);
  check(error instanceof ctx.SessionConfigError, `${message}: a SessionConfigError (got ${error && error.name})`);
  return error;
}

/** Expects a SessionStoreError (reason store_unavailable) from `call`. */
async function storeError(call, message) {
  const error = await rejects(call, 'store_unavailable', message);
  equal(error.name, 'SessionStoreError', `${message}: error class`);
  return error;
}

function isClearing(setCookie) {
  return typeof setCookie === 'string' && setCookie.includes('Max-Age=0');
}

// --- base64url and hashing with web APIs only -------------------------------------------------

function fromBase64url(text) {
  const binary = atob(text.replace(/-/g, '+').replace(/_/g, '/'));
  return Uint8Array.from(binary, (ch) => ch.charCodeAt(0));
}

function toBase64url(bytes) {
  let binary = '';
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

async function sha256Base64url(text) {
  return toBase64url(new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text))));
}

/** The byte offset of `needle` in `haystack`, or -1. */
function indexOfBytes(haystack, needle) {
  outer: for (let i = 0; i + needle.length <= haystack.length; i += 1) {
    for (let j = 0; j < needle.length; j += 1) if (haystack[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}

/** The session ID inside a cookie value (layout: version, kid_len, kid, 32-byte ID, ...). */
function sessionIdOf(cookieValue) {
  const raw = fromBase64url(cookieValue);
  const start = 2 + raw[1];
  return toBase64url(raw.slice(start, start + 32));
}

// --- an instrumented store -------------------------------------------------------------------

/**
 * A store wrapper that logs and counts calls and injects faults.
 *
 * - `faults.<method> = 'throw' | 'hang'` fails every call of that method; `faults.get` also takes
 *   `'corrupt'` (record reads return broken JSON), `'v1'` (records read as store version 1) and
 *   `'absent'` (record reads find nothing: a location a new record has not reached yet).
 * - `failOn({ on, prefix, nth, fault })` fails calls more precisely: `on` is a method name,
 *   `'write'` (put or delete) or `'any'`; `prefix` limits it to keys (list prefixes) starting so;
 *   `nth` (1-based, counted among matching calls from now on) fails only that one call; `fault` is
 *   `'throw'` (default) or `'hang'`. A failing call never reaches the inner store.
 * - `hideFromList(name => boolean)` leaves matching keys out of every `list` page (a listing that
 *   has not caught up yet).
 * - `offline = true` answers everything without the inner store (empty reads and listings,
 *   writes dropped), for bulk calls that must not fill a real KV namespace.
 * - `raw` is the inner store, for writing values the library never would.
 */
export function instrument(inner) {
  const counts = { get: 0, put: 0, delete: 0, list: 0, recordReads: 0 };
  const log = [];
  const faults = {};
  const rules = [];
  let hidden = null;
  const io = { store: null, raw: inner, counts, log, faults, offline: false };

  const injected = (method, key) => {
    if (faults[method] === 'throw' || faults[method] === 'hang') return faults[method];
    for (const rule of rules) {
      const on = rule.on ?? 'any';
      const methodMatches = on === 'any' || on === method || (on === 'write' && (method === 'put' || method === 'delete'));
      if (!methodMatches || (rule.prefix !== undefined && !String(key).startsWith(rule.prefix))) continue;
      rule.seen += 1;
      if (rule.nth === undefined || rule.nth === rule.seen) return rule.fault ?? 'throw';
    }
    return undefined;
  };

  const call = async (method, key, run, offlineAnswer) => {
    counts[method] += 1;
    log.push({ op: method, key });
    const fault = injected(method, key);
    if (fault === 'throw') throw new Error(`injected ${method} failure (${key})`);
    if (fault === 'hang') return new Promise(() => {});
    if (io.offline) return offlineAnswer;
    return run();
  };

  io.store = {
    get: (key, type) =>
      call(
        'get',
        key,
        async () => {
          if (key.startsWith('s:')) counts.recordReads += 1;
          if (faults.get === 'corrupt' && key.startsWith('s:')) return '{"v":2,"user_id":';
          if (faults.get === 'absent' && key.startsWith('s:')) return null;
          const text = await inner.get(key, type);
          if (faults.get === 'v1' && key.startsWith('s:')) return text && text.replace('"v":2', '"v":1');
          return text;
        },
        null,
      ),
    put: (key, value, options) => call('put', key, () => inner.put(key, value, options), undefined),
    delete: (key) => call('delete', key, () => inner.delete(key), undefined),
    list: (options) =>
      call(
        'list',
        options && options.prefix,
        async () => {
          const page = await inner.list(options);
          return hidden ? { ...page, keys: page.keys.filter((k) => !hidden(k.name)) } : page;
        },
        { keys: [], list_complete: true },
      ),
  };

  io.failOn = (rule) => rules.push({ ...rule, seen: 0 });
  io.hideFromList = (predicate) => {
    hidden = predicate;
  };
  /** Removes every fault and filter. */
  io.heal = () => {
    rules.length = 0;
    Object.keys(faults).forEach((k) => delete faults[k]);
    hidden = null;
  };
  io.reset = () => {
    Object.keys(counts).forEach((k) => (counts[k] = 0));
    log.length = 0;
  };
  io.writes = () => counts.put + counts.delete;
  /** Keys of the logged calls of `op`, optionally only those starting with `prefix`. */
  io.keys = (op, prefix = '') => log.filter((e) => e.op === op && String(e.key).startsWith(prefix)).map((e) => e.key);
  /** A stored value as the library wrote it (parsed), or null. */
  io.stored = async (key) => {
    const text = await inner.get(key, 'text');
    return text === null ? null : JSON.parse(text);
  };
  return io;
}

function clock() {
  const c = { t: T0 };
  c.now = () => c.t;
  c.advance = (ms) => (c.t += ms);
  return c;
}

let makeRequest = (headers) => new Request('https://app.example/', { headers });

/**
 * Browsers drop the forbidden `Cookie` header from a `Request` they construct, so the browser run
 * hands the manager `{ headers }` instead (the package accepts anything with `headers.get`).
 */
export function useRequestFactory(factory) {
  makeRequest = factory;
}

function requestWith(cookie, extra = {}) {
  const headers = new Headers(extra);
  if (cookie !== undefined) headers.set('cookie', cookie);
  return makeRequest(headers);
}

/** The `name=value` pair a browser would send back for a Set-Cookie value. */
function pair(setCookie) {
  return setCookie.split(';')[0];
}

/** The cookie value (the envelope) of a Set-Cookie value. */
function valueOf(setCookie) {
  return pair(setCookie).slice(pair(setCookie).indexOf('=') + 1);
}

let counter = 0;
function uniqueUser(name) {
  counter += 1;
  return `${name}-${Date.now().toString(36)}-${counter}`;
}

/** A manager on an instrumented fresh store, with a test clock and an event log. */
function setup(ctx, options = {}) {
  const c = clock();
  const io = instrument(ctx.freshStore());
  const events = [];
  const manager = new ctx.SessionManager({
    store: io.store,
    keys: `k1:${SECRET_1}`,
    now: c.now,
    onEvent: (e) => events.push(e),
    ...options,
  });
  /** Another isolate: same store, keys and clock, its own memory. */
  const peer = (more = {}) =>
    new ctx.SessionManager({ store: io.store, keys: `k1:${SECRET_1}`, now: c.now, ...options, onEvent: undefined, ...more });
  return { c, io, manager, events, peer };
}

function eventsOf(events, type) {
  return events.filter((e) => e.type === type);
}

export const scenarios = {
  async 'create, fast path, refresh with one throttled last-seen write, idle and absolute expiry'(ctx) {
    const { c, io, manager } = setup(ctx, { envelopeTtl: 60, idleTimeout: 1800, absoluteTimeout: 7200 });
    const user = uniqueUser('alice');
    const created = await manager.create(null, user, { userAgent: 'Test/1.0' });
    equal(created.ok, true, 'create ok');
    equal(created.session.data, null, 'no data unless given');
    equal(created.session.generation, 0, 'generation 0 at login');
    check(created.setCookie.startsWith('__Host-session='), 'cookie name');
    for (const attr of ['Max-Age=7200', 'Path=/', 'Secure', 'HttpOnly', 'SameSite=Lax']) {
      check(created.setCookie.includes(`; ${attr}`), `Set-Cookie has ${attr}`);
    }
    check(created.setCookie.length < 4096, 'Set-Cookie under 4096 bytes');
    same(io.keys('put').map((k) => k.slice(0, 2)), ['s:', 'u:'], 'login writes the record and the index entry');
    equal(io.writes(), 2, 'and nothing else');
    const cookie = pair(created.setCookie);

    io.reset();
    c.advance(30 * SECOND);
    let r = await manager.validate(requestWith(cookie));
    equal(r.ok, true, 'fast path valid');
    equal(r.refreshed, false, 'fast path not refreshed');
    equal(r.setCookie, null, 'fast path sends no cookie');
    equal(r.session.userId, user, 'user id');
    equal(r.session.data, null, 'fast path data');
    equal(io.log.length, 0, 'fast path touches the store');

    // Envelope expired, same touch interval (180 s) as its signing: four reads, no write.
    c.advance(31 * SECOND);
    r = await manager.validate(requestWith(cookie));
    equal(r.ok, true, 'refresh valid');
    equal(r.refreshed, true, 'refreshed');
    check(r.setCookie && r.setCookie !== created.setCookie, 'refresh sends a new envelope');
    equal(r.session.issuedAt, c.t, 'the new envelope is signed now');
    equal(r.session.idleExpiresAt, c.t + 1800 * SECOND, 'idle deadline slides');
    equal(io.counts.recordReads, 1, 'refresh reads the record once');
    same(io.keys('get').map((k) => k.slice(0, 2)).sort(), ['c:', 'l:', 'o:', 'r:', 's:'], 'the lineage tombstone and the three cutoffs');
    equal(io.writes(), 0, 'no last-seen write inside the touch interval');
    const second = pair(r.setCookie);

    // The next touch interval: one last-seen write; the record and index are never rewritten.
    io.reset();
    c.advance(120 * SECOND);
    r = await manager.validate(requestWith(second));
    equal(r.ok, true, 'second refresh valid');
    equal(io.counts.recordReads, 1, 'second refresh reads once');
    same(io.keys('put').map((k) => k.slice(0, 2)), ['t:'], 'one last-seen write');
    equal(io.writes(), 1, 'and nothing else');
    const third = pair(r.setCookie);
    const listed = await manager.listSessions(user);
    equal(listed.length, 1, 'listed');
    equal(listed[0].lastSeenAt, c.t, 'the devices list shows the last refresh');
    equal(listed[0].createdAt, created.session.createdAt, 'and the login time');
    equal(listed[0].userAgent, 'Test/1.0', 'and the user agent');

    // Same interval again: refreshed, nothing written.
    io.reset();
    c.advance(61 * SECOND);
    r = await manager.validate(requestWith(third));
    equal(r.refreshed, true, 'third refresh');
    equal(io.writes(), 0, 'at most one last-seen write per touch interval');
    const fourth = pair(r.setCookie);

    // Idle: nothing for longer than the idle timeout (judged from the envelope, no store read).
    c.advance(1801 * SECOND);
    io.reset();
    r = await manager.validate(requestWith(fourth));
    equal(r.ok, false, 'idle session refused');
    equal(r.reason, 'expired_idle', 'idle reason');
    check(isClearing(r.setCookie), 'clearing cookie on reject');
    equal(io.log.length, 0, 'an idle envelope needs no store access');

    // Absolute: keep a session active past its absolute lifetime.
    const other = await manager.create(null, user);
    let live = pair(other.setCookie);
    const absolute = other.session.absoluteExpiresAt;
    for (let i = 0; i < 100 && c.t < absolute + 120 * SECOND; i += 1) {
      c.advance(300 * SECOND);
      r = await manager.validate(requestWith(live));
      if (!r.ok) break;
      check(r.session.absoluteExpiresAt === absolute, 'absolute deadline never moves');
      check(r.session.idleExpiresAt <= absolute, 'idle deadline capped by the absolute one');
      if (r.setCookie) live = pair(r.setCookie);
    }
    equal(r.ok, false, 'absolute lifetime ends the session');
    equal(r.reason, 'expired_absolute', 'absolute reason');
  },

  async 'the fast path reuses what it derived from an envelope only for that envelope, and judges every call afresh'(ctx) {
    const { c, io, manager } = setup(ctx, { envelopeTtl: 60, idleTimeout: 1800, absoluteTimeout: 7200 });
    const user = uniqueUser('memo');
    // More logins than the fast path's 256 memo slots, so slots are shared and taken over. Their
    // store writes are dropped (only their envelopes are validated below, on the fast path).
    io.offline = true;
    const logins = [];
    for (let i = 0; i < 300; i += 1) {
      logins.push(await manager.create(null, `${user}-${i}`, i % 3 === 0 ? { data: { n: i, tag: 'x'.repeat(i % 50) } } : {}));
    }
    io.offline = false;
    io.reset();
    c.advance(SECOND);
    const order = logins.map((_, i) => i);
    for (const round of [0, 1, 2]) {
      const pass = round === 1 ? [...order].reverse() : order;
      for (const i of pass) {
        const r = await manager.validate(requestWith(pair(logins[i].setCookie)));
        equal(r.ok, true, `login ${i}, round ${round}: valid`);
        equal(r.refreshed, false, `login ${i}, round ${round}: on the fast path`);
        same(r.session, logins[i].session, `login ${i}, round ${round}: its own session, as created`);
      }
    }
    equal(io.log.length, 0, 'the fast path touched no store');

    // Data is read-only (it can only change by update, which re-signs it): no caller can change
    // what the next one sees. Each call gets its own session object.
    const withData = pair(logins[0].setCookie);
    const first = await manager.validate(requestWith(withData));
    check(Object.isFrozen(first.session.data), 'session data is frozen');
    try {
      first.session.data.n = 'changed by the application';
    } catch {
      // A TypeError in strict code; sloppy code (some bundles) ignores the write.
    }
    equal(first.session.data.n, 0, 'writing to session data changes nothing');
    first.session.userId = 'changed by the application';
    const second = await manager.validate(requestWith(withData));
    equal(second.session.data.n, 0, 'data unchanged for the next caller');
    equal(second.session.userId, `${user}-0`, 'a session object is the caller\'s own');

    // Revocation and expiry are judged on every call, remembered envelope or not.
    const live = await manager.create(null, `${user}-live`);
    const cookie = pair(live.setCookie);
    for (let i = 0; i < 3; i += 1) equal((await manager.validate(requestWith(cookie))).ok, true, 'valid before logout');
    equal((await manager.destroy(requestWith(cookie))).ok, true, 'logout');
    equal((await manager.validate(requestWith(cookie))).reason, 'revoked', 'refused after logout, same isolate');
    const idle = pair((await manager.create(null, `${user}-aging`)).setCookie);
    for (let i = 0; i < 3; i += 1) equal((await manager.validate(requestWith(idle))).refreshed, false, 'fast path');
    c.advance(60 * SECOND);
    const due = await manager.validate(requestWith(idle));
    equal(due.refreshed, true, 'an envelope past its lifetime is refreshed from the store, not taken from memory');
    c.advance(7200 * SECOND);
    equal((await manager.validate(requestWith(idle))).reason, 'expired_absolute', 'past the absolute deadline');
  },

  async 'logout rejects the old cookie here at once and elsewhere after refresh'(ctx) {
    const { c, io, manager, peer, events } = setup(ctx);
    const elsewhere = peer();
    const user = uniqueUser('bob');
    const created = await manager.create(null, user);
    const cookie = pair(created.setCookie);
    io.reset();
    const out = await manager.destroy(requestWith(cookie));
    same(Object.keys(out).sort(), ['ok', 'setCookie'], 'destroy answers { ok, setCookie }');
    equal(out.ok, true, 'logout ok');
    check(isClearing(out.setCookie), 'logout clears the cookie');
    equal(out.setCookie, manager.clearCookie(), 'the clearing cookie');
    same(io.keys('put').map((k) => k.slice(0, 2)).sort(), ['l:', 's:'], 'the record and the login (lineage) are tombstoned');
    same(io.keys('delete').map((k) => k.slice(0, 2)).sort(), ['t:', 'u:'], 'index and last-seen keys deleted');
    const tombstone = await io.stored(`s:${created.session.handle}`);
    equal(tombstone.ended, 'revoked', 'tombstone says why');
    equal(tombstone.user_id, undefined, 'a tombstone keeps nothing of the session');
    const lineage = await io.stored(io.keys('put', 'l:')[0]);
    same(Object.keys(lineage).sort(), ['at', 'ended', 'v'], 'the lineage tombstone keeps nothing of the session either');
    equal(lineage.ended, 'revoked', 'and says why');
    equal(eventsOf(events, 'destroyed')[0].handle, created.session.handle, 'destroyed event');
    let r = await manager.validate(requestWith(cookie));
    equal(r.reason, 'revoked', 'same isolate refuses at once');
    check(isClearing(r.setCookie), 'and clears');
    equal((await elsewhere.validate(requestWith(cookie))).ok, true, 'other isolate: envelope still fresh');
    c.advance(61 * SECOND);
    r = await elsewhere.validate(requestWith(cookie));
    equal(r.reason, 'revoked', 'other isolate refuses at refresh (tombstone)');
    equal((await manager.listSessions(user)).length, 0, 'not listed any more');
    const again = await manager.destroy(requestWith(cookie));
    equal(again.ok, true, 'logout is idempotent');
    check(isClearing(again.setCookie), 'and clears again');
    equal((await elsewhere.destroy(requestWith(cookie))).ok, true, 'also in another isolate');
    const none = await manager.destroy(requestWith(undefined));
    equal(none.ok, true, 'logout without a session');
    check(isClearing(none.setCookie), 'still clears');
    const garbage = await manager.destroy(requestWith('__Host-session=garbage'));
    equal(garbage.ok, true, 'logout with a forged cookie');
  },

  async 'logout ends the login: every rotation of it, here at once and elsewhere at refresh'(ctx) {
    const { c, io, manager, peer } = setup(ctx);
    const elsewhere = peer();
    const user = uniqueUser('lena');
    const created = await manager.create(null, user);
    c.advance(5 * SECOND);
    const rotated = await manager.rotate(requestWith(pair(created.setCookie)));
    const updated = await manager.update(requestWith(pair(rotated.setCookie)), { step: 2 });
    equal(updated.ok, true, 'two rotations');
    const current = pair(updated.setCookie);
    equal((await elsewhere.validate(requestWith(current))).ok, true, 'the current session works elsewhere');
    // Logging out with an older generation's cookie still ends the login, the current ID included.
    io.reset();
    equal((await manager.destroy(requestWith(pair(rotated.setCookie)))).ok, true, 'logout with a rotated-out cookie');
    same(io.keys('put').map((k) => k.slice(0, 2)).sort(), ['l:', 's:'], 'tombstones its record and the login');
    io.reset();
    equal((await manager.validate(requestWith(current))).reason, 'revoked', 'this isolate refuses the current session at once');
    equal(io.log.length, 0, 'from memory');
    equal((await manager.rotate(requestWith(current))).reason, 'revoked', 'and will not rotate it');
    c.advance(61 * SECOND);
    const r = await elsewhere.validate(requestWith(current));
    equal(r.reason, 'revoked', 'elsewhere at its next refresh (the lineage tombstone)');
    check(isClearing(r.setCookie), 'and clears it');
    equal((await io.stored(`s:${updated.session.handle}`)).user_id, user, 'though its own record was never touched');
    equal((await elsewhere.validate(requestWith(pair(created.setCookie)))).reason, 'revoked', 'the first generation too: the login ended');
    // revokeSession (say from a devices page) ends the login it names the same way.
    const other = await manager.create(null, user);
    c.advance(5 * SECOND);
    const next = await manager.rotate(requestWith(pair(other.setCookie)));
    equal(await elsewhere.revokeSession(next.session.handle, user), true, 'revokeSession of the current ID');
    equal((await elsewhere.validate(requestWith(pair(next.setCookie)))).reason, 'revoked', 'refused in the revoking isolate at once');
    c.advance(61 * SECOND);
    equal((await manager.validate(requestWith(pair(next.setCookie)))).reason, 'revoked', 'and elsewhere at refresh');
    check(!(await manager.listSessions(user)).some((x) => x.handle === next.session.handle), 'the revoked ID is not listed');
    const after = await manager.create(null, user);
    c.advance(61 * SECOND);
    equal((await elsewhere.validate(requestWith(pair(after.setCookie)))).ok, true, 'a new login is a new lineage, unaffected');
  },

  async 'a record not visible yet is not a logout: validate accepts the envelope, rotate asks to retry'(ctx) {
    const { c, io, manager, peer, events } = setup(ctx);
    const user = uniqueUser('yara');
    const created = await manager.create(null, user, { data: { step: 1 } });
    const cookie = pair(created.setCookie);
    c.advance(61 * SECOND); // envelope expired, but KV may take 60 s to show a record elsewhere
    io.faults.get = 'absent';
    io.reset();
    let r = await manager.validate(requestWith(cookie));
    equal(r.ok, true, 'accepted on the envelope');
    equal(r.refreshed, true, 'after asking the store');
    equal(r.setCookie, null, 'without a new envelope (the next request asks again)');
    same(r.session.data, { step: 1 }, 'with its data');
    equal(io.writes(), 0, 'nothing written');
    io.reset();
    r = await manager.validate(requestWith(cookie));
    equal(io.counts.recordReads, 1, 'the next request reads the record again');
    for (const [name, run] of [
      ['rotate', () => manager.rotate(requestWith(cookie))],
      ['update', () => manager.update(requestWith(cookie), { step: 2 })],
    ]) {
      events.length = 0;
      io.reset();
      const rot = await run();
      equal(rot.ok, false, `${name}: not ok`);
      equal(rot.reason, 'store_unavailable', `${name}: try again later`);
      equal(rot.setCookie, null, `${name}: the cookie is kept`);
      equal(rot.session, undefined, `${name}: no new session`);
      equal(io.writes(), 0, `${name}: nothing written`);
      same(eventsOf(events, 'rejected').map((e) => [e.reason, e.handle]), [['store_unavailable', created.session.handle]], `${name}: event`);
    }
    // 60 s of propagation + 5 s of clock skew + the write grace (2 x storeTimeoutMs: 10 s by
    // default) after the envelope was signed, absence means the session is gone.
    c.advance(4 * SECOND);
    equal((await manager.validate(requestWith(cookie))).ok, true, 'at 65 s after signing (inside the write grace)');
    c.advance(10 * SECOND - 1);
    r = await manager.validate(requestWith(cookie));
    equal(r.ok, true, 'up to 75 s after signing');
    equal(r.setCookie, null, 'still without a new envelope');
    c.advance(1);
    r = await manager.validate(requestWith(cookie));
    equal(r.reason, 'session_not_found', 'from 75 s on: session_not_found');
    check(isClearing(r.setCookie), 'and the cookie is cleared');
    io.heal();
    equal((await manager.validate(requestWith(cookie))).reason, 'session_not_found', 'this isolate remembers it');
    const elsewhere = peer();
    equal((await elsewhere.validate(requestWith(cookie))).ok, true, 'an isolate that sees the record accepts it');

    // The write grace follows storeTimeoutMs: 20 s gives 60 s + 5 s + 40 s = 105 s.
    const slow = peer({ storeTimeoutMs: 20_000 });
    const young = await slow.create(null, user);
    const youngCookie = pair(young.setCookie);
    io.faults.get = 'absent';
    c.advance(105 * SECOND - 1);
    r = await slow.validate(requestWith(youngCookie));
    same([r.ok, r.setCookie], [true, null], 'storeTimeoutMs 20000: accepted on the envelope up to 105 s after signing');
    c.advance(1);
    equal((await slow.validate(requestWith(youngCookie))).reason, 'session_not_found', 'storeTimeoutMs 20000: from 105 s on, gone');
    io.heal();
  },

  async 'a refusal learnt from the store is remembered: the fast path refuses that session afterwards'(ctx) {
    const { c, io, manager, peer } = setup(ctx);
    const lagging = peer(); // an isolate that refreshed just before the logout
    const elsewhere = peer();
    const user = uniqueUser('nils');
    for (const [how, end, reason] of [
      ['logout', (cookie) => manager.destroy(requestWith(cookie)), 'revoked'],
      ['rotation', (cookie) => manager.rotate(requestWith(cookie)), 'rotated'],
    ]) {
      const created = await manager.create(null, user);
      const cookie = pair(created.setCookie);
      c.advance(61 * SECOND);
      const fresh = await lagging.validate(requestWith(cookie));
      check(fresh.ok && fresh.setCookie, `${how}: a fresh envelope from before it`);
      c.advance(SECOND);
      await end(cookie);
      equal((await elsewhere.validate(requestWith(cookie))).reason, reason, `${how}: the expired envelope is refused from the store`);
      io.reset();
      const r = await elsewhere.validate(requestWith(pair(fresh.setCookie)));
      equal(r.reason, reason, `${how}: then the fresh one too`);
      equal(io.log.length, 0, `${how}: on the fast path, from memory`);
      equal((await lagging.validate(requestWith(pair(fresh.setCookie)))).ok, true, `${how}: an isolate that did not read the store trusts its envelope until it expires`);
    }
  },

  async 'rotate gives a new ID, keeps the deadlines and data, and kills the old cookie'(ctx) {
    const { c, io, manager, peer, events } = setup(ctx);
    const elsewhere = peer();
    const user = uniqueUser('carol');
    const created = await manager.create(null, user, { data: { plan: 'pro' } });
    const old = pair(created.setCookie);
    c.advance(5 * SECOND);
    io.reset();
    const rotated = await manager.rotate(requestWith(old));
    equal(rotated.ok, true, 'rotate ok');
    check(rotated.session.handle !== created.session.handle, 'new handle');
    check(valueOf(rotated.setCookie) !== valueOf(created.setCookie), 'new cookie');
    equal(rotated.session.userId, user, 'same user');
    equal(rotated.session.createdAt, created.session.createdAt, 'createdAt kept');
    equal(rotated.session.absoluteExpiresAt, created.session.absoluteExpiresAt, 'absolute kept');
    equal(rotated.session.generation, 1, 'generation bumped');
    same(rotated.session.data, { plan: 'pro' }, 'data kept');
    equal(io.counts.recordReads, 1, 'one record read');
    same(io.keys('put').map((k) => k.slice(0, 2)), ['s:', 'u:', 's:'], 'new record and index, then the old tombstone');
    same(io.keys('put', 's:'), [`s:${rotated.session.handle}`, `s:${created.session.handle}`], 'new first, then old');
    same(io.keys('delete').map((k) => k.slice(0, 2)).sort(), ['t:', 'u:'], 'the old index and last-seen keys go');
    equal((await io.stored(`s:${created.session.handle}`)).ended, 'rotated', 'old record tombstoned as rotated');
    const event = eventsOf(events, 'rotated')[0];
    equal(event.handle, rotated.session.handle, 'rotated event: new handle');
    equal(event.previousHandle, created.session.handle, 'rotated event: previous handle');
    let r = await manager.validate(requestWith(old));
    equal(r.reason, 'rotated', 'old cookie refused here');
    check(isClearing(r.setCookie), 'and cleared');
    equal((await manager.rotate(requestWith(old))).reason, 'rotated', 'the old cookie cannot rotate again');
    r = await manager.validate(requestWith(pair(rotated.setCookie)));
    equal(r.ok, true, 'new cookie works');
    same(r.session.data, { plan: 'pro' }, 'with the data');
    const listed = await manager.listSessions(user);
    same(listed.map((s) => s.handle), [rotated.session.handle], 'only the new session is listed');
    c.advance(61 * SECOND);
    equal((await elsewhere.validate(requestWith(old))).reason, 'rotated', 'old cookie refused elsewhere');
    r = await elsewhere.validate(requestWith(pair(rotated.setCookie)));
    equal(r.ok, true, 'new cookie refreshes elsewhere');
    equal(r.session.generation, 1, 'generation from the record');
  },

  async 'login over an existing session ends it and yields a new ID'(ctx) {
    const { c, manager, peer } = setup(ctx);
    const elsewhere = peer();
    const user = uniqueUser('dave');
    const first = await manager.create(null, user);
    const second = await manager.create(requestWith(pair(first.setCookie), { 'user-agent': 'Mozilla/5.0 Test' }), user);
    equal(second.ok, true, 'login ok');
    check(second.session.handle !== first.session.handle, 'new ID on login');
    equal((await manager.validate(requestWith(pair(first.setCookie)))).reason, 'revoked', 'old session ended');
    const sessions = await manager.listSessions(user);
    equal(sessions.length, 1, 'only the new session is listed');
    equal(sessions[0].handle, second.session.handle, 'listed handle');
    equal(sessions[0].userAgent, 'Mozilla/5.0 Test', 'user agent taken from the request');
    c.advance(61 * SECOND);
    equal((await elsewhere.validate(requestWith(pair(first.setCookie)))).reason, 'revoked', 'ended elsewhere too');
    // A planted cookie of another user is ended as well, never adopted.
    const planted = await manager.create(null, uniqueUser('mallory'));
    const victim = await manager.create(requestWith(pair(planted.setCookie)), user);
    equal(victim.session.userId, user, 'the login is the new user');
    equal((await manager.validate(requestWith(pair(planted.setCookie)))).reason, 'revoked', 'planted session ended');
  },

  async 'list, revoke one, revoke all of a user'(ctx) {
    const { c, manager, peer, events } = setup(ctx);
    const elsewhere = peer();
    const user = uniqueUser('erin');
    const stranger = uniqueUser('mallory');
    const a = await manager.create(null, user, { userAgent: 'Phone' });
    c.advance(SECOND);
    const b = await manager.create(null, user, { userAgent: 'Laptop' });
    const m = await manager.create(null, stranger);
    let list = await manager.listSessions(user);
    equal(list.length, 2, 'two sessions');
    equal(list[0].handle, b.session.handle, 'newest first');
    equal(list[0].userAgent, 'Laptop', 'user agent kept');
    same(Object.keys(list[0]).sort(), ['absoluteExpiresAt', 'createdAt', 'handle', 'lastSeenAt', 'userAgent'], 'listing fields');
    equal(list[1].lastSeenAt, list[1].createdAt, 'last seen is the login time before any refresh');
    check(list.every((s) => !JSON.stringify(s).includes(valueOf(a.setCookie))), 'no envelope in listing');
    equal(await manager.revokeSession(m.session.handle, user), false, 'foreign handle refused');
    equal(await manager.revokeSession('not-a-handle', user), false, 'garbage handle refused');
    equal(await manager.revokeSession(a.session.handle, user), true, 'own handle revoked');
    equal(await manager.revokeSession(a.session.handle, user), false, 'second revoke finds nothing');
    same(eventsOf(events, 'revoked')[0], { type: 'revoked', scope: 'session', userId: user, handle: a.session.handle, at: c.t }, 'revoked event');
    equal((await manager.validate(requestWith(pair(a.setCookie)))).reason, 'revoked', 'revoked session refused');
    equal((await manager.validate(requestWith(pair(m.setCookie)))).ok, true, 'stranger untouched');
    list = await manager.listSessions(user);
    equal(list.length, 1, 'one left');
    equal(await manager.revokeUser(user), 1, 'revokeUser ends the rest');
    equal((await manager.validate(requestWith(pair(b.setCookie)))).reason, 'revoked', 'user revoked');
    equal((await manager.listSessions(user)).length, 0, 'nothing listed');
    c.advance(61 * SECOND);
    equal((await elsewhere.validate(requestWith(pair(b.setCookie)))).reason, 'revoked', 'user revoked elsewhere');
    equal((await elsewhere.validate(requestWith(pair(m.setCookie)))).ok, true, 'stranger untouched elsewhere');
    c.advance(1);
    const after = await manager.create(null, user);
    equal((await manager.validate(requestWith(pair(after.setCookie)))).ok, true, 'a new login after revocation works');
    c.advance(61 * SECOND);
    equal((await elsewhere.validate(requestWith(pair(after.setCookie)))).ok, true, 'and refreshes elsewhere');
    equal(await manager.revokeSession(after.session.handle), true, 'revokeSession without a user');
  },

  async 'key rotation re-signs sessions from their record; a removed key fails safe'(ctx) {
    const c = clock();
    const io = instrument(ctx.freshStore());
    const base = { store: io.store, now: c.now };
    const before = new ctx.SessionManager({ ...base, keys: `k1:${SECRET_1}` });
    const staged = new ctx.SessionManager({ ...base, keys: `k1:${SECRET_1},k2:${SECRET_2}` });
    const during = new ctx.SessionManager({ ...base, keys: { current: 'k2', keys: { k1: SECRET_1, k2: SECRET_2 } } });
    const after = new ctx.SessionManager({ ...base, keys: `k2:${SECRET_2}` });
    const created = await before.create(null, uniqueUser('frank'), { data: { theme: 'dark' } });
    const old = pair(created.setCookie);
    io.reset();
    let r = await staged.validate(requestWith(old));
    equal(r.ok && r.setCookie, null, 'step 1 (new key verifies only): nothing changes');
    equal(io.log.length, 0, 'and nothing is read');
    r = await during.validate(requestWith(old));
    equal(r.ok, true, 'old-key envelope still valid');
    equal(r.refreshed, true, 'it went through the record');
    check(r.setCookie, 're-signed with the new key');
    equal(io.counts.recordReads, 1, 're-signing reads the record once');
    equal(io.writes(), 0, 'and writes nothing');
    same(r.session.data, { theme: 'dark' }, 'data kept');
    equal(r.session.handle, created.session.handle, 'same session');
    const resigned = pair(r.setCookie);
    io.reset();
    const again = await during.validate(requestWith(resigned));
    equal(again.ok && again.setCookie, null, 'new-key envelope needs nothing');
    equal(io.log.length, 0, 'and no store access');
    equal((await staged.validate(requestWith(resigned))).ok, true, 'an isolate still on step 1 accepts it');
    equal((await after.validate(requestWith(resigned))).ok, true, 'works once the old key is gone');
    io.reset();
    const gone = await after.validate(requestWith(old));
    equal(gone.reason, 'unknown_key', 'removed key refused');
    check(isClearing(gone.setCookie), 'and cleared');
    equal(io.log.length, 0, 'without a store read');

    // An old-key envelope of an ended session is never re-signed from its own claims.
    const ended = await before.create(null, uniqueUser('frank'));
    await before.destroy(requestWith(pair(ended.setCookie)));
    r = await during.validate(requestWith(pair(ended.setCookie)));
    equal(r.ok, false, 'a logged-out session is not re-signed');
    equal(r.reason, 'revoked', 'the record said so');
  },

  async 'forged envelopes never reach the store'(ctx) {
    const { c, io, manager, peer } = setup(ctx);
    const otherName = peer({ cookie: { name: 'other' } });
    const wrongKey = peer({ keys: `k1:${SECRET_2}` });
    const created = await manager.create(null, uniqueUser('grace'), { data: { role: 'user' } });
    const value = valueOf(created.setCookie);
    const forged = await wrongKey.create(null, 'grace');
    const moved = await otherName.create(null, 'grace');
    c.advance(120 * SECOND); // every genuine envelope here would now need its record
    const bytes = fromBase64url(value);
    const edit = (change) => {
      const copy = bytes.slice();
      change(copy);
      return toBase64url(copy);
    };
    const dataAt = indexOfBytes(bytes, new TextEncoder().encode('{"role":"user"}'));
    check(dataAt > 0, 'session data is readable by the cookie holder (signed, not encrypted)');
    const lastChar = value.at(-1);
    const cases = {
      'bad signature': [edit((b) => (b[b.length - 1] ^= 1)), 'bad_signature'],
      'flipped body': [edit((b) => (b[40] ^= 1)), 'bad_signature'],
      'unknown key id': [edit((b) => (b[3] = '9'.charCodeAt(0))), 'unknown_key'],
      'escalated data': [edit((b) => b.set(new TextEncoder().encode('{"role":"root"}'), dataAt)), 'bad_signature'],
      'version 1 (a v1-era cookie)': [edit((b) => (b[0] = 1)), 'bad_version'],
      'version 3': [edit((b) => (b[0] = 3)), 'bad_version'],
      truncated: [value.slice(0, -4), undefined],
      extended: [value + 'AAAA', undefined],
      'non-canonical last character': [value.slice(0, -1) + (lastChar === 'B' ? 'C' : 'B'), undefined],
      padded: [value + '=', undefined],
      garbage: ['not-an-envelope', undefined],
      'wrong key': [valueOf(forged.setCookie), 'bad_signature'],
      'other cookie name': [valueOf(moved.setCookie), 'bad_signature'],
      empty: ['x', undefined],
    };
    for (const [name, [forgedValue, reason]] of Object.entries(cases)) {
      io.reset();
      const r = await manager.validate(requestWith(`__Host-session=${forgedValue}`));
      equal(r.ok, false, `${name} refused`);
      if (reason) equal(r.reason, reason, `${name} reason`);
      check(isClearing(r.setCookie), `${name} cleared`);
      equal(io.log.length, 0, `${name} touched the store`);
      const rot = await manager.rotate(requestWith(`__Host-session=${forgedValue}`));
      equal(rot.ok, false, `${name} cannot rotate`);
      const upd = await manager.update(requestWith(`__Host-session=${forgedValue}`), { role: 'admin' });
      equal(upd.ok, false, `${name} cannot update`);
      equal((await manager.destroy(requestWith(`__Host-session=${forgedValue}`))).ok, true, `${name} logout is a no-op`);
      equal(io.log.length, 0, `${name} touched the store on rotate, update or logout`);
    }
    io.reset();
    const dup = await manager.validate(requestWith(`__Host-session=${value}; __Host-session=${value}`));
    equal(dup.reason, 'duplicate_cookie', 'duplicate cookie');
    const huge = await manager.validate(requestWith(`a=${'x'.repeat(70_000)}`));
    equal(huge.reason, 'header_too_large', 'huge header');
    const noCookie = await manager.validate(requestWith(undefined));
    equal(noCookie.reason, 'missing', 'no cookie');
    equal(noCookie.setCookie, null, 'no clearing cookie without a cookie');
    equal((await manager.validate('')).reason, 'missing', 'an empty header string');
    equal(io.log.length, 0, 'none of these touched the store');
  },

  async 'store failures fail closed, keep the cookie and write nothing'(ctx) {
    const { c, io, manager, events } = setup(ctx, { storeTimeoutMs: 50 });
    const user = uniqueUser('heidi');
    const created = await manager.create(null, user);
    const cookie = pair(created.setCookie);
    c.advance(61 * SECOND);
    for (const [fault, reason, clears] of [
      ['throw', 'store_unavailable', false],
      ['hang', 'store_unavailable', false],
      ['corrupt', 'corrupt_record', true],
      ['v1', 'record_version', true],
    ]) {
      io.reset();
      io.faults.get = fault;
      events.length = 0;
      const r = await manager.validate(requestWith(cookie));
      equal(r.ok, false, `${fault}: refused`);
      equal(r.reason, reason, `${fault}: reason`);
      equal(isClearing(r.setCookie), clears, `${fault}: clears the cookie`);
      if (!clears) equal(r.setCookie, null, `${fault}: a store failure is not a logout`);
      same(eventsOf(events, 'rejected').map((e) => [e.reason, e.handle]), [[reason, created.session.handle]], `${fault}: rejected event`);
      equal(io.writes(), 0, `${fault}: nothing written`);
      const rot = await manager.rotate(requestWith(cookie));
      equal(rot.ok, false, `${fault}: rotate refused`);
      equal(rot.reason, reason, `${fault}: rotate reason`);
      equal(isClearing(rot.setCookie), clears, `${fault}: rotate clears the cookie`);
      equal(io.writes(), 0, `${fault}: rotate wrote nothing`);
    }
    io.heal();
    let r = await manager.validate(requestWith(cookie));
    equal(r.ok, true, 'works again once the store is back');

    // The last-seen write is best effort: a failure does not fail the refresh.
    c.advance(120 * SECOND);
    io.failOn({ on: 'put', prefix: 't:' });
    events.length = 0;
    r = await manager.validate(requestWith(pair(r.setCookie)));
    equal(r.ok, true, 'refresh survives a failed last-seen write');
    check(r.setCookie, 'and still re-signs');
    same(eventsOf(events, 'refreshed').map((e) => e.recordWritten), [false], 'the event says it was not written');
    io.heal();

    io.faults.put = 'throw';
    const failed = await manager.create(null, user);
    equal(failed.ok, false, 'create fails closed');
    equal(failed.reason, 'store_unavailable', 'create reason');
    equal(failed.setCookie, null, 'no cookie for a session that was not stored');
    io.heal();
    io.faults.list = 'hang';
    await storeError(() => manager.listSessions(user), 'list times out');
    io.heal();
    io.failOn({ on: 'get', prefix: 's:' });
    await storeError(() => manager.revokeSession(created.session.handle), 'revokeSession read fails');
    io.heal();
    io.failOn({ on: 'put', prefix: 'c:' });
    await storeError(() => manager.revokeUser(user), 'revokeUser cutoff write fails');
    io.heal();
    io.failOn({ on: 'list' });
    await storeError(() => manager.revokeUser(user), 'revokeUser listing fails');
    io.heal();
    io.failOn({ on: 'get', prefix: 'r:' });
    io.reset();
    await storeError(() => manager.revokeIssuedBefore(c.t), 'revokeIssuedBefore read fails');
    equal(io.writes(), 0, 'nothing written without the stored cutoff');
    io.heal();
    io.failOn({ on: 'put', prefix: 'r:' });
    await storeError(() => manager.revokeIssuedBefore(c.t), 'revokeIssuedBefore write fails');
    equal(eventsOf(events, 'revoked').length, 0, 'nothing reported revoked that was not');
  },

  async 'issuedBefore revokes here at once and elsewhere at the next refresh'(ctx) {
    const { c, io, manager, peer, events } = setup(ctx);
    // revocationSyncMs is accepted for compatibility and ignored: the cutoff is read at every refresh.
    const elsewhere = peer({ revocationSyncMs: 3_600_000 });
    const old = await manager.create(null, uniqueUser('ivan'));
    c.advance(SECOND);
    const cutoff = c.t;
    const fresh = await manager.create(null, uniqueUser('judy'));
    await manager.revokeIssuedBefore(cutoff);
    same(eventsOf(events, 'revoked').map((e) => [e.scope, e.issuedBefore]), [['issued_before', cutoff]], 'revoked event');
    equal((await io.stored('r:issued_before')).before, cutoff, 'stored cutoff');
    equal((await manager.validate(requestWith(pair(old.setCookie)))).reason, 'revoked', 'old session refused here');
    equal((await manager.validate(requestWith(pair(fresh.setCookie)))).ok, true, 'newer session kept');
    equal((await elsewhere.validate(requestWith(pair(old.setCookie)))).ok, true, 'elsewhere: fast path until expiry');
    c.advance(61 * SECOND);
    equal((await elsewhere.validate(requestWith(pair(old.setCookie)))).reason, 'revoked', 'elsewhere: refused at refresh');
    equal((await elsewhere.validate(requestWith(pair(fresh.setCookie)))).ok, true, 'elsewhere: newer session kept');
  },

  async 'strict mode consults the store on every request'(ctx) {
    const { c, io, manager, peer } = setup(ctx, { strict: true });
    const elsewhere = peer({ strict: false });
    const created = await manager.create(null, uniqueUser('ken'));
    const cookie = pair(created.setCookie);
    io.reset();
    c.advance(SECOND);
    const r = await manager.validate(requestWith(cookie));
    equal(r.ok, true, 'strict valid');
    equal(r.refreshed, true, 'the store was consulted');
    equal(io.counts.recordReads, 1, 'strict reads the record');
    equal(io.counts.get, 5, 'the lineage tombstone and the three cutoffs');
    equal(r.setCookie, null, 'fresh envelope kept');
    equal(io.writes(), 0, 'nothing written');
    await elsewhere.destroy(requestWith(cookie));
    equal((await manager.validate(requestWith(cookie))).reason, 'revoked', 'logout elsewhere seen at once');
  },

  async 'bad configuration is refused with a reason'(ctx) {
    const store = ctx.freshStore();
    const keys = `k1:${SECRET_1}`;
    const cases = [
      [{ store, keys: 'k1:c2hvcnQ' }, 'secret_too_short'],
      [{ store, keys: 'k1:MtRAmDUAh3w4ezUBF_7DbiS9synBN87P9AIrzgnqXQ' }, 'secret_too_short'], // 31 bytes
      [{ store, keys: 'k1:short' }, 'secret_not_base64url'],
      [{ store, keys: `k1:${SECRET_1}=` }, 'secret_not_base64url'],
      [{ store, keys: '' }, 'invalid_key_ring'],
      [{ store, keys: SECRET_1 }, 'invalid_key_ring'],
      [{ store }, 'invalid_key_ring'],
      [{ store, keys: 42 }, 'invalid_options'],
      [{ store, keys: `bad id:${SECRET_1}` }, 'invalid_key_id'],
      [{ store, keys: `k1:${SECRET_1},k1:${SECRET_2}` }, 'duplicate_key_id'],
      [{ store, keys: { current: 'k3', keys: { k1: SECRET_1 } } }, 'invalid_key_ring'],
      [{ store, keys, envelopeTtl: 600, idleTimeout: 300 }, 'invalid_timeouts'],
      [{ store, keys, idleTimeout: -1 }, 'invalid_timeouts'],
      [{ store, keys, absoluteTimeout: 401 * 86400 }, 'invalid_timeouts'],
      [{ store, keys, envelopeTtl: 'soon' }, 'invalid_options'],
      [{ store, keys, strict: 'yes' }, 'invalid_options'],
      [{ store, keys, storeTimeoutMs: 0 }, 'invalid_options'],
      [{ store, keys, cookie: { path: '/app' } }, 'invalid_cookie'],
      [{ store, keys, cookie: { name: 'a;b' } }, 'invalid_cookie'],
      [{ store, keys, cookie: { sameSite: 'Sideways' } }, 'invalid_cookie'],
      [{ store, keys, cookie: { hostPrefix: false, secure: false, sameSite: 'None' } }, 'invalid_cookie'],
      [{ store: {}, keys }, 'invalid_store'],
      [{ keys }, 'invalid_store'],
      [{ store, keys, now: 5 }, 'invalid_options'],
      [{ store, keys, onEvent: 'log' }, 'invalid_options'],
    ];
    for (const [options, reason] of cases) {
      const error = await configError(ctx, () => new ctx.SessionManager(options), reason, `${reason} ${JSON.stringify({ ...options, store: undefined })}`);
      check(!String(error.message).includes(SECRET_1), 'message never shows a secret');
      check(!String(error.message).includes(SECRET_1.slice(0, 20)), 'nor part of one');
    }
    await configError(ctx, () => new ctx.SessionManager(), 'invalid_options', 'no options');
    // Environment variables are strings: numeric strings work.
    const fromEnv = new ctx.SessionManager({ store, keys, envelopeTtl: '30', idleTimeout: '600', absoluteTimeout: '3600' });
    equal(fromEnv.cookieName, '__Host-session', 'default cookie name');
    equal(new ctx.SessionManager({ store, keys, cookie: { name: 'sid' } }).cookieName, '__Host-sid', 'prefixed name');
    const ok = new ctx.SessionManager({ store, keys });
    await configError(ctx, () => ok.create(null, ''), 'invalid_user_id', 'empty user id');
    await configError(ctx, () => ok.create(null, 'a\nb'), 'invalid_user_id', 'control character in user id');
    await configError(ctx, () => ok.create(null, 'x'.repeat(129)), 'invalid_user_id', 'user id over 128 bytes');
    await configError(ctx, () => ok.create(null, 'é'.repeat(65)), 'invalid_user_id', 'user id over 128 bytes of UTF-8');
    await configError(ctx, () => ok.create(null, 42), 'invalid_user_id', 'a number is not a user id');
    equal((await ok.create(null, 'x'.repeat(128))).ok, true, 'a 128-byte user id works');
  },

  async 'unknown options are refused by name'(ctx) {
    const store = ctx.freshStore();
    const keys = `k1:${SECRET_1}`;
    for (const [options, name] of [
      [{ store, keys, envelopeTTL: 60 }, 'envelopeTTL'],
      [{ store, keys, idleTimeoutMs: 60_000 }, 'idleTimeoutMs'],
      [{ store, keys, sameSite: 'Strict' }, 'sameSite'],
      [{ store, keys, cookie: { colour: 'red' } }, 'colour'],
      [{ store, keys, cookie: { httpOnly: false } }, 'httpOnly'],
    ]) {
      const error = await configError(ctx, () => new ctx.SessionManager(options), 'invalid_options', `unknown ${name}`);
      check(error.message.includes(name), `the message names ${name}: ${error.message}`);
    }
    // Known but unused: accepted (deprecated), so existing deployments keep starting.
    new ctx.SessionManager({ store, keys, revocationSyncMs: 10_000 });
    new ctx.SessionManager({ store, keys, envelopeTtl: undefined, cookie: undefined });
    const manager = new ctx.SessionManager({ store, keys });
    const error = await configError(ctx, () => manager.create(null, uniqueUser('olga'), { userAgnet: 'x' }), 'invalid_options', 'unknown create option');
    check(error.message.includes('userAgnet'), `the message names it: ${error.message}`);
  },

  async 'v1-era secrets are refused with a message that says how to make a key'(ctx) {
    const store = ctx.freshStore();
    for (const [keys, reason, secret] of [
      [`k1:${V1_SECRET_1}`, 'secret_not_base64url', V1_SECRET_1],
      [`k2:${V1_SECRET_2},k1:${V1_SECRET_1}`, 'secret_not_base64url', V1_SECRET_2],
      [{ current: 'k1', keys: { k1: V1_SECRET_1 } }, 'secret_not_base64url', V1_SECRET_1],
      ['k1:correct horse battery staple but long enough', 'secret_not_base64url', 'correct horse'],
      // 24 random bytes: base64url, but too short once decoded (the length of the text is not what counts).
      ['k1:3q2-7wABAgMEBQYHCAkKCwwNDg8QERIT', 'secret_too_short', '3q2-7wABAgMEBQYHCAkK'],
    ]) {
      const error = await configError(ctx, () => new ctx.SessionManager({ store, keys }), reason, `${reason}: ${JSON.stringify(keys)}`);
      check(error.message.includes('randomBytes(32)'), `the message says how to make a key: ${error.message}`);
      check(error.message.includes('base64url'), 'and names the encoding');
      check(!error.message.includes(secret), 'without showing the secret');
    }
    // A mixed ring is refused as a whole, so a half-migrated deployment never starts.
    await configError(ctx, () => new ctx.SessionManager({ store, keys: `k2:${SECRET_2},k1:${V1_SECRET_1}` }), 'secret_not_base64url', 'mixed ring');
  },

  async 'session data: create, fast path and refresh return it; update rotates to new data'(ctx) {
    const { c, io, manager, peer, events } = setup(ctx);
    const elsewhere = peer();
    const user = uniqueUser('nora');
    const data = { role: 'admin', tenant: 't-1', flags: [1, 2], nested: { ok: true }, name: 'Zoë' };
    const created = await manager.create(null, user, { data });
    equal(created.ok, true, 'create ok');
    same(created.session.data, data, 'create returns the data');
    const cookie = pair(created.setCookie);
    io.reset();
    let r = await manager.validate(requestWith(cookie));
    same(r.session.data, data, 'the fast path returns it');
    equal(io.log.length, 0, 'without a store read');
    r = await elsewhere.validate(requestWith(cookie));
    same(r.session.data, data, 'another isolate reads it from the cookie too');
    c.advance(61 * SECOND);
    r = await elsewhere.validate(requestWith(cookie));
    equal(r.refreshed, true, 'refreshed');
    same(r.session.data, data, 'the refresh returns it');
    const deeplyFrozen = (v) => v === null || typeof v !== 'object' || (Object.isFrozen(v) && Object.values(v).every(deeplyFrozen));
    check(deeplyFrozen(r.session.data) && deeplyFrozen(created.session.data), 'read-only data from create and refresh, nested values too');
    check(!Object.isFrozen(data), "the caller's own object is left alone");
    const refreshed = pair(r.setCookie);
    same((await manager.validate(requestWith(refreshed))).session.data, data, 'and the re-signed cookie carries it');

    io.reset();
    events.length = 0;
    const updated = await manager.update(requestWith(refreshed), { role: 'user' });
    equal(updated.ok, true, 'update ok');
    check(updated.session.handle !== created.session.handle, 'update rotates: new handle');
    same(updated.session.data, { role: 'user' }, 'new data (replaced, not merged)');
    equal(updated.session.generation, 1, 'generation bumped');
    equal(updated.session.createdAt, created.session.createdAt, 'createdAt kept');
    equal(updated.session.absoluteExpiresAt, created.session.absoluteExpiresAt, 'absolute kept');
    same(eventsOf(events, 'rotated').map((e) => e.previousHandle), [created.session.handle], 'reported as a rotation');
    equal((await io.stored(`s:${created.session.handle}`)).ended, 'rotated', 'the old record is tombstoned');
    r = await manager.validate(requestWith(refreshed));
    equal(r.reason, 'rotated', 'old cookie refused here');
    r = await manager.validate(requestWith(cookie));
    equal(r.reason, 'rotated', 'older cookie refused too');
    const current = pair(updated.setCookie);
    same((await manager.validate(requestWith(current))).session.data, { role: 'user' }, 'new cookie, new data');
    c.advance(61 * SECOND);
    equal((await elsewhere.validate(requestWith(refreshed))).reason, 'rotated', 'old cookie refused elsewhere at refresh');
    r = await elsewhere.validate(requestWith(current));
    equal(r.refreshed, true, 'new cookie refreshed elsewhere');
    same(r.session.data, { role: 'user' }, 'with the new data from the record');

    // null removes the data; a plain rotation keeps whatever there is.
    const cleared = await manager.update(requestWith(pair(r.setCookie)), null);
    equal(cleared.ok, true, 'update to null ok');
    equal(cleared.session.data, null, 'data removed');
    const rotated = await manager.rotate(requestWith(pair(cleared.setCookie)));
    equal(rotated.session.data, null, 'rotation keeps no data as none');
    equal(rotated.session.generation, 3, 'each update and rotation counts');
    const empty = await manager.create(null, user, { data: {} });
    same(empty.session.data, {}, 'an empty object is data');
    const none = await manager.create(null, user, { data: undefined });
    equal(none.session.data, null, 'undefined is no data');
  },

  async 'session data is a JSON object of at most 1024 bytes'(ctx) {
    const { c, io, manager } = setup(ctx);
    const user = uniqueUser('olaf');
    const exact = { s: 'x'.repeat(1024 - '{"s":""}'.length) };
    equal(JSON.stringify(exact).length, 1024, 'test data is 1024 bytes');
    const created = await manager.create(null, user, { data: exact });
    equal(created.ok, true, '1024 bytes accepted');
    check(created.setCookie.length < 4096, 'the largest cookie fits a browser');
    same((await manager.validate(requestWith(pair(created.setCookie)))).session.data, exact, 'and read back');
    const cyclic = {};
    cyclic.self = cyclic;
    const bad = {
      '1025 bytes': { s: 'x'.repeat(1017) },
      '1028 bytes in 518 characters': { s: 'é'.repeat(510) },
      'an array': [1, 2],
      'an empty array': [],
      'a string': 'admin',
      'a number': 42,
      'a boolean': true,
      'a date (serialises to a string)': new Date(T0),
      'a function': () => 1,
      'a bigint': 10n,
      'a cyclic object': cyclic,
    };
    io.reset();
    for (const [name, data] of Object.entries(bad)) {
      await configError(ctx, () => manager.create(null, user, { data }), 'invalid_data', `create with ${name}`);
    }
    equal(io.writes(), 0, 'refused data writes nothing');
    const cookie = pair(created.setCookie);
    c.advance(61 * SECOND);
    for (const [name, data] of Object.entries(bad)) {
      io.reset();
      const pending = manager.update(requestWith(cookie), data);
      check(typeof pending.then === 'function', `update with ${name} answers with a promise`);
      await configError(ctx, pending, 'invalid_data', `update with ${name}`);
      equal(io.writes(), 0, `update with ${name} writes nothing`);
    }
    // Refused before the cookie or the store is looked at.
    await configError(ctx, () => manager.update(requestWith(undefined), [1]), 'invalid_data', 'update without a session');
    io.faults.get = 'throw';
    await configError(ctx, () => manager.update(requestWith(cookie), 'x'), 'invalid_data', 'update with the store down');
    io.heal();
    const r = await manager.validate(requestWith(cookie));
    equal(r.ok, true, 'the session is untouched');
    same(r.session.data, exact, 'with its data');
    equal(r.session.generation, 0, 'and not rotated');
  },

  async 'a failed logout says so, this isolate refuses the session, and a retry finishes it'(ctx) {
    const { c, io, manager, peer, events } = setup(ctx);
    const elsewhere = peer();
    const user = uniqueUser('paul');
    const created = await manager.create(null, user);
    const cookie = pair(created.setCookie);
    io.failOn({ on: 'put', prefix: 's:' });
    io.failOn({ on: 'put', prefix: 'l:' });
    const out = await manager.destroy(requestWith(cookie));
    equal(out.ok, false, 'not ok');
    equal(out.reason, 'store_unavailable', 'reason');
    check(isClearing(out.setCookie), 'the cookie is cleared anyway');
    same(eventsOf(events, 'destroy_failed').map((e) => [e.userId, e.handle]), [[user, created.session.handle]], 'destroy_failed event');
    equal(eventsOf(events, 'destroyed').length, 0, 'no destroyed event');
    equal((await manager.validate(requestWith(cookie))).reason, 'revoked', 'this isolate refuses the session at once');
    equal((await manager.rotate(requestWith(cookie))).reason, 'revoked', 'and will not rotate it');
    c.advance(120 * SECOND);
    equal((await elsewhere.validate(requestWith(cookie))).ok, true, 'elsewhere it lives on while the record does');
    io.reset();
    equal((await manager.validate(requestWith(cookie))).reason, 'revoked', 'here it stays refused past the envelope lifetime');
    equal(io.log.length, 0, 'from memory, without reading the live record');
    io.heal();
    const retry = await manager.destroy(requestWith(cookie));
    equal(retry.ok, true, 'the retry succeeds');
    equal((await io.stored(`s:${created.session.handle}`)).ended, 'revoked', 'and wrote the tombstone');
    c.advance(61 * SECOND);
    equal((await elsewhere.validate(requestWith(cookie))).reason, 'revoked', 'now refused elsewhere too');

    // Only the record's tombstone fails, the lineage's lands: still reported as a failure (the
    // call cannot know better), though other isolates refuse the login from the lineage tombstone.
    const half = await manager.create(null, user);
    c.advance(61 * SECOND);
    io.failOn({ on: 'put', prefix: 's:' });
    equal((await manager.destroy(requestWith(pair(half.setCookie)))).ok, false, 'partial logout: not ok');
    io.heal();
    equal((await io.stored(`s:${half.session.handle}`)).ended, undefined, 'partial logout: the record still lives');
    equal((await elsewhere.validate(requestWith(pair(half.setCookie)))).reason, 'revoked', 'partial logout: refused elsewhere all the same');

    // Logging in over a session that cannot be ended fails: no second session beside a live one.
    const first = await manager.create(null, user);
    io.reset();
    io.failOn({ on: 'write', nth: 1 });
    const login = await manager.create(requestWith(pair(first.setCookie)), user);
    equal(login.ok, false, 'login refused');
    equal(login.reason, 'store_unavailable', 'login reason');
    equal(login.setCookie, null, 'no new cookie');
    equal(io.keys('put', 'u:').length, 0, 'the new session was not stored');
    io.heal();
    const second = await manager.create(requestWith(pair(first.setCookie)), user);
    equal(second.ok, true, 'a retried login works');
    equal((await io.stored(`s:${first.session.handle}`)).ended, 'revoked', 'and ended the old session');
  },

  async 'rotate failing before the new session is stored keeps the old one'(ctx) {
    const { c, io, manager, peer, events } = setup(ctx, { storeTimeoutMs: 50 });
    const elsewhere = peer();
    const user = uniqueUser('quinn');
    const created = await manager.create(null, user, { data: { step: 1 } });
    const old = pair(created.setCookie);
    c.advance(5 * SECOND);
    for (const [name, rule] of [
      ['index write throws', { on: 'put', prefix: 'u:' }],
      ['first write hangs', { on: 'write', nth: 1, fault: 'hang' }],
      ['record read throws', { on: 'get', prefix: 's:' }],
      ['user cutoff read hangs', { on: 'get', prefix: 'c:', fault: 'hang' }],
    ]) {
      for (const [call, run] of [
        ['rotate', () => manager.rotate(requestWith(old))],
        ['update', () => manager.update(requestWith(old), { step: 2 })],
      ]) {
        io.reset();
        io.failOn(rule);
        events.length = 0;
        const r = await run();
        io.heal();
        const what = `${call}, ${name}`;
        equal(r.ok, false, `${what}: not ok`);
        equal(r.reason, 'store_unavailable', `${what}: reason`);
        equal(r.setCookie, null, `${what}: no cookie (the old one stays)`);
        equal(r.session, undefined, `${what}: no session`);
        equal(io.counts.delete, 0, `${what}: the old session was not retired`);
        check(io.keys('put', 's:').every((k) => k !== `s:${created.session.handle}`), `${what}: the old record untouched`);
        same(eventsOf(events, 'rejected').map((e) => [e.reason, e.handle]), [['store_unavailable', created.session.handle]], `${what}: event`);
        equal(eventsOf(events, 'rotated').length + eventsOf(events, 'rotate_failed').length, 0, `${what}: no rotation reported`);
        const still = await manager.validate(requestWith(old));
        equal(still.ok, true, `${what}: the old session still works here`);
        same(still.session.data, { step: 1 }, `${what}: with its data`);
      }
    }
    check((await manager.listSessions(user)).some((s) => s.handle === created.session.handle), 'the old session is still listed');
    c.advance(61 * SECOND);
    const r = await elsewhere.validate(requestWith(old));
    equal(r.ok, true, 'and it refreshes elsewhere');
    same(r.session.data, { step: 1 }, 'with its data');
    const retried = await manager.update(requestWith(old), { step: 2 });
    equal(retried.ok, true, 'a retry works once the store is back');
    equal(retried.session.generation, 1, 'one rotation in all');
    equal((await manager.validate(requestWith(old))).reason, 'rotated', 'and ends the old session');
  },

  async 'rotate failing while retiring the old session hands over the new one but is no success'(ctx) {
    const { c, io, manager, peer, events } = setup(ctx);
    const elsewhere = peer();
    const user = uniqueUser('rosa');

    // The old record's tombstone (the third write, after the new record and index entry) fails.
    const created = await manager.create(null, user, { data: { step: 1 } });
    const old = pair(created.setCookie);
    c.advance(5 * SECOND);
    io.reset();
    io.failOn({ on: 'write', nth: 3 });
    const r = await manager.update(requestWith(old), { step: 2 });
    io.heal();
    equal(r.ok, false, 'not a success');
    equal(r.reason, 'store_unavailable', 'reason');
    check(typeof r.setCookie === 'string' && !isClearing(r.setCookie), 'the new cookie is handed over');
    check(r.session && r.session.handle !== created.session.handle, 'with the new session');
    same(r.session.data, { step: 2 }, 'and its data');
    equal(r.previousHandle, created.session.handle, 'naming the session that may still live');
    same(io.keys('put', 's:'), [`s:${r.session.handle}`, `s:${created.session.handle}`], 'the tombstone write was attempted after the new record');
    same(eventsOf(events, 'rotate_failed').map((e) => [e.handle, e.previousHandle]), [[r.session.handle, created.session.handle]], 'rotate_failed event');
    equal(eventsOf(events, 'rotated').length, 0, 'no rotated event');
    equal((await manager.validate(requestWith(pair(r.setCookie)))).ok, true, 'the new cookie works');
    equal((await manager.validate(requestWith(old))).reason, 'rotated', 'the old one is refused here');
    c.advance(120 * SECOND);
    equal((await elsewhere.validate(requestWith(old))).ok, true, 'but elsewhere the old record still lives: hence not ok');
    equal((await manager.validate(requestWith(old))).reason, 'rotated', 'here it stays refused past the envelope lifetime');
    equal((await elsewhere.validate(requestWith(pair(r.setCookie)))).ok, true, 'the new session refreshes elsewhere');
    // A logout (with the new cookie, as the user would) ends the old ID too: one login.
    equal((await manager.destroy(requestWith(pair(r.setCookie)))).ok, true, 'logout with the new cookie');
    c.advance(61 * SECOND);
    equal((await elsewhere.validate(requestWith(old))).reason, 'revoked', 'then the old one is refused everywhere');
    equal((await elsewhere.validate(requestWith(pair(r.setCookie)))).reason, 'revoked', 'and so is the new one');

    // The old index entry's delete fails: the tombstone was written, so the old ID is dead anyway,
    // but the call still reports the failure rather than guess.
    const second = await manager.create(null, user);
    c.advance(5 * SECOND);
    io.failOn({ on: 'delete', prefix: 'u:' });
    const r2 = await manager.rotate(requestWith(pair(second.setCookie)));
    io.heal();
    equal(r2.ok, false, 'index delete failure: not ok');
    equal(r2.reason, 'store_unavailable', 'index delete failure: reason');
    check(r2.setCookie && !isClearing(r2.setCookie), 'index delete failure: new cookie');
    equal(r2.previousHandle, second.session.handle, 'index delete failure: previous handle');
    c.advance(61 * SECOND);
    equal((await elsewhere.validate(requestWith(pair(second.setCookie)))).reason, 'rotated', 'the tombstone refuses the old ID elsewhere');
    equal((await elsewhere.validate(requestWith(pair(r2.setCookie)))).ok, true, 'the new one works');
  },

  async 'revokeUser reaches sessions its listing missed, at their next refresh'(ctx) {
    const { c, io, manager, peer, events } = setup(ctx);
    const elsewhere = peer();
    const user = uniqueUser('sam');
    const seen = await manager.create(null, user);
    c.advance(SECOND);
    const unseen = await manager.create(null, user);
    io.hideFromList((name) => name.endsWith(unseen.session.handle));
    same((await manager.listSessions(user)).map((s) => s.handle), [seen.session.handle], 'the listing misses one session');
    equal((await elsewhere.validate(requestWith(pair(unseen.setCookie)))).ok, true, 'both live elsewhere before');
    io.reset();
    const revokedAt = c.t;
    equal(await manager.revokeUser(user), 1, 'one session listed and ended');
    const cutoffKey = `c:${await sha256Base64url(user)}`;
    same(io.keys('put', 'c:'), [cutoffKey], 'the per-user cutoff is keyed by the hash of the user id');
    check(io.log.findIndex((e) => e.op === 'put' && e.key === cutoffKey) < io.log.findIndex((e) => e.op === 'list'), 'and written before listing');
    const stored = await io.stored(cutoffKey);
    equal(stored.before, revokedAt + 1, 'sessions created up to now (inclusive) are cut off');
    same(eventsOf(events, 'revoked').map((e) => [e.scope, e.userId]), [['user', user]], 'revoked event');
    equal((await manager.validate(requestWith(pair(unseen.setCookie)))).reason, 'revoked', 'this isolate refuses the unlisted one at once');
    equal((await io.stored(`s:${unseen.session.handle}`)).ended, undefined, 'its record was never tombstoned');
    c.advance(61 * SECOND);
    io.reset();
    equal((await elsewhere.validate(requestWith(pair(unseen.setCookie)))).reason, 'revoked', 'elsewhere the cutoff refuses it at refresh');
    check(io.keys('get').includes(cutoffKey), 'read from the per-user cutoff');
    equal((await elsewhere.validate(requestWith(pair(seen.setCookie)))).reason, 'revoked', 'the listed one is refused too');
    c.advance(1);
    const again = await elsewhere.create(null, user);
    equal((await manager.validate(requestWith(pair(again.setCookie)))).ok, true, 'a later login works here');
    c.advance(61 * SECOND);
    equal((await elsewhere.validate(requestWith(pair(again.setCookie)))).ok, true, 'and refreshes past the cutoff');
    equal(await manager.revokeUser(uniqueUser('nobody')), 0, 'a user without sessions: 0');
  },

  async 'revokeOthers ends every other session of the user, listed or not, and keeps the caller'(ctx) {
    const { c, io, manager, peer, events } = setup(ctx);
    const elsewhere = peer();
    const user = uniqueUser('olga');
    const mine = await manager.create(null, user, { userAgent: 'Mine/1.0' });
    c.advance(SECOND);
    const laptop = await manager.create(null, user);
    c.advance(SECOND);
    const unlisted = await manager.create(null, user);
    const bystander = await manager.create(null, uniqueUser('bystander'));
    io.hideFromList((name) => name.endsWith(unlisted.session.handle));
    for (const s of [mine, laptop, unlisted]) {
      equal((await elsewhere.validate(requestWith(pair(s.setCookie)))).ok, true, 'all live elsewhere before');
    }
    // The caller rotates first: its later generations are the same login and stay.
    const rotated = await manager.rotate(requestWith(pair(mine.setCookie)));
    equal(rotated.ok, true, 'rotated');
    io.reset();
    const out = await manager.revokeOthers(requestWith(pair(rotated.setCookie)));
    equal(out.ok, true, 'revokeOthers ok');
    equal(out.revoked, 1, 'the one listed other session was ended (the rotated-away ID is already gone)');
    equal(out.session.handle, rotated.session.handle, "answers with the caller's session");
    const userHash = await sha256Base64url(user);
    const cutoffKey = `o:${userHash}`;
    const stored = await io.stored(cutoffKey);
    equal(stored.before, c.t + 1, 'the "other sessions" cutoff covers sessions up to now');
    equal(typeof stored.keep, 'string', 'and names the login it spares');
    equal(await io.stored(`c:${userHash}`), null, 'the plain user cutoff is not touched');
    same(eventsOf(events, 'revoked').map((e) => [e.scope, e.userId, e.revoked]), [['others', user, 1]], 'revoked event');
    // A revoked session cannot make itself the one that stays, even where its revocation is
    // not in memory yet: revokeOthers judges the caller against the store.
    io.reset();
    const usurp = await elsewhere.revokeOthers(requestWith(pair(unlisted.setCookie)));
    equal(usurp.reason, 'revoked', 'a session the cutoff ended is refused');
    equal(io.writes(), 0, 'and writes nothing');
    equal((await io.stored(cutoffKey)).keep, stored.keep, 'the exception is unchanged');
    // Here, at once.
    equal((await manager.validate(requestWith(pair(rotated.setCookie)))).ok, true, 'the caller stays');
    equal((await manager.validate(requestWith(pair(laptop.setCookie)))).reason, 'revoked', 'the laptop is out');
    equal((await manager.validate(requestWith(pair(unlisted.setCookie)))).reason, 'revoked', 'so is the unlisted one');
    equal((await manager.validate(requestWith(pair(bystander.setCookie)))).ok, true, 'another user is untouched');
    same((await manager.listSessions(user)).map((s) => s.handle), [rotated.session.handle], 'the list shows the caller only');
    // Elsewhere, at the next refresh, from the stored cutoff.
    c.advance(61 * SECOND);
    equal((await elsewhere.validate(requestWith(pair(unlisted.setCookie)))).reason, 'revoked', 'elsewhere the unlisted one is refused');
    equal((await elsewhere.validate(requestWith(pair(laptop.setCookie)))).reason, 'revoked', 'and the laptop');
    const kept = await elsewhere.validate(requestWith(pair(rotated.setCookie)));
    equal(kept.ok, true, 'the caller refreshes elsewhere');
    equal(kept.refreshed, true, 'through the store');
    // A later plain revokeUser ends the caller too.
    c.advance(SECOND);
    await manager.revokeUser(user);
    equal((await manager.validate(requestWith(pair(kept.setCookie)))).reason, 'revoked', 'revokeUser spares nobody');
    equal((await io.stored(`c:${userHash}`)).before, c.t + 1, 'its plain cutoff is apart from the exception');
    c.advance(61 * SECOND);
    equal((await elsewhere.validate(requestWith(pair(kept.setCookie)))).reason, 'revoked', 'and refused elsewhere too');
  },

  async 'revokeOthers needs a valid session and tells the truth when the store fails'(ctx) {
    const { c, io, manager } = setup(ctx);
    const user = uniqueUser('pia');
    const r = await manager.revokeOthers(requestWith(undefined));
    equal(r.ok, false, 'no cookie: refused');
    equal(r.reason, 'missing', 'with the validate reason');
    const s = await manager.create(null, user);
    await manager.destroy(requestWith(pair(s.setCookie)));
    io.reset();
    equal((await manager.revokeOthers(requestWith(pair(s.setCookie)))).reason, 'revoked', 'a logged-out session cannot');
    equal(io.writes(), 0, 'a refused request writes nothing');
    const live = await manager.create(null, user);
    c.advance(SECOND);
    io.failOn({ on: 'put', prefix: 'o:' });
    const failed = await manager.revokeOthers(requestWith(pair(live.setCookie)));
    equal(failed.ok, false, 'the cutoff write failed: not a success');
    equal(failed.reason, 'store_unavailable', 'and says why');
    equal(failed.session?.handle, live.session.handle, 'with the session it judged valid (not a logout)');
    equal((await manager.validate(requestWith(pair(live.setCookie)))).ok, true, 'the caller keeps the session');
  },

  async 'hub options are checked'(ctx) {
    const keys = `k1:${SECRET_1}`;
    const store = ctx.freshStore();
    await configError(ctx, () => new ctx.SessionManager({ store, keys, hub: {} }), 'invalid_hub', 'a hub that is no namespace');
    await configError(ctx, () => new ctx.SessionManager({ store, keys, hubPollInterval: 5 }), 'invalid_options', 'an interval without a hub');
    const hub = { idFromName: () => ({}), get: () => ({ fetch: async () => new Response('{}', { status: 503 }) }) };
    await configError(ctx, () => new ctx.SessionManager({ store, keys, hub, hubPollInterval: 0 }), 'invalid_options', 'a zero interval');
    const m = new ctx.SessionManager({ store, keys, hub });
    equal(m.status().hub.pollInterval, 5, 'default interval 5 s');
    equal(m.status().hub.outOfReach, false, 'never pulled, never failed: its first request pulls before judging');
    equal(m.status().hub.lastPullAt, null, 'no pull yet');
    equal(new ctx.SessionManager({ store, keys }).status().hub, null, 'no hub: null');
  },

  async 'a hub that answers errors: sessions are judged from the store, revocations report the failure'(ctx) {
    const c = clock();
    const io = instrument(ctx.freshStore());
    let appends = 0;
    const hub = {
      idFromName: (name) => name,
      get: () => ({
        async fetch(url) {
          if (String(url).includes('/append')) appends += 1;
          return new Response('down', { status: 503 });
        },
      }),
    };
    const events = [];
    const manager = new ctx.SessionManager({ store: io.store, keys: `k1:${SECRET_1}`, now: c.now, hub, onEvent: (e) => events.push(e) });
    const user = uniqueUser('quinn');
    const s = await manager.create(null, user);
    io.reset();
    const r = await manager.validate(requestWith(pair(s.setCookie)));
    equal(r.ok, true, 'a live session is accepted');
    equal(r.refreshed, true, 'from its record, since the hub never answered');
    check(io.counts.recordReads >= 1, 'the record was read');
    check(eventsOf(events, 'hub_pull_failed').length === 1, 'the failed pull is reported');
    equal(manager.status().hub.outOfReach, true, 'never reached: out of reach');
    equal(manager.status().revocations.strict, true, 'so it reads records on every request');
    const out = await manager.destroy(requestWith(pair(s.setCookie)));
    equal(out.ok, false, 'logout reports the failure');
    equal(out.reason, 'hub_unavailable', 'of the hub');
    equal(appends, 1, 'after trying to append');
    equal((await io.stored(`s:${s.session.handle}`)).ended, 'revoked', 'the store has the logout');
    equal((await manager.validate(requestWith(pair(s.setCookie)))).reason, 'revoked', 'and the session is refused');
    const error = await rejects(() => manager.revokeUser(user), 'hub_unavailable', 'revokeUser throws');
    equal(error.name, 'SessionStoreError', 'a SessionStoreError');
    // revokeOthers needs a fresh pull before it lets a session spare itself: none, no writes.
    const other = await manager.create(null, uniqueUser('quinn-other'));
    io.reset();
    const spared = await manager.revokeOthers(requestWith(pair(other.setCookie)));
    equal(spared.reason, 'hub_unavailable', 'revokeOthers refuses without a pull');
    equal(io.writes(), 0, 'and writes nothing');
  },

  async 'revokeIssuedBefore only ever raises the stored cutoff'(ctx) {
    const { c, io, manager: a, peer, events } = setup(ctx);
    const b = peer();
    const user = uniqueUser('tara');
    c.advance(7 * SECOND);
    const at7 = await a.create(null, user);
    c.advance(3 * SECOND); // T0 + 10 s
    await a.revokeIssuedBefore(T0 + 5 * SECOND);
    equal((await io.stored('r:issued_before')).before, T0 + 5 * SECOND, 'first cutoff stored');
    equal((await a.validate(requestWith(pair(at7.setCookie)))).ok, true, 'a session after the cutoff lives');
    await b.revokeIssuedBefore(T0 + 10 * SECOND);
    equal((await io.stored('r:issued_before')).before, T0 + 10 * SECOND, 'raised by another isolate');
    // a's own cutoff (T0 + 5 s) and its argument (T0 + 6 s) are both below the stored one.
    events.length = 0;
    io.reset();
    await a.revokeIssuedBefore(T0 + 6 * SECOND);
    equal((await io.stored('r:issued_before')).before, T0 + 10 * SECOND, 'a lower cutoff never lowers the stored one');
    same(eventsOf(events, 'revoked').map((e) => e.issuedBefore), [T0 + 10 * SECOND], 'the event reports the cutoff in force');
    io.reset();
    const r = await a.validate(requestWith(pair(at7.setCookie)));
    equal(r.reason, 'revoked', 'and this isolate adopted it');
    equal(io.log.length, 0, 'at once, without a read');
    await peer().revokeIssuedBefore(0);
    equal((await io.stored('r:issued_before')).before, T0 + 10 * SECOND, 'not even a fresh isolate with no cutoff lowers it');
  },

  async 'revokeIssuedBefore refuses a future or malformed time'(ctx) {
    const { c, io, manager } = setup(ctx);
    const created = await manager.create(null, uniqueUser('uma'));
    c.advance(SECOND);
    io.reset();
    for (const [name, value] of [
      ['later than now plus the 5 s skew', c.t + 5 * SECOND + 1],
      ['an hour ahead', c.t + 3_600_000],
      ['microseconds', c.t * 1000],
      ['a fraction', c.t - 0.5],
      ['negative', -1],
      ['NaN', Number.NaN],
      ['Infinity', Number.POSITIVE_INFINITY],
      ['a numeric string', String(c.t)],
      ['a Date', new Date(c.t)],
      ['null', null],
      ['undefined', undefined],
    ]) {
      await configError(ctx, () => manager.revokeIssuedBefore(value), 'invalid_time', name);
    }
    equal(io.log.length, 0, 'refused times touch the store not at all');
    equal((await manager.validate(requestWith(pair(created.setCookie)))).ok, true, 'and revoke nothing');
    await manager.revokeIssuedBefore(c.t + 5 * SECOND);
    equal((await io.stored('r:issued_before')).before, c.t + 5 * SECOND, 'within the clock skew is accepted');
  },

  async 'a corrupt or future stored cutoff refuses refreshes, keeps the cookie and is reported'(ctx) {
    const { c, io, manager, events } = setup(ctx);
    const user = uniqueUser('vera');
    const created = await manager.create(null, user);
    let cookie = pair(created.setCookie);
    const userCutoff = `c:${await sha256Base64url(user)}`;
    const cases = [
      ['r:issued_before', 'not json'],
      ['r:issued_before', '{"v":1,"before":1,"at":1}'],
      ['r:issued_before', JSON.stringify({ v: 2, before: c.t + 3_600_000, at: c.t })],
      ['r:issued_before', JSON.stringify({ v: 2, before: c.t * 1000, at: c.t })],
      [userCutoff, '{"v":2,"before":"soon","at":1}'],
      [userCutoff, '{"v":2,"before":-1,"at":1}'],
      [userCutoff, JSON.stringify({ v: 2, before: c.t + 3_600_000, at: c.t })],
    ];
    for (const [key, value] of cases) {
      const what = `${key.slice(0, 2)} = ${value}`;
      await io.raw.put(key, value);
      c.advance(61 * SECOND);
      events.length = 0;
      io.reset();
      const r = await manager.validate(requestWith(cookie));
      equal(r.ok, false, `${what}: refused`);
      equal(r.reason, 'corrupt_cutoff', `${what}: reason`);
      equal(r.setCookie, null, `${what}: the cookie is kept`);
      same(eventsOf(events, 'rejected').map((e) => [e.reason, e.handle]), [['corrupt_cutoff', created.session.handle]], `${what}: event`);
      equal(io.writes(), 0, `${what}: a refresh never repairs it`);
      const rot = await manager.rotate(requestWith(cookie));
      equal(rot.reason, 'corrupt_cutoff', `${what}: rotate refused`);
      equal(rot.setCookie, null, `${what}: rotate keeps the cookie`);
      equal(io.writes(), 0, `${what}: rotate wrote nothing`);
      const fresh = await manager.create(null, uniqueUser('vera'));
      equal((await manager.validate(requestWith(pair(fresh.setCookie)))).ok, true, `${what}: fresh envelopes need no cutoff`);
      await io.raw.delete(key);
      const back = await manager.validate(requestWith(cookie));
      equal(back.ok, true, `${what}: the same cookie works once repaired`);
      cookie = pair(back.setCookie);
    }
    // revokeIssuedBefore replaces an unreadable global cutoff and says so.
    await io.raw.put('r:issued_before', 'not json');
    events.length = 0;
    await manager.revokeIssuedBefore(T0);
    equal(eventsOf(events, 'corrupt_cutoff_replaced').length, 1, 'corrupt_cutoff_replaced event');
    same(await io.stored('r:issued_before'), { v: 2, before: T0, at: c.t }, 'replaced by a valid cutoff');
    c.advance(61 * SECOND);
    equal((await manager.validate(requestWith(cookie))).ok, true, 'sessions refresh again');
    // A future global cutoff (say microseconds written by another tool) is replaced too, never
    // adopted: adopting it would refuse every session in this isolate, new logins included.
    await io.raw.put('r:issued_before', JSON.stringify({ v: 2, before: c.t * 1000, at: c.t }));
    events.length = 0;
    await manager.revokeIssuedBefore(T0);
    equal(eventsOf(events, 'corrupt_cutoff_replaced').length, 1, 'future cutoff: corrupt_cutoff_replaced event');
    equal((await io.stored('r:issued_before')).before, T0, 'future cutoff replaced');
    same(eventsOf(events, 'revoked').map((e) => e.issuedBefore), [T0], 'the event reports the cutoff in force');
    const login = await manager.create(null, uniqueUser('vera'));
    equal((await manager.validate(requestWith(pair(login.setCookie)))).ok, true, 'a new login works in this isolate');
    c.advance(61 * SECOND);
    equal((await manager.validate(requestWith(pair(login.setCookie)))).ok, true, 'and refreshes');
    // revokeUser replaces an unreadable or future user cutoff (which would lock the user out for good).
    for (const value of ['not json', JSON.stringify({ v: 2, before: c.t * 1000, at: c.t })]) {
      await io.raw.put(userCutoff, value);
      await manager.revokeUser(user);
      const stored = await io.stored(userCutoff);
      equal(stored.before, c.t + 1, `${value}: replaced by a valid user cutoff`);
      c.advance(1);
      const again = await manager.create(null, user);
      equal((await manager.validate(requestWith(pair(again.setCookie)))).ok, true, `${value}: the user can log in again`);
      c.advance(61 * SECOND);
      equal((await manager.validate(requestWith(pair(again.setCookie)))).ok, true, `${value}: and refresh`);
    }
    // An unreadable "other sessions" cutoff fails the user's refreshes closed until revokeUser
    // clears it (its plain cutoff covers everything the lost one could refuse).
    const othersCutoff = `o:${await sha256Base64url(user)}`;
    c.advance(1);
    const held = await manager.create(null, user);
    await io.raw.put(othersCutoff, 'not json');
    c.advance(61 * SECOND);
    equal((await manager.validate(requestWith(pair(held.setCookie)))).reason, 'corrupt_cutoff', 'a corrupt o: fails closed');
    await manager.revokeUser(user);
    equal(await io.stored(othersCutoff), null, 'revokeUser deleted it');
    c.advance(1);
    const fresh = await manager.create(null, user);
    c.advance(61 * SECOND);
    equal((await manager.validate(requestWith(pair(fresh.setCookie)))).ok, true, 'the user refreshes again');
  },

  async 'a cutoff stored as JSON null is corrupt, not absent'(ctx) {
    const { c, io, manager, peer } = setup(ctx);
    const elsewhere = peer();
    const user = uniqueUser('zack');
    const created = await manager.create(null, user);
    c.advance(SECOND);
    await manager.revokeIssuedBefore(c.t);
    const userCutoff = `c:${await sha256Base64url(user)}`;
    for (const key of ['r:issued_before', userCutoff]) {
      const stored = await io.raw.get(key, 'text');
      await io.raw.put(key, 'null'); // e.g. a tool that wrote JSON.stringify(null)
      c.advance(61 * SECOND);
      const r = await elsewhere.validate(requestWith(pair(created.setCookie)));
      equal(r.reason, 'corrupt_cutoff', `${key.slice(0, 2)} = null: refused as corrupt, not read as absent`);
      equal(r.setCookie, null, `${key.slice(0, 2)} = null: the cookie is kept`);
      if (stored === null) await io.raw.delete(key);
      else await io.raw.put(key, stored);
    }
    equal((await elsewhere.validate(requestWith(pair(created.setCookie)))).reason, 'revoked', 'repaired: the revocation holds');
  },

  async 'a full revocation memory goes strict instead of forgetting'(ctx) {
    const { c, io, manager, events } = setup(ctx);
    const user = uniqueUser('wanda');
    const created = await manager.create(null, user);
    const cookie = pair(created.setCookie);
    io.reset();
    equal((await manager.validate(requestWith(cookie))).refreshed, false, 'fast path before');
    equal(io.log.length, 0, 'no read before');
    // 10,000 revoked users fit in memory; the next one overflows. The store is bypassed here so a
    // real KV namespace is not filled with cutoffs.
    io.offline = true;
    for (let i = 0; i < 10_000; i += 1) await manager.revokeUser(`${user}-filler-${i}`);
    equal(eventsOf(events, 'revocations_full').length, 0, 'no overflow at the bound');
    await manager.revokeUser(`${user}-one-more`);
    io.offline = false;
    same(eventsOf(events, 'revocations_full').map((e) => e.at), [c.t], 'revocations_full reported once');
    io.reset();
    const r = await manager.validate(requestWith(cookie));
    equal(r.ok, true, 'sessions still work');
    equal(r.refreshed, true, 'but through the store');
    equal(io.counts.recordReads, 1, 'every request reads its record now');
    equal(r.setCookie, null, 'the fresh envelope is kept');
  },

  async 'audit events never carry the session ID'(ctx) {
    const { c, io, manager, events } = setup(ctx);
    const user = uniqueUser('leo');
    const created = await manager.create(null, user, { data: { role: 'user' } });
    const value = valueOf(created.setCookie);
    const firstId = sessionIdOf(value);
    c.advance(61 * SECOND);
    const refreshed = await manager.validate(requestWith(pair(created.setCookie)));
    const rotated = await manager.rotate(requestWith(pair(refreshed.setCookie)));
    const updated = await manager.update(requestWith(pair(rotated.setCookie)), { role: 'admin' });
    await manager.validate(requestWith(pair(created.setCookie)));
    io.failOn({ on: 'put', prefix: 's:' });
    await manager.destroy(requestWith(pair(updated.setCookie)));
    io.heal();
    await manager.destroy(requestWith(pair(updated.setCookie)));
    const third = await manager.create(null, user);
    c.advance(5 * SECOND);
    io.failOn({ on: 'write', nth: 3 });
    const half = await manager.rotate(requestWith(pair(third.setCookie)));
    io.heal();
    await manager.revokeSession(half.session.handle, user);
    await manager.revokeUser(user);
    await manager.revokeIssuedBefore(T0);
    const types = new Set(events.map((e) => e.type));
    for (const type of ['created', 'refreshed', 'rotated', 'rotate_failed', 'rejected', 'destroyed', 'destroy_failed', 'revoked']) {
      check(types.has(type), `event ${type} emitted (got ${[...types]})`);
    }
    for (const e of events) {
      equal(typeof e.at, 'number', `${e.type}: has a time`);
      for (const field of ['userId', 'handle', 'previousHandle']) {
        if (field in e) equal(typeof e[field], 'string', `${e.type}.${field}`);
      }
    }
    const cookies = [created, refreshed, rotated, updated, third, half].map((r) => valueOf(r.setCookie));
    const ids = cookies.map(sessionIdOf);
    check(ids.includes(firstId), 'IDs extracted');
    const text = JSON.stringify(events);
    for (const secret of [...cookies, ...cookies.map((v) => v.slice(10, 40)), ...ids]) {
      check(!text.includes(secret), 'no envelope or session ID in events');
    }
    // Nor in the store, keys or values.
    const page = await io.raw.list({ prefix: '' });
    check(page.keys.length > 0, 'the store holds keys');
    for (const { name } of page.keys) {
      check(KEY_NAME.test(name), `key ${name} has a hashed name of a known shape`);
      const stored = (await io.raw.get(name, 'text')) ?? '';
      for (const secret of [...cookies, ...ids]) {
        check(!name.includes(secret) && !stored.includes(secret), `no envelope or session ID stored under ${name}`);
      }
    }
    const throwing = setup(ctx, { onEvent: () => { throw new Error('hook failed'); } });
    equal((await throwing.manager.create(null, user)).ok, true, 'a throwing hook does not break requests');
  },

  async 'listSessions leaves out every generation of an ended login: a logout with an older cookie, a rotation made from a stale record'(ctx) {
    const { c, io, manager, peer } = setup(ctx);
    const user = uniqueUser('ivo');
    const laptop = await manager.create(null, user, { userAgent: 'Laptop/1.0' });
    c.advance(SECOND);
    const phone = await manager.create(null, user, { userAgent: 'Phone/1.0' });
    c.advance(5 * SECOND);
    const rotated = await manager.rotate(requestWith(pair(phone.setCookie)));
    const updated = await manager.update(requestWith(pair(rotated.setCookie)), { step: 2 });
    equal(updated.ok, true, 'the phone is at generation 2');
    same((await manager.listSessions(user)).map((x) => x.handle), [updated.session.handle, laptop.session.handle], 'both devices listed, the phone by its current ID');

    // Logout with the phone's first cookie (a second tab that never saw the rotations): it can only
    // delete that generation's keys, and tombstones the login under the user.
    io.reset();
    equal((await manager.destroy(requestWith(pair(phone.setCookie)))).ok, true, 'logout with the first cookie');
    const [tombstone] = io.keys('put', 'l:');
    const userHash = await sha256Base64url(user);
    check(tombstone && tombstone.startsWith(`l:${userHash}:`) && tombstone.length === 2 + 43 + 1 + 22, `the login's tombstone lives under the user: ${tombstone}`);
    check(!io.keys('delete').includes(`u:${userHash}:${updated.session.handle}`), "the current generation's index entry is not deleted (the logout cannot know it)");
    check((await io.stored(`u:${userHash}:${updated.session.handle}`)) !== null, 'and is still stored');
    equal((await manager.validate(requestWith(pair(updated.setCookie)))).reason, 'revoked', 'the current generation is refused');
    io.reset();
    const listed = await manager.listSessions(user);
    same(listed.map((x) => x.handle), [laptop.session.handle], 'and not listed: only the other login is');
    equal(listed[0].userAgent, 'Laptop/1.0', 'the laptop');
    same(io.keys('list').sort(), [`l:${userHash}:`, `t:${userHash}:`, `u:${userHash}:`], 'the listing lists the index, last-seen and ended-login prefixes');

    // A rotation made from a stale record after a logout: another isolate reads the live record,
    // the logout lands, then the rotation writes a new generation (new handle, new index entry)
    // that the logout never named.
    const tablet = await manager.create(null, user, { userAgent: 'Tablet/1.0' });
    c.advance(5 * SECOND);
    let opened;
    const gate = new Promise((resolve) => (opened = resolve));
    let read = 0;
    const stale = {
      ...io.store,
      // Answers what it read before the logout, after the logout has landed.
      get: async (key, type) => {
        const value = await io.store.get(key, type);
        read += 1;
        await gate;
        return value;
      },
    };
    const lagging = peer({ store: stale });
    const rotating = lagging.rotate(requestWith(pair(tablet.setCookie)));
    for (let i = 0; i < 50 && read < 4; i += 1) await new Promise((resolve) => setTimeout(resolve, 0));
    equal(read, 5, 'the lagging rotation read the live record, the login, and the three cutoffs');
    equal((await manager.destroy(requestWith(pair(tablet.setCookie)))).ok, true, 'logout of the tablet');
    opened();
    const descendant = await rotating;
    equal(descendant.ok, true, 'the rotation, judged from what it read, succeeds');
    check((await io.stored(`u:${userHash}:${descendant.session.handle}`)) !== null, 'its index entry is stored');
    same((await manager.listSessions(user)).map((x) => x.handle), [laptop.session.handle], 'the descendant is not listed either');
    c.advance(61 * SECOND);
    equal((await peer().validate(requestWith(pair(descendant.setCookie)))).reason, 'revoked', 'and refused at its next refresh');
    equal((await peer().validate(requestWith(pair(laptop.setCookie)))).ok, true, 'the laptop lives on');
    same((await manager.listSessions(user)).map((x) => x.handle), [laptop.session.handle], 'still only the laptop');
  },

  async 'a half-done rotation: the old ID stays refused here, a logout ends both, revokeSession(previousHandle) ends the login'(ctx) {
    // RotateIncomplete (index.d.ts): the new session is stored, the old one could not be retired.
    // Old and new are generations of one login, so revokeSession(previousHandle) ends both (it is
    // not a way to finish the rotation); a logout ends both too.
    const { c, io, manager, peer } = setup(ctx);
    const elsewhere = peer();
    const user = uniqueUser('otto');
    const half = async () => {
      const created = await manager.create(null, user);
      c.advance(5 * SECOND);
      io.failOn({ on: 'write', nth: 3 }); // the old record's tombstone
      const r = await manager.rotate(requestWith(pair(created.setCookie)));
      io.heal();
      same([r.ok, r.reason, r.previousHandle], [false, 'store_unavailable', created.session.handle], 'a half-done rotation');
      check(r.session && r.setCookie && !isClearing(r.setCookie), 'with the new session handed over');
      return { old: pair(created.setCookie), next: pair(r.setCookie), r };
    };

    // The old ID stays refused in this isolate, past the usual memory (E + P + S = 125 s), while
    // another isolate, which reads its still-live record, accepts it.
    const first = await half();
    let fresh = first.next;
    for (const [step, when] of [[55 * SECOND, '1 min'], [2 * 60 * SECOND, '3 min'], [7 * 60 * SECOND, '10 min'], [10 * 60 * SECOND, '20 min']]) {
      c.advance(step);
      equal((await manager.validate(requestWith(first.old))).reason, 'rotated', `${when} later: the old ID is refused here`);
      const now = await manager.validate(requestWith(fresh));
      equal(now.ok, true, `${when} later: the new session works here`);
      if (now.setCookie) fresh = pair(now.setCookie);
    }
    equal((await elsewhere.validate(requestWith(first.old))).ok, true, 'elsewhere the old record still lives (hence not ok)');
    same((await manager.listSessions(user)).map((x) => x.handle), [first.r.session.handle], 'listed once, by the new ID');

    // A logout with the new cookie ends both.
    equal((await manager.destroy(requestWith(fresh))).ok, true, 'logout with the new cookie');
    equal((await manager.validate(requestWith(first.old))).ok, false, 'here the old ID stays refused');
    equal((await manager.validate(requestWith(fresh))).reason, 'revoked', 'and the new one at once');
    c.advance(61 * SECOND);
    equal((await elsewhere.validate(requestWith(first.old))).reason, 'revoked', 'elsewhere the old ID is refused at its next refresh');
    equal((await elsewhere.validate(requestWith(fresh))).reason, 'revoked', 'and the new one');
    same(await manager.listSessions(user), [], 'nothing listed');

    // revokeSession(previousHandle) ends the login, the new session included (documented).
    const second = await half();
    equal(await manager.revokeSession(second.r.previousHandle, user), true, 'revokeSession of the old ID');
    equal((await manager.validate(requestWith(second.next))).reason, 'revoked', 'ends the new session here at once');
    c.advance(61 * SECOND);
    equal((await elsewhere.validate(requestWith(second.old))).reason, 'revoked', 'the old one is refused elsewhere');
    equal((await elsewhere.validate(requestWith(second.next))).reason, 'revoked', 'and so is the new one');
  },
};

/**
 * Behaviour the core does not have yet: each throws today. Runners report these as to-do, not as
 * failures, so the suite stays green while the gap stays visible. None at the moment.
 */
export const knownIssues = {};
