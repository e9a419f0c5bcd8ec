// adminHandler (the operator routes) in Node, against a MemoryStore-backed SessionManager.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';

import { MemoryStore, SessionConfigError, SessionManager, adminHandler } from '../pkg/node.js';

const SECRET = randomBytes(32).toString('base64url');
const KEYS = `k1:${SECRET}`;
const TOKEN = randomBytes(32).toString('base64url');
const ORIGIN = 'https://app.example';

/** A MemoryStore that throws on every call while `failing` is set. */
class FailingStore extends MemoryStore {
  failing = false;
  async get(...args) {
    if (this.failing) throw new Error('KV get failed');
    return super.get(...args);
  }
  async put(...args) {
    if (this.failing) throw new Error('KV put failed');
    return super.put(...args);
  }
  async delete(...args) {
    if (this.failing) throw new Error('KV delete failed');
    return super.delete(...args);
  }
  async list(...args) {
    if (this.failing) throw new Error('KV list failed');
    return super.list(...args);
  }
}

function setup({ now } = {}) {
  const store = new FailingStore();
  const manager = new SessionManager({ store, keys: KEYS });
  let t = 1_000_000;
  const clock = now ?? (() => t);
  const admin = adminHandler(manager, { token: TOKEN, now: clock });
  return { store, manager, admin, advance: (ms) => (t += ms) };
}

/** A request to the handler; `token: null` sends no Authorization header. */
function request(method, path, { token = TOKEN, body, headers = {}, ip } = {}) {
  const h = new Headers(headers);
  if (token !== null && !h.has('authorization')) h.set('authorization', `Bearer ${token}`);
  if (ip !== undefined) h.set('cf-connecting-ip', ip);
  let payload;
  if (body !== undefined) {
    payload = typeof body === 'string' ? body : JSON.stringify(body);
    if (!h.has('content-type')) h.set('content-type', 'application/json');
  }
  return new Request(`${ORIGIN}${path}`, { method, headers: h, body: payload });
}

async function call(admin, method, path, options) {
  const res = await admin(request(method, path, options));
  assert.ok(res instanceof Response, `${method} ${path} answers a Response`);
  assert.match(res.headers.get('content-type'), /^application\/json/);
  assert.equal(res.headers.get('cache-control'), 'no-store');
  return { res, body: await res.json() };
}

const revoke = (admin, body, options = {}) => call(admin, 'POST', '/admin/revoke', { ...options, body });

async function login(manager, userId) {
  const issued = await manager.create(null, userId);
  assert.equal(issued.ok, true);
  return { cookie: issued.setCookie.split(';')[0], session: issued.session };
}

async function reasonOf(manager, cookie) {
  const r = await manager.validate(cookie);
  return r.ok ? 'ok' : r.reason;
}

describe('construction', () => {
  const manager = new SessionManager({ store: new MemoryStore(), keys: KEYS });

  test('a token shorter than 32 characters is refused with a message saying how to make one', () => {
    for (const token of ['', 'short', 'x'.repeat(31), randomBytes(23).toString('base64url')]) {
      assert.throws(
        () => adminHandler(manager, { token }),
        (error) => {
          assert.ok(error instanceof SessionConfigError);
          assert.equal(error.reason, 'invalid_token');
          assert.match(error.message, /at least 32 characters/);
          assert.match(error.message, /randomBytes\(32\)/);
          assert.match(error.message, /wrangler secret put ADMIN_TOKEN/);
          if (token !== '') assert.ok(!error.message.includes(token), 'the message never shows the token');
          return true;
        },
        `token of ${token.length} characters`,
      );
    }
    assert.equal(typeof adminHandler(manager, { token: 'x'.repeat(32) }), 'function');
  });

  test('a token that is not a string or holds white space is refused', () => {
    for (const token of [undefined, null, 42, `${'x'.repeat(20)} ${'y'.repeat(20)}`, `${'x'.repeat(40)}\n`]) {
      assert.throws(() => adminHandler(manager, { token }), (e) => e instanceof SessionConfigError && e.reason === 'invalid_token');
    }
    assert.throws(() => adminHandler(manager), (e) => e instanceof SessionConfigError && e.reason === 'invalid_token');
  });

  test('a manager that is not a SessionManager and unknown options are refused', () => {
    for (const bad of [undefined, null, {}, { status() {} }]) {
      assert.throws(() => adminHandler(bad, { token: TOKEN }), (e) => e instanceof SessionConfigError && e.reason === 'invalid_options');
    }
    assert.throws(
      () => adminHandler(manager, { token: TOKEN, tokn: 'x' }),
      (e) => e instanceof SessionConfigError && e.reason === 'invalid_options' && /tokn/.test(e.message),
    );
    assert.throws(() => adminHandler(manager, { token: TOKEN, now: 5 }), (e) => e instanceof SessionConfigError && e.reason === 'invalid_options');
  });
});

describe('routing', () => {
  test('paths outside /admin/ resolve null', async () => {
    const { admin } = setup();
    for (const path of ['/', '/admin', '/administrator', '/api/me', '/x/admin/status']) {
      assert.equal(await admin(request('GET', path)), null, path);
      assert.equal(await admin(request('POST', path, { body: {} })), null, path);
    }
  });

  test('an unknown admin path is 404, a known one with another method 405 with Allow', async () => {
    const { admin } = setup();
    const nope = await call(admin, 'GET', '/admin/nope');
    assert.equal(nope.res.status, 404);
    assert.deepEqual(nope.body, { error: 'not_found' });
    assert.equal((await call(admin, 'GET', '/admin/')).res.status, 404);
    assert.equal((await call(admin, 'GET', '/admin/__proto__')).res.status, 404);
    for (const [method, path, allow] of [
      ['GET', '/admin/revoke', 'POST'],
      ['POST', '/admin/sessions', 'GET'],
      ['DELETE', '/admin/status', 'GET'],
    ]) {
      const { res, body } = await call(admin, method, path);
      assert.equal(res.status, 405, `${method} ${path}`);
      assert.equal(res.headers.get('allow'), allow);
      assert.deepEqual(body, { error: 'method_not_allowed' });
    }
  });
});

describe('POST /admin/revoke', () => {
  test('by userId ends every session of that user and no other', async () => {
    const { admin, manager } = setup();
    const a = await login(manager, 'victim');
    const b = await login(manager, 'victim');
    const other = await login(manager, 'bystander');
    const { res, body } = await revoke(admin, { userId: 'victim' });
    assert.equal(res.status, 200);
    assert.deepEqual(body, { ok: true, scope: 'user', userId: 'victim', revoked: 2 });
    assert.equal(await reasonOf(manager, a.cookie), 'revoked');
    assert.equal(await reasonOf(manager, b.cookie), 'revoked');
    assert.equal(await reasonOf(manager, other.cookie), 'ok');
  });

  test('by handle ends that session; an unknown handle is 404', async () => {
    const { admin, manager } = setup();
    const a = await login(manager, 'handled');
    const b = await login(manager, 'handled');
    const { res, body } = await revoke(admin, { handle: a.session.handle });
    assert.equal(res.status, 200);
    assert.deepEqual(body, { ok: true, scope: 'session', handle: a.session.handle, revoked: 1 });
    assert.equal(await reasonOf(manager, a.cookie), 'revoked');
    assert.equal(await reasonOf(manager, b.cookie), 'ok');
    const again = await revoke(admin, { handle: a.session.handle });
    assert.equal(again.res.status, 404);
    assert.deepEqual(again.body, { error: 'not_found' });
    assert.equal((await revoke(admin, { handle: 'A'.repeat(43) })).res.status, 404);
  });

  test('by issuedBefore ends the sessions created earlier', async () => {
    const { admin, manager } = setup();
    const early = await login(manager, 'epoch');
    const cutoff = early.session.createdAt + 1;
    while (Date.now() <= cutoff) await new Promise((r) => setTimeout(r, 2));
    const late = await login(manager, 'epoch');
    const { res, body } = await revoke(admin, { issuedBefore: cutoff });
    assert.equal(res.status, 200);
    assert.deepEqual(body, { ok: true, scope: 'issued_before', issuedBefore: cutoff });
    assert.equal(await reasonOf(manager, early.cookie), 'revoked');
    assert.equal(await reasonOf(manager, late.cookie), 'ok');
    assert.equal(manager.status().revocations.issuedBefore, cutoff);
  });

  test('not exactly one target, or a bad value, is 400 with the demo reasons', async () => {
    const { admin } = setup();
    const cases = [
      [{}, 'exactly_one_of_userId_handle_issuedBefore'],
      [{ userId: 'a', handle: 'b' }, 'exactly_one_of_userId_handle_issuedBefore'],
      [{ userId: 'a', issuedBefore: 1 }, 'exactly_one_of_userId_handle_issuedBefore'],
      [{ other: 'x' }, 'exactly_one_of_userId_handle_issuedBefore'],
      [{ userId: 7 }, 'invalid_userId'],
      [{ userId: '' }, 'invalid_userId'],
      [{ userId: null }, 'invalid_userId'],
      [{ handle: '' }, 'invalid_handle'],
      [{ handle: 'not a handle' }, 'invalid_handle'],
      [{ handle: 'x'.repeat(129) }, 'invalid_handle'],
      [{ issuedBefore: 'yesterday' }, 'invalid_issuedBefore'],
      [{ issuedBefore: -1 }, 'invalid_issuedBefore'],
      [{ issuedBefore: 1.5 }, 'invalid_issuedBefore'],
      [{ issuedBefore: 2 ** 53 }, 'invalid_issuedBefore'],
      // In the future (beyond the 5 s clock skew): refused by the manager, answered as the demo does.
      [{ issuedBefore: Date.now() + 60_000 }, 'invalid_issuedBefore'],
      [{ issuedBefore: Date.now() + 365 * 86_400_000 }, 'invalid_issuedBefore'],
    ];
    for (const [body, reason] of cases) {
      const r = await revoke(admin, body);
      assert.equal(r.res.status, 400, JSON.stringify(body));
      assert.deepEqual(r.body, { error: 'bad_request', reason }, JSON.stringify(body));
    }
  });

  test('bodies: JSON objects only, at most 16 KiB', async () => {
    const { admin } = setup();
    for (const [text, reason] of [
      ['{', 'malformed_json'],
      ['{"userId":', 'malformed_json'],
      ['nul', 'malformed_json'],
      ['[1,2]', 'json_object_required'],
      ['"text"', 'json_object_required'],
      ['42', 'json_object_required'],
      ['null', 'json_object_required'],
      ['', 'json_object_required'],
      ['   ', 'json_object_required'],
    ]) {
      const r = await revoke(admin, text);
      assert.equal(r.res.status, 400, JSON.stringify(text));
      assert.deepEqual(r.body, { error: 'bad_request', reason }, JSON.stringify(text));
    }
    // Not UTF-8.
    const bytes = await admin(
      new Request(`${ORIGIN}/admin/revoke`, {
        method: 'POST',
        headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
        body: new Uint8Array([0x7b, 0xff, 0x7d]),
      }),
    );
    assert.equal(bytes.status, 400);
    assert.equal((await bytes.json()).reason, 'malformed_json');
    // Another media type, or a body without one: 415.
    for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'application/jsonx']) {
      const r = await revoke(admin, '{"userId":"x"}', { headers: { 'content-type': type } });
      assert.equal(r.res.status, 415, type);
      assert.deepEqual(r.body, { error: 'bad_request', reason: 'content_type' });
    }
    const untyped = await admin(
      new Request(`${ORIGIN}/admin/revoke`, {
        method: 'POST',
        headers: { authorization: `Bearer ${TOKEN}` },
        body: new Uint8Array(utf8('{"userId":"x"}')),
      }),
    );
    assert.equal(untyped.status, 415);
    // JSON with parameters is fine.
    const charset = await revoke(admin, { userId: 'nobody' }, { headers: { 'content-type': 'Application/JSON; charset=utf-8' } });
    assert.equal(charset.res.status, 200);
    // Too large: by Content-Length, and streamed without one (never buffered past the limit).
    const big = JSON.stringify({ userId: 'x', pad: 'y'.repeat(16 * 1024) });
    const declared = await revoke(admin, big);
    assert.equal(declared.res.status, 413);
    assert.deepEqual(declared.body, { error: 'bad_request', reason: 'body_too_large' });
    let pulled = 0;
    const stream = new ReadableStream({
      pull(controller) {
        pulled += 1;
        if (pulled > 1000) return controller.close();
        controller.enqueue(new Uint8Array(1024).fill(0x20));
      },
    });
    const streamed = await admin(
      new Request(`${ORIGIN}/admin/revoke`, {
        method: 'POST',
        headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
        body: stream,
        duplex: 'half',
      }),
    );
    assert.equal(streamed.status, 413);
    assert.ok(pulled < 40, `stopped reading after ${pulled} KiB`);
    // Exactly 16 KiB is accepted.
    const base = JSON.stringify({ userId: 'nobody', pad: '' });
    const exact = JSON.stringify({ userId: 'nobody', pad: 'p'.repeat(16 * 1024 - base.length) });
    assert.equal(utf8(exact).length, 16 * 1024);
    assert.equal((await revoke(admin, exact)).res.status, 200);
  });

  test('store failures are 503 store_unavailable and nothing is reported revoked', async () => {
    const { admin, manager, store } = setup();
    const victim = await login(manager, 'storefail');
    store.failing = true;
    for (const target of [{ userId: 'storefail' }, { handle: victim.session.handle }, { issuedBefore: Date.now() - 1000 }]) {
      const r = await revoke(admin, target);
      assert.equal(r.res.status, 503, JSON.stringify(target));
      assert.deepEqual(r.body, { error: 'unavailable', reason: 'store_unavailable' });
    }
    const listed = await call(admin, 'GET', '/admin/sessions?userId=storefail');
    assert.equal(listed.res.status, 503);
    assert.deepEqual(listed.body, { error: 'unavailable', reason: 'store_unavailable' });
    // Status reads no store.
    assert.equal((await call(admin, 'GET', '/admin/status')).res.status, 200);
    store.failing = false;
    const after = await revoke(admin, { userId: 'storefail' });
    assert.equal(after.res.status, 200);
    assert.equal(after.body.revoked, 1);
  });
});

describe('GET /admin/sessions and /admin/status', () => {
  test('sessions lists the user\'s live sessions', async () => {
    const { admin, manager } = setup();
    const a = await login(manager, 'lister');
    const b = await login(manager, 'lister');
    await login(manager, 'someone-else');
    const { res, body } = await call(admin, 'GET', '/admin/sessions?userId=lister');
    assert.equal(res.status, 200);
    assert.equal(body.userId, 'lister');
    assert.deepEqual(body.sessions.map((s) => s.handle).sort(), [a.session.handle, b.session.handle].sort());
    for (const s of body.sessions) {
      assert.deepEqual(Object.keys(s).sort(), ['absoluteExpiresAt', 'createdAt', 'handle', 'lastSeenAt', 'userAgent']);
    }
    await manager.revokeSession(a.session.handle);
    const after = await call(admin, 'GET', '/admin/sessions?userId=lister');
    assert.deepEqual(after.body.sessions.map((s) => s.handle), [b.session.handle]);
    const none = await call(admin, 'GET', `/admin/sessions?userId=${encodeURIComponent('nobody@example.com')}`);
    assert.deepEqual(none.body, { userId: 'nobody@example.com', sessions: [] });
    for (const query of ['', '?userId=', '?user=lister']) {
      const r = await call(admin, 'GET', `/admin/sessions${query}`);
      assert.equal(r.res.status, 400, query);
      assert.deepEqual(r.body, { error: 'bad_request', reason: 'invalid_userId' });
    }
  });

  test('status reports the cookie name, key ids, timeouts and the in-memory revocations, never a secret', async () => {
    const { admin, manager } = setup();
    const first = await call(admin, 'GET', '/admin/status');
    assert.equal(first.res.status, 200);
    assert.deepEqual(first.body, {
      cookieName: '__Host-session',
      keyIds: ['k1'],
      timeouts: { envelopeTtl: 60, idleTimeout: 1800, absoluteTimeout: 43200 },
      revocations: { sessions: 0, users: 0, issuedBefore: 0, strict: false },
      hub: null,
    });
    assert.deepEqual(first.body, manager.status());
    const s = await login(manager, 'counted');
    await revoke(admin, { handle: s.session.handle });
    await revoke(admin, { userId: 'counted' });
    const { body } = await call(admin, 'GET', '/admin/status');
    assert.equal(body.revocations.sessions, 1);
    assert.equal(body.revocations.users, 1);
    const text = JSON.stringify(body);
    for (const secret of [SECRET, TOKEN, 'counted']) assert.ok(!text.includes(secret), 'no secret or user id in the status');
  });
});

describe('tokens', () => {
  test('a missing, malformed or wrong token is 401 on every route', async () => {
    const { admin, manager } = setup();
    const victim = await login(manager, 'untouched');
    const attempts = [
      { token: null },
      { token: 'wrong' },
      { token: `${TOKEN}x` },
      { token: TOKEN.slice(0, -1) },
      { token: `${TOKEN.slice(0, -1)}${TOKEN.at(-1) === 'A' ? 'B' : 'A'}` },
      { token: TOKEN.toUpperCase() === TOKEN ? TOKEN.toLowerCase() : TOKEN.toUpperCase() },
      { headers: { authorization: `Basic ${TOKEN}` } },
      { headers: { authorization: `Bearer ${TOKEN} extra` } },
      { headers: { authorization: `Bearer` } },
      { headers: { authorization: TOKEN } },
    ];
    let ip = 0;
    for (const attempt of attempts) {
      for (const [method, path, body] of [
        ['POST', '/admin/revoke', { userId: 'untouched' }],
        ['GET', '/admin/sessions?userId=untouched'],
        ['GET', '/admin/status'],
      ]) {
        // A client per attempt, so that the slow-down does not answer instead.
        const { res, body: answer } = await call(admin, method, path, { ...attempt, body, ip: `10.0.0.${ip++}` });
        assert.equal(res.status, 401, `${JSON.stringify(attempt)} ${path}`);
        assert.deepEqual(answer, { error: 'unauthorized' });
        assert.equal(res.headers.get('www-authenticate'), 'Bearer');
      }
    }
    assert.equal(await reasonOf(manager, victim.cookie), 'ok', 'nothing was revoked');
    // The scheme is case-insensitive and trailing white space is allowed.
    const lower = await call(admin, 'GET', '/admin/status', { headers: { authorization: `bearer ${TOKEN} ` } });
    assert.equal(lower.res.status, 200);
  });

  test('the comparison digests both sides with SHA-256 whatever their length, the expected one once', async () => {
    const { admin } = setup();
    const subtle = globalThis.crypto.subtle;
    const original = subtle.digest;
    const digested = [];
    subtle.digest = function (algorithm, data) {
      digested.push({ algorithm, text: new TextDecoder().decode(data) });
      return original.call(this, algorithm, data);
    };
    try {
      const presented = ['x', 'wrong'.repeat(100), `${TOKEN}x`, TOKEN.slice(0, -1), TOKEN];
      const statuses = [];
      for (const [i, token] of presented.entries()) {
        statuses.push((await admin(request('GET', '/admin/status', { token, ip: `10.1.0.${i}` }))).status);
      }
      assert.deepEqual(statuses, [401, 401, 401, 401, 200]);
      assert.ok(digested.every((d) => d.algorithm === 'SHA-256'));
      // Each presented token was digested (not compared as text), and the expected token once.
      for (const token of presented.slice(0, -1)) {
        assert.equal(digested.filter((d) => d.text === token).length, 1, `digested ${token.length} chars once`);
      }
      assert.equal(digested.filter((d) => d.text === TOKEN).length, 2, 'the expected token once, plus once as presented');
      assert.equal(digested.length, presented.length + 1);
      // A missing header is digested too (as empty text), so it takes the same path.
      await admin(request('GET', '/admin/status', { token: null, ip: '10.1.1.1' }));
      assert.equal(digested.at(-1).text, '');
    } finally {
      subtle.digest = original;
      delete subtle.digest;
    }
    assert.equal(globalThis.crypto.subtle.digest, original);
  });
});

describe('slow-down of bad tokens', () => {
  const bad = (admin, ip, token = 'wrong-token') => admin(request('GET', '/admin/status', { token, ip }));
  const good = (admin, ip) => admin(request('GET', '/admin/status', { ip }));

  test('after 5 failures within a minute: 429 with Retry-After, per client; then it resets', async () => {
    const { admin, advance } = setup();
    for (let i = 0; i < 5; i++) assert.equal((await bad(admin, '192.0.2.1')).status, 401, `failure ${i + 1}`);
    // Blocked: even the right token is not checked.
    const blocked = await good(admin, '192.0.2.1');
    assert.equal(blocked.status, 429);
    assert.equal(blocked.headers.get('retry-after'), '15');
    assert.deepEqual(await blocked.json(), { error: 'too_many_requests', retryAfter: 15 });
    assert.equal((await bad(admin, '192.0.2.1')).status, 429);
    // Another client is not affected.
    assert.equal((await good(admin, '192.0.2.2')).status, 200);
    advance(10_000);
    const later = await good(admin, '192.0.2.1');
    assert.equal(later.status, 429);
    assert.equal(later.headers.get('retry-after'), '5');
    advance(5_000);
    // The block is over; a success forgets the client's failures.
    assert.equal((await good(admin, '192.0.2.1')).status, 200);
    for (let i = 0; i < 5; i++) assert.equal((await bad(admin, '192.0.2.1')).status, 401);
    assert.equal((await good(admin, '192.0.2.1')).headers.get('retry-after'), '15', 'back to the first period after a success');
  });

  test('the period doubles at each further block, up to 15 minutes, and is forgotten after a quiet time', async () => {
    const { admin, advance } = setup();
    const periods = [];
    for (let block = 0; block < 9; block++) {
      for (let i = 0; i < 5; i++) assert.equal((await bad(admin, '198.51.100.7')).status, 401);
      const res = await bad(admin, '198.51.100.7');
      assert.equal(res.status, 429);
      const seconds = Number(res.headers.get('retry-after'));
      periods.push(seconds);
      advance(seconds * 1000);
    }
    assert.deepEqual(periods, [15, 30, 60, 120, 240, 480, 900, 900, 900]);
    // Fifteen quiet minutes: the client starts over.
    advance(15 * 60_000);
    for (let i = 0; i < 5; i++) await bad(admin, '198.51.100.7');
    assert.equal((await bad(admin, '198.51.100.7')).headers.get('retry-after'), '15');
  });

  test('failures spread over more than a minute do not block', async () => {
    const { admin, advance } = setup();
    for (let i = 0; i < 4; i++) assert.equal((await bad(admin, '203.0.113.9')).status, 401);
    advance(60_000);
    for (let i = 0; i < 4; i++) assert.equal((await bad(admin, '203.0.113.9')).status, 401);
    assert.equal((await good(admin, '203.0.113.9')).status, 200);
  });

  test('without CF-Connecting-IP every client shares one bucket', async () => {
    const { admin } = setup();
    for (let i = 0; i < 5; i++) assert.equal((await bad(admin, undefined)).status, 401);
    assert.equal((await good(admin, undefined)).status, 429);
    assert.equal((await good(admin, '192.0.2.50')).status, 200);
  });

  test('the client map is bounded: beyond 1000 clients new ones share an overflow bucket until old ones are forgotten', async () => {
    const { admin, advance } = setup();
    for (let i = 0; i < 1000; i++) assert.equal((await bad(admin, `fd00::${i.toString(16)}`)).status, 401);
    // A flood of fresh addresses lands in one bucket: the fifth newcomer's failure blocks all newcomers.
    for (let i = 0; i < 5; i++) assert.equal((await bad(admin, `2001:db8::${i}`)).status, 401);
    assert.equal((await good(admin, '2001:db8::99')).status, 429);
    // Tracked clients keep their own accounts.
    assert.equal((await good(admin, 'fd00::1')).status, 200);
    // Once the tracked clients have been quiet for 15 minutes they are forgotten and newcomers get their own.
    advance(15 * 60_000);
    for (let i = 0; i < 5; i++) await bad(admin, '2001:db8::aa');
    assert.equal((await bad(admin, '2001:db8::aa')).status, 429);
    assert.equal((await good(admin, '2001:db8::bb')).status, 200);
  });
});

function utf8(text) {
  return new TextEncoder().encode(text);
}
