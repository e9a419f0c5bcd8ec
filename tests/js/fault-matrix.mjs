// The store-fault matrix of tests/faults.test.mjs (the table and the rules are in that file's
// header). Runtime-agnostic: Node runs every case against MemoryStore and an in-process hub, a test
// worker runs a subset in workerd against a real local KV namespace and a real RevocationHub.
//
// `runCase(env, spec)` builds one world, runs one operation of the public API with one fault in
// force and returns what it observed plus the violations of the four properties; `baseline(env,
// op, world)` runs the same world without a fault (the oracle). `env` gives the runtime's pieces:
//   { SessionManager, world(id, withHub, now) -> { kv, hub, cookieName }, lateMs, timeoutMs }.
import { FaultyHub, FaultyKV } from './fault-store.mjs';

export const KV_TARGETS = ['s:', 'l:', 'u:', 't:', 'c:', 'o:', 'r:'];
export const HUB_TARGETS = ['append', 'pull'];
export const KV_KINDS = ['throw', 'hang', 'late', 'stale', 'foreign', 'lose'];
export const KV_CORRUPTIONS = ['truncated', 'types', 'version', 'huge', 'nonjson', 'jsonnull', 'nontext', 'loop'];
export const HUB_KINDS = ['throw', 'hang', 'late', 'stale', 'foreign', 'lose'];
export const HUB_CORRUPTIONS = ['truncated', 'types', 'version', 'huge', 'nonjson', 'jsonnull', 'nontext'];

const KEYS = 'k1:WlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlo';
const SECOND = 1000;
// Just before a multiple of the touch interval (idleTimeout / 10 = 360 s), so that a refresh at
// LATE_AT falls in the next interval and writes the last-seen key.
const T0 = 1_800_000_000_000 - 30 * 1000;
const FAST_AT = T0 + 3 * SECOND; // setup envelopes still fresh (60 s)
const LATE_AT = T0 + 62 * SECOND; // setup envelopes expired: every cookie needs its record

/** Decision calls: they never throw for a store fault; they refuse or answer ok: false. */
const NEVER_THROW = new Set(['validateFast', 'validateRefresh', 'create', 'rotate', 'update', 'destroy', 'revokeOthers', 'rotateRevoked', 'revokeOthersRevoked']);
const UNAVAILABLE = new Set(['store_unavailable', 'hub_unavailable']);
const KEEPS_COOKIE = new Set([...UNAVAILABLE, 'corrupt_cutoff']);

const pair = (setCookie) => (typeof setCookie === 'string' && !/Max-Age=0/i.test(setCookie) ? setCookie.split(';')[0] : null);
const req = (cookie) => ({ headers: new Headers(cookie ? { cookie } : {}) });

/** The sessions every world starts with, and which of them are refused before any operation. */
export const JAR = ['E', 'A1', 'A2', 'Dead', 'Old', 'New', 'B1', 'Cold', 'Cnew', 'D1', 'D2'];
export const REVOKED = ['E', 'Dead', 'Old', 'Cold', 'D2'];
const ALICE = ['A1', 'A2', 'Dead', 'Old', 'New'];

/** The operations of the public API, each on a fixed target in the world below. */
export const OPS = {
  // validate of every session in the jar, envelopes fresh (no record needed) and expired (refresh).
  validateFast: { at: FAST_AT, decisions: JAR, run: (w) => w.validateAll() },
  validateRefresh: { at: LATE_AT, decisions: JAR, run: (w) => w.validateAll() },
  create: { at: LATE_AT, run: (w) => w.A.create(req(w.jar.A1.cookie), 'alice'), ends: ['A1'] },
  rotate: { at: LATE_AT, run: (w) => w.A.rotate(req(w.jar.A1.cookie)), ends: ['A1'] },
  update: { at: LATE_AT, run: (w) => w.A.update(req(w.jar.A1.cookie), { role: 'admin' }), ends: ['A1'] },
  destroy: { at: LATE_AT, run: (w) => w.A.destroy(req(w.jar.A1.cookie)), ends: ['A1'] },
  revokeSession: { at: LATE_AT, run: (w) => w.A.revokeSession(w.jar.A1.handle), ends: ['A1'] },
  revokeUser: { at: LATE_AT, run: (w) => w.A.revokeUser('alice'), ends: ['A1', 'A2', 'New'] },
  revokeOthers: { at: LATE_AT, run: (w) => w.A.revokeOthers(req(w.jar.A1.cookie)), ends: ['A2', 'New'], keeps: ['A1'] },
  revokeIssuedBefore: { at: LATE_AT, run: (w) => w.A.revokeIssuedBefore(w.jar.B1.createdAt), ends: ['A1', 'A2', 'New'] },
  listSessions: { at: LATE_AT, run: (w) => w.A.listSessions('alice') },
  // The calls that judge a session before acting on it, on sessions already ended: each must stay refused.
  rotateRevoked: { at: LATE_AT, decisions: REVOKED, run: (w) => w.each(REVOKED, (c) => w.A.rotate(req(c))) },
  revokeOthersRevoked: { at: LATE_AT, decisions: REVOKED, run: (w) => w.each(REVOKED, (c) => w.A.revokeOthers(req(c))) },
};

/** Every case of the matrix: op x target x kind (x corruption). */
export function allCases() {
  const cases = [];
  for (const op of Object.keys(OPS)) {
    for (const world of ['hub', 'kv']) {
      for (const target of KV_TARGETS) {
        for (const kind of KV_KINDS) cases.push({ op, world, target, kind });
        for (const variant of KV_CORRUPTIONS) {
          // Listings get list corruptions; 'loop' exists only for listings.
          if (variant === 'loop' && !['u:', 't:', 'l:'].includes(target)) continue;
          cases.push({ op, world, target, kind: 'corrupt', variant });
        }
      }
      if (world === 'hub') {
        for (const target of HUB_TARGETS) {
          // Not applicable: a pull writes nothing to lose, an append has no older answer.
          for (const kind of HUB_KINDS) if (!(target === 'pull' && kind === 'lose') && !(target === 'append' && kind === 'stale')) cases.push({ op, world, target, kind });
          for (const variant of HUB_CORRUPTIONS) cases.push({ op, world, target, kind: 'corrupt', variant });
        }
      }
    }
  }
  return cases;
}

export const caseName = (c) => `${c.op} ${c.world} ${c.target ?? '-'} ${c.kind ?? 'none'}${c.variant ? `:${c.variant}` : ''}`;

function check(cond, message, out) {
  if (!cond) out.push(message);
}

/**
 * One world: a store and (in the `hub` world) a revocation hub, sessions set up by an isolate
 * that sees no fault, an actor isolate (fresh: nothing in memory) whose store and hub calls go
 * through the fault wrapper, and probes: fresh strict isolates that read the clean store and hub
 * and write nothing.
 */
async function makeWorld(env, id, spec) {
  const clock = { t: T0 };
  const now = () => clock.t;
  const withHub = spec.world === 'hub';
  const { kv: inner, hub: namespace, cookieName } = await env.world(id, withHub, now);
  const kv = new FaultyKV(inner, { lateMs: env.lateMs });
  const hub = withHub ? new FaultyHub(namespace, { lateMs: env.lateMs }) : null;
  const events = [];
  const manager = (store, hubView, extra = {}) =>
    new env.SessionManager({
      keys: KEYS,
      envelopeTtl: 60,
      idleTimeout: 3600,
      absoluteTimeout: 7200,
      storeTimeoutMs: env.timeoutMs,
      cookie: { name: cookieName },
      store,
      now,
      ...(hubView ? { hub: hubView, hubPollInterval: 1 } : {}),
      ...extra,
    });
  const setup = manager(kv.clean(), hub?.clean());
  const jar = {};
  const login = async (name, user) => {
    const r = await setup.create(null, user);
    if (!r.ok) throw new Error(`setup: login ${name}: ${r.reason}`);
    jar[name] = { cookie: pair(r.setCookie), handle: r.session.handle, createdAt: r.session.createdAt, user };
  };
  const tick = (ms = 1) => (clock.t += ms);

  // Eve's session predates a global cutoff; Alice has two sessions, one logged out and one rotated
  // away; Carol's first session fell to a user cutoff; Dave kept D1 and logged out the others.
  await login('E', 'eve');
  tick(1000);
  await setup.revokeIssuedBefore(T0 + 500);
  await login('A1', 'alice');
  tick();
  await login('A2', 'alice');
  tick();
  await login('Dead', 'alice');
  if (!(await setup.destroy(req(jar.Dead.cookie))).ok) throw new Error('setup: destroy');
  tick();
  await login('Old', 'alice');
  const rotated = await setup.rotate(req(jar.Old.cookie));
  if (!rotated.ok) throw new Error('setup: rotate');
  jar.New = { cookie: pair(rotated.setCookie), handle: rotated.session.handle, createdAt: rotated.session.createdAt, user: 'alice' };
  tick();
  await login('B1', 'bob');
  tick();
  await login('Cold', 'carol');
  await setup.revokeUser('carol');
  tick(2);
  await login('Cnew', 'carol');
  tick();
  await login('D1', 'dave');
  tick();
  await login('D2', 'dave');
  if (!(await setup.revokeOthers(req(jar.D1.cookie))).ok) throw new Error('setup: revokeOthers');
  clock.t = OPS[spec.op].at;

  const A = manager(kv.view(), hub?.view(), { onEvent: (e) => events.push(e) });
  const names = new Map(Object.entries(jar).map(([name, s]) => [s.handle, name]));

  /** Every cookie's verdict from a fresh strict isolate on the clean store and hub. */
  const probe = async (extra = {}) => {
    const p = manager(kv.readOnly(), hub?.clean(), { strict: true });
    const out = {};
    for (const [name, s] of Object.entries({ ...jar, ...extra })) {
      const r = await p.validate(req(s.cookie));
      out[name] = r.ok ? { ok: true, absolute: r.session.absoluteExpiresAt, data: r.session.data } : { ok: false, reason: r.reason };
    }
    return out;
  };

  return {
    clock,
    kv,
    hub,
    jar,
    A,
    events,
    names,
    probe,
    async validateAll() {
      const out = {};
      for (const name of JAR) out[name] = await A.validate(req(jar[name].cookie));
      return out;
    },
    async each(list, call) {
      const out = {};
      for (const name of list) out[name] = await call(jar[name].cookie);
      return out;
    },
  };
}

/** What an operation's result says, in one shape. */
function summarize(op, result, threw) {
  if (threw) return { reported: 'threw', threw };
  if (OPS[op].decisions) {
    const decisions = {};
    for (const [name, r] of Object.entries(result)) {
      // Accepted: validate ok, or a rotation/revokeOthers that judged the session live.
      decisions[name] = { accepted: r.ok === true || (r.session !== undefined && r.session !== null), reason: r.reason, clears: /Max-Age=0/i.test(r.setCookie ?? '') };
    }
    return { reported: 'decisions', decisions };
  }
  if (typeof result === 'boolean') return { reported: result ? 'ok' : 'noop' };
  if (typeof result === 'number') return { reported: 'ok', value: result };
  if (Array.isArray(result)) return { reported: 'ok', list: result };
  if (result === undefined) return { reported: 'ok' };
  return {
    reported: result.ok ? 'ok' : 'failed',
    reason: result.reason,
    newCookie: pair(result.setCookie),
    judged: result.session !== undefined && result.session !== null,
  };
}

/**
 * Runs `spec.op` in a fresh world with `spec`'s fault (none when spec.kind is undefined).
 * `known.before`: the probe of this world before the operation, when a fault-free run made it.
 */
export async function runCase(env, spec, id, known = {}) {
  const w = await makeWorld(env, id, spec);
  // Every world starts the same: the fault-free run's first probe stands for this one's.
  const before = known.before ?? (await w.probe());
  // Past the 500 ms for which workerd's isolates share a hub pull through the Cache API (the
  // probe's pull must not stand in for the actor's, nor the actor's for the probe after).
  w.clock.t += SECOND;
  const target = spec.target === undefined ? null : HUB_CALLS.has(spec.target) ? w.hub : w.kv;
  const rule = { kind: spec.kind, variant: spec.variant, ...(HUB_CALLS.has(spec.target) ? { ops: [spec.target] } : { key: spec.target }) };
  if (spec.kind) target.add(rule);
  let result;
  let threw = null;
  try {
    result = await OPS[spec.op].run(w);
  } catch (error) {
    threw = { name: error?.name, reason: error?.reason, message: String(error?.message ?? error) };
  }
  const outcome = summarize(spec.op, result, threw);
  w.kv.clear();
  w.hub?.clear();
  await w.kv.settled();
  await w.hub?.settled();
  w.clock.t += SECOND;
  const extra = outcome.newCookie ? { N: { cookie: outcome.newCookie } } : {};
  const after = await w.probe(extra);
  const calls = [...w.kv.calls, ...(w.hub?.calls ?? [])].filter((c) => c.via === 'faulty');
  // The actor's own view afterwards (its memory included), with the fault gone.
  const actorAfter = {};
  for (const name of OPS[spec.op].ends ?? []) actorAfter[name] = (await w.A.validate(req(w.jar[name].cookie))).ok;
  const listed = outcome.list?.map((s) => w.names.get(s.handle) ?? `unknown:${s.handle.slice(0, 6)}`);
  return { spec, outcome, before, after, actorAfter, calls, listed, events: w.events.map((e) => e.type) };
}

const HUB_CALLS = new Set(HUB_TARGETS);

/**
 * The violations of a case against its oracles: `same` (this world without the fault) and
 * `nohub` (the kv world without the fault: what an isolate without a hub decides).
 */
export function judge(run, same, nohub) {
  const v = [];
  const { spec, outcome, before, after, calls } = run;
  const hubFault = HUB_CALLS.has(spec.target);
  const fired = calls.some((c) => c.fault !== null);
  // (b) nothing throws but SessionStoreError, and only from management calls.
  if (outcome.reported === 'threw') {
    check(!NEVER_THROW.has(spec.op), `(b) ${spec.op} threw ${outcome.threw.name}: ${outcome.threw.message}`, v);
    check(
      outcome.threw.name === 'SessionStoreError' && UNAVAILABLE.has(outcome.threw.reason),
      `(b) threw ${outcome.threw.name} (${outcome.threw.reason}): ${outcome.threw.message}`,
      v,
    );
  }
  // (a) decisions fail closed. The oracle: this world without the fault; for a lying hub (stale,
  // foreign, lost appends) the bound of an isolate without a hub; a stale KV read without a hub
  // is KV's own propagation delay (counted, see the header).
  const lyingHub = hubFault && ['stale', 'foreign', 'lose'].includes(spec.kind);
  const oracle = lyingHub ? nohub : same;
  const kvStaleNoHub = spec.world === 'kv' && spec.kind === 'stale';
  const staleAccepted = [];
  if (outcome.reported === 'decisions') {
    for (const [name, d] of Object.entries(outcome.decisions)) {
      const o = oracle.outcome.decisions[name];
      if (d.accepted && !o.accepted && !(lyingHub && same.outcome.decisions[name].accepted)) {
        if (kvStaleNoHub) staleAccepted.push(name);
        else v.push(`(a) ${name} accepted; without the fault: refused (${o.reason})`);
      }
      // A store or hub that failed, or a cutoff that cannot be read, says nothing against the session.
      if (!d.accepted && KEEPS_COOKIE.has(d.reason)) check(!d.clears, `(a) ${name}: ${d.reason} cleared the cookie`, v);
    }
  }
  if (['rotate', 'update', 'revokeOthers', 'create'].includes(spec.op) && outcome.judged && !same.outcome.judged) {
    v.push(`(a) ${spec.op} judged A1 live; without the fault it did not`);
  }
  // (c) the caller is told the truth. A write the store refused or never answered is a failure the
  // operation must report (the last-seen write of a refresh excepted: it only feeds the devices
  // list; create goes ahead when only the hub missed the end of the old session, as documented).
  // A hub append answered with a damaged body (no sequence numbers) may or may not have been kept.
  const garbled = (c) => c.op === 'append' && c.outcome === 'altered' && !['huge', 'version'].includes(c.variant);
  const detectable = calls.filter((c) => ['threw', 'hung', 'late'].includes(c.outcome) || garbled(c));
  const required = detectable.filter((c) => {
    if (c.op === 'pull') return spec.op === 'revokeOthers';
    if (c.op === 'get' || c.op === 'list') return true;
    if (c.op === 'put' && c.key.startsWith('t:')) return false;
    if (c.op === 'append' && spec.op === 'create') return false;
    return true;
  });
  if (outcome.reported === 'ok' && required.length > 0) {
    v.push(`(c) reported success although ${required.map((c) => `${c.op} ${c.key.slice(0, 3)}… ${c.outcome}`).join(', ')}`);
  }
  // A success is real: what the fault-free run ends is ended here too (seen by a fresh isolate
  // reading the clean store and hub). A lost write the store answered as done cannot be detected:
  // the other channel (the hub's entry, the login's tombstone, the cutoff) must still hold, and
  // the actor itself must refuse.
  // Undetectable: a write the store answered as done and dropped, or a read answering another
  // key's valid value (a revocation that finds a cutoff already covering it writes nothing).
  const undetectable = calls.some((c) => c.outcome === 'lost' || c.fault === 'foreign');
  const unexplained = [];
  if (outcome.reported === 'ok') {
    for (const name of OPS[spec.op].ends ?? []) {
      if (!same.after[name].ok && after[name].ok) unexplained.push(name);
    }
    for (const name of OPS[spec.op].keeps ?? []) {
      check(after[name].ok === same.after[name].ok, `(c) ${name} kept: ${JSON.stringify(after[name])}, fault-free ${JSON.stringify(same.after[name])}`, v);
    }
    if (outcome.newCookie) {
      check(after.N?.ok === true, `(c) the new session is refused after a reported success: ${after.N?.reason}`, v);
      if (spec.op === 'update' && after.N?.ok) check(after.N.data?.role === 'admin', '(c) update lost its data', v);
    }
  }
  // "No such live session" (revokeSession false) changes nothing.
  if (outcome.reported === 'noop') {
    const writes = calls.filter((c) => ['put', 'delete', 'append'].includes(c.op));
    check(writes.length === 0, `(c) answered false but wrote ${writes.map((c) => c.key.slice(0, 2))}`, v);
  }
  const lostOnly = [];
  for (const name of unexplained) {
    if (undetectable && spec.world === 'kv') lostOnly.push(name);
    else v.push(`(c) ${spec.op} reported success but ${name} is still accepted`);
  }
  for (const name of lostOnly) check(run.actorAfter[name] === false, `(c) lost write: the actor itself accepts ${name}`, v);
  if (spec.op === 'listSessions' && outcome.reported === 'ok') {
    // A listing shows only the user's live sessions: never another user's, never an ended one.
    // A stale listing is KV's listing lag: it may still show a session of the user ended since
    // (revoking that one again is a no-op), never anyone else's.
    const allowed = new Set(spec.kind === 'stale' ? ALICE : same.listed);
    for (const name of run.listed) check(allowed.has(name), `(a) listSessions showed ${name}`, v);
  }
  // (d) no partial write leaves a session more valid than before: refused stays refused, and no
  // absolute deadline moves later.
  for (const [name, b] of Object.entries(before)) {
    const a = after[name];
    if (!b.ok) check(!a.ok, `(d) ${name} was refused (${b.reason}) and is now accepted`, v);
    if (b.ok && a.ok) check(a.absolute <= b.absolute, `(d) ${name}'s absolute deadline moved later`, v);
  }
  if (after.N?.ok && before.A1.ok) check(after.N.absolute <= before.A1.absolute || spec.op === 'create', '(d) the new session outlives the old one', v);
  return { violations: v, fired, staleAccepted, lostOnly };
}
