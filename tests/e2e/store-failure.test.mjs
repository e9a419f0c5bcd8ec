// The demo's answers when the session store (Workers KV) or the revocation hub (a Durable Object)
// fails: 503, never another 5xx, and the session cookie is kept unless the request asked for it to
// go (logout).
//
// How the failures are injected, and why this way:
// - The demo runs under `wrangler dev` exactly as in the other e2e files (workerd, the repository's
//   wrangler.toml, the package's workerd entry, a real local KV namespace), except that the entry
//   point is tests/e2e/faulty-store-worker.mjs: a TEST-ONLY wrapper that imports
//   www-demo/worker.js unchanged and hands it `env` with the SESSIONS and REVOCATIONS bindings
//   wrapped. The wrapper makes chosen KV calls or hub calls (append, pull) throw (as a failed KV
//   call or an unreachable Durable Object does) or stall, on the test's command
//   (`PUT /__test/faults`, answered by the wrapper, never by the demo).
// - So the production worker has no fault switch and no test-only code path; what is tested is its
//   real handling of the package's results (validate/create/rotate/update refusals, destroy's
//   `ok: false`, SessionStoreError from the management calls), with the package's real store
//   deadline and error mapping in between.
// - Importing worker.js into Node with a fake env would test the same logic, but not in workerd,
//   and would need a resolver for the `edge-session` alias wrangler provides; a Miniflare KV
//   binding cannot be made to fail on command. The wrapper keeps everything else real.
//
// The server uses ENVELOPE_TTL_S=1 so that a cookie needs the store (a refresh) a second after it
// was issued; a fresh envelope is checked without any store read. HUB_POLL_INTERVAL_S=1 so that a
// hub pull is due a second after the last one.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';

import { chromium } from 'playwright-core';

import { CHROMIUM, CHROMIUM_ARGS, cookieFrom, eventsIn, isClearing, login, me, sleep, sleepUntil, startServer, waitForEvent } from './server.mjs';

// adminHandler refuses tokens shorter than 32 characters; this one has 43.
const ADMIN_TOKEN = randomBytes(32).toString('base64url');
const ENVELOPE_S = 1;
const STORE_DEADLINE_MS = 5000; // the package's default storeTimeoutMs
const HUB_POLL_S = 1;
const KV_OPS = new Set(['get', 'put', 'delete', 'list']);

const HOOK_TIMEOUT = 120_000;
const SUITE_TIMEOUT = 120_000;

let server;
let url;

before(async () => {
  server = await startServer({
    script: 'tests/e2e/faulty-store-worker.mjs',
    vars: {
      ENVELOPE_TTL_S: String(ENVELOPE_S),
      IDLE_TIMEOUT_S: '120',
      ABSOLUTE_TIMEOUT_S: '3600',
      HUB_POLL_INTERVAL_S: String(HUB_POLL_S),
      ADMIN_TOKEN,
    },
  });
  url = server.url;
}, { timeout: HOOK_TIMEOUT });

after(async () => {
  await server?.stop();
}, { timeout: HOOK_TIMEOUT });


async function control(method, path, body) {
  const res = await fetch(`${url}${path}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const data = await res.json();
  assert.equal(res.status, 200, `${method} ${path}: ${JSON.stringify(data)}`);
  return data;
}

/**
 * Makes store or hub calls fail: each rule is { ops: [...], key?: substring, mode?: 'throw'|'slow',
 * delayMs? }; ops are KV's get, put, delete, list and the hub's append, pull.
 */
const fail = (...rules) => control('PUT', '/__test/faults', { rules });
const heal = () => control('DELETE', '/__test/faults');
const storedRecord = async (handle) => {
  const { value } = await control('GET', `/__test/kv?key=${encodeURIComponent(`s:${handle}`)}`);
  return value === null ? null : JSON.parse(value);
};
/** The KV calls seen so far (hub calls left out). */
const storeCalls = async () => (await control('GET', '/__test/calls')).filter((c) => KV_OPS.has(c.op));
const hubCalls = async () => (await control('GET', '/__test/calls')).filter((c) => !KV_OPS.has(c.op));

async function post(path, { cookie, body, headers = {} } = {}) {
  const h = { ...headers };
  if (cookie) h.cookie = cookie;
  if (body !== undefined) h['content-type'] = 'application/json';
  const res = await fetch(`${url}${path}`, { method: 'POST', headers: h, body: body === undefined ? undefined : JSON.stringify(body) });
  return { res, body: await res.json() };
}

const admin = (body) => post('/admin/revoke', { body, headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });

/** Logs in and waits until the envelope has expired, so the next request needs the store. */
async function staleLogin(username) {
  const session = await login(url, username);
  assert.equal(session.res.status, 200);
  await sleepUntil(session.body.envelopeExpiresAt + 250);
  return session;
}

function assertUnavailable({ res, body }, reason = 'store_unavailable') {
  assert.equal(res.status, 503);
  assert.match(res.headers.get('content-type') || '', /^application\/json/);
  assert.equal(res.headers.get('cache-control'), 'no-store');
  assert.equal(body.error, 'unavailable');
  assert.equal(body.reason, reason);
}

const noSetCookie = (res) => assert.deepEqual(res.headers.getSetCookie(), [], 'no Set-Cookie: the cookie is kept');

describe('validate (GET /api/me)', { timeout: SUITE_TIMEOUT }, () => {
  test('a fresh envelope is checked without the store: 200 while every store call fails', async () => {
    const { cookie, body } = await login(url, 'fresh');
    await fail({ ops: ['get', 'put', 'delete', 'list'] });
    try {
      const seen = (await storeCalls()).length;
      const r = await me(url, cookie);
      assert.equal(r.res.status, 200);
      assert.equal(r.body.handle, body.handle);
      assert.equal((await storeCalls()).length, seen, 'no store call was made');
    } finally {
      await heal();
    }
  });

  test('a refresh whose store read fails is 503 store_unavailable without Set-Cookie; the cookie works again afterwards', async () => {
    const { cookie, body } = await staleLogin('refresh');
    await fail({ ops: ['get'] });
    const r = await me(url, cookie);
    await heal();
    assertUnavailable(r);
    assert.deepEqual(r.body, { error: 'unavailable', reason: 'store_unavailable' });
    noSetCookie(r.res);

    const again = await me(url, cookie);
    assert.equal(again.res.status, 200, 'the same cookie is accepted once the store is back');
    assert.equal(again.body.handle, body.handle);
    assert.equal(again.res.headers.getSetCookie().length, 1, 'with a refreshed envelope');
  });

  test('a store slower than the package deadline is 503 store_unavailable too', async () => {
    const { cookie } = await staleLogin('slowpoke');
    await fail({ ops: ['get'], mode: 'slow', delayMs: STORE_DEADLINE_MS + 3000 });
    const started = Date.now();
    const r = await me(url, cookie);
    const took = Date.now() - started;
    await heal();
    assertUnavailable(r);
    noSetCookie(r.res);
    assert.ok(took >= STORE_DEADLINE_MS - 500 && took < STORE_DEADLINE_MS + 2500, `answered after ${took} ms`);
    assert.equal((await me(url, cookie)).res.status, 200);
  });

  test('a corrupt revocation cutoff is 503 corrupt_cutoff without Set-Cookie, until an admin revoke replaces it', async () => {
    const { cookie, body } = await staleLogin('cutoff');
    await control('PUT', '/__test/kv', { key: 'r:issued_before', value: 'not a cutoff' });
    try {
      const r = await me(url, cookie);
      assertUnavailable(r, 'corrupt_cutoff');
      noSetCookie(r.res);
      const rot = await post('/api/rotate', { cookie });
      assertUnavailable(rot, 'corrupt_cutoff');
      noSetCookie(rot.res);
    } finally {
      // The operator's repair: a revoke-issued-before replaces the unreadable value.
      const repaired = await admin({ issuedBefore: body.createdAt - 60_000 });
      assert.equal(repaired.res.status, 200);
    }
    const ok = await me(url, cookie);
    assert.equal(ok.res.status, 200, 'sessions created after the new cutoff are fine again');
    assert.equal(ok.body.handle, body.handle);
  });
});

describe('login (POST /api/login)', { timeout: SUITE_TIMEOUT }, () => {
  test('a login whose record cannot be written is 503 without Set-Cookie', async () => {
    await fail({ ops: ['put'] });
    const r = await login(url, 'nowrite');
    await heal();
    assertUnavailable(r);
    noSetCookie(r.res);
    assert.equal((await login(url, 'nowrite')).res.status, 200, 'and works once the store is back');
  });
});

describe('logout (POST /api/logout)', { timeout: SUITE_TIMEOUT }, () => {
  test('a logout whose store write fails is 503 with the clearing cookie, never 200 while the record is live', async () => {
    const { cookie, body } = await login(url, 'leaving');
    await fail({ ops: ['put', 'delete'] });
    const out = await post('/api/logout', { cookie });
    await heal();
    assertUnavailable(out);
    assert.deepEqual(out.body, { error: 'unavailable', reason: 'store_unavailable' });
    const set = out.res.headers.getSetCookie();
    assert.equal(set.length, 1);
    assert.ok(isClearing(set[0]), `the browser's cookie is deleted anyway: ${set[0]}`);

    const record = await storedRecord(body.handle);
    assert.ok(record && record.ended === undefined, 'the record is still live: that is why the answer is not 200');
    const here = await me(url, cookie);
    assert.equal(here.res.status, 401, 'this instance refuses the session at once');
    assert.equal(here.body.reason, 'revoked');

    // A client that still has the cookie can retry; with the store back the logout completes.
    const retry = await post('/api/logout', { cookie });
    assert.equal(retry.res.status, 200);
    assert.deepEqual(retry.body, { ok: true });
    assert.ok(isClearing(retry.res.headers.getSetCookie()[0]));
    assert.equal((await storedRecord(body.handle)).ended, 'revoked', 'now tombstoned');
  });

  test('a logout with the store up is 200 and tombstones the record', async () => {
    const { cookie, body } = await login(url, 'leaving2');
    const out = await post('/api/logout', { cookie });
    assert.equal(out.res.status, 200);
    assert.deepEqual(out.body, { ok: true });
    assert.equal((await storedRecord(body.handle)).ended, 'revoked');
  });
});

describe('rotate (POST /api/rotate) and update (POST /api/data)', { timeout: SUITE_TIMEOUT }, () => {
  test('rotate with the record unreadable is 503 without Set-Cookie; the session is unchanged', async () => {
    const { cookie, body } = await login(url, 'rotread');
    await fail({ ops: ['get'] });
    const r = await post('/api/rotate', { cookie });
    await heal();
    assertUnavailable(r);
    assert.deepEqual(r.body, { error: 'unavailable', reason: 'store_unavailable' });
    noSetCookie(r.res);
    const still = await me(url, cookie);
    assert.equal(still.res.status, 200);
    assert.equal(still.body.handle, body.handle);
    assert.equal(still.body.generation, body.generation);
  });

  test('rotate whose new session cannot be stored is 503 without Set-Cookie; the old session works', async () => {
    const { cookie, body } = await login(url, 'rotwrite');
    await fail({ ops: ['put'] });
    const r = await post('/api/rotate', { cookie });
    await heal();
    assertUnavailable(r);
    noSetCookie(r.res);
    assert.equal(r.body.session, undefined);
    assert.equal((await me(url, cookie)).body.handle, body.handle);
    assert.equal((await storedRecord(body.handle)).ended, undefined);
  });

  test('rotate that stored the new session but could not retire the old one is 503 with the new cookie', async () => {
    const { cookie, body } = await login(url, 'rotretire');
    // Only the old session's keys (all of which end with its handle) fail.
    await fail({ ops: ['put', 'delete'], key: body.handle });
    const r = await post('/api/rotate', { cookie });
    await heal();
    assertUnavailable(r);
    const set = r.res.headers.getSetCookie();
    assert.equal(set.length, 1, 'the new session cookie is handed over');
    assert.ok(!isClearing(set[0]));
    const fresh = cookieFrom(r.res);
    assert.notEqual(fresh, cookie);
    assert.equal(r.body.session.userId, 'rotretire');
    assert.notEqual(r.body.session.handle, body.handle);
    assert.equal(r.body.session.generation, body.generation + 1);
    assert.equal(r.body.session.createdAt, body.createdAt);

    const now = await me(url, fresh);
    assert.equal(now.res.status, 200, 'the user keeps a working session');
    assert.equal(now.body.handle, r.body.session.handle);
    const old = await me(url, cookie);
    assert.equal(old.res.status, 401, 'this instance refuses the old cookie');
    assert.equal(old.body.reason, 'rotated');
    assert.equal((await storedRecord(body.handle)).ended, undefined, 'but its record could not be retired');
  });

  test('POST /api/data follows the same rules', async () => {
    const { cookie, body } = await login(url, 'datafail');
    assert.deepEqual(body.data, { role: 'member', theme: 'light' });

    await fail({ ops: ['put'] });
    const none = await post('/api/data', { cookie, body: { data: { theme: 'dark' } } });
    await heal();
    assertUnavailable(none);
    noSetCookie(none.res);
    assert.deepEqual((await me(url, cookie)).body.data, { role: 'member', theme: 'light' }, 'unchanged');

    await fail({ ops: ['put', 'delete'], key: body.handle });
    const half = await post('/api/data', { cookie, body: { data: { theme: 'dark' } } });
    await heal();
    assertUnavailable(half);
    assert.equal(half.res.headers.getSetCookie().length, 1);
    assert.deepEqual(half.body.session.data, { role: 'member', theme: 'dark' });
    const now = await me(url, cookieFrom(half.res));
    assert.equal(now.res.status, 200);
    assert.deepEqual(now.body.data, { role: 'member', theme: 'dark' });
  });
});

describe('devices and admin', { timeout: SUITE_TIMEOUT }, () => {
  test('listing and revoking sessions with the store failing is 503; nothing is revoked', async () => {
    const one = await login(url, 'devices');
    const two = await login(url, 'devices');

    await fail({ ops: ['list'] });
    const listRes = await fetch(`${url}/api/sessions`, { headers: { cookie: one.cookie } });
    const list = { res: listRes, body: await listRes.json() };
    await heal();
    assertUnavailable(list);

    await fail({ ops: ['get', 'put', 'delete'], key: two.body.handle });
    const delRes = await fetch(`${url}/api/sessions/${two.body.handle}`, { method: 'DELETE', headers: { cookie: one.cookie } });
    const del = { res: delRes, body: await delRes.json() };
    await heal();
    assertUnavailable(del);
    noSetCookie(del.res);
    assert.equal((await me(url, two.cookie)).res.status, 200);
    assert.equal((await me(url, one.cookie)).res.status, 200);
  });

  test('admin revocations with the store failing are 503', async () => {
    const victim = await login(url, 'adminfail');
    await fail({ ops: ['get', 'put', 'delete', 'list'] });
    try {
      for (const target of [{ userId: 'adminfail' }, { handle: victim.body.handle }, { issuedBefore: Date.now() - 1000 }]) {
        const r = await admin(target);
        assertUnavailable(r);
      }
    } finally {
      await heal();
    }
    const after = await admin({ userId: 'adminfail' });
    assert.equal(after.res.status, 200);
    assert.equal(after.body.revoked, 1);
  });

  test('GET /admin/sessions with the store failing is 503; GET /admin/status needs no store', async () => {
    await login(url, 'adminlist');
    const headers = { authorization: `Bearer ${ADMIN_TOKEN}` };
    const get = async (path) => {
      const res = await fetch(`${url}${path}`, { headers });
      return { res, body: await res.json() };
    };
    await fail({ ops: ['get', 'put', 'delete', 'list'] });
    let listed;
    let status;
    try {
      listed = await get('/admin/sessions?userId=adminlist');
      status = await get('/admin/status');
    } finally {
      await heal();
    }
    assertUnavailable(listed);
    assert.equal(status.res.status, 200);
    assert.equal(status.body.cookieName, '__Host-session');
    const healed = await get('/admin/sessions?userId=adminlist');
    assert.equal(healed.res.status, 200);
    assert.equal(healed.body.sessions.length, 1);
  });

  test('log out other sessions with the store or the hub failing is 503 with the reason; the caller keeps the session', async () => {
    const one = await login(url, 'othersfail');
    const two = await login(url, 'othersfail');
    const revokeOthers = () => post('/api/sessions/revoke-others', { cookie: one.cookie });

    // The user cutoff cannot be read or written: nothing is ended.
    await fail({ ops: ['get', 'put'] });
    const store = await revokeOthers();
    await heal();
    assertUnavailable(store);
    assert.deepEqual(store.body, { error: 'unavailable', reason: 'store_unavailable' });
    noSetCookie(store.res);
    assert.equal((await me(url, one.cookie)).res.status, 200, 'the caller is still logged in');

    // The hub cannot be told: other isolates would not hear of it within the interval.
    await fail({ ops: ['append'] });
    const hub = await revokeOthers();
    await heal();
    assertUnavailable(hub, 'hub_unavailable');
    assert.deepEqual(hub.body, { error: 'unavailable', reason: 'hub_unavailable' });
    noSetCookie(hub.res);
    assert.equal((await me(url, one.cookie)).res.status, 200, 'the caller is still logged in');
    assert.equal((await me(url, two.cookie)).body.reason, 'revoked', 'the store cutoff was written: refused here already');

    // The retry with both back completes.
    const retry = await revokeOthers();
    assert.equal(retry.res.status, 200);
    assert.equal(retry.body.ok, true);
    assert.equal((await me(url, two.cookie)).body.reason, 'revoked');
    assert.equal((await me(url, one.cookie)).res.status, 200);
  });

  test('logout, rotate and revocations with the hub failing are 503 hub_unavailable, like a store failure', async () => {
    await fail({ ops: ['append'] });
    let out;
    let rot;
    let del;
    let adm;
    const leaving = await login(url, 'hubdown');
    const rotating = await login(url, 'hubdown');
    const revoked = await login(url, 'hubdown');
    try {
      out = await post('/api/logout', { cookie: leaving.cookie });
      rot = await post('/api/rotate', { cookie: rotating.cookie });
      const delRes = await fetch(`${url}/api/sessions/${revoked.body.handle}`, { method: 'DELETE', headers: { cookie: cookieFrom(rot.res) } });
      del = { res: delRes, body: await delRes.json() };
      adm = await admin({ userId: 'hubdown-other' });
    } finally {
      await heal();
    }

    // Logout: the browser's cookie goes anyway; this instance refuses the session at once.
    assertUnavailable(out, 'hub_unavailable');
    assert.ok(isClearing(out.res.headers.getSetCookie()[0]));
    assert.equal((await me(url, leaving.cookie)).body.reason, 'revoked');
    assert.equal((await storedRecord(leaving.body.handle)).ended, 'revoked', 'the store write itself succeeded');

    // Rotate: the new session's cookie and view are handed over; the old ID is refused here.
    assertUnavailable(rot, 'hub_unavailable');
    assert.equal(rot.res.headers.getSetCookie().length, 1);
    assert.ok(!isClearing(rot.res.headers.getSetCookie()[0]));
    assert.equal(rot.body.session.userId, 'hubdown');
    assert.notEqual(rot.body.session.handle, rotating.body.handle);
    assert.equal((await me(url, cookieFrom(rot.res))).res.status, 200);
    assert.equal((await me(url, rotating.cookie)).body.reason, 'rotated');

    // Revoking one session, and an admin revocation: 503 with the package's reason.
    assertUnavailable(del, 'hub_unavailable');
    noSetCookie(del.res);
    assertUnavailable(adm, 'hub_unavailable');

    const failedAppends = (await hubCalls()).filter((c) => c.op === 'append' && c.failed);
    assert.ok(failedAppends.length >= 4, `the hub was tried each time: ${failedAppends.length}`);
  });

  test('a hub out of reach fails no request: pulls fail quietly, then the isolate checks the store on every request until the hub is back', async () => {
    const { cookie, body } = await login(url, 'hubpull');
    const statusOf = async () => {
      const res = await fetch(`${url}/admin/status`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
      assert.equal(res.status, 200);
      return res.json();
    };
    const count = (type) => eventsIn(server.logs()).filter((e) => e.type === type).length;
    const [failedBefore, unreachableBefore, reachableBefore] = ['hub_pull_failed', 'hub_unreachable', 'hub_reachable'].map(count);
    await fail({ ops: ['pull'] });
    let view;
    try {
      // Requests keep being answered while every pull fails; after three intervals without a
      // pull the isolate is out of reach of the hub (reported, and logged by the next pull it
      // claims) and reads the store for every session.
      const deadline = Date.now() + 10 * HUB_POLL_S * 1000;
      do {
        await sleep(250);
        const r = await me(url, cookie);
        assert.equal(r.res.status, 200);
        assert.equal(r.body.handle, body.handle);
        view = await statusOf();
      } while (!(view.hub.outOfReach && count('hub_unreachable') > unreachableBefore) && Date.now() < deadline);
      assert.equal(view.hub.outOfReach, true, JSON.stringify(view.hub));
      assert.ok(count('hub_pull_failed') > failedBefore, 'hub_pull_failed is logged');
      assert.equal(count('hub_unreachable'), unreachableBefore + 1, 'hub_unreachable is logged once');

      // Out of reach: even a fresh envelope is checked against the store now (status() reports
      // that as hub.outOfReach; revocations.strict is only the revocation memory's own state).
      const fresh = await login(url, 'hubpull');
      const seen = (await storeCalls()).length;
      assert.equal((await me(url, fresh.cookie)).res.status, 200);
      assert.ok((await storeCalls()).length > seen, 'a store read for a fresh envelope');
    } finally {
      await heal();
    }
    const deadline = Date.now() + 10 * HUB_POLL_S * 1000;
    do {
      await sleep(250);
      assert.equal((await me(url, cookie)).res.status, 200);
      view = await statusOf();
    } while (!(!view.hub.outOfReach && count('hub_reachable') > reachableBefore) && Date.now() < deadline);
    assert.equal(view.hub.outOfReach, false, JSON.stringify(view.hub));
    assert.equal(count('hub_reachable'), reachableBefore + 1, 'hub_reachable is logged once');
    assert.doesNotMatch(server.logs(), /"type":"hub_pulled"/, 'successful pulls are not logged');
  });

  test('no store failure produced any 5xx other than 503', () => {
    const logs = server.logs();
    assert.doesNotMatch(logs, /"type":"(config_)?error"/, 'the worker logged no unexpected error');
  });
});

describe('the page', { timeout: SUITE_TIMEOUT }, () => {
  test('on a 503 the page stays logged in and says why; a failed logout still logs the browser out', async () => {
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true });
    try {
      const context = await browser.newContext();
      context.setDefaultTimeout(15_000);
      const page = await context.newPage();
      const errors = [];
      page.on('pageerror', (err) => errors.push(err.message));
      const statusIs = (re) =>
        page.waitForFunction(([s, f]) => new RegExp(s, f).test(document.getElementById('status').textContent), [re.source, re.flags]);
      await page.goto(url);
      await statusIs(/Not logged in/);
      await page.getByLabel('Username').fill('pagefail');
      await page.getByLabel('Password').fill('demo');
      await page.getByTestId('login-button').click();
      await statusIs(/Logged in as pagefail\./);
      const cookie = (await context.cookies(url)).find((c) => c.name === '__Host-session');
      await sleep(ENVELOPE_S * 1000 + 300);

      await fail({ ops: ['get'] });
      await page.getByTestId('btn-me').click();
      await statusIs(/\(503\): store_unavailable/);
      assert.equal(await page.getByTestId('session-card').isVisible(), true, 'still shown as logged in');
      assert.equal(await page.getByTestId('login-card').isVisible(), false);
      assert.equal((await context.cookies(url)).find((c) => c.name === '__Host-session')?.value, cookie.value, 'cookie kept');
      await heal();
      await page.getByTestId('btn-me').click();
      await statusIs(/Protected API says: you are pagefail\./);

      // Log out other sessions while the hub is unreachable: 503, still logged in.
      await page.getByTestId('btn-sessions').click();
      await statusIs(/You have 1 active session\./);
      await fail({ ops: ['append'] });
      await page.getByRole('button', { name: 'Log out other sessions' }).click();
      await statusIs(/Logging out other sessions failed \(503\): hub_unavailable\. The server's revocation hub is unavailable/);
      await heal();
      assert.equal(await page.getByTestId('session-card').isVisible(), true, 'still shown as logged in');

      await fail({ ops: ['put', 'delete'] });
      await page.getByTestId('btn-logout').click();
      await statusIs(/Logout incomplete \(503\): store_unavailable/);
      await heal();
      assert.equal(await page.getByTestId('login-card').isVisible(), true);
      assert.equal((await context.cookies(url)).length, 0, 'the clearing cookie removed it');
      assert.deepEqual(errors, []);
    } finally {
      await heal();
      await browser.close();
    }
  });
});
