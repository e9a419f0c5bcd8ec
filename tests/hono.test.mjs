// edge-session/hono through a real Hono app (tests/js/hono-app.mjs), in workerd (Miniflare, a
// real local KV, the package's workerd entry loaded from pkg/) and in Node (the node entry, a
// MemoryStore): login, the fast path, refresh after the envelope expired, rotation, update,
// logout, revokeOthers, requireSession's refusals and their reasons, a failing store answered 503
// with the cookie kept, and the CSRF guard's refusals.
process.env.WRANGLER_SEND_METRICS = 'false';

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Miniflare } from 'miniflare';
import { Hono } from 'hono';
import { packageWorker } from './js/workerd.mjs';
import { buildApp } from './js/hono-app.mjs';
import * as honoNode from '../pkg/hono-node.js';
import { MemoryStore } from '../pkg/node.js';

const ORIGIN = 'http://app.test';
const SESSION_KEYS = `k1:${Buffer.alloc(32, 0x5a).toString('base64url')}`;
const ENVELOPE_MS = 60_000;
const UNAUTHENTICATED = (reason) => ({ error: 'unauthenticated', reason });

let mf;
before(async () => {
  mf = new Miniflare(packageWorker('tests/js/hono-worker.mjs', { kvNamespaces: ['KV'], bindings: { SESSION_KEYS } }));
  await mf.ready;
});
after(async () => {
  await mf?.dispose();
});

const nodeApp = buildApp(Hono, honoNode);
const nodeEnv = { KV: new MemoryStore(), SESSION_KEYS };

const runtimes = {
  workerd: (url, init) => mf.dispatchFetch(url, init),
  node: (url, init) => nodeApp.fetch(new Request(url, init), nodeEnv),
};

for (const [runtime, fetchIt] of Object.entries(runtimes)) {
  /** One request; `cookie` is a name=value pair, `json` a body sent as application/json. */
  async function call(method, path, { cookie, headers = {}, json, body } = {}) {
    const h = { ...headers };
    if (cookie) h.cookie = cookie;
    let payload = body;
    if (json !== undefined) {
      h['content-type'] = 'application/json';
      payload = JSON.stringify(json);
    }
    const res = await fetchIt(`${ORIGIN}${path}`, { method, headers: h, body: payload });
    const text = await res.text();
    let parsed = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      // a text answer
    }
    const setCookies = res.headers.getSetCookie();
    const pair = setCookies.length === 1 && !/Max-Age=0/i.test(setCookies[0]) ? setCookies[0].split(';')[0] : null;
    return { status: res.status, body: parsed, setCookies, cookie: pair, clears: setCookies.some((c) => /Max-Age=0/i.test(c)) };
  }

  const login = async (user, options) => {
    const r = await call('POST', `/login?user=${user}`, options);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.ok(r.cookie, 'a session cookie');
    return r;
  };
  const advance = (ms) => call('POST', `/__test/clock?advance=${ms}`);
  const fault = (on) => call('POST', `/__test/fault?on=${on ? 1 : 0}`);
  const stats = async () => (await call('GET', '/__test/stats')).body;
  const resetStats = () => call('POST', '/__test/stats/reset');

  describe(`edge-session/hono in ${runtime}`, () => {
    test('login sets the cookie and the session; the fast path reads nothing and sets no cookie', async () => {
      const r = await login('alice');
      assert.equal(r.setCookies.length, 1);
      assert.match(r.setCookies[0], /^__Host-session=[^;]+; .*HttpOnly/);
      assert.equal(r.body.userId, 'alice');
      assert.deepEqual(r.body.data, { role: 'member', theme: 'light' });
      assert.equal(r.body.generation, 0);

      await resetStats();
      const me = await call('GET', '/me', { cookie: r.cookie });
      assert.equal(me.status, 200);
      assert.deepEqual(me.body, r.body);
      assert.deepEqual(me.setCookies, [], 'a fresh envelope earns no cookie');
      const s = await stats();
      assert.equal(s.reads, 0, 'no store read on the fast path');
      assert.deepEqual(s.events, []);
    });

    test('a handler answering a bare Response still gets the cookie the helper issued', async () => {
      const r = await call('POST', '/login?user=raw&raw=1');
      assert.equal(r.status, 200);
      assert.equal(r.body, 'welcome raw');
      assert.ok(r.cookie);
      assert.equal((await call('GET', '/me', { cookie: r.cookie })).body.userId, 'raw');
    });

    test('an expired envelope is refreshed from the store: a new cookie, appended once', async () => {
      const { cookie, body } = await login('bob');
      await advance(ENVELOPE_MS + 1000);
      await resetStats();
      const me = await call('GET', '/me', { cookie });
      assert.equal(me.status, 200);
      assert.equal(me.body.handle, body.handle, 'the same session');
      assert.equal(me.setCookies.length, 1);
      assert.ok(me.cookie && me.cookie !== cookie, 'a new envelope');
      const s = await stats();
      assert.ok(s.reads > 0, 'the store was read');
      assert.deepEqual(s.events, ['refreshed']);

      // The middleware mounted twice on a route validates once.
      await advance(ENVELOPE_MS + 1000);
      await resetStats();
      const twice = await call('GET', '/twice', { cookie: me.cookie });
      assert.equal(twice.body.userId, 'bob');
      assert.equal(twice.setCookies.length, 1, 'one Set-Cookie');
      assert.deepEqual((await stats()).events, ['refreshed'], 'one validation');

      await resetStats();
      const fast = await call('GET', '/me', { cookie: twice.cookie });
      assert.equal(fast.status, 200);
      assert.deepEqual(fast.setCookies, []);
      assert.equal((await stats()).reads, 0, 'the refreshed envelope is on the fast path');
    });

    test('rotation: a new ID and cookie; the old cookie is refused as rotated and cleared', async () => {
      const { cookie, body } = await login('carol');
      // An expired envelope too: the refresh and the rotation each make a cookie, one is sent.
      await advance(ENVELOPE_MS + 1000);
      const rotated = await call('POST', '/rotate', { cookie });
      assert.equal(rotated.status, 200, JSON.stringify(rotated.body));
      assert.equal(rotated.setCookies.length, 1, 'only the rotated cookie');
      assert.equal(rotated.body.generation, 1);
      assert.notEqual(rotated.body.handle, body.handle);
      assert.equal((await call('GET', '/me', { cookie: rotated.cookie })).body.handle, rotated.body.handle);

      const old = await call('GET', '/me', { cookie });
      assert.equal(old.status, 401);
      assert.deepEqual(old.body, UNAUTHENTICATED('rotated'));
      assert.equal(old.clears, true);
    });

    test('update: new data by rotation, the role kept; the old cookie is refused', async () => {
      const { cookie } = await login('dave');
      const updated = await call('POST', '/data', { cookie, json: { data: { theme: 'dark' } } });
      assert.equal(updated.status, 200, JSON.stringify(updated.body));
      assert.deepEqual(updated.body.data, { theme: 'dark', role: 'member' });
      assert.equal(updated.body.generation, 1);
      const me = await call('GET', '/me', { cookie: updated.cookie });
      assert.deepEqual(me.body.data, { theme: 'dark', role: 'member' });
      assert.deepEqual((await call('GET', '/me', { cookie })).body, UNAUTHENTICATED('rotated'));
    });

    test('helpers one after another in a request act on the session the previous one left', async () => {
      const { cookie, body } = await login('dora');
      const twice = await call('POST', '/rotate-twice', { cookie });
      assert.equal(twice.status, 200, JSON.stringify(twice.body));
      assert.equal(twice.body.generation, 2, 'rotated, then updated (rotated again)');
      assert.deepEqual(twice.body.data, { role: 'member', theme: 'twice' });
      assert.equal(twice.setCookies.length, 1, 'one Set-Cookie: the last session');
      assert.deepEqual((await call('GET', '/me', { cookie: twice.cookie })).body, twice.body);
      assert.deepEqual((await call('GET', '/me', { cookie })).body, UNAUTHENTICATED('rotated'));
      assert.notEqual(twice.body.handle, body.handle);

      // A login then a logout in one request ends the new session, not the one the request carried.
      await resetStats();
      const both = await call('POST', '/login-logout?user=dora', { cookie: twice.cookie });
      assert.deepEqual((await stats()).events, ['destroyed', 'created', 'destroyed'], 'the carried session, then the new one');
      assert.equal(both.status, 200, JSON.stringify(both.body));
      assert.equal(both.body.session, null);
      assert.equal(both.setCookies.length, 1);
      assert.equal(both.clears, true, 'the last word is the clearing cookie');
      // The login ended the session the request carried first (create does), so both are gone.
      assert.deepEqual((await call('GET', '/me', { cookie: twice.cookie })).body, UNAUTHENTICATED('revoked'));
    });

    test('logout clears the cookie; the session is refused as revoked afterwards', async () => {
      const { cookie } = await login('erin');
      const out = await call('POST', '/logout', { cookie });
      assert.equal(out.status, 200);
      assert.deepEqual(out.body, { ok: true });
      assert.equal(out.setCookies.length, 1);
      assert.equal(out.clears, true);
      const me = await call('GET', '/me', { cookie });
      assert.equal(me.status, 401);
      assert.deepEqual(me.body, UNAUTHENTICATED('revoked'));
      assert.equal(me.clears, true);
    });

    test('revokeOthers ends the user\'s other sessions and keeps the caller\'s', async () => {
      const mine = await login('frank');
      const other = await login('frank');
      const third = await login('frank');
      const listed = await call('GET', '/sessions', { cookie: mine.cookie });
      assert.equal(listed.body.length, 3);

      const out = await call('POST', '/revoke-others', { cookie: mine.cookie });
      assert.equal(out.status, 200, JSON.stringify(out.body));
      assert.deepEqual(out.body, { ok: true, revoked: 2 });
      for (const s of [other, third]) assert.deepEqual((await call('GET', '/me', { cookie: s.cookie })).body, UNAUTHENTICATED('revoked'));
      assert.equal((await call('GET', '/me', { cookie: mine.cookie })).status, 200);
      assert.deepEqual((await call('POST', '/revoke-others')).body, UNAUTHENTICATED('missing'), 'requireSession first');
    });

    test('requireSession refuses with the reason; a dead cookie is cleared, an absent one is not', async () => {
      const none = await call('GET', '/me');
      assert.equal(none.status, 401);
      assert.deepEqual(none.body, UNAUTHENTICATED('missing'));
      assert.deepEqual(none.setCookies, []);

      const garbage = await call('GET', '/me', { cookie: '__Host-session=garbage' });
      assert.deepEqual(garbage.body, UNAUTHENTICATED('malformed'));
      assert.equal(garbage.clears, true);

      const { cookie } = await login('grace');
      const [name, value] = cookie.split('=');
      const flipped = value.slice(0, 20) + (value[20] === 'A' ? 'B' : 'A') + value.slice(21);
      const forged = await call('GET', '/me', { cookie: `${name}=${flipped}` });
      assert.equal(forged.status, 401);
      assert.deepEqual(forged.body, UNAUTHENTICATED('bad_signature'));
      assert.equal(forged.clears, true);

      const twice = await call('GET', '/me', { cookie: `${cookie}; ${cookie}` });
      assert.deepEqual(twice.body, UNAUTHENTICATED('duplicate_cookie'));

      // Without requireSession the route runs with no session, and the dead cookie is still cleared.
      const open = await call('GET', '/public', { cookie: '__Host-session=garbage' });
      assert.equal(open.status, 200);
      assert.deepEqual(open.body, { userId: null });
      assert.equal(open.clears, true);
      assert.deepEqual((await call('GET', '/public', { cookie })).body, { userId: 'grace' });
    });

    test('a failing store: 503 store_unavailable with the cookie kept, never a logout or a false success', async () => {
      const { cookie } = await login('heidi');
      await advance(ENVELOPE_MS + 1000);
      await fault(true);
      try {
        const me = await call('GET', '/me', { cookie });
        assert.equal(me.status, 503);
        assert.deepEqual(me.body, { error: 'unavailable', reason: 'store_unavailable' });
        assert.deepEqual(me.setCookies, [], 'the cookie is kept');

        const rotated = await call('POST', '/rotate', { cookie });
        assert.equal(rotated.status, 503);
        assert.deepEqual(rotated.body, { error: 'unavailable', reason: 'store_unavailable' });
        assert.deepEqual(rotated.setCookies, []);

        const fresh = await call('POST', '/login?user=ivan');
        assert.equal(fresh.status, 503, 'a login whose record was not stored is no login');
        assert.deepEqual(fresh.body, { error: 'unavailable', reason: 'store_unavailable' });
        assert.deepEqual(fresh.setCookies, []);
      } finally {
        await fault(false);
      }
      const back = await call('GET', '/me', { cookie });
      assert.equal(back.status, 200, 'the kept cookie works once the store is back');
      assert.equal(back.body.userId, 'heidi');

      // A logout the store could not take: 503, never 200, and the clearing cookie all the same.
      await fault(true);
      let out;
      try {
        out = await call('POST', '/logout', { cookie: back.cookie });
      } finally {
        await fault(false);
      }
      assert.equal(out.status, 503);
      assert.deepEqual(out.body, { error: 'unavailable', reason: 'store_unavailable' });
      assert.equal(out.clears, true);
    });

    test('CSRF: state-changing requests from another origin, or with a non-JSON body, are 403 before any session work', async () => {
      const { cookie } = await login('judy');
      const refusals = [
        [{ origin: 'http://evil.example' }, 'cross_origin'],
        [{ origin: 'null' }, 'cross_origin'],
        [{ origin: 'http://app.test:8080' }, 'cross_origin'],
        [{ 'sec-fetch-site': 'cross-site' }, 'cross_site'],
        [{ origin: ORIGIN, 'content-type': 'application/x-www-form-urlencoded' }, 'content_type'],
        [{ 'content-type': 'text/plain' }, 'content_type'],
      ];
      for (const [headers, reason] of refusals) {
        for (const path of ['/login?user=mallory', '/logout', '/rotate']) {
          const r = await call('POST', path, { cookie, headers, body: headers['content-type'] ? 'x=1' : undefined });
          assert.equal(r.status, 403, `${path} ${JSON.stringify(headers)}`);
          assert.deepEqual(r.body, { error: 'forbidden', reason });
          assert.deepEqual(r.setCookies, [], 'no cookie set or cleared');
        }
      }
      assert.equal((await call('GET', '/me', { cookie, headers: { origin: 'http://evil.example', 'sec-fetch-site': 'cross-site' } })).status, 200, 'a GET is never refused');
      const same = await call('POST', '/rotate', { cookie, headers: { origin: ORIGIN, 'sec-fetch-site': 'same-origin' } });
      assert.equal(same.status, 200, 'same-origin passes');
      assert.equal((await call('GET', '/me', { cookie: same.cookie })).body.userId, 'judy', 'the session survived the refusals');
    });

    test('the manager was built once, on the first request, for every request since', async () => {
      assert.equal((await stats()).builds, 1);
    });

    test('a helper without sessionMiddleware is a configuration error, not a silent no-op', async () => {
      const r = await call('POST', '/unguarded/login');
      assert.equal(r.status, 500);
      assert.equal(r.body.error, 'SessionConfigError');
      assert.equal(r.body.reason, 'invalid_options');
      assert.match(r.body.message, /needs sessionMiddleware\(\)/);
    });
  });
}

describe('originGuard from edge-session/guard (framework-free)', async () => {
  const { originGuard } = await import('../pkg/guard.js');
  const { SessionConfigError } = await import('../pkg/node.js');
  const reasonOf = async (guard, method, headers = {}, body = undefined) => {
    const refused = guard(new Request(`${ORIGIN}/x`, { method, headers, body }));
    if (refused === null) return null;
    assert.equal(refused.status, 403);
    assert.match(refused.headers.get('content-type'), /^application\/json/);
    assert.equal(refused.headers.get('cache-control'), 'no-store');
    const parsed = await refused.json();
    assert.equal(parsed.error, 'forbidden');
    return parsed.reason;
  };

  test('every method but GET, HEAD and OPTIONS is judged; same-origin, same-site and header-less requests pass', async () => {
    const guard = originGuard();
    for (const method of ['GET', 'HEAD', 'OPTIONS']) assert.equal(await reasonOf(guard, method, { origin: 'https://evil.example', 'sec-fetch-site': 'cross-site' }), null, method);
    for (const method of ['POST', 'PUT', 'PATCH', 'DELETE', 'PURGE']) {
      assert.equal(await reasonOf(guard, method, { origin: 'https://evil.example' }), 'cross_origin', method);
      assert.equal(await reasonOf(guard, method, { 'sec-fetch-site': 'Cross-Site' }), 'cross_site', method);
    }
    assert.equal(await reasonOf(guard, 'POST'), null, 'no Origin, no Sec-Fetch-Site, no body (curl)');
    assert.equal(await reasonOf(guard, 'POST', { origin: ORIGIN, 'sec-fetch-site': 'same-origin' }), null);
    assert.equal(await reasonOf(guard, 'POST', { 'sec-fetch-site': 'same-site' }), null);
    assert.equal(await reasonOf(guard, 'POST', { 'sec-fetch-site': 'none' }), null);
    assert.equal(await reasonOf(guard, 'POST', { origin: 'null' }), 'cross_origin');
    assert.equal(await reasonOf(guard, 'POST', { origin: `${ORIGIN}/` }), 'cross_origin', 'an Origin is compared exactly');
    assert.equal(await reasonOf(guard, 'POST', { origin: ORIGIN, 'sec-fetch-site': 'cross-site' }), 'cross_site', 'the demo\'s order: Origin, then Sec-Fetch-Site');
  });

  test('bodies: JSON passes, anything else declared is content_type; requireJson: false accepts forms', async () => {
    const guard = originGuard();
    assert.equal(await reasonOf(guard, 'POST', { 'content-type': 'application/json' }, '{}'), null);
    assert.equal(await reasonOf(guard, 'POST', { 'content-type': 'Application/JSON; charset=utf-8' }, '{}'), null);
    assert.equal(await reasonOf(guard, 'POST', { 'content-length': '0' }), null);
    for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/jsonx']) {
      assert.equal(await reasonOf(guard, 'POST', { 'content-type': type }, 'x'), 'content_type', type);
    }
    assert.equal(await reasonOf(guard, 'POST', { 'content-length': '3' }), 'content_type', 'a body without a type');
    assert.equal(await reasonOf(guard, 'POST', { 'transfer-encoding': 'chunked' }), 'content_type');
    const forms = originGuard({ requireJson: false });
    assert.equal(await reasonOf(forms, 'POST', { origin: ORIGIN, 'content-type': 'application/x-www-form-urlencoded' }, 'a=1'), null);
    assert.equal(await reasonOf(forms, 'POST', { origin: 'https://evil.example', 'content-type': 'application/x-www-form-urlencoded' }, 'a=1'), 'cross_origin');
  });

  test('allowedOrigins: a listed origin passes even cross-site; others are still refused', async () => {
    const guard = originGuard({ allowedOrigins: ['https://app.example.com', 'http://localhost:5173'] });
    assert.equal(await reasonOf(guard, 'POST', { origin: 'https://app.example.com', 'sec-fetch-site': 'cross-site' }), null);
    assert.equal(await reasonOf(guard, 'DELETE', { origin: 'http://localhost:5173' }), null);
    assert.equal(await reasonOf(guard, 'POST', { origin: 'https://app.example.com.evil.example' }), 'cross_origin');
    assert.equal(await reasonOf(guard, 'POST', { origin: 'http://app.example.com' }), 'cross_origin', 'another scheme');
    assert.equal(await reasonOf(guard, 'POST', { origin: ORIGIN }), null, 'the request\'s own origin still passes');
    assert.equal(await reasonOf(guard, 'POST', { 'sec-fetch-site': 'cross-site' }), 'cross_site', 'no Origin: nothing is listed');
  });

  test('bad options throw SessionConfigError invalid_options, with a message that says what to write', () => {
    const bad = [
      [{ allowedOrigins: 'https://app.example.com' }, /array of origins/],
      [{ allowedOrigins: ['https://app.example.com/'] }, /not an origin; write it as scheme:\/\/host/],
      [{ allowedOrigins: ['https://app.example.com/path'] }, /not an origin/],
      [{ allowedOrigins: ['app.example.com'] }, /not an origin/],
      [{ allowedOrigins: ['null'] }, /not an origin/],
      [{ allowedOrigins: [42] }, /not an origin/],
      [{ requireJson: 'yes' }, /requireJson must be a boolean/],
      [{ allowedOrigin: [] }, /unknown originGuard option "allowedOrigin"/],
      [null, /must be an object/],
    ];
    for (const [options, message] of bad) {
      assert.throws(() => originGuard(options), (error) => error instanceof SessionConfigError && error.reason === 'invalid_options' && message.test(error.message), JSON.stringify(options));
    }
  });
});
