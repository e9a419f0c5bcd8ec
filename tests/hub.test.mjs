// Revocation everywhere within seconds: two (and more) isolates in workerd sharing one local KV
// namespace and one RevocationHub Durable Object.
//
// Envelopes live 3000 s here, so within a test nothing but the hub can explain a refusal on the
// other isolate: its fast path reads nothing from KV (counted), and its envelope never expires.
// Each revocation made through worker `a` must be refused by worker `b` within hubPollInterval
// + 1 s; the observed delays are printed. Then: a hub that fails or hangs (the other isolate
// falls back to record reads, never to acceptance), sharing a pull through the Cache API, and a
// burst of 10,000 revocations (nothing lost, pages bounded, memory bounded).
process.env.WRANGLER_SEND_METRICS = 'false';

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Miniflare } from 'miniflare';
import { packageWorker } from './js/workerd.mjs';

const POLL_S = 2;
const BOUND_MS = POLL_S * 1000 + 1000;
const SESSION_KEYS = `k1:${Buffer.alloc(32, 0x44).toString('base64url')}`;
// The same origin for every worker: isolates of one location share pulls per origin.
const ORIGIN = 'http://app.test';

let mf;
const workers = {};
const delays = [];

function worker(name) {
  return packageWorker('tests/js/hub-worker.mjs', {
    name,
    kvNamespaces: { KV: 'hub-sessions' },
    // One hub for all: the class lives in worker `a`, every worker binds it.
    durableObjects: { REVOCATIONS: { className: 'RevocationHub', scriptName: 'a', useSQLite: true } },
    bindings: { SESSION_KEYS, HUB_POLL_S: String(POLL_S) },
  });
}

before(async () => {
  const names = ['a', 'b', 'c', 'd', 'e'];
  mf = new Miniflare({ host: '127.0.0.1', workers: names.map(worker) });
  await mf.ready;
  for (const name of names) workers[name] = await mf.getWorker(name);
});

after(async () => {
  if (delays.length > 0) {
    console.log('cross-isolate refusal delays (hubPollInterval 2 s, envelope 3000 s):');
    for (const d of delays) console.log(`  ${d.what.padEnd(28)} ${String(d.ms).padStart(5)} ms  (${d.reason})`);
  }
  await mf?.dispose();
});

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function call(at, method, path, cookie) {
  const res = await workers[at].fetch(`${ORIGIN}${path}`, { method, headers: cookie ? { cookie } : {} });
  const body = await res.json();
  assert.ok(res.status < 500, `${at} ${method} ${path}: ${res.status} ${JSON.stringify(body)}`);
  return body;
}

const me = (at, cookie) => call(at, 'GET', '/me', cookie);
const stats = (at) => call(at, 'GET', '/stats');
const reset = (at) => call(at, 'POST', '/stats/reset');

async function login(user) {
  const r = await call('a', 'POST', `/login?user=${encodeURIComponent(user)}`);
  assert.equal(r.ok, true);
  return r;
}

/** Logs in at `a` and has `b` accept the cookie once (so `b` knows the session is fine). */
async function loginSeenByB(user) {
  const s = await login(user);
  const seen = await me('b', s.cookie);
  assert.equal(seen.ok, true, `b accepts ${user}'s new session`);
  return s;
}

/**
 * Polls `at` with `cookie` every 50 ms from `since` until it is refused; asserts that happened
 * within BOUND_MS and that every acceptance before came from the envelope alone. Returns the
 * delay and reason, and records them for the summary.
 */
async function refusedWithinBound(what, at, cookie, since) {
  for (;;) {
    const r = await me(at, cookie);
    const ms = Date.now() - since;
    if (!r.ok) {
      delays.push({ what, ms, reason: r.reason });
      assert.ok(ms <= BOUND_MS, `${what}: refused after ${ms} ms, bound ${BOUND_MS} ms`);
      return { ms, reason: r.reason };
    }
    assert.equal(r.refreshed, false, `${what}: accepted from the envelope alone`);
    assert.ok(ms <= BOUND_MS, `${what}: still accepted after ${ms} ms (bound ${BOUND_MS} ms)`);
    await sleep(50);
  }
}

/** Nothing read from KV by `b` since the last reset: every decision came from memory. */
async function assertNoKvReads(at = 'b') {
  const { kv } = await stats(at);
  assert.deepEqual({ get: kv.get, list: kv.list }, { get: 0, list: 0 }, `${at} read KV`);
}

test('a logout at one isolate is refused by another within the poll interval, with no KV read', async () => {
  const s = await loginSeenByB('logout-user');
  await reset('b');
  const out = await call('a', 'POST', '/logout', s.cookie);
  assert.equal(out.ok, true);
  const { reason } = await refusedWithinBound('logout', 'b', s.cookie, Date.now());
  assert.equal(reason, 'revoked');
  await assertNoKvReads();
});

test('a rotation: the old ID is refused elsewhere within the bound, the new one accepted', async () => {
  const s = await loginSeenByB('rotate-user');
  await reset('b');
  const rotated = await call('a', 'POST', '/rotate', s.cookie);
  assert.equal(rotated.ok, true);
  const { reason } = await refusedWithinBound('rotation (old ID)', 'b', s.cookie, Date.now());
  assert.equal(reason, 'rotated');
  const fresh = await me('b', rotated.cookie);
  assert.equal(fresh.ok, true);
  await assertNoKvReads();
});

test('a user revocation ends all their sessions elsewhere within the bound', async () => {
  const one = await loginSeenByB('revoked-user');
  const two = await loginSeenByB('revoked-user');
  const other = await loginSeenByB('bystander');
  await reset('b');
  await call('a', 'POST', '/revokeUser?user=revoked-user');
  const since = Date.now();
  assert.equal((await refusedWithinBound('revokeUser', 'b', one.cookie, since)).reason, 'revoked');
  assert.equal((await me('b', two.cookie)).reason, 'revoked');
  assert.equal((await me('b', other.cookie)).ok, true, 'another user is untouched');
  await assertNoKvReads();
});

test('a revokeSession by handle is refused elsewhere within the bound', async () => {
  const s = await loginSeenByB('handle-user');
  await reset('b');
  const out = await call('a', 'POST', `/revokeSession?handle=${s.session.handle}`);
  assert.equal(out.ok, true);
  assert.equal((await refusedWithinBound('revokeSession', 'b', s.cookie, Date.now())).reason, 'revoked');
  await assertNoKvReads();
});

test('an issued-before revocation is refused elsewhere within the bound', async () => {
  const s = await loginSeenByB('before-user');
  await sleep(5);
  await reset('b');
  await call('a', 'POST', `/revokeBefore?t=${Date.now()}`);
  assert.equal((await refusedWithinBound('revokeIssuedBefore', 'b', s.cookie, Date.now())).reason, 'revoked');
  await assertNoKvReads();
  const later = await loginSeenByB('before-user');
  assert.equal(later.ok, true, 'a login after the cutoff is fine');
});

test('revokeOthers keeps the caller and ends the rest elsewhere within the bound', async () => {
  const mine = await loginSeenByB('others-user');
  const laptop = await loginSeenByB('others-user');
  const phone = await loginSeenByB('others-user');
  await reset('b');
  const out = await call('a', 'POST', '/revokeOthers', mine.cookie);
  assert.equal(out.ok, true);
  assert.equal(out.revoked, 2);
  const since = Date.now();
  assert.equal((await refusedWithinBound('revokeOthers', 'b', laptop.cookie, since)).reason, 'revoked');
  assert.equal((await me('b', phone.cookie)).reason, 'revoked');
  const kept = await me('b', mine.cookie);
  assert.equal(kept.ok, true, 'the caller stays logged in');
  assert.equal(kept.refreshed, false);
  await assertNoKvReads();
  // And at the isolate that made the call, at once.
  assert.equal((await me('a', laptop.cookie)).reason, 'revoked');
  assert.equal((await me('a', mine.cookie)).ok, true);
});

/** Drives `b` with requests until its hub state says out of reach (or `ms` passes). */
async function untilOutOfReach(ms) {
  const end = Date.now() + ms;
  for (;;) {
    const { status } = await stats('b');
    if (status.hub.outOfReach) return Date.now();
    assert.ok(Date.now() < end, 'the hub never counted as out of reach');
    await me('b', undefined);
    await sleep(100);
  }
}

for (const mode of ['fail', 'hang']) {
  test(`a hub that ${mode === 'fail' ? 'fails' : 'hangs'}: the other isolate reads records, refuses what the store revoked, accepts nothing because of it`, async () => {
    const revoked = await loginSeenByB(`down-${mode}-revoked`);
    const alive = await loginSeenByB(`down-${mode}-alive`);
    await call('b', 'POST', `/fault?mode=${mode}`);
    try {
      await reset('b');
      const out = await call('a', 'POST', '/logout', revoked.cookie);
      assert.equal(out.ok, true, 'the hub itself is fine: the logout is appended');
      const began = Date.now();
      // Out of reach after three intervals without a successful pull; from then on b is strict.
      const strictAt = await untilOutOfReach(3 * POLL_S * 1000 + 4000);
      assert.ok(strictAt - began <= 3 * POLL_S * 1000 + 3000, `strict after ${strictAt - began} ms`);
      const refused = await me('b', revoked.cookie);
      assert.equal(refused.reason, 'revoked', 'the store says revoked: refused');
      const accepted = await me('b', alive.cookie);
      assert.equal(accepted.ok, true, 'a live session still works, from its record');
      // The isolate reports the outage at its next pull attempt.
      let { kv, events, status } = await stats('b');
      for (const end = Date.now() + POLL_S * 1000 + 2000; !events.includes('hub_unreachable') && Date.now() < end; ) {
        await me('b', alive.cookie);
        await sleep(100);
        ({ kv, events, status } = await stats('b'));
      }
      assert.ok(kv.get >= 8, `b read the records (and cutoffs) instead: ${kv.get} reads`);
      assert.ok(events.includes('hub_pull_failed'), 'the failed pulls were reported');
      assert.ok(events.includes('hub_unreachable'), 'the outage was reported');
      assert.equal(status.hub.outOfReach, true);
    } finally {
      await call('b', 'POST', '/fault?mode=none');
    }
    // Back: the next due pull succeeds and the fast path returns.
    const end = Date.now() + POLL_S * 1000 * 2 + 2000;
    while ((await stats('b')).status.hub.outOfReach) {
      assert.ok(Date.now() < end, 'b never recovered');
      await me('b', alive.cookie);
      await sleep(100);
    }
    assert.ok((await stats('b')).events.includes('hub_reachable'));
    await reset('b');
    assert.equal((await me('b', alive.cookie)).ok, true);
    await assertNoKvReads();
  });
}

test('isolates of one location share a pull through the Cache API', async () => {
  // Two fresh isolates: their first pulls are due together and ask for the same page.
  const s = await login('share-user');
  const first = await me('c', s.cookie);
  const second = await me('d', s.cookie);
  assert.equal(first.ok && second.ok, true);
  const [c, d] = [await stats('c'), await stats('d')];
  assert.deepEqual(c.pulls.map((p) => p.shared), [false], 'c pulled from the hub');
  assert.deepEqual(d.pulls.map((p) => p.shared), [true], 'd used the page c pulled, less than 0.5 s old');
  assert.equal(d.status.hub.seq, c.status.hub.seq);
});

test('a burst of 10,000 revocations: nothing lost, pulls paged, memory bounded', async () => {
  const real = await login('burst-user');
  assert.equal((await me('e', real.cookie)).ok, true);
  const head0 = (await stats('a')).hub.head;
  // Two isolates append at once, 100 entries per call, while a real logout lands among them.
  const [fromA, fromB, logout] = await Promise.all([
    call('a', 'POST', '/burst?n=5000&from=0'),
    call('b', 'POST', '/burst?n=5000&from=5000'),
    call('a', 'POST', '/logout', real.cookie),
  ]);
  assert.equal(logout.ok, true);
  const seqs = [...fromA.seqs, ...fromB.seqs].sort((x, y) => x - y);
  assert.equal(seqs.length, 10_000);
  assert.equal(new Set(seqs).size, 10_000, 'no number given twice');
  const { hub } = await stats('a');
  assert.equal(hub.head, head0 + 10_001, 'every append numbered, none skipped');
  assert.ok(seqs[0] >= head0 + 1 && seqs.at(-1) <= hub.head, `seqs ${seqs[0]}..${seqs.at(-1)}, head ${head0} -> ${hub.head}`);

  // Two more than one isolate's memory holds (10,000 sessions): it must not forget any.
  const extra = await call('a', 'POST', '/burst?n=2&from=10000');
  assert.equal(extra.seqs.length, 2);

  await reset('e');
  await sleep(POLL_S * 1000);
  const refused = await me('e', real.cookie);
  assert.equal(refused.reason, 'revoked', 'the real logout among the burst is applied');
  const e = await stats('e');
  assert.equal(e.status.hub.seq, hub.head + 2, 'caught up with the hub');
  assert.ok(e.pulls.length >= 20, `paged: ${e.pulls.length} pages`);
  assert.ok(e.pulls.every((p) => p.entries <= 500), 'no page over 500 entries');
  // 10,000 handles at most, plus the few logins revoked by the other tests.
  assert.ok(e.status.revocations.sessions <= 10_000 + 50, `memory bounded: ${e.status.revocations.sessions}`);
  // 10,002 live handles do not fit: the isolate went strict rather than forgetting one.
  assert.equal(e.status.revocations.strict, true);
  assert.ok(e.events.includes('revocations_full'));
});
