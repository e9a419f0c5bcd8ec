// Store faults: every operation of the public API against a session store (KV) and a revocation
// hub that throw, hang, answer stale, corrupt or foreign values, or lose writes.
//
// How: tests/js/fault-store.mjs wraps any KV binding and any RevocationHub namespace binding;
// tests/js/fault-matrix.mjs builds one world per case (sessions set up by an isolate that sees no
// fault, then one operation by a fresh isolate whose store or hub calls meet the fault) and checks
// it against the same world without the fault. Node runs the whole matrix against pkg/node.js
// with MemoryStore and an in-process hub (a fake store is the point here); workerd runs a
// representative subset with the wasm build against a real local KV namespace and a real
// RevocationHub Durable Object (Miniflare, tests/js/fault-worker.mjs). The package's own store
// deadline (`storeTimeoutMs`) is set short so that hangs cost little.
//
// The world: Alice has A1, A2 and New (Old rotated into New; Dead logged out), Bob B1, Carol Cold
// (ended by revokeUser) and Cnew, Dave D1 and D2 (ended by D1's revokeOthers), Eve E (ended by
// revokeIssuedBefore). Every key kind holds values. Two worlds: `hub` (every isolate follows the
// hub) and `kv` (no hub).
//
// | operation (target)                       | KV reads            | KV writes                  | hub          |
// |------------------------------------------|---------------------|----------------------------|--------------|
// | validate, fresh envelopes (whole jar)    | -                   | -                          | pull         |
// | validate, refresh (whole jar)            | s: l: c: r: o:      | t: (last seen)             | pull         |
// | create (over A1's cookie)                | -                   | s: l: u: t: (A1 ended)     | append       |
// | rotate, update (A1)                      | s: l: c: r: o:      | s: u: t: (new, old retired)| pull, append |
// | destroy (A1)                             | -                   | s: l: u: t:                | append       |
// | revokeSession (A1's handle)              | s:                  | s: l: u: t:                | append       |
// | revokeUser (alice)                       | c: o:, list u:      | c:, then s: u: t: listed   | append       |
// | revokeOthers (from A1)                   | s: l: c: r: o:, u:  | o:, then s: u: t: listed   | pull, append |
// | revokeIssuedBefore (B1's login time)     | r:                  | r:                         | append       |
// | listSessions (alice)                     | list u: t: l:       | -                          | -            |
// | rotate / revokeOthers of ended sessions  | s: l: c: r: o: (1)  | -                          | pull         |
// Without a hub: no pull or append. (1) Without a hub only: with one, the fresh isolate's first
// pull already refuses every ended session, so nothing is read. Asserted below from the calls made.
//
// Faults, each on one key kind (s: l: u: t: c: o: r:) or one hub call (append, pull) at a time:
// throw; hang (never answers: the deadline fires); late (a write answered only after the deadline,
// then applied); stale (the value before the key's latest write: KV before propagation; for a pull,
// the log one append behind); corrupt (truncated JSON, every field of the wrong type, an unknown
// version, megabytes, not JSON, `null`, not text; listings: half the names, bad metadata, not a
// page, a cursor that never ends; hub answers likewise); foreign (another key's valid value:
// another session's record, another user's cutoff or listing; a page of another hub's log);
// lose (a write answered as done and dropped; an append answered with made-up numbers).
// That is 13 operations x (2 worlds x 7 key kinds x 13 faults (14 for the listed u: t: l:, with
// the cursor that never ends) + the hub's 2 calls x 12 faults) = 2,756 cases in Node.
//
// Asserted for every case:
//   (a) fail closed: nothing is accepted (validate ok; rotate/update/revokeOthers judging the
//       session live; a listing entry) that the same world without the fault refuses. A refusal
//       caused by a fault that says nothing against the session keeps the cookie.
//   (b) nothing throws but SessionStoreError (`store_unavailable` / `hub_unavailable`) from the
//       management calls (revokeSession, revokeUser, revokeIssuedBefore, listSessions); validate,
//       create, rotate, update, destroy and revokeOthers never throw; no unhandled rejection.
//   (c) the truth: a write (or a management call's read) that threw, hung or landed late, or a
//       hub append answered without its sequence numbers, makes the call report failure (ok:
//       false, SessionStoreError); except a refresh's last-seen write (the verdict stands; the
//       `refreshed` event says `recordWritten: false`) and create over a session whose end only
//       the hub missed (documented: the store has it). A reported success is real: a fresh
//       isolate on the clean store and hub refuses what the fault-free run ends, keeps what it
//       keeps, and accepts the new cookie (with its data).
//   (d) no partial write makes anything more valid: with the fault gone, every cookie refused
//       before is still refused by a fresh isolate, no absolute deadline moved later, and a
//       rotation's new session ends no later than the old one.
//
// What the faults cannot be made to do, stated honestly (counted and printed, never hidden):
//   - stale KV without a hub is KV's own propagation delay: a refresh or rotation reading the
//     value from before a revocation may accept (`stale acceptances` below), as any isolate may
//     until the write reaches its location (ARCHITECTURE.md: envelopeTtl + 60 s + skew). With a
//     hub the same cases refuse: the hub's entry is pulled before the store is consulted (this
//     is why rotate/update now pull when due, like validate). A stale listing may still show a
//     session of the user that ended since (never anyone else's; revoking it again is a no-op).
//   - a lost KV write, or a read answering another key's valid cutoff that already covers the
//     revocation (so nothing is written), cannot be told from success: the call reports success.
//     Without a hub the revocation then holds in the calling isolate only (asserted: it refuses),
//     or through the other key the same call wrote (a logout's login tombstone beside the
//     session's); with a hub the hub's entry refuses it everywhere (asserted by the probes).
//   - a hub that answers stale or foreign pages, or a made-up append, degrades to the bound of an
//     isolate without a hub, never below it: (a) is checked against the `kv` world for those.
//   - a listing whose metadata is unreadable (corrupt) leaves those sessions out of listSessions
//     and out of what revokeUser/revokeOthers tombstone one by one; nothing is shown that should
//     not be, and the cutoff they write still refuses every session they cover.
//   - revokeSession knows a session only by its record, which does not name its own key: a record
//     read as corrupt, or absent (stale), answers false ("no such live session", and nothing is
//     written), so with a fault in transit the session stays live and the caller may retry; a
//     foreign record (another session's) is taken at its word: the handle's record is tombstoned
//     and the login that record names is ended too (more is refused, never less).
process.env.WRANGLER_SEND_METRICS = 'false';

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Miniflare } from 'miniflare';
import { MemoryStore, SessionManager } from '../pkg/node.js';
import { FaultyHub, FaultyKV, MemoryHubNamespace, keyKind } from './js/fault-store.mjs';
import { OPS, allCases, caseName, judge, runCase } from './js/fault-matrix.mjs';
import { packageWorker } from './js/workerd.mjs';

const unhandled = [];
process.on('unhandledRejection', (error) => unhandled.push(error));

// The package's store deadline, short; a late write lands well after it.
const NODE_TIMEOUT_MS = 25;
const NODE_LATE_MS = 60;
const BATCH = 16;

const nodeEnv = {
  SessionManager,
  timeoutMs: NODE_TIMEOUT_MS,
  lateMs: NODE_LATE_MS,
  world: async (_id, withHub, now) => ({ kv: new MemoryStore({ now }), hub: withHub ? new MemoryHubNamespace() : null, cookieName: 'session' }),
};

// What each operation touches, as the table above says (hub world).
const TOUCHES = {
  validateFast: 'pull:pull',
  validateRefresh: 'c:get l:get o:get pull:pull r:get s:get t:put',
  create: 'append:append l:put s:put t:delete u:delete/put',
  rotate: 'append:append c:get l:get o:get pull:pull r:get s:get/put t:delete u:delete/put',
  update: 'append:append c:get l:get o:get pull:pull r:get s:get/put t:delete u:delete/put',
  destroy: 'append:append l:put s:put t:delete u:delete',
  revokeSession: 'append:append l:put s:get/put t:delete u:delete',
  revokeUser: 'append:append c:get/put o:get s:put t:delete u:delete/list',
  revokeOthers: 'append:append c:get l:get o:get/put pull:pull r:get s:get/put t:delete u:delete/list',
  revokeIssuedBefore: 'append:append r:get/put',
  listSessions: 'l:list t:list u:list',
  // With a hub the fresh isolate's first pull already refuses every ended session: no store read.
  rotateRevoked: { hub: 'pull:pull', kv: 'c:get l:get o:get r:get s:get' },
  revokeOthersRevoked: { hub: 'pull:pull', kv: 'c:get l:get o:get r:get s:get' },
};
const touches = (op, world) =>
  typeof TOUCHES[op] === 'object'
    ? TOUCHES[op][world]
    : world === 'hub'
      ? TOUCHES[op]
      : TOUCHES[op].split(' ').filter((t) => !t.startsWith('append') && !t.startsWith('pull')).join(' ');

function touched(run) {
  const t = {};
  for (const c of run.calls) {
    const kind = c.op === 'append' || c.op === 'pull' ? c.op : keyKind(c.key);
    (t[kind] ??= new Set()).add(c.op);
  }
  return Object.entries(t)
    .map(([k, ops]) => `${k}${k.endsWith(':') ? '' : ':'}${[...ops].sort().join('/')}`)
    .sort()
    .join(' ');
}

async function inBatches(items, size, run) {
  const out = [];
  for (let i = 0; i < items.length; i += size) out.push(...(await Promise.all(items.slice(i, i + size).map(run))));
  return out;
}

// ---- the wrapper itself ----------------------------------------------------------------------

describe('the fault wrapper', () => {
  test('KV: throw, hang, late, stale, corrupt, foreign and lose do what they say', async () => {
    let t = 0;
    const inner = new MemoryStore({ now: () => t });
    const kv = new FaultyKV(inner, { lateMs: 20 });
    const clean = kv.clean();
    await clean.put('c:a', '{"v":2,"before":1,"at":1}');
    await clean.put('c:a', '{"v":2,"before":2,"at":2}');
    await clean.put('c:b', '{"v":2,"before":9,"at":9}');
    const view = kv.view();
    kv.add({ kind: 'stale', key: 'c:' });
    assert.equal(await view.get('c:a', 'text'), '{"v":2,"before":1,"at":1}', 'the value before the latest write');
    assert.equal(await view.get('c:b', 'text'), null, 'absent before its only write');
    kv.clear().add({ kind: 'foreign', key: 'c:' });
    assert.equal(await view.get('c:a', 'text'), '{"v":2,"before":9,"at":9}', "another key's value");
    kv.clear().add({ kind: 'corrupt', key: 'c:', variant: 'truncated' });
    assert.equal(await view.get('c:a', 'text'), '{"v":2,"befo');
    kv.clear().add({ kind: 'corrupt', key: 'c:', variant: 'nontext' });
    assert.ok((await view.get('c:a', 'text')) instanceof ArrayBuffer);
    kv.clear().add({ kind: 'throw', key: 'c:' });
    await assert.rejects(view.get('c:a', 'text'), /injected/);
    assert.equal(await clean.get('c:a', 'text'), '{"v":2,"before":2,"at":2}', 'the clean view is untouched');
    kv.clear().add({ kind: 'lose', key: 'c:' });
    await view.put('c:a', 'lost');
    assert.equal(await inner.get('c:a'), '{"v":2,"before":2,"at":2}', 'a lost write is not applied');
    kv.clear().add({ kind: 'hang', key: 'c:' });
    const hung = await Promise.race([view.get('c:a'), new Promise((resolve) => setTimeout(() => resolve('still waiting'), 50))]);
    assert.equal(hung, 'still waiting');
    kv.clear().add({ kind: 'late', key: 'c:' });
    const late = view.put('c:a', 'late');
    assert.equal(await inner.get('c:a'), '{"v":2,"before":2,"at":2}', 'not yet');
    await late;
    await kv.settled();
    assert.equal(await inner.get('c:a'), 'late', 'landed after the delay');
    kv.clear().add({ kind: 'corrupt', key: 'c:', variant: 'loop' });
    const page = await view.list({ prefix: 'c:' });
    assert.equal(page.list_complete, false);
    assert.equal((await view.list({ prefix: 'c:', cursor: page.cursor })).cursor, page.cursor, 'the same cursor again');
    assert.deepEqual(
      kv.calls.filter((c) => c.via === 'faulty').map((c) => c.outcome),
      ['altered', 'altered', 'altered', 'altered', 'altered', 'threw', 'lost', 'hung', 'late', 'altered', 'altered'],
    );
  });

  test('hub: stale pulls miss the newest entry, foreign pulls answer another log, lost appends are made up', async () => {
    const ns = new MemoryHubNamespace();
    const hub = new FaultyHub(ns);
    const stub = (view) => view.get(view.idFromName('h'));
    const append = (view) =>
      stub(view).fetch('https://revocation-hub/append', { method: 'POST', body: JSON.stringify({ entries: [{ kind: 'before', before: 1, at: 1, until: 2 }] }) });
    const pull = async (view) => (await stub(view).fetch('https://revocation-hub/pull?after=0')).json();
    await append(hub.clean());
    await append(hub.clean());
    hub.add({ kind: 'stale', ops: ['pull'] });
    const stale = await pull(hub.view());
    assert.deepEqual([stale.head, stale.entries.map((e) => e.seq)], [1, [1]]);
    hub.clear().add({ kind: 'foreign', ops: ['pull'] });
    const foreign = await pull(hub.view());
    assert.notEqual(foreign.log, (await pull(hub.clean())).log);
    hub.clear().add({ kind: 'lose', ops: ['append'] });
    const lost = await (await append(hub.view())).json();
    assert.equal(lost.seqs.length, 1, 'answered as done');
    assert.equal((await pull(hub.clean())).head, 2, 'but nothing was appended');
    hub.clear().add({ kind: 'corrupt', ops: ['pull'], variant: 'nonjson' });
    assert.match(await (await stub(hub.view()).fetch('https://revocation-hub/pull?after=0')).text(), /^<html>/);
  });
});

// ---- the matrix in Node --------------------------------------------------------------------

const baselines = {};
const totals = { cases: 0, fired: 0, staleAccepted: [], lostOnly: [], refusals: {}, byOp: {} };

describe('the matrix in Node (pkg/node.js, MemoryStore, in-process hub)', () => {
  before(async () => {
    for (const op of Object.keys(OPS)) {
      for (const world of ['hub', 'kv']) baselines[`${op} ${world}`] = await runCase(nodeEnv, { op, world }, 0);
    }
  });

  after(() => {
    const lines = Object.entries(totals.byOp).map(
      ([op, s]) => `  ${op.padEnd(20)} ${String(s.cases).padStart(4)} cases, fault met in ${String(s.fired).padStart(4)}, refused because of the fault ${s.refused}`,
    );
    console.log(
      [
        `store-fault matrix (Node): ${totals.cases} cases, the fault met a call in ${totals.fired}`,
        ...lines,
        `  stale reads accepted without a hub (KV propagation, see the header): ${totals.staleAccepted.length} cases`,
        ...totals.staleAccepted.map((c) => `    ${c}`),
        `  undetectable lost/foreign writes held only by the calling isolate (no hub): ${totals.lostOnly.length} cases`,
        ...totals.lostOnly.map((c) => `    ${c}`),
        `  refusal reasons under faults: ${JSON.stringify(totals.refusals)}`,
      ].join('\n'),
    );
  });

  test('each operation touches the keys the table says, and refuses the ended sessions without a fault', () => {
    for (const op of Object.keys(OPS)) {
      for (const world of ['hub', 'kv']) assert.equal(touched(baselines[`${op} ${world}`]), touches(op, world), `${op} (${world} world)`);
    }
    const refresh = baselines['validateRefresh hub'].outcome.decisions;
    for (const name of ['E', 'Dead', 'Old', 'Cold', 'D2']) assert.equal(refresh[name].accepted, false, name);
    for (const name of ['A1', 'A2', 'New', 'B1', 'Cnew', 'D1']) assert.equal(refresh[name].accepted, true, name);
  });

  for (const op of Object.keys(OPS)) {
    // A timeout, so a call that never returns (a listing that never ends) fails instead of hanging.
    test(`${op}: fails closed, throws nothing unexpected, tells the truth, extends nothing`, { timeout: 60_000 }, async () => {
      const cases = allCases().filter((c) => c.op === op);
      const runs = await inBatches(cases, BATCH, (c, i) => runCase(nodeEnv, c, i + 1, { before: baselines[`${op} ${c.world}`].before }));
      const stats = { cases: 0, fired: 0, refused: 0 };
      const failures = [];
      for (const run of runs) {
        const verdict = judge(run, baselines[`${op} ${run.spec.world}`], baselines[`${op} kv`]);
        stats.cases += 1;
        stats.fired += verdict.fired ? 1 : 0;
        if (verdict.staleAccepted.length > 0) totals.staleAccepted.push(`${caseName(run.spec)}: ${verdict.staleAccepted}`);
        if (verdict.lostOnly.length > 0) totals.lostOnly.push(`${caseName(run.spec)}: ${verdict.lostOnly}`);
        if (run.outcome.reported === 'decisions') {
          const clean = baselines[`${op} ${run.spec.world}`].outcome.decisions;
          for (const [name, d] of Object.entries(run.outcome.decisions)) {
            if (!d.accepted && verdict.fired) totals.refusals[d.reason] = (totals.refusals[d.reason] ?? 0) + 1;
            if (!d.accepted && clean[name].accepted) stats.refused += 1;
          }
        } else if (verdict.fired && ['failed', 'threw'].includes(run.outcome.reported)) {
          stats.refused += 1;
          const reason = run.outcome.reason ?? run.outcome.threw?.reason;
          totals.refusals[reason] = (totals.refusals[reason] ?? 0) + 1;
        }
        if (verdict.violations.length > 0) failures.push(`${caseName(run.spec)}: ${verdict.violations.join('; ')}`);
      }
      totals.cases += stats.cases;
      totals.fired += stats.fired;
      totals.byOp[op] = stats;
      assert.deepEqual(failures, [], failures.slice(0, 20).join('\n'));
      // Every key kind and hub call the operation touches met a fault.
      const met = new Set(runs.filter((r) => r.calls.some((c) => c.fault !== null)).map((r) => `${r.spec.world} ${r.spec.target}`));
      for (const world of ['hub', 'kv']) {
        for (const t of touches(op, world).split(' ').filter(Boolean)) {
          const target = t.startsWith('append') ? 'append' : t.startsWith('pull') ? 'pull' : t.slice(0, 2);
          assert.ok(met.has(`${world} ${target}`), `${op}: no fault met ${target} (${world} world)`);
        }
      }
      await new Promise((resolve) => setImmediate(resolve));
      assert.deepEqual(unhandled.map(String), [], 'no unhandled rejection');
    });
  }
});

// ---- a subset in workerd ---------------------------------------------------------------------

// The wasm build in the real runtime: corrupt and foreign values above all, on a real local KV.
const WORKERD_TIMEOUT_MS = 600; // real KV calls under load: a deadline that only faults hit
const WORKERD_LATE_MS = 800;
const corrupt = (variants) => variants.map((variant) => ({ kind: 'corrupt', variant }));
const ALL_CORRUPT = corrupt(['truncated', 'types', 'version', 'huge', 'nonjson', 'jsonnull', 'nontext']);
const WORKERD_CASES = [
  ...[...ALL_CORRUPT, { kind: 'foreign' }, { kind: 'stale' }, { kind: 'throw' }, { kind: 'hang' }].map((f) => ({ op: 'validateRefresh', world: 'hub', target: 's:', ...f })),
  ...[...ALL_CORRUPT, { kind: 'foreign' }].map((f) => ({ op: 'validateRefresh', world: 'kv', target: 'c:', ...f })),
  ...[...corrupt(['types', 'version', 'nonjson']), { kind: 'foreign' }].map((f) => ({ op: 'rotateRevoked', world: 'kv', target: 's:', ...f })),
  ...[...corrupt(['truncated', 'version']), { kind: 'foreign' }].map((f) => ({ op: 'rotateRevoked', world: 'kv', target: 'l:', ...f })),
  ...[...corrupt(['truncated', 'types']), { kind: 'foreign' }].map((f) => ({ op: 'revokeOthersRevoked', world: 'kv', target: 'o:', ...f })),
  ...[...corrupt(['loop', 'nontext', 'huge']), { kind: 'foreign' }].map((f) => ({ op: 'revokeUser', world: 'hub', target: 'u:', ...f })),
  ...[...corrupt(['types', 'huge', 'loop']), { kind: 'foreign' }, { kind: 'stale' }].map((f) => ({ op: 'listSessions', world: 'kv', target: 'u:', ...f })),
  ...[...corrupt(['truncated', 'version', 'huge']), { kind: 'foreign' }, { kind: 'stale' }, { kind: 'throw' }].map((f) => ({ op: 'validateFast', world: 'hub', target: 'pull', ...f })),
  ...[{ kind: 'lose' }, { kind: 'throw' }, ...corrupt(['nonjson'])].map((f) => ({ op: 'destroy', world: 'hub', target: 'append', ...f })),
  ...[{ kind: 'lose' }, { kind: 'late' }, { kind: 'throw' }].map((f) => ({ op: 'destroy', world: 'kv', target: 's:', ...f })),
  ...[{ kind: 'foreign' }, ...corrupt(['version'])].map((f) => ({ op: 'revokeIssuedBefore', world: 'hub', target: 'r:', ...f })),
];

describe('a subset in workerd (pkg/workerd.js, local KV, RevocationHub)', () => {
  let mf;
  let worker;
  let next = 1;
  const run = async (spec, timeoutMs = WORKERD_TIMEOUT_MS) => {
    const res = await worker.fetch('http://faults.test/case', {
      method: 'POST',
      body: JSON.stringify({ spec, id: next++, timeoutMs, lateMs: WORKERD_LATE_MS }),
    });
    const body = await res.json();
    assert.equal(res.status, 200, body.error);
    assert.deepEqual(body.unhandled, [], 'no unhandled rejection in workerd');
    return body.run;
  };

  before(async () => {
    mf = new Miniflare({
      host: '127.0.0.1',
      workers: [
        packageWorker('tests/js/fault-worker.mjs', {
          name: 'faults',
          kvNamespaces: { KV: 'faults' },
          durableObjects: { REVOCATIONS: { className: 'RevocationHub', useSQLite: true } },
        }),
      ],
    });
    await mf.ready;
    worker = await mf.getWorker('faults');
  });

  after(async () => {
    await mf?.dispose();
  });

  test(`${WORKERD_CASES.length} cases: the same four properties in the real runtime`, { timeout: 120_000 }, async () => {
    const base = {};
    for (const key of new Set(WORKERD_CASES.flatMap((c) => [`${c.op} ${c.world}`, `${c.op} kv`]))) {
      const [op, world] = key.split(' ');
      // No fault, so no deadline needs to fire: a generous one, so a slow machine changes nothing.
      base[key] = await run({ op, world }, 5000);
    }
    // Without a fault, workerd decides exactly as Node does.
    for (const [key, r] of Object.entries(base)) {
      const plain = (o) => JSON.parse(JSON.stringify(o.decisions ?? o.reported));
      assert.deepEqual(plain(r.outcome), plain(baselines[key].outcome), key);
    }
    const runs = await inBatches(WORKERD_CASES, 10, (c) => run(c));
    const failures = [];
    let fired = 0;
    for (const r of runs) {
      const verdict = judge(r, base[`${r.spec.op} ${r.spec.world}`], base[`${r.spec.op} kv`]);
      fired += verdict.fired ? 1 : 0;
      if (verdict.violations.length > 0) failures.push(`${caseName(r.spec)}: ${verdict.violations.join('; ')}`);
    }
    assert.deepEqual(failures, [], failures.join('\n'));
    assert.equal(fired, WORKERD_CASES.length, 'every fault met a call');
    console.log(`store-fault matrix (workerd): ${runs.length} cases, every fault met a call, no violation`);
  });
});
