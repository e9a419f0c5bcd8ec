// The key-rotation drill of README "Operators" inside workerd (Miniflare), with the rings that
// `edge-session keys next` prints.
//
// Each drill step is a deployment of its own: four workers run tests/js/isolate-worker.mjs (the
// built pkg/workerd.js, one SessionManager per isolate) over one local KV namespace, each with
// one SESSION_KEYS value (`start` = k1; `add`, `promote`, `retire` = the step 1, 2 and 3 values).
// Sending a request to a worker is "this request reached an isolate running that step". Every
// request carries the clock (`X-Now`), so the 30 min 5 s wait of step 3 costs no real time.
// Cookies are checked with the package's own inspector (the wasm behind `edge-session inspect`).
process.env.WRANGLER_SEND_METRICS = 'false';

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Miniflare } from 'miniflare';
import { packageWorker } from './js/workerd.mjs';
import { initSync, inspectEnvelope } from '../pkg/edge_session_inspect.js';

const root = fileURLToPath(new URL('..', import.meta.url));
initSync({ module: readFileSync(join(root, 'pkg/edge_session_inspect_bg.wasm')) });
const SECOND = 1000;
const MINUTE = 60 * SECOND;
const IDLE_S = 1800; // tests/js/isolate-worker.mjs: idleTimeout (the default)
const T0 = 1_800_000_000_000;
const P = T0 + 10 * MINUTE; // step 2 (promote) has reached every isolate
const USERS = Array.from({ length: 20 }, (_, i) => `user${String(i).padStart(2, '0')}`);
const K1_RING = `k1:${Buffer.alloc(32, 0x33).toString('base64url')}`;

// The operator's tool gives the three rings and the wait before step 3; the test uses exactly those.
const drill = execFileSync(process.execPath, [join(root, 'pkg/cli.js'), 'keys', 'next', K1_RING], { encoding: 'utf8' });
// The value of step n: the first line after its heading that is a ring (id:secret,...).
const stepValue = (n) => drill.split(`Step ${n}:`)[1]?.match(/^[\w-]+:[\w-]{43}(,[\w-]+:[\w-]{43})*$/m)?.[0];
const RINGS = { start: K1_RING, add: stepValue(1), promote: stepValue(2), retire: stepValue(3) };
const [, idleS, skewS, waitText] = drill.match(/\((\d+) s \+ (\d+) s = ([^)]+)\) has passed/) ?? [];
const WAIT_MS = (Number(idleS) + Number(skewS)) * SECOND;
const R = P + WAIT_MS; // the earliest time the drill allows step 3 (retire)

let mf;
const workers = {};
const cookies = new Map(); // user -> the cookie their browser holds now
const k1Cookies = []; // every k1-signed cookie handed out, for the check that none outlives R

function worker(name) {
  return packageWorker('tests/js/isolate-worker.mjs', {
    name,
    kvNamespaces: { KV: 'keydrill-sessions' }, // one namespace for every deployment
    bindings: { LOCATION: name, SESSION_KEYS: RINGS[name] },
  });
}

before(async () => {
  mf = new Miniflare({ host: '127.0.0.1', workers: Object.keys(RINGS).map(worker) });
  await mf.ready;
  for (const name of Object.keys(RINGS)) workers[name] = await mf.getWorker(name);
});

after(async () => {
  await mf?.dispose();
});

async function call(at, method, path, now, cookie) {
  const res = await workers[at].fetch(`http://${at}.test${path}`, {
    method,
    headers: { 'x-now': String(now), ...(cookie ? { cookie } : {}) },
  });
  const body = await res.json();
  assert.ok(res.status < 500, `${at} ${method} ${path}: ${res.status} ${JSON.stringify(body)}`);
  return body;
}

/** `user`'s browser makes a request to an isolate running `at`, and keeps any new cookie. */
async function visit(at, user, now) {
  const r = await call(at, 'GET', '/me', now, cookies.get(user));
  if (r.cookie) {
    cookies.set(user, r.cookie);
    if (keyOf(r.cookie) === 'k1') k1Cookies.push(r.cookie);
  }
  return r;
}

/** The id of the key that signed `cookie`, verified against the rings in play. */
function keyOf(cookie) {
  const { verified } = inspectEnvelope(cookie, RINGS.promote); // k2 and k1 both verify here
  assert.equal(verified.valid, true, `an authentic cookie: ${verified.reason}`);
  return verified.keyId;
}

/** Every user in `users` makes a request to `at` at `now`; the answers, in order. */
async function round(at, now, users = USERS) {
  const results = [];
  for (const user of users) results.push(await visit(at, user, now));
  return results;
}

/** The drill promises that nobody is logged out: exactly 0 refusals (the message names them). */
function assertNoneLoggedOut(step, results, users = USERS) {
  const out = results.flatMap((r, i) => (r.ok ? [] : [`${users[i]}: ${r.reason}`]));
  console.log(`keydrill: ${step}: ${results.length} requests, ${out.length} logged out`);
  assert.equal(out.length, 0, `logged out at ${step}: ${out.join(', ')}`);
}

/** Every key and value in the shared namespace. */
async function snapshot() {
  const kv = await mf.getKVNamespace('KV', 'retire');
  const entries = {};
  let cursor;
  do {
    const page = await kv.list({ cursor });
    for (const { name } of page.keys) entries[name] = await kv.get(name, 'text');
    cursor = page.list_complete ? undefined : page.cursor;
  } while (cursor);
  return entries;
}

test('keys next prints the three rings of the drill and the README wait (idle timeout + skew = 30 min 5 s)', () => {
  const [k1] = K1_RING.split(',');
  const k2 = RINGS.retire;
  assert.match(k2, /^k2:[A-Za-z0-9_-]{43}$/, 'a new key k2 alone');
  assert.equal(RINGS.add, `${k1},${k2}`, 'step 1: k2 behind k1');
  assert.equal(RINGS.promote, `${k2},${k1}`, 'step 2: k2 first');
  assert.equal(Number(idleS), IDLE_S, "the workers' idle timeout");
  assert.equal(Number(skewS), 5);
  assert.equal(waitText, '30 min 5 s', 'the time README "Key rotation drill" step 4 states');
});

test('start: 20 users log in under ring [k1]', async () => {
  for (const user of USERS) {
    const r = await call('start', 'POST', `/login?user=${user}`, T0);
    assert.equal(r.ok, true, JSON.stringify(r));
    assert.equal(keyOf(r.cookie), 'k1');
    cookies.set(user, r.cookie);
    k1Cookies.push(r.cookie);
  }
});

test('step 1 (add k2 behind k1): every session validates, 0 logged out, and k1 still signs', async () => {
  // With fresh envelopes nothing is read or re-signed: k1 is still the current key.
  const fresh = await round('add', T0 + 10 * SECOND);
  assertNoneLoggedOut('step 1, fresh envelopes', fresh);
  assert.ok(fresh.every((r) => r.refreshed === false && r.cookie === null), 'accepted on the envelope alone');
  // Refreshes after the envelope (60 s) has expired sign with k1: k2 only verifies.
  const refreshed = await round('add', T0 + 2 * MINUTE);
  assertNoneLoggedOut('step 1, refreshes', refreshed);
  for (const user of USERS) assert.equal(keyOf(cookies.get(user)), 'k1', `${user}'s refreshed cookie`);
  // Half the users refresh again just before promotion, so they reach step 2 with a fresh k1 envelope.
  const evens = USERS.filter((_, i) => i % 2 === 0);
  const late = await round('add', P - 30 * SECOND, evens);
  assertNoneLoggedOut('step 1, just before promotion', late, evens);
  assert.ok(late.every((r) => r.cookie), 'refreshed');
});

test('step 2 rollout: an isolate still on step 1 accepts a k2 cookie but signs it back with k1 (why the wait counts from "everywhere")', async () => {
  const user = USERS[0];
  const first = await visit('promote', user, P - 20 * SECOND);
  assert.equal(first.ok, true);
  assert.equal(keyOf(first.cookie), 'k2', 'a step 2 isolate re-signs with k2');
  const back = await visit('add', user, P - 15 * SECOND);
  assert.equal(back.ok, true, 'k2 verifies on step 1 isolates: step 1 had reached them all');
  assert.equal(keyOf(back.cookie), 'k1', 'the step 1 isolate re-signs with its current key, k1');
});

test('the last k1 cookie an isolate can sign (clock 5 s fast, as step 2 reaches it) idles out exactly at promotion + 30 min 5 s', async () => {
  // The worst case: a step 1 isolate whose clock runs 5 s fast refreshes a session at the moment
  // step 2 reaches it. Its cookie is signed with k1 at P + 5 s and idles out at P + 5 s + 30 min.
  const straggler = 'straggler';
  const login = await call('start', 'POST', `/login?user=${straggler}`, T0);
  cookies.set(straggler, login.cookie);
  k1Cookies.push(login.cookie);
  const r = await visit('add', straggler, P + 5 * SECOND);
  assert.equal(keyOf(r.cookie), 'k1');
  assert.equal(inspectEnvelope(r.cookie, RINGS.add).envelope.idleDeadline, R, 'its idle deadline is the wait the drill states');
});

test('step 2 (promote k2): every session validates, 0 logged out, and each is re-signed with k2 from its record', async () => {
  const fresh = USERS.filter((u) => inspectEnvelope(cookies.get(u), RINGS.promote).envelope.expiresAt > P + 10 * SECOND);
  assert.equal(fresh.length, USERS.length / 2, 'half the users arrive with a k1 envelope that has not expired');
  const results = await round('promote', P + 10 * SECOND);
  assertNoneLoggedOut('step 2, first requests', results);
  for (const [i, user] of USERS.entries()) {
    assert.equal(results[i].refreshed, true, `${user}: one record read, even for a fresh envelope`);
    assert.ok(results[i].cookie, `${user}: a new Set-Cookie`);
    const { verified } = inspectEnvelope(cookies.get(user), RINGS.retire);
    assert.deepEqual([verified.valid, verified.keyId], [true, 'k2'], `${user}'s cookie verifies with k2 alone`);
  }
  // Between promotion and retirement everybody keeps using the site, each at their own time.
  const later = [];
  for (const [i, user] of USERS.entries()) later.push(await visit('promote', user, P + 100 * SECOND + i * 80 * SECOND));
  assertNoneLoggedOut('step 2, later requests', later);
  for (const user of USERS) assert.equal(keyOf(cookies.get(user)), 'k2', `${user} stays on k2`);
  // The straggler's last request comes 1 ms before the wait is over: its k1 cookie is still alive.
  const last = await visit('promote', 'straggler', R - 1);
  assert.equal(last.ok, true, 'k1 may not be dropped any earlier');
  assert.equal(keyOf(last.cookie), 'k2');
});

test('at promotion + 30 min 5 s every k1 cookie has ended anyway, with k1 still in the ring', async () => {
  assert.ok(k1Cookies.length > USERS.length * 2, `${k1Cookies.length} k1 cookies handed out`);
  for (const cookie of k1Cookies) {
    const r = await call('promote', 'GET', '/me', R, cookie);
    assert.deepEqual([r.ok, r.reason], [false, 'expired_idle'], 'keeping k1 longer would save nobody');
  }
});

test('step 3 (retire k1, ring k2 alone): every user active since promotion validates, 0 logged out', async () => {
  const users = [...USERS, 'straggler'];
  const results = await round('retire', R, users);
  assertNoneLoggedOut('step 3', results, users);
  // (The straggler's envelope from R - 1 ms is still fresh; everyone else is refreshed from the record.)
  for (const user of users) assert.equal(inspectEnvelope(cookies.get(user), RINGS.retire).verified.valid, true, `${user} holds a k2 cookie`);
});

test('emergency removal: a live k1 cookie on a k2-only ring is refused as unknown_key, and nothing is written', async () => {
  const t = R + MINUTE;
  const leaked = await call('start', 'POST', '/login?user=victim', t);
  assert.equal(keyOf(leaked.cookie), 'k1');
  const before = await snapshot();
  const r = await call('retire', 'GET', '/me', t + SECOND, leaked.cookie);
  assert.deepEqual([r.ok, r.reason, r.clears], [false, 'unknown_key', true], 'refused, and the cookie is cleared');
  const afterwards = await snapshot();
  assert.equal(Object.keys(afterwards).length, Object.keys(before).length, 'no KV key added or removed');
  assert.deepEqual(afterwards, before, 'no KV value changed');
  // The session itself is fine: only the key is gone.
  assert.equal((await call('start', 'GET', '/me', t + SECOND, leaked.cookie)).ok, true);
});
