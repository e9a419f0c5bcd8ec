// The package's behaviour, written once and run twice: in Node 20 against MemoryStore
// (tests/node.test.mjs) and inside workerd against a real local KV namespace
// (tests/workerd.test.mjs, through tests/js/worker.mjs). Each scenario gets
// `{ SessionManager, MemoryStore, SessionConfigError, freshStore }` and throws on failure.

const SECRET_1 = 'k1-secret-0123456789abcdefghijklmnopqrstuvwxyz';
const SECRET_2 = 'k2-secret-ZYXWVUTSRQPONMLKJIHGFEDCBA9876543210';
const T0 = 1_800_000_000_000;
const SECOND = 1000;

export class Failure extends Error {}

function check(condition, message) {
  if (!condition) throw new Failure(message);
}

function equal(actual, expected, message) {
  if (!Object.is(actual, expected)) {
    throw new Failure(`${message}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`);
  }
}

async function rejects(promise, reason, message) {
  try {
    await promise;
  } catch (error) {
    equal(error.reason, reason, `${message} (error reason)`);
    return error;
  }
  throw new Failure(`${message}: expected a ${reason} error`);
}

/** A store wrapper that counts calls per method and can be told to fail. */
export function instrument(inner) {
  const counts = { get: 0, put: 0, delete: 0, list: 0, recordReads: 0 };
  const faults = {};
  const fail = async (method, call) => {
    counts[method] += 1;
    const fault = faults[method];
    if (fault === 'throw') throw new Error(`injected ${method} failure`);
    if (fault === 'hang') return new Promise(() => {});
    return call();
  };
  const store = {
    get: (key, type) =>
      fail('get', async () => {
        if (key.startsWith('s:')) counts.recordReads += 1;
        if (faults.get === 'corrupt' && key.startsWith('s:')) return '{"v":1,"user_id":';
        if (faults.get === 'v2' && key.startsWith('s:')) {
          const text = await inner.get(key, type);
          return text && text.replace('"v":1', '"v":2');
        }
        return inner.get(key, type);
      }),
    put: (key, value, options) => fail('put', () => inner.put(key, value, options)),
    delete: (key) => fail('delete', () => inner.delete(key)),
    list: (options) => fail('list', () => inner.list(options)),
  };
  const writes = () => counts.put + counts.delete;
  const reset = () => Object.keys(counts).forEach((k) => (counts[k] = 0));
  return { store, counts, faults, writes, reset };
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

let counter = 0;
function uniqueUser(name) {
  counter += 1;
  return `${name}-${Date.now().toString(36)}-${counter}`;
}

function setup(ctx, options = {}) {
  const c = clock();
  const io = instrument(ctx.freshStore());
  const manager = new ctx.SessionManager({
    store: io.store,
    keys: `k1:${SECRET_1}`,
    now: c.now,
    revocationSyncMs: 0,
    ...options,
  });
  return { c, io, manager };
}

export const scenarios = {
  async 'create, fast path, refresh with throttled write, idle and absolute expiry'(ctx) {
    const { c, io, manager } = setup(ctx, { envelopeTtl: 60, idleTimeout: 1800, absoluteTimeout: 7200 });
    const user = uniqueUser('alice');
    const created = await manager.create(null, user, { userAgent: 'Test/1.0' });
    equal(created.ok, true, 'create ok');
    check(created.setCookie.startsWith('__Host-session='), 'cookie name');
    for (const attr of ['Path=/', 'Secure', 'HttpOnly', 'SameSite=Lax']) {
      check(created.setCookie.includes(`; ${attr}`), `Set-Cookie has ${attr}`);
    }
    check(created.setCookie.length < 4096, 'Set-Cookie under 4096 bytes');
    const cookie = pair(created.setCookie);

    io.reset();
    c.advance(30 * SECOND);
    let r = await manager.validate(requestWith(cookie));
    equal(r.ok, true, 'fast path valid');
    equal(r.refreshed, false, 'fast path not refreshed');
    equal(r.setCookie, null, 'fast path sends no cookie');
    equal(r.session.userId, user, 'user id');
    equal(io.counts.get + io.counts.list + io.writes(), 0, 'fast path touches the store');

    // Envelope expired, within the touch interval (idle/10 = 180 s) of last_seen: one read, no write.
    c.advance(31 * SECOND);
    r = await manager.validate(requestWith(cookie));
    equal(r.ok, true, 'refresh valid');
    equal(r.refreshed, true, 'refreshed');
    check(r.setCookie && r.setCookie !== created.setCookie, 'refresh sends a new envelope');
    equal(io.counts.recordReads, 1, 'refresh reads the record once');
    equal(io.writes(), 0, 'no last_seen write inside the touch interval');
    const second = pair(r.setCookie);

    // Past the touch interval: one read, record + index written back.
    io.reset();
    c.advance(120 * SECOND);
    r = await manager.validate(requestWith(second));
    equal(r.ok, true, 'second refresh valid');
    equal(io.counts.recordReads, 1, 'second refresh reads once');
    equal(io.counts.put, 2, 'second refresh writes record and index');
    const third = pair(r.setCookie);

    // Idle: nothing for longer than the idle timeout.
    c.advance(1801 * SECOND);
    io.reset();
    r = await manager.validate(requestWith(third));
    equal(r.ok, false, 'idle session refused');
    equal(r.reason, 'expired_idle', 'idle reason');
    check(r.setCookie && r.setCookie.includes('Max-Age=0'), 'clearing cookie on reject');
    equal(io.writes(), 0, 'reject writes nothing');

    // Absolute: keep a session active past its absolute lifetime.
    const other = await manager.create(null, user);
    let live = pair(other.setCookie);
    const absolute = other.session.absoluteExpiresAt;
    for (let i = 0; i < 100 && c.t < absolute + 120 * SECOND; i += 1) {
      c.advance(300 * SECOND);
      r = await manager.validate(requestWith(live));
      if (!r.ok) break;
      check(r.session.absoluteExpiresAt === absolute, 'absolute deadline never moves');
      if (r.setCookie) live = pair(r.setCookie);
    }
    equal(r.ok, false, 'absolute lifetime ends the session');
    equal(r.reason, 'expired_absolute', 'absolute reason');
  },

  async 'logout rejects the old cookie here at once and elsewhere after refresh'(ctx) {
    const { c, io, manager } = setup(ctx);
    const elsewhere = new ctx.SessionManager({ store: io.store, keys: `k1:${SECRET_1}`, now: c.now, revocationSyncMs: 0 });
    const created = await manager.create(null, uniqueUser('bob'));
    const cookie = pair(created.setCookie);
    const out = await manager.destroy(requestWith(cookie));
    check(out.setCookie.includes('Max-Age=0'), 'logout clears the cookie');
    let r = await manager.validate(requestWith(cookie));
    equal(r.reason, 'revoked', 'same isolate refuses at once');
    c.advance(61 * SECOND);
    r = await elsewhere.validate(requestWith(cookie));
    equal(r.reason, 'session_not_found', 'other isolate refuses at refresh');
    const again = await manager.destroy(requestWith(cookie));
    check(again.setCookie.includes('Max-Age=0'), 'logout is idempotent');
    const none = await manager.destroy(requestWith(undefined));
    check(none.setCookie.includes('Max-Age=0'), 'logout without a session');
  },

  async 'rotate gives a new ID, keeps the deadlines and kills the old cookie'(ctx) {
    const { c, io, manager } = setup(ctx);
    const elsewhere = new ctx.SessionManager({ store: io.store, keys: `k1:${SECRET_1}`, now: c.now, revocationSyncMs: 0 });
    const created = await manager.create(null, uniqueUser('carol'));
    const old = pair(created.setCookie);
    c.advance(5 * SECOND);
    const rotated = await manager.rotate(requestWith(old));
    equal(rotated.ok, true, 'rotate ok');
    check(rotated.session.handle !== created.session.handle, 'new handle');
    equal(rotated.session.createdAt, created.session.createdAt, 'createdAt kept');
    equal(rotated.session.absoluteExpiresAt, created.session.absoluteExpiresAt, 'absolute kept');
    equal(rotated.session.generation, 1, 'generation bumped');
    equal((await manager.validate(requestWith(old))).reason, 'rotated', 'old cookie refused here');
    equal((await manager.validate(requestWith(pair(rotated.setCookie)))).ok, true, 'new cookie works');
    c.advance(61 * SECOND);
    equal((await elsewhere.validate(requestWith(old))).reason, 'rotated', 'old cookie refused elsewhere');
    equal((await elsewhere.validate(requestWith(pair(rotated.setCookie)))).ok, true, 'new cookie refreshes elsewhere');
  },

  async 'login over an existing session destroys it and yields a new ID'(ctx) {
    const { manager } = setup(ctx);
    const user = uniqueUser('dave');
    const first = await manager.create(null, user);
    const second = await manager.create(requestWith(pair(first.setCookie)), user);
    check(second.session.handle !== first.session.handle, 'new ID on login');
    equal((await manager.validate(requestWith(pair(first.setCookie)))).reason, 'revoked', 'old session destroyed');
    const sessions = await manager.listSessions(user);
    equal(sessions.length, 1, 'only the new session is listed');
    equal(sessions[0].handle, second.session.handle, 'listed handle');
  },

  async 'list, revoke one, revoke all of a user'(ctx) {
    const { c, manager } = setup(ctx);
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
    check(list.every((s) => !JSON.stringify(s).includes(pair(a.setCookie).split('=')[1])), 'no envelope in listing');
    equal(await manager.revokeSession(m.session.handle, user), false, 'foreign handle refused');
    equal(await manager.revokeSession('not-a-handle', user), false, 'garbage handle refused');
    equal(await manager.revokeSession(a.session.handle, user), true, 'own handle revoked');
    equal(await manager.revokeSession(a.session.handle, user), false, 'second revoke finds nothing');
    equal((await manager.validate(requestWith(pair(a.setCookie)))).reason, 'revoked', 'revoked session refused');
    equal((await manager.validate(requestWith(pair(m.setCookie)))).ok, true, 'stranger untouched');
    list = await manager.listSessions(user);
    equal(list.length, 1, 'one left');
    equal(await manager.revokeUser(user), 1, 'revokeUser deletes the rest');
    equal((await manager.validate(requestWith(pair(b.setCookie)))).reason, 'revoked', 'user revoked');
    equal((await manager.listSessions(user)).length, 0, 'nothing listed');
    c.advance(1);
    const after = await manager.create(null, user);
    equal((await manager.validate(requestWith(pair(after.setCookie)))).ok, true, 'a new login after revocation works');
  },

  async 'key rotation keeps sessions and re-signs them; a removed key fails safe'(ctx) {
    const c = clock();
    const io = instrument(ctx.freshStore());
    const base = { store: io.store, now: c.now, revocationSyncMs: 0 };
    const before = new ctx.SessionManager({ ...base, keys: `k1:${SECRET_1}` });
    const during = new ctx.SessionManager({ ...base, keys: { current: 'k2', keys: { k1: SECRET_1, k2: SECRET_2 } } });
    const after = new ctx.SessionManager({ ...base, keys: `k2:${SECRET_2}` });
    const created = await before.create(null, uniqueUser('frank'));
    const old = pair(created.setCookie);
    io.reset();
    const r = await during.validate(requestWith(old));
    equal(r.ok, true, 'old-key envelope still valid');
    check(r.setCookie, 're-signed with the new key');
    equal(io.counts.get, 0, 're-signing needs no store read');
    const resigned = pair(r.setCookie);
    const again = await during.validate(requestWith(resigned));
    equal(again.ok && again.setCookie, null, 'new-key envelope needs nothing');
    equal((await after.validate(requestWith(resigned))).ok, true, 'works once the old key is gone');
    io.reset();
    const gone = await after.validate(requestWith(old));
    equal(gone.reason, 'unknown_key', 'removed key refused');
    check(gone.setCookie && gone.setCookie.includes('Max-Age=0'), 'and cleared');
    equal(io.counts.get, 0, 'without a store read');
  },

  async 'forged envelopes never reach the store'(ctx) {
    const { c, io, manager } = setup(ctx);
    const otherName = new ctx.SessionManager({
      store: io.store,
      keys: `k1:${SECRET_1}`,
      now: c.now,
      cookie: { name: 'other' },
      revocationSyncMs: 0,
    });
    const wrongKey = new ctx.SessionManager({ store: io.store, keys: `k1:${SECRET_2}`, now: c.now, revocationSyncMs: 0 });
    const created = await manager.create(null, uniqueUser('grace'));
    const value = pair(created.setCookie).split('=')[1];
    const forged = await wrongKey.create(null, 'grace');
    const moved = await otherName.create(null, 'grace');
    c.advance(120 * SECOND); // every genuine envelope here would now need its record
    const flip = (s, i) => s.slice(0, i) + (s[i] === 'A' ? 'B' : 'A') + s.slice(i + 1);
    const cases = {
      'bad signature': flip(value, value.length - 2),
      'flipped body': flip(value, 40),
      'flipped key id': flip(value, 3),
      truncated: value.slice(0, -4),
      extended: value + 'AAAA',
      'bad version': 'Ag' + value.slice(2),
      padded: value + '=',
      garbage: 'not-an-envelope',
      'wrong key': pair(forged.setCookie).split('=')[1],
      'other cookie name': pair(moved.setCookie).split('=')[1],
      empty: 'x',
    };
    for (const [name, forgedValue] of Object.entries(cases)) {
      io.reset();
      const r = await manager.validate(requestWith(`__Host-session=${forgedValue}`));
      equal(r.ok, false, `${name} refused`);
      equal(io.counts.get + io.counts.list + io.writes(), 0, `${name} touched the store`);
    }
    io.reset();
    const dup = await manager.validate(requestWith(`__Host-session=${value}; __Host-session=${value}`));
    equal(dup.reason, 'duplicate_cookie', 'duplicate cookie');
    const huge = await manager.validate(requestWith(`a=${'x'.repeat(70_000)}`));
    equal(huge.reason, 'header_too_large', 'huge header');
    const noCookie = await manager.validate(requestWith(undefined));
    equal(noCookie.reason, 'missing', 'no cookie');
    equal(noCookie.setCookie, null, 'no clearing cookie without a cookie');
    equal(io.counts.get + io.writes(), 0, 'none of these touched the store');
  },

  async 'store failures fail closed and write nothing'(ctx) {
    const { c, io, manager } = setup(ctx, { storeTimeoutMs: 50 });
    const user = uniqueUser('heidi');
    const created = await manager.create(null, user);
    const cookie = pair(created.setCookie);
    c.advance(61 * SECOND);
    for (const [fault, reason] of [
      ['throw', 'store_unavailable'],
      ['hang', 'store_unavailable'],
      ['corrupt', 'corrupt_record'],
      ['v2', 'record_version'],
    ]) {
      io.reset();
      io.faults.get = fault;
      const r = await manager.validate(requestWith(cookie));
      equal(r.ok, false, `${fault}: refused`);
      equal(r.reason, reason, `${fault}: reason`);
      equal(io.writes(), 0, `${fault}: nothing written`);
      const rot = await manager.rotate(requestWith(cookie));
      equal(rot.reason, reason, `${fault}: rotate reason`);
      equal(io.writes(), 0, `${fault}: rotate wrote nothing`);
    }
    io.faults.get = undefined;
    equal((await manager.validate(requestWith(cookie))).ok, true, 'works again once the store is back');
    io.faults.put = 'throw';
    const failed = await manager.create(null, user);
    equal(failed.ok, false, 'create fails closed');
    equal(failed.reason, 'store_unavailable', 'create reason');
    io.faults.list = 'hang';
    await rejects(manager.listSessions(user), 'store_unavailable', 'list times out');
  },

  async 'issuedBefore revokes here at once and elsewhere at the next refresh'(ctx) {
    const { c, io, manager } = setup(ctx);
    const elsewhere = new ctx.SessionManager({ store: io.store, keys: `k1:${SECRET_1}`, now: c.now, revocationSyncMs: 1 });
    const old = await manager.create(null, uniqueUser('ivan'));
    c.advance(SECOND);
    const cutoff = c.t;
    const fresh = await manager.create(null, uniqueUser('judy'));
    await manager.revokeIssuedBefore(cutoff);
    equal((await manager.validate(requestWith(pair(old.setCookie)))).reason, 'revoked', 'old session refused here');
    equal((await manager.validate(requestWith(pair(fresh.setCookie)))).ok, true, 'newer session kept');
    equal((await elsewhere.validate(requestWith(pair(old.setCookie)))).ok, true, 'elsewhere: fast path until expiry');
    c.advance(61 * SECOND);
    equal((await elsewhere.validate(requestWith(pair(old.setCookie)))).reason, 'revoked', 'elsewhere: refused at refresh');
    equal((await elsewhere.validate(requestWith(pair(fresh.setCookie)))).ok, true, 'elsewhere: newer session kept');
  },

  async 'strict mode consults the record on every request'(ctx) {
    const { c, io, manager } = setup(ctx, { strict: true });
    const elsewhere = new ctx.SessionManager({ store: io.store, keys: `k1:${SECRET_1}`, now: c.now, revocationSyncMs: 0 });
    const created = await manager.create(null, uniqueUser('ken'));
    const cookie = pair(created.setCookie);
    io.reset();
    c.advance(SECOND);
    const r = await manager.validate(requestWith(cookie));
    equal(r.ok, true, 'strict valid');
    equal(io.counts.recordReads, 1, 'strict reads the record');
    equal(r.setCookie, null, 'fresh envelope kept');
    await elsewhere.destroy(requestWith(cookie));
    equal((await manager.validate(requestWith(cookie))).reason, 'session_not_found', 'logout elsewhere seen at once');
  },

  async 'bad configuration is refused with a reason'(ctx) {
    const store = ctx.freshStore();
    const cases = [
      [{ store, keys: 'k1:short' }, 'secret_too_short'],
      [{ store, keys: '' }, 'invalid_key_ring'],
      [{ store, keys: 42 }, 'invalid_key_ring'],
      [{ store, keys: `bad id:${SECRET_1}` }, 'invalid_key_id'],
      [{ store, keys: `k1:${SECRET_1}`, envelopeTtl: 600, idleTimeout: 300 }, 'invalid_timeouts'],
      [{ store, keys: `k1:${SECRET_1}`, idleTimeout: -1 }, 'invalid_timeouts'],
      [{ store, keys: `k1:${SECRET_1}`, cookie: { path: '/app' } }, 'invalid_cookie'],
      [{ store, keys: `k1:${SECRET_1}`, cookie: { name: 'a;b' } }, 'invalid_cookie'],
      [{ store, keys: `k1:${SECRET_1}`, cookie: { hostPrefix: false, secure: false, sameSite: 'None' } }, 'invalid_cookie'],
      [{ store: {}, keys: `k1:${SECRET_1}` }, 'invalid_store'],
    ];
    for (const [options, reason] of cases) {
      let error;
      try {
        new ctx.SessionManager(options);
      } catch (e) {
        error = e;
      }
      check(error instanceof ctx.SessionConfigError, `${reason}: SessionConfigError thrown (got ${error})`);
      equal(error.reason, reason, 'config error reason');
      check(!String(error.message).includes(SECRET_1), 'message never shows a secret');
    }
    const ok = new ctx.SessionManager({ store, keys: `k1:${SECRET_1}` });
    await rejects(ok.create(null, ''), 'invalid_user_id', 'empty user id');
    await rejects(ok.create(null, 'a\nb'), 'invalid_user_id', 'control character in user id');
  },

  async 'audit events never carry the session ID'(ctx) {
    const events = [];
    const { c, manager } = setup(ctx, { onEvent: (e) => events.push(e) });
    const user = uniqueUser('leo');
    const created = await manager.create(null, user);
    const value = pair(created.setCookie).split('=')[1];
    c.advance(61 * SECOND);
    const refreshed = await manager.validate(requestWith(pair(created.setCookie)));
    const rotated = await manager.rotate(requestWith(pair(refreshed.setCookie)));
    await manager.validate(requestWith(pair(created.setCookie)));
    await manager.destroy(requestWith(pair(rotated.setCookie)));
    await manager.revokeUser(user);
    const types = events.map((e) => e.type);
    for (const type of ['created', 'refreshed', 'rotated', 'rejected', 'destroyed', 'revoked']) {
      check(types.includes(type), `event ${type} emitted (got ${types})`);
    }
    const text = JSON.stringify(events);
    check(!text.includes(value) && !text.includes(value.slice(10, 40)), 'no envelope in events');
    const throwing = setup(ctx, { onEvent: () => { throw new Error('hook failed'); } });
    equal((await throwing.manager.create(null, user)).ok, true, 'a throwing hook does not break requests');
  },
};
