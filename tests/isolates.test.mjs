// Two isolates, one KV namespace: revocation across workers inside workerd (Miniflare).
//
// Workers `a` and `b` (tests/js/isolate-worker.mjs, each importing pkg/workerd.js and keeping its
// SessionManager in module scope) bind the same local KV namespace. Every request carries the
// clock (`X-Now`), so the test walks time forward: a revocation made through one isolate is seen
// by the other at once when it reads the store, and not before its envelope (60 s) expires, since
// its fast path reads nothing. Local KV is consistent; a listing that misses a session is
// emulated per request (`X-List-Hide-After`). Observed refusal times are printed.
process.env.WRANGLER_SEND_METRICS = 'false';

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Miniflare } from 'miniflare';
import { packageWorker } from './js/workerd.mjs';

const SECOND = 1000;
const ENVELOPE_MS = 60 * SECOND;
const STEP = 5 * SECOND;
const T0 = 1_800_000_000_000;
const SESSION_KEYS = `k1:${Buffer.alloc(32, 0x33).toString('base64url')}`;

let mf;
const workers = {};

function worker(name) {
  return packageWorker('tests/js/isolate-worker.mjs', {
    name,
    kvNamespaces: { KV: 'shared-sessions' }, // the same namespace id in both workers
    bindings: { LOCATION: name, SESSION_KEYS },
  });
}

before(async () => {
  mf = new Miniflare({ host: '127.0.0.1', workers: [worker('a'), worker('b')] });
  await mf.ready;
  workers.a = await mf.getWorker('a');
  workers.b = await mf.getWorker('b');
});

after(async () => {
  await mf?.dispose();
});

/** One request to worker `at` at time `now`; `cookie` is sent as the Cookie header. */
async function call(at, method, path, now, { cookie, headers = {} } = {}) {
  const res = await workers[at].fetch(`http://${at}.test${path}`, {
    method,
    headers: { 'x-now': String(now), ...(cookie ? { cookie } : {}), ...headers },
  });
  const body = await res.json();
  assert.ok(res.status < 500 || body.reason === 'store_unavailable', `${at} ${method} ${path}: ${res.status} ${JSON.stringify(body)}`);
  return body;
}

const me = (at, now, cookie) => call(at, 'GET', '/me', now, { cookie });

/**
 * Asks `at` about `cookie` every STEP from `from` until it is refused (at most `limit` ms later);
 * returns when, relative to `since`, it was refused and why, and the last acceptance before that.
 */
async function untilRefused(at, cookie, { since, from, limit = 5 * ENVELOPE_MS }) {
  let lastAccepted;
  for (let t = from; t <= from + limit; t += STEP) {
    const r = await me(at, t, cookie);
    if (!r.ok) return { refusedAt: t - since, reason: r.reason, lastAccepted, clears: r.clears };
    assert.equal(r.refreshed, false, `${at} accepted it at +${t - since} ms only from the envelope (a refresh would have seen the revocation)`);
    lastAccepted = t - since;
  }
  return { refusedAt: undefined, lastAccepted };
}

const observed = [];
function report(what, r) {
  observed.push(`${what}: last accepted ${r.lastAccepted ?? '-'} ms, refused at ${r.refusedAt} ms (${r.reason})`);
  console.log(`isolates: ${observed[observed.length - 1]}`);
}

test('two workers are two isolates over one KV namespace', async () => {
  const a = await call('a', 'GET', '/whoami', T0);
  const b = await call('b', 'GET', '/whoami', T0);
  assert.equal(a.location, 'a');
  assert.equal(b.location, 'b');
  assert.notEqual(a.isolateId, b.isolateId, 'each worker has its own module scope');
  const kv = await mf.getKVNamespace('KV', 'b');
  const login = await call('a', 'POST', '/login?user=zed', T0);
  assert.ok(await kv.get(`s:${login.session.handle}`), "b's binding reads what a wrote");
});

test('logout via a: a refuses at once, b once its envelope has expired', async () => {
  let t = T0 + 10 * 60 * SECOND;
  const login = await call('a', 'POST', '/login?user=alice', t);
  assert.equal(login.ok, true);
  const issuedAt = t;
  t += SECOND;
  const fast = await me('b', t, login.cookie);
  assert.equal(fast.ok, true, 'b accepts the envelope');
  assert.equal(fast.refreshed, false, 'from the envelope alone (fast path)');
  t += SECOND;
  const out = await call('a', 'POST', '/logout', t, { cookie: login.cookie });
  assert.equal(out.ok, true);
  assert.equal(out.clears, true, 'logout clears the cookie');
  const loggedOutAt = t;
  const here = await me('a', t, login.cookie);
  assert.deepEqual([here.ok, here.reason], [false, 'revoked'], 'a refuses at once');
  const there = await untilRefused('b', login.cookie, { since: loggedOutAt, from: t });
  report('logout via a, cookie at b', there);
  assert.ok(there.refusedAt !== undefined, 'b refuses it eventually');
  assert.ok(there.refusedAt + loggedOutAt >= issuedAt + ENVELOPE_MS, 'b trusted the envelope until it expired');
  assert.ok(there.refusedAt + loggedOutAt < issuedAt + ENVELOPE_MS + STEP, 'and refused it at its first refresh');
  assert.ok(['revoked', 'session_not_found'].includes(there.reason), there.reason);
  assert.equal(there.clears, true);
});

test('revokeUser via a: b refuses the user\'s sessions after envelope expiry, including one a never listed', async () => {
  let t = T0 + 20 * 60 * SECOND;
  const viaA = await call('a', 'POST', '/login?user=bob', t);
  t += SECOND;
  const viaB = await call('b', 'POST', '/login?user=bob', t);
  const bCreatedAt = viaB.session.createdAt;
  const other = await call('b', 'POST', '/login?user=carl', t);
  t += SECOND;
  assert.equal((await me('b', t, viaB.cookie)).ok, true);
  t += SECOND;
  // a's listing does not show the session created via b a moment ago (KV's list() lags).
  const rev = await call('a', 'POST', '/revokeUser?user=bob', t, { headers: { 'x-list-hide-after': String(bCreatedAt - 1) } });
  assert.deepEqual(rev, { ok: true, listed: 1 }, 'a listed (and tombstoned) only its own session');
  const revokedAt = t;
  const kv = await mf.getKVNamespace('KV', 'a');
  assert.match(await kv.get(`s:${viaA.session.handle}`), /"ended":"revoked"/, 'the listed session is tombstoned');
  assert.match(await kv.get(`s:${viaB.session.handle}`), /"user_id":"bob"/, 'the unlisted one still has its live record');
  for (const cookie of [viaA.cookie, viaB.cookie]) {
    const r = await me('a', t, cookie);
    assert.deepEqual([r.ok, r.reason], [false, 'revoked'], 'a refuses both at once');
  }
  const listed = await untilRefused('b', viaA.cookie, { since: revokedAt, from: t });
  const unlisted = await untilRefused('b', viaB.cookie, { since: revokedAt, from: t });
  report('revokeUser via a, listed session (created via a) at b', listed);
  report('revokeUser via a, unlisted session (created via b) at b', unlisted);
  for (const [r, created] of [
    [listed, viaA.session.issuedAt],
    [unlisted, viaB.session.issuedAt],
  ]) {
    assert.equal(r.reason, 'revoked');
    assert.ok(r.refusedAt + revokedAt >= created + ENVELOPE_MS && r.refusedAt + revokedAt < created + ENVELOPE_MS + STEP, JSON.stringify(r));
  }
  assert.equal((await me('a', t + 5 * ENVELOPE_MS, viaB.cookie)).reason, 'revoked', 'a as well, from the cutoff');
  const carl = await me('b', t + 2 * ENVELOPE_MS, other.cookie);
  assert.equal(carl.ok, true, "another user's session is untouched");
  const again = await call('b', 'POST', '/login?user=bob', t + 3 * ENVELOPE_MS);
  assert.equal((await me('a', t + 5 * ENVELOPE_MS, again.cookie)).ok, true, 'a login after the revocation works everywhere');
});

test('rotation via a: b refuses the old cookie after envelope expiry and accepts the new one', async () => {
  let t = T0 + 40 * 60 * SECOND;
  const login = await call('a', 'POST', '/login?user=dora', t);
  const oldIssuedAt = t;
  t += SECOND;
  assert.equal((await me('b', t, login.cookie)).ok, true);
  t += SECOND;
  const rot = await call('a', 'POST', '/rotate', t, { cookie: login.cookie });
  assert.equal(rot.ok, true);
  assert.notEqual(rot.session.handle, login.session.handle, 'a new ID');
  const rotatedAt = t;
  const here = await me('a', t, login.cookie);
  assert.deepEqual([here.ok, here.reason], [false, 'rotated'], 'a refuses the old cookie at once');
  const fresh = await me('b', t, rot.cookie);
  assert.equal(fresh.ok, true, 'b accepts the new cookie');
  const old = await untilRefused('b', login.cookie, { since: rotatedAt, from: t });
  report('rotation via a, old cookie at b', old);
  assert.equal(old.reason, 'rotated');
  assert.ok(old.refusedAt + rotatedAt >= oldIssuedAt + ENVELOPE_MS && old.refusedAt + rotatedAt < oldIssuedAt + ENVELOPE_MS + STEP, JSON.stringify(old));
  const later = await me('b', rotatedAt + ENVELOPE_MS + STEP, rot.cookie);
  assert.equal(later.ok, true, 'b refreshes the new session from its record');
  assert.equal(later.refreshed, true);
  assert.ok(later.cookie, 'with a new envelope');
});

test('logout via b with a rotated-out cookie ends the whole login: a refuses the current generation after envelope expiry', async () => {
  let t = T0 + 60 * 60 * SECOND;
  const login = await call('a', 'POST', '/login?user=emil', t);
  t += SECOND;
  const rot = await call('a', 'POST', '/rotate', t, { cookie: login.cookie });
  assert.equal(rot.ok, true);
  const rotatedAt = t;
  t += SECOND;
  const kv = await mf.getKVNamespace('KV', 'a');
  const lineageKeys = async () => (await kv.list({ prefix: 'l:' })).keys.map((k) => k.name);
  const before = new Set(await lineageKeys());
  const out = await call('b', 'POST', '/logout', t, { cookie: login.cookie });
  assert.equal(out.ok, true, 'b logs out with the first generation’s cookie');
  const loggedOutAt = t;
  const lineages = (await lineageKeys()).filter((k) => !before.has(k));
  assert.equal(lineages.length, 1, 'one new lineage tombstone in the shared namespace');
  assert.match(await kv.get(lineages[0]), /"ended":"revoked"/);
  assert.match(await kv.get(`s:${rot.session.handle}`), /"user_id":"emil"/, 'the current record itself is untouched');
  const here = await me('b', t, rot.cookie);
  assert.deepEqual([here.ok, here.reason], [false, 'revoked'], 'b refuses the current generation at once (the same login)');
  const there = await untilRefused('a', rot.cookie, { since: loggedOutAt, from: t });
  report('logout via b with the old cookie, current generation at a', there);
  assert.equal(there.reason, 'revoked');
  assert.ok(there.refusedAt + loggedOutAt >= rotatedAt + ENVELOPE_MS && there.refusedAt + loggedOutAt < rotatedAt + ENVELOPE_MS + STEP, JSON.stringify(there));
});
