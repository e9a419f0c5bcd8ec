// HTTP contract of the demo worker, with plain fetch against `wrangler dev` (no browser).
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';

import { cookieFrom, isClearing, login, me, parseSetCookie, sleep, startServer, waitForEvent } from './server.mjs';

// adminHandler refuses tokens shorter than 32 characters; this one has 43.
const ADMIN_TOKEN = randomBytes(32).toString('base64url');
const SESSION_FIELDS = ['userId', 'handle', 'createdAt', 'issuedAt', 'envelopeExpiresAt', 'idleExpiresAt', 'absoluteExpiresAt', 'generation', 'data'];
const LOGIN_DATA = { role: 'member', theme: 'light' };

// Bounds so that a hung server fails the run instead of stalling it.
const HOOK_TIMEOUT = 120_000;
const SUITE_TIMEOUT = 120_000;

let server;
let url;

before(async () => {
  server = await startServer({ vars: { ADMIN_TOKEN } });
  url = server.url;
}, { timeout: HOOK_TIMEOUT });

after(async () => {
  await server?.stop();
}, { timeout: HOOK_TIMEOUT });


function assertJson(res) {
  assert.match(res.headers.get('content-type') || '', /^application\/json/);
  assert.equal(res.headers.get('cache-control'), 'no-store');
}

async function post(path, { body, cookie, headers = {}, json = true } = {}) {
  const h = { ...headers };
  if (cookie) h.cookie = cookie;
  let payload;
  if (body !== undefined) {
    payload = typeof body === 'string' ? body : JSON.stringify(body);
    if (json && !('content-type' in h)) h['content-type'] = 'application/json';
  }
  const res = await fetch(`${url}${path}`, { method: 'POST', headers: h, body: payload });
  const text = await res.text();
  let data = null;
  try {
    data = JSON.parse(text);
  } catch {
    // not JSON
  }
  return { res, body: data };
}

async function del(path, { cookie, headers = {} } = {}) {
  const res = await fetch(`${url}${path}`, { method: 'DELETE', headers: { ...headers, ...(cookie ? { cookie } : {}) } });
  return { res, body: await res.json() };
}

async function admin(body, token = ADMIN_TOKEN, extraHeaders = {}) {
  const headers = { ...extraHeaders };
  if (token !== null) headers.authorization = `Bearer ${token}`;
  return post('/admin/revoke', { body, headers });
}

async function sessionsOf(cookie) {
  const res = await fetch(`${url}/api/sessions`, { headers: { cookie } });
  return { res, body: await res.json() };
}

const revokeOthers = (cookie, headers = {}) => post('/api/sessions/revoke-others', { cookie, headers });

async function adminStatus() {
  const res = await fetch(`${url}/admin/status`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
  assert.equal(res.status, 200);
  return res.json();
}

describe('basics', { timeout: SUITE_TIMEOUT }, () => {
  test('GET /health answers 200 {"ok":true} without a cookie', async () => {
    const res = await fetch(`${url}/health`);
    assert.equal(res.status, 200);
    assertJson(res);
    assert.deepEqual(await res.json(), { ok: true });
    assert.equal(res.headers.getSetCookie().length, 0);
  });

  test('GET / serves the page with security headers and no inline script or style', async () => {
    const res = await fetch(`${url}/`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type'), /^text\/html/);
    const csp = res.headers.get('content-security-policy') || '';
    assert.match(csp, /default-src 'self'/);
    assert.match(csp, /frame-ancestors 'none'/);
    assert.doesNotMatch(csp, /unsafe-inline/);
    assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
    assert.equal(res.headers.get('referrer-policy'), 'no-referrer');
    const html = await res.text();
    assert.match(html, /<script src="\/app\.js"/);
    assert.doesNotMatch(html, /<script(?![^>]*\bsrc=)[^>]*>/i, 'no inline <script>');
    assert.doesNotMatch(html, /<style/i, 'no inline <style>');
    assert.doesNotMatch(html, /\sstyle=/i, 'no style attributes');
    assert.doesNotMatch(html, /\son[a-z]+=/i, 'no inline event handlers');
  });

  test('the script and the stylesheet are served with their types', async () => {
    const js = await fetch(`${url}/app.js`);
    assert.equal(js.status, 200);
    assert.match(js.headers.get('content-type'), /javascript/);
    assert.equal(js.headers.get('x-content-type-options'), 'nosniff');
    await js.arrayBuffer();
    const css = await fetch(`${url}/style.css`);
    assert.equal(css.status, 200);
    assert.match(css.headers.get('content-type'), /^text\/css/);
    await css.arrayBuffer();
  });

  test('unknown routes answer 404 JSON', async () => {
    for (const path of ['/api/nope', '/api', '/nope.html', '/admin/nope', '/api/sessions/']) {
      const res = await fetch(`${url}${path}`);
      assert.equal(res.status, 404, path);
      assertJson(res);
      assert.equal((await res.json()).error, 'not_found', path);
    }
    const { res } = await post('/api/nope', { body: {} });
    assert.equal(res.status, 404);
  });

  test('GET /api/me without a cookie: 401 missing and no Set-Cookie', async () => {
    const { res, body } = await me(url, null);
    assert.equal(res.status, 401);
    assertJson(res);
    assert.deepEqual(body, { error: 'unauthenticated', reason: 'missing' });
    assert.equal(res.headers.getSetCookie().length, 0);
  });
});

describe('login', { timeout: SUITE_TIMEOUT }, () => {
  test('a good login answers the session view with a secure host-only cookie', async () => {
    const before = Date.now();
    const { res, body, cookie } = await login(url, 'alice');
    assert.equal(res.status, 200);
    assertJson(res);
    for (const f of SESSION_FIELDS) assert.ok(f in body, `field ${f}`);
    assert.equal(body.userId, 'alice');
    assert.equal(typeof body.handle, 'string');
    assert.ok(body.createdAt >= before - 5000 && body.createdAt <= Date.now() + 5000);
    assert.ok(body.envelopeExpiresAt > body.createdAt);
    assert.ok(body.idleExpiresAt >= body.envelopeExpiresAt);
    assert.ok(body.absoluteExpiresAt >= body.idleExpiresAt);
    assert.equal(body.absoluteExpiresAt - body.createdAt, 43200 * 1000);
    assert.equal(body.generation, 0);
    assert.deepEqual(body.data, LOGIN_DATA, 'login stores the session data');

    const [setCookie] = res.headers.getSetCookie();
    const parsed = parseSetCookie(setCookie);
    assert.equal(parsed.name, '__Host-session');
    assert.ok(parsed.value.length > 0);
    assert.ok(parsed.attrs.has('httponly'));
    assert.ok(parsed.attrs.has('secure'));
    assert.equal(parsed.attrs.get('samesite').toLowerCase(), 'lax');
    assert.equal(parsed.attrs.get('path'), '/');
    assert.ok(!parsed.attrs.has('domain'));

    const again = await me(url, cookie);
    assert.equal(again.res.status, 200);
    assert.equal(again.body.userId, 'alice');
    assert.equal(again.body.handle, body.handle);
    assert.deepEqual(again.body.data, LOGIN_DATA, '/api/me includes the data');
    assert.equal(again.res.headers.getSetCookie().length, 0, 'a fresh envelope is not re-issued');
  });

  test('a wrong password is 401 without a cookie', async () => {
    for (const password of ['wrong', '', 'demo ', 'DEMO', 'dem']) {
      const { res, body } = await login(url, 'alice', password);
      assert.equal(res.status, 401, JSON.stringify(password));
      assertJson(res);
      assert.equal(typeof body.error, 'string');
      assert.equal(typeof body.reason, 'string');
      assert.equal(res.headers.getSetCookie().length, 0);
    }
    const { res } = await post('/api/login', { body: { username: 'alice' } });
    assert.equal(res.status, 401);
  });

  test('a bad username is 401 without a cookie', async () => {
    for (const username of ['Alice', '', 'a'.repeat(33), 'al ice', 'ali.ce', 'alice\n', 'ålice']) {
      const { res, body } = await login(url, username);
      assert.equal(res.status, 401, JSON.stringify(username));
      assert.equal(typeof body.reason, 'string');
      assert.equal(res.headers.getSetCookie().length, 0);
    }
    for (const username of [42, null, ['alice'], { a: 1 }]) {
      const { res } = await post('/api/login', { body: { username, password: 'demo' } });
      assert.equal(res.status, 401, JSON.stringify(username));
    }
    const ok = await login(url, `${'a'.repeat(30)}_-`);
    assert.equal(ok.res.status, 200, 'a 32-character name with _ and - is fine');
  });

  test('logging in again on a session destroys the old one; a failed login leaves it alone', async () => {
    const first = await login(url, 'carol');
    assert.equal(first.res.status, 200);

    const failed = await login(url, 'carol', 'nope', { cookie: first.cookie });
    assert.equal(failed.res.status, 401);
    assert.equal(failed.res.headers.getSetCookie().length, 0);
    assert.equal((await me(url, first.cookie)).res.status, 200, 'a failed login does not touch the session');

    const second = await login(url, 'dave', 'demo', { cookie: first.cookie });
    assert.equal(second.res.status, 200);
    assert.notEqual(second.body.handle, first.body.handle);
    const old = await me(url, first.cookie);
    assert.equal(old.res.status, 401);
    assert.equal((await me(url, second.cookie)).body.userId, 'dave');
  });
});

describe('request guards', { timeout: SUITE_TIMEOUT }, () => {
  const crossOrigin = [
    ['Origin of another site', { origin: 'http://evil.example' }],
    ['Origin of another port', { origin: 'http://127.0.0.1:1' }],
    ['Origin localhost (another origin than 127.0.0.1)', null],
    ['opaque Origin null', { origin: 'null' }],
    ['Sec-Fetch-Site cross-site', { 'sec-fetch-site': 'cross-site' }],
  ];

  test('cross-origin state-changing requests are 403, login and admin included', async () => {
    const { cookie } = await login(url, 'guard');
    for (const [what, h] of crossOrigin) {
      const headers = h ?? { origin: url.replace('127.0.0.1', 'localhost') };
      const attempts = [
        ['login', () => login(url, 'guard', 'demo', headers)],
        ['rotate', () => post('/api/rotate', { cookie, headers })],
        ['logout', () => post('/api/logout', { cookie, headers })],
        ['data', () => post('/api/data', { cookie, headers: { ...headers, 'content-type': 'application/json' }, body: { data: { theme: 'dark' } } })],
        ['delete', () => del('/api/sessions/xyz', { cookie, headers })],
        ['revoke-others', () => revokeOthers(cookie, headers)],
        ['admin', () => admin({ userId: 'guard' }, ADMIN_TOKEN, headers)],
      ];
      for (const [route, attempt] of attempts) {
        const { res, body } = await attempt();
        assert.equal(res.status, 403, `${route}: ${what}`);
        assertJson(res);
        assert.equal(body.error, 'forbidden');
        assert.equal(res.headers.getSetCookie().length, 0);
      }
    }
    assert.equal((await me(url, cookie)).res.status, 200, 'the session survived all of that');
  });

  test('same-origin requests with Origin and Sec-Fetch-Site pass', async () => {
    const headers = { origin: url, 'sec-fetch-site': 'same-origin' };
    const { res, cookie } = await login(url, 'guard', 'demo', headers);
    assert.equal(res.status, 200);
    const rotated = await post('/api/rotate', { cookie, headers: { ...headers, 'sec-fetch-site': 'same-site' } });
    assert.equal(rotated.res.status, 200);
    const out = await post('/api/logout', { cookie: cookieFrom(rotated.res), headers: { 'sec-fetch-site': 'none' } });
    assert.equal(out.res.status, 200);
  });

  test('a body that is not application/json is 403', async () => {
    const { cookie } = await login(url, 'guard');
    const bodies = [
      ['text/plain', '{"username":"guard","password":"demo"}'],
      ['application/x-www-form-urlencoded', 'username=guard&password=demo'],
      ['multipart/form-data; boundary=x', '--x\r\nContent-Disposition: form-data; name="username"\r\n\r\nguard\r\n--x--\r\n'],
      ['application/jsonx', '{}'],
    ];
    for (const [type, body] of bodies) {
      for (const path of ['/api/login', '/api/rotate', '/api/data', '/api/logout', '/api/sessions/revoke-others', '/admin/revoke']) {
        const headers = { 'content-type': type, authorization: `Bearer ${ADMIN_TOKEN}` };
        const { res } = await post(path, { body, cookie, headers, json: false });
        assert.equal(res.status, 403, `${path} with ${type}`);
      }
    }
    // A body without any Content-Type is refused too.
    const res = await fetch(`${url}/api/login`, { method: 'POST', body: new Uint8Array([123, 125]) });
    assert.equal(res.status, 403);
    await res.arrayBuffer();
    // application/json with parameters is fine.
    const ok = await post('/api/login', {
      body: { username: 'guard', password: 'demo' },
      headers: { 'content-type': 'application/json; charset=utf-8' },
    });
    assert.equal(ok.res.status, 200);
    assert.equal((await me(url, cookie)).res.status, 200);
  });

  test('malformed or non-object JSON is 400 for login, data and admin', async () => {
    const { cookie } = await login(url, 'guard');
    for (const body of ['{', '{"username":', 'nul', '[1,2]', '"text"', '42', 'null', '']) {
      const l = await post('/api/login', { body, headers: { 'content-type': 'application/json' } });
      assert.equal(l.res.status, 400, `login ${JSON.stringify(body)}`);
      assertJson(l.res);
      assert.equal(l.body.error, 'bad_request');
      const d = await post('/api/data', { body, cookie, headers: { 'content-type': 'application/json' } });
      assert.equal(d.res.status, 400, `data ${JSON.stringify(body)}`);
      assert.equal(d.res.headers.getSetCookie().length, 0);
      const a = await post('/admin/revoke', {
        body,
        headers: { 'content-type': 'application/json', authorization: `Bearer ${ADMIN_TOKEN}` },
      });
      assert.equal(a.res.status, 400, `admin ${JSON.stringify(body)}`);
    }
  });
});

describe('cookie checks', { timeout: SUITE_TIMEOUT }, () => {
  test('several session cookies are rejected as duplicate_cookie', async () => {
    const a = await login(url, 'dup');
    const b = await login(url, 'dup');
    for (const cookie of [`${a.cookie}; ${b.cookie}`, `${a.cookie}; ${a.cookie}`, `${a.cookie}; __Host-session=x`]) {
      const { res, body } = await me(url, cookie);
      assert.equal(res.status, 401);
      assert.deepEqual(body, { error: 'unauthenticated', reason: 'duplicate_cookie' });
    }
    assert.equal((await me(url, a.cookie)).res.status, 200);
  });

  test('a tampered cookie is 401 with a clearing cookie', async () => {
    const { cookie } = await login(url, 'tamper');
    const eq = cookie.indexOf('=');
    const name = cookie.slice(0, eq);
    const value = cookie.slice(eq + 1);
    const flip = (s, i) => s.slice(0, i) + (s[i] === 'A' ? 'B' : 'A') + s.slice(i + 1);
    const variants = [flip(value, value.length - 3), flip(value, 10), flip(value, Math.floor(value.length / 2)), `${value}x`, value.slice(0, -1), 'garbage'];
    for (const v of variants) {
      const { res, body } = await me(url, `${name}=${v}`);
      assert.equal(res.status, 401, v);
      assert.equal(body.error, 'unauthenticated');
      assert.notEqual(body.reason, 'missing');
      const set = res.headers.getSetCookie();
      assert.equal(set.length, 1, 'a clearing cookie');
      assert.ok(isClearing(set[0]), set[0]);
      assert.equal(parseSetCookie(set[0]).name, '__Host-session');
    }
    assert.equal((await me(url, cookie)).res.status, 200);
  });
});

describe('rotate, logout, sessions', { timeout: SUITE_TIMEOUT }, () => {
  test('rotate issues a new ID and handle and keeps createdAt and the absolute deadline', async () => {
    const first = await login(url, 'rot');
    await sleep(20);
    const { res, body } = await post('/api/rotate', { cookie: first.cookie });
    assert.equal(res.status, 200);
    assertJson(res);
    const cookie = cookieFrom(res);
    assert.ok(cookie && cookie !== first.cookie);
    assert.equal(body.userId, 'rot');
    assert.notEqual(body.handle, first.body.handle);
    assert.equal(body.createdAt, first.body.createdAt);
    assert.equal(body.absoluteExpiresAt, first.body.absoluteExpiresAt);
    assert.equal(body.generation, (first.body.generation ?? 0) + 1);

    const old = await me(url, first.cookie);
    assert.equal(old.res.status, 401);
    assert.equal(old.body.error, 'unauthenticated');
    const now = await me(url, cookie);
    assert.equal(now.res.status, 200);
    assert.equal(now.body.createdAt, first.body.createdAt);

    const stale = await post('/api/rotate', { cookie: first.cookie });
    assert.equal(stale.res.status, 401, 'rotating with the old cookie fails');
    const none = await post('/api/rotate');
    assert.equal(none.res.status, 401);
    assert.equal(none.body.reason, 'missing');
  });

  test('logout destroys the session, clears the cookie and is idempotent', async () => {
    const { cookie } = await login(url, 'bye');
    const out = await post('/api/logout', { cookie });
    assert.equal(out.res.status, 200);
    assertJson(out.res);
    const set = out.res.headers.getSetCookie();
    assert.equal(set.length, 1);
    assert.ok(isClearing(set[0]));
    const after = await me(url, cookie);
    assert.equal(after.res.status, 401);
    assert.equal(after.body.reason, 'revoked');
    assert.equal((await post('/api/logout', { cookie })).res.status, 200, 'again with the same cookie');
    assert.equal((await post('/api/logout')).res.status, 200, 'without any session');
  });

  test('a user lists their sessions and revokes one; other users\' handles are 404', async () => {
    const one = await login(url, 'multi', 'demo', { 'user-agent': 'e2e-device-one' });
    const two = await login(url, 'multi', 'demo', { 'user-agent': 'e2e-device-two' });
    const stranger = await login(url, 'stranger');

    const { res, body } = await sessionsOf(one.cookie);
    assert.equal(res.status, 200);
    assertJson(res);
    assert.equal(body.length, 2);
    for (const s of body) {
      for (const f of ['handle', 'createdAt', 'lastSeenAt', 'userAgent', 'current']) assert.ok(f in s, f);
    }
    const current = body.filter((s) => s.current);
    assert.equal(current.length, 1);
    assert.equal(current[0].handle, one.body.handle);
    assert.equal(current[0].userAgent, 'e2e-device-one');
    assert.deepEqual(body.map((s) => s.handle).sort(), [one.body.handle, two.body.handle].sort());

    for (const handle of [stranger.body.handle, 'A'.repeat(43), 'no-such-handle', '%2e%2e']) {
      const r = await del(`/api/sessions/${handle}`, { cookie: one.cookie });
      assert.equal(r.res.status, 404, handle);
      assertJson(r.res);
    }
    assert.equal((await me(url, stranger.cookie)).res.status, 200, 'the stranger was not touched');
    assert.equal((await del(`/api/sessions/${two.body.handle}`)).res.status, 401, 'needs a session');

    const r = await del(`/api/sessions/${two.body.handle}`, { cookie: one.cookie });
    assert.equal(r.res.status, 200);
    const gone = await me(url, two.cookie);
    assert.equal(gone.res.status, 401);
    assert.equal(gone.body.reason, 'revoked');
    const left = await sessionsOf(one.cookie);
    assert.deepEqual(left.body.map((s) => s.handle), [one.body.handle]);
  });
});

describe('log out other sessions (POST /api/sessions/revoke-others)', { timeout: SUITE_TIMEOUT }, () => {
  test('three logins of one user: the caller stays, the other two are refused at once and leave the list', async () => {
    const one = await login(url, 'others', 'demo', { 'user-agent': 'e2e-others-one' });
    const two = await login(url, 'others', 'demo', { 'user-agent': 'e2e-others-two' });
    const three = await login(url, 'others', 'demo', { 'user-agent': 'e2e-others-three' });
    const bystander = await login(url, 'others-not');
    assert.equal((await sessionsOf(one.cookie)).body.length, 3);

    const { res, body } = await revokeOthers(one.cookie);
    assert.equal(res.status, 200);
    assertJson(res);
    assert.deepEqual(body, { ok: true, revoked: 2 });
    assert.equal(res.headers.getSetCookie().length, 0, 'a fresh envelope needs no new cookie');

    const caller = await me(url, one.cookie);
    assert.equal(caller.res.status, 200, 'the caller is still logged in');
    assert.equal(caller.body.handle, one.body.handle);
    for (const other of [two, three]) {
      const r = await me(url, other.cookie);
      assert.equal(r.res.status, 401);
      assert.equal(r.body.reason, 'revoked');
      assert.equal(r.res.headers.getSetCookie().length, 1, 'with a clearing cookie');
      assert.ok(isClearing(r.res.headers.getSetCookie()[0]));
    }
    const left = await sessionsOf(one.cookie);
    assert.equal(left.res.status, 200);
    assert.deepEqual(left.body.map((s) => [s.handle, s.current, s.userAgent]), [[one.body.handle, true, 'e2e-others-one']]);
    assert.equal((await me(url, bystander.cookie)).res.status, 200, 'another user is not touched');

    // Nothing left to end: 200 with 0.
    const again = await revokeOthers(one.cookie);
    assert.equal(again.res.status, 200);
    assert.deepEqual(again.body, { ok: true, revoked: 0 });

    // The spared login keeps working through a rotation, and a later login is a new session.
    const rotated = await post('/api/rotate', { cookie: one.cookie });
    assert.equal(rotated.res.status, 200);
    assert.equal((await me(url, cookieFrom(rotated.res))).res.status, 200, 'a rotation of the caller is spared too');
    await sleep(5);
    const later = await login(url, 'others');
    assert.equal((await me(url, later.cookie)).res.status, 200, 'logging in again afterwards works');

    const event = await waitForEvent(server, (e) => e.type === 'revoked' && e.scope === 'others' && e.userId === 'others');
    assert.ok(event, 'a "revoked" event with scope "others" is logged');
    assert.equal(event.revoked, 2);
    assert.equal(event.handle, one.body.handle);
  });

  test('without a valid session it is 401; other methods are 405', async () => {
    const none = await revokeOthers(null);
    assert.equal(none.res.status, 401);
    assertJson(none.res);
    assert.deepEqual(none.body, { error: 'unauthenticated', reason: 'missing' });
    assert.equal(none.res.headers.getSetCookie().length, 0);

    const victim = await login(url, 'others-gone');
    const survivor = await login(url, 'others-gone');
    assert.equal((await post('/api/logout', { cookie: victim.cookie })).res.status, 200);
    const revoked = await revokeOthers(victim.cookie);
    assert.equal(revoked.res.status, 401);
    assert.deepEqual(revoked.body, { error: 'unauthenticated', reason: 'revoked' });
    assert.ok(isClearing(revoked.res.headers.getSetCookie()[0]), 'the refused cookie is cleared');
    const forged = await revokeOthers('__Host-session=garbage');
    assert.equal(forged.res.status, 401);
    assert.equal(forged.body.error, 'unauthenticated');
    assert.equal((await me(url, survivor.cookie)).res.status, 200, 'a refused call ends nothing');

    for (const method of ['GET', 'DELETE', 'PUT']) {
      const res = await fetch(`${url}/api/sessions/revoke-others`, { method, headers: { cookie: survivor.cookie } });
      assert.equal(res.status, 405, method);
      assert.equal(res.headers.get('allow'), 'POST');
      await res.arrayBuffer();
    }
  });

  test('the CSRF rules hold: a cross-site or non-JSON request is 403 and ends nothing', async () => {
    const one = await login(url, 'others-csrf');
    const two = await login(url, 'others-csrf');
    const attempts = [
      revokeOthers(one.cookie, { origin: 'http://evil.example' }),
      revokeOthers(one.cookie, { 'sec-fetch-site': 'cross-site' }),
      post('/api/sessions/revoke-others', { cookie: one.cookie, body: 'x=1', headers: { 'content-type': 'application/x-www-form-urlencoded' }, json: false }),
      post('/api/sessions/revoke-others', { cookie: one.cookie, body: '{}', headers: { 'content-type': 'text/plain' }, json: false }),
    ];
    for (const { res, body } of await Promise.all(attempts)) {
      assert.equal(res.status, 403);
      assert.equal(body.error, 'forbidden');
      assert.equal(res.headers.getSetCookie().length, 0);
    }
    assert.equal((await me(url, two.cookie)).res.status, 200, 'the other session survived');
    assert.equal((await sessionsOf(one.cookie)).body.length, 2);

    // Same origin, with or without an (ignored) JSON body, as for rotate.
    const ok = await revokeOthers(one.cookie, { origin: url, 'sec-fetch-site': 'same-origin' });
    assert.equal(ok.res.status, 200);
    assert.deepEqual(ok.body, { ok: true, revoked: 1 });
    const withBody = await post('/api/sessions/revoke-others', { cookie: one.cookie, body: {} });
    assert.deepEqual(withBody.body, { ok: true, revoked: 0 });
    assert.equal((await me(url, two.cookie)).body.reason, 'revoked');
  });
});

describe('session data', { timeout: SUITE_TIMEOUT }, () => {
  test('POST /api/data replaces the data by rotation: new ID and handle, the old cookie is refused', async () => {
    const first = await login(url, 'prefs');
    const { res, body } = await post('/api/data', { cookie: first.cookie, body: { data: { theme: 'dark', note: 'hi' } } });
    assert.equal(res.status, 200);
    assertJson(res);
    for (const f of SESSION_FIELDS) assert.ok(f in body, `field ${f}`);
    assert.deepEqual(body.data, { role: 'member', theme: 'dark', note: 'hi' }, 'the server keeps role');
    assert.equal(body.userId, 'prefs');
    assert.notEqual(body.handle, first.body.handle);
    assert.equal(body.generation, first.body.generation + 1);
    assert.equal(body.createdAt, first.body.createdAt);
    assert.equal(body.absoluteExpiresAt, first.body.absoluteExpiresAt);
    const set = res.headers.getSetCookie();
    assert.equal(set.length, 1);
    assert.ok(!isClearing(set[0]));
    const cookie = cookieFrom(res);
    assert.notEqual(cookie, first.cookie);

    const now = await me(url, cookie);
    assert.equal(now.res.status, 200);
    assert.deepEqual(now.body.data, body.data);
    assert.equal(now.body.handle, body.handle);
    const old = await me(url, first.cookie);
    assert.equal(old.res.status, 401);
    assert.equal(old.body.reason, 'rotated');

    const again = await post('/api/data', { cookie, body: { data: {} } });
    assert.equal(again.res.status, 200);
    assert.deepEqual(again.body.data, { role: 'member' }, 'the data is replaced, not merged');
  });

  test('invalid data is 400 invalid_data (or role_read_only) and leaves the session alone', async () => {
    const { cookie, body: first } = await login(url, 'badprefs');
    const cases = [
      [{}, 'invalid_data'],
      [{ data: null }, 'invalid_data'],
      [{ data: [1, 2] }, 'invalid_data'],
      [{ data: 'dark' }, 'invalid_data'],
      [{ data: 7 }, 'invalid_data'],
      [{ data: { note: 'x'.repeat(1100) } }, 'invalid_data'],
      [{ data: { role: 'admin' } }, 'role_read_only'],
    ];
    for (const [payload, reason] of cases) {
      const { res, body } = await post('/api/data', { cookie, body: payload });
      assert.equal(res.status, 400, JSON.stringify(payload).slice(0, 60));
      assertJson(res);
      assert.deepEqual(body, { error: 'bad_request', reason });
      assert.equal(res.headers.getSetCookie().length, 0);
    }
    const still = await me(url, cookie);
    assert.equal(still.res.status, 200);
    assert.equal(still.body.handle, first.handle);
    assert.deepEqual(still.body.data, LOGIN_DATA);
    // Just under the package's 1024-byte limit is fine.
    const big = { note: 'y'.repeat(900) };
    const ok = await post('/api/data', { cookie, body: { data: big } });
    assert.equal(ok.res.status, 200);
    assert.deepEqual(ok.body.data, { role: 'member', ...big });
  });

  test('POST /api/data needs a session; other methods are 405', async () => {
    const none = await post('/api/data', { body: { data: { theme: 'dark' } } });
    assert.equal(none.res.status, 401);
    assert.deepEqual(none.body, { error: 'unauthenticated', reason: 'missing' });
    const get = await fetch(`${url}/api/data`);
    assert.equal(get.status, 405);
    assert.equal(get.headers.get('allow'), 'POST');
    await get.arrayBuffer();
  });
});

describe('admin', { timeout: SUITE_TIMEOUT }, () => {
  test('a missing or wrong token is 401', async () => {
    // Each attempt from its own client (CF-Connecting-IP), so that the slow-down does not answer instead.
    let client = 0;
    for (const token of [null, 'wrong', `${ADMIN_TOKEN}x`, ADMIN_TOKEN.slice(0, -1), '']) {
      const { res, body } = await admin({ userId: 'nobody' }, token, { 'cf-connecting-ip': `198.18.0.${client++}` });
      assert.equal(res.status, 401, String(token));
      assertJson(res);
      assert.equal(body.error, 'unauthorized');
      assert.equal(res.headers.get('www-authenticate'), 'Bearer');
    }
    const basic = await post('/admin/revoke', {
      body: { userId: 'x' },
      headers: { authorization: `Basic ${ADMIN_TOKEN}`, 'cf-connecting-ip': `198.18.0.${client++}` },
    });
    assert.equal(basic.res.status, 401);
    for (const path of ['/admin/sessions?userId=x', '/admin/status']) {
      const res = await fetch(`${url}${path}`, { headers: { authorization: 'Bearer wrong', 'cf-connecting-ip': `198.18.0.${client++}` } });
      assert.equal(res.status, 401, path);
      assert.deepEqual(await res.json(), { error: 'unauthorized' });
    }
  });

  test('5 bad tokens within a minute from one client: 429 with Retry-After for that client only', async () => {
    const from = (ip, token) => fetch(`${url}/admin/status`, { headers: { authorization: `Bearer ${token}`, 'cf-connecting-ip': ip } });
    for (let i = 0; i < 5; i++) {
      const res = await from('198.18.1.1', 'not-the-token');
      assert.equal(res.status, 401, `failure ${i + 1}`);
      await res.arrayBuffer();
    }
    const blocked = await from('198.18.1.1', ADMIN_TOKEN);
    assert.equal(blocked.status, 429);
    assertJson(blocked);
    const retryAfter = Number(blocked.headers.get('retry-after'));
    assert.ok(retryAfter > 0 && retryAfter <= 15, `Retry-After ${retryAfter}`);
    assert.equal((await blocked.json()).error, 'too_many_requests');
    const other = await from('198.18.1.2', ADMIN_TOKEN);
    assert.equal(other.status, 200, 'another client is not slowed down');
    await other.arrayBuffer();
  });

  test('GET /admin/sessions lists a user\'s sessions; GET /admin/status reports this isolate', async () => {
    const headers = { authorization: `Bearer ${ADMIN_TOKEN}` };
    const a = await login(url, 'listed');
    const b = await login(url, 'listed');
    const res = await fetch(`${url}/admin/sessions?userId=listed`, { headers });
    assert.equal(res.status, 200);
    assertJson(res);
    const body = await res.json();
    assert.equal(body.userId, 'listed');
    assert.deepEqual(body.sessions.map((s) => s.handle).sort(), [a.body.handle, b.body.handle].sort());
    for (const s of body.sessions) assert.deepEqual(Object.keys(s).sort(), ['absoluteExpiresAt', 'createdAt', 'handle', 'lastSeenAt', 'userAgent']);
    const missing = await fetch(`${url}/admin/sessions`, { headers });
    assert.equal(missing.status, 400);
    assert.deepEqual(await missing.json(), { error: 'bad_request', reason: 'invalid_userId' });
    const post405 = await post('/admin/sessions?userId=listed', { body: {}, headers });
    assert.equal(post405.res.status, 405);
    assert.equal(post405.res.headers.get('allow'), 'GET');

    const status = await fetch(`${url}/admin/status`, { headers });
    assert.equal(status.status, 200);
    assertJson(status);
    const view = await status.json();
    assert.equal(view.cookieName, '__Host-session');
    for (const field of ['sessions', 'users', 'issuedBefore']) assert.equal(typeof view.revocations[field], 'number', field);
    assert.equal(typeof view.revocations.strict, 'boolean');
    assert.deepEqual(view.keyIds, ['k1']);
    for (const t of ['envelopeTtl', 'idleTimeout', 'absoluteTimeout']) assert.ok(view.timeouts[t] > 0, t);
    assert.ok(!JSON.stringify(view).includes(ADMIN_TOKEN));
  });

  test('GET /admin/status reports the revocation hub; its seq advances after a revocation', async () => {
    const first = await adminStatus();
    assert.deepEqual(Object.keys(first.hub).sort(), ['head', 'lastPullAgeMs', 'lastPullAt', 'outOfReach', 'pollInterval', 'seq'].sort());
    assert.equal(first.hub.pollInterval, 5, 'HUB_POLL_INTERVAL_S from wrangler.toml');
    assert.ok(Number.isSafeInteger(first.hub.seq) && first.hub.seq >= 0);
    assert.ok(first.hub.head >= first.hub.seq);
    const before = first.hub.seq;

    const { cookie } = await login(url, 'hubbed');
    assert.equal((await post('/api/logout', { cookie })).res.status, 200);

    // The isolate pulls what is new at most once per interval, on a request (any request that
    // checks a session, even one without a cookie).
    const deadline = Date.now() + 3 * 5000;
    let view = first;
    while (view.hub.seq <= before && Date.now() < deadline) {
      await sleep(250);
      await me(url, null);
      view = await adminStatus();
    }
    assert.ok(view.hub.seq > before, `hub seq advanced from ${before}: ${JSON.stringify(view.hub)}`);
    assert.ok(view.hub.head >= view.hub.seq);
    assert.equal(view.hub.outOfReach, false);
    assert.ok(view.hub.lastPullAt > 0);
    assert.ok(view.hub.lastPullAgeMs >= 0 && view.hub.lastPullAgeMs < 5000, `lastPullAgeMs ${view.hub.lastPullAgeMs}`);
    assert.doesNotMatch(server.logs(), /"type":"hub_pulled"/, 'the worker does not log hub pulls');
  });

  test('a request naming none or several targets is 400', async () => {
    for (const body of [{}, { userId: 'a', handle: 'b' }, { issuedBefore: 'yesterday' }, { userId: 7 }, { handle: '' }]) {
      const { res } = await admin(body);
      assert.equal(res.status, 400, JSON.stringify(body));
    }
  });

  test('revoke by userId ends all of that user\'s sessions', async () => {
    const a = await login(url, 'victim');
    const b = await login(url, 'victim');
    const other = await login(url, 'bystander');
    const { res, body } = await admin({ userId: 'victim' });
    assert.equal(res.status, 200);
    assertJson(res);
    assert.equal(body.revoked, 2);
    for (const s of [a, b]) {
      const r = await me(url, s.cookie);
      assert.equal(r.res.status, 401);
      assert.equal(r.body.reason, 'revoked');
    }
    assert.equal((await me(url, other.cookie)).res.status, 200);
  });

  test('revoke by handle ends that session; an unknown handle is 404', async () => {
    const a = await login(url, 'handled');
    const b = await login(url, 'handled');
    const { res } = await admin({ handle: a.body.handle });
    assert.equal(res.status, 200);
    const r = await me(url, a.cookie);
    assert.equal(r.res.status, 401);
    assert.equal(r.body.reason, 'revoked');
    assert.equal((await me(url, b.cookie)).res.status, 200);
    assert.equal((await admin({ handle: a.body.handle })).res.status, 404);
  });

  test('an issuedBefore in the future is 400 invalid_issuedBefore', async () => {
    for (const issuedBefore of [Date.now() + 60_000, Date.now() + 365 * 86_400_000, -1, 1.5]) {
      const { res, body } = await admin({ issuedBefore });
      assert.equal(res.status, 400, String(issuedBefore));
      assertJson(res);
      assert.deepEqual(body, { error: 'bad_request', reason: 'invalid_issuedBefore' });
    }
  });

  test('revoke issuedBefore ends the sessions created earlier', async () => {
    const early = await login(url, 'epoch');
    await sleep(50);
    const cutoff = early.body.createdAt + 25;
    while (Date.now() <= cutoff + 5) await sleep(10);
    const late = await login(url, 'epoch');
    assert.ok(late.body.createdAt > cutoff);
    const { res, body } = await admin({ issuedBefore: cutoff });
    assert.equal(res.status, 200);
    assert.equal(body.ok, true);
    const r = await me(url, early.cookie);
    assert.equal(r.res.status, 401);
    assert.equal(r.body.reason, 'revoked');
    assert.equal((await me(url, late.cookie)).res.status, 200);
  });
});

describe('load and logging', { timeout: SUITE_TIMEOUT }, () => {
  test('300 logins within a minute all succeed', async () => {
    const total = 300;
    const concurrency = 4;
    const statuses = [];
    let next = 0;
    const worker = async () => {
      while (next < total) {
        const i = next++;
        const { res } = await login(url, `load${i % 10}`);
        statuses.push(res.status);
      }
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
    assert.equal(statuses.length, total);
    assert.deepEqual([...new Set(statuses)], [200]);
  });

  test('session events are logged as JSON lines', async () => {
    await login(url, 'logged');
    const created = await waitForEvent(server, (e) => e.type === 'created' && e.userId === 'logged');
    assert.ok(created, 'a "created" event for the login');
    assert.equal(typeof created.handle, 'string');
    assert.equal(typeof created.at, 'number');
    assert.doesNotMatch(server.logs(), /__Host-session=/, 'no cookie values in the logs');
  });
});

describe('admin token too short', { timeout: SUITE_TIMEOUT }, () => {
  test('the demo refuses to mount the admin routes (404) and logs a config error', async () => {
    const short = randomBytes(32).toString('base64url').slice(0, 31);
    const other = await startServer({ vars: { ADMIN_TOKEN: short } });
    try {
      for (const [method, path] of [['GET', '/admin/status'], ['GET', '/admin/sessions?userId=x'], ['POST', '/admin/revoke']]) {
        const res = await fetch(`${other.url}${path}`, {
          method,
          headers: { authorization: `Bearer ${short}`, 'content-type': 'application/json' },
          body: method === 'POST' ? JSON.stringify({ userId: 'x' }) : undefined,
        });
        assert.equal(res.status, 404, path);
        assert.deepEqual(await res.json(), { error: 'not_found' });
      }
      const health = await fetch(`${other.url}/health`);
      assert.equal(health.status, 200);
      await health.arrayBuffer();
      const deadline = Date.now() + 10_000;
      while (!/"type":"config_error","reason":"invalid_token"/.test(other.logs()) && Date.now() < deadline) await sleep(100);
      assert.match(other.logs(), /"type":"config_error","reason":"invalid_token"/);
      assert.match(other.logs(), /at least 32 characters/);
      assert.ok(!other.logs().includes(short), 'the token is never logged');
    } finally {
      await other.stop();
    }
  });
});
