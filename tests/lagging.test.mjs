// Revocation on an eventually consistent store, for the JS layer (pkg/node.js).
//
// Several SessionManagers in different locations share one model of Workers KV
// (tests/js/lagging-store.mjs: a change reaches other locations after up to 60 s, last write wins,
// list() lags, no compare-and-swap). Random, seeded schedules interleave every operation, clock
// advances, store calls held in flight while others run, and store faults; afterwards every
// decision is checked against these properties, with B = envelopeTtl + 60 s + 5 s of clock skew:
//
//   (a) after a successful revocation completed at t, no manager accepts a session it covers at or
//       after t + B (accepts = validate ok, or rotate/update judging the old session live). A
//       logout (`destroy`, or a login over the session) and `revokeSession` cover the whole login:
//       the session and every rotation of it (its lineage), including rotations made later from a
//       stale record where the store lagged; a rotation covers only the old session;
//   (b) once a manager refused a revoked session (revoked/rotated), it never accepts it again;
//   (c) without store faults, a live, active session is never refused; the one exception is a
//       rotate/update at a location its record has not reached yet (its envelope signed less than
//       60 s + 5 s + the write grace, 2 x storeTimeoutMs, ago), which answers store_unavailable
//       with the cookie kept (nothing to copy yet; the client tries again);
//   (d) a store failure never yields a clearing Set-Cookie on validate/rotate/update: it is
//       refused as store_unavailable with the cookie kept.
//
// One documented limit is excluded (ARCHITECTURE.md): KV has no compare-and-swap, so revocation
// cutoffs written from different locations (or a write that lands after its caller was told it
// failed) can land out of order, and last write wins lowers the stored cutoff. A violation of (a)
// or (b) is excluded only when the decision rests on exactly such a write: every revocation that
// covers the session is a cutoff, and the cutoff value the decision read (or the refresh that
// issued the envelope it accepted, on the fast path) is a later-landing, lower value written from
// another location or landing late. Those are counted and printed, never hidden; anything else
// fails, including a cutoff lowered by one manager's own later write (its calls are serialized).
//
// The oracle: "accepted at" is the time the manager decided (the start of the call: its `now`);
// "revoked at t" is when the revoking call returned success, without any silently lost write.
// User and global cutoffs cover sessions by their stamped createdAt (the revoker's clock decides,
// as documented). Live and active, for (c): nothing that could end the session (logout or
// revokeSession of any session of its login, a login over one, its own rotation, a revocation
// covering it, or a revokeUser whose listing could see it) started before the decision finished,
// and the cookie presented is neither within 5 s of its idle nor absolute deadline. Store calls
// are held "in flight" at most 5 s of fake time, and the managers' storeTimeoutMs is that same 5 s
// (the driver's default), so their write grace (2 x storeTimeoutMs: a record may land up to a read
// and a write after its envelope was signed) is exactly what the model can produce.
//
// A failing schedule prints its seed and a trace; LAGGING_SEED=<seed> replays just that one,
// LAGGING_SCHEDULES=<n> runs more (or fewer), LAGGING_VERBOSE=1 prints each schedule's violations,
// LAGGING_DUMP=<key prefix> prints every store write to such keys, LAGGING_STRICT=1 fails on the
// excluded cutoff races too. After the random schedules come hand-written cases, including one
// deterministic test per bug these schedules found (all fixed).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AsyncLocalStorage } from 'node:async_hooks';
import { createHash } from 'node:crypto';
import { SessionManager, SessionStoreError } from '../pkg/node.js';
import { LaggingKV, SharedClock, makeRng } from './js/lagging-store.mjs';

const SECOND = 1000;
const ENVELOPE_TTL_S = 60;
const IDLE_S = 600;
const ABSOLUTE_S = 1800;
const SKEW_MS = 5 * SECOND; // the core's clock-skew allowance
const PROPAGATION_MS = 60 * SECOND;
const B = ENVELOPE_TTL_S * SECOND + PROPAGATION_MS + SKEW_MS;
/** Longest a store call stays in flight (the driver's default storeTimeoutMs). */
const MAX_IN_FLIGHT_MS = 5 * SECOND;
/** The managers' storeTimeoutMs: the model's in-flight bound. */
const STORE_TIMEOUT_MS = MAX_IN_FLIGHT_MS;
/** How late a record may land after its envelope was signed: a read and a write (the core's write grace). */
const WRITE_GRACE_MS = 2 * STORE_TIMEOUT_MS;
/** An absent record is "not visible here yet", not gone, until this long after its envelope was signed. */
const YOUNG_MS = PROPAGATION_MS + SKEW_MS + WRITE_GRACE_MS;
const KEYS = `k1:${Buffer.alloc(32, 0x5a).toString('base64url')}`;
const USERS = ['ana', 'ben', 'cai', 'dee'];
const LOCATIONS = ['a', 'b', 'c', 'op'];
const FRONT = ['a', 'b', 'c'];

// Session IDs come from crypto.getRandomValues. Inside a schedule they are drawn from its seed
// (handles order listings, so they steer the schedule), so that a seed replays exactly; everywhere
// else the real generator is used.
const realGetRandomValues = globalThis.crypto.getRandomValues.bind(globalThis.crypto);
let idRng;
globalThis.crypto.getRandomValues = (array) => {
  if (!idRng) return realGetRandomValues(array);
  const bytes = new Uint8Array(array.buffer, array.byteOffset, array.byteLength);
  for (let i = 0; i < bytes.length; i += 1) bytes[i] = idRng.int(256);
  return array;
};

const als = new AsyncLocalStorage();
const flush = () => new Promise((resolve) => setImmediate(resolve));
const pair = (setCookie) => setCookie.split(';')[0];
const clears = (setCookie) => typeof setCookie === 'string' && /Max-Age=0/i.test(setCookie);
const userCutoffKey = (user) => `c:${createHash('sha256').update(user).digest('base64url')}`;
const GLOBAL_CUTOFF_KEY = 'r:issued_before';
const isCutoffKey = (key) => key === GLOBAL_CUTOFF_KEY || key.startsWith('c:') || key.startsWith('o:');
/** The `before` of a stored cutoff's text, or undefined when it is none. */
const cutoffOf = (text) => {
  try {
    const before = JSON.parse(text)?.before;
    return typeof before === 'number' ? before : undefined;
  } catch {
    return undefined;
  }
};
/** Revocations that end a whole login (every rotation of it), not just one session ID. */
const LINEAGE_KINDS = new Set(['logout', 'loginOver', 'revokeSession']);
const REVOKED_REASONS = new Set(['revoked', 'rotated']);

/** How a schedule behaves: holds (calls left in flight), faults, clock skew between locations. */
const MODES = {
  plain: { hold: 0, fault: 0, skew: 0 },
  inflight: { hold: 0.2, fault: 0, skew: 0 },
  skewed: { hold: 0.1, fault: 0, skew: 2 * SECOND },
  faulty: { hold: 0.1, fault: 0.08, skew: 0 },
  'faulty+skewed': { hold: 0.1, fault: 0.08, skew: 2 * SECOND },
};

function modeFor(seed) {
  const names = Object.keys(MODES);
  return names[seed % names.length];
}

function newCounters() {
  return {
    schedules: 0,
    ops: 0,
    revocations: { logout: 0, loginOver: 0, rotate: 0, update: 0, revokeSession: 0, revokeUser: 0, revokeIssuedBefore: 0 },
    failedRevocations: 0,
    a_probesAfterBound: 0, // decisions on revoked sessions at >= t + B (every one must refuse)
    a_probesAfterBoundLive: 0, // ... of which the cookie was not idle/absolute-expired anyway
    a_acceptedInsideWindow: 0, // revoked, but accepted before t + B (staleness really happened)
    a_probesOfLaterRotations: 0, // ... decisions >= t + B on sessions rotated out of a login after its logout
    b_laterDecisions: 0, // decisions by a manager after it refused a revoked session
    c_liveDecisions: 0, // decisions on live, active sessions (fault-free schedules)
    c_youngRecordRetries: 0, // ... of which rotate/update answered store_unavailable: record not here yet
    young_validateAccepted: 0, // refreshes accepted on the envelope alone: record not here yet
    d_storeUnavailable: 0, // refusals with store_unavailable on validate/rotate/update
    d_faultedDecisions: 0, // validate/rotate/update calls whose own store calls failed
    lineage_rotationsOfRevoked: 0, // rotations of an already revoked session that succeeded (stale store)
    cutoffWrites: 0,
    cutoffLoweredByRace: 0, // cutoff writes that lowered the stored value: cross-location or late (the documented limit)
    staleReads: 0,
    writesAfterStaleRead: 0,
    listOmissions: 0,
    held: 0,
    faults: { throw: 0, timeout: 0, late: 0, lose: 0 },
    refusalReasons: {},
    violations: { a: 0, b: 0, c: 0, d: 0, cutoff: 0, crash: 0 },
    excluded: { cutoffRace: 0 }, // violations of (a)/(b) caused by such a lowered cutoff (see the header)
  };
}

class Schedule {
  constructor(seed, modeName, counters) {
    this.seed = seed;
    this.modeName = modeName;
    this.mode = MODES[modeName];
    this.counters = counters;
    this.rng = makeRng(seed);
    this.clock = new SharedClock(1_800_000_000_000 + seed * 7_919);
    this.t0 = this.clock.t;
    this.kv = new LaggingKV({
      clock: this.clock,
      rng: makeRng(seed ^ 0x9e3779b9),
      locations: LOCATIONS,
      listLimit: 1 + (seed % 3), // small pages: the driver must follow cursors
      context: () => als.getStore(),
    });
    this.kv.intercept = (call) => this.#intercept(call);
    this.offset = {};
    this.managers = {};
    for (const loc of LOCATIONS) {
      this.offset[loc] = this.mode.skew ? this.rng.between(-this.mode.skew, this.mode.skew) : 0;
      this.managers[loc] = new SessionManager({
        store: this.kv.at(loc),
        keys: KEYS,
        envelopeTtl: ENVELOPE_TTL_S,
        idleTimeout: IDLE_S,
        absoluteTimeout: ABSOLUTE_S,
        // In flight is modelled on the fake clock: a held call is released (within 5 s of fake
        // time) long before this real-time deadline could fire, since a whole schedule runs in
        // milliseconds. It sets the core's write grace to 2 x 5 s, the model's bound.
        storeTimeoutMs: STORE_TIMEOUT_MS,
        now: () => this.clock.t + this.offset[loc],
      });
    }
    this.seq = 0;
    this.ops = [];
    this.running = new Set();
    /** handle -> { handle, user, createdAt, absolute, parent, latest: { cookie, issuedAt }, ... } */
    this.sessions = new Map();
    this.cookies = new Map(); // cookie -> issuedAt (the envelope's signing time)
    this.issuers = new Map(); // cookie -> the operation that issued it
    this.clients = []; // handles a well-behaved browser holds
    this.retries = []; // failed logouts the user will try again
    this.revocations = []; // successful revocations: { kind, handle?, user?, upTo?, before?, t, op }
    this.violations = [];
  }

  // ---- store interception: holds and faults ------------------------------------------------

  #intercept(call) {
    const op = call.ctx;
    const write = call.op === 'put' || call.op === 'delete';
    let action;
    if (this.mode.fault && this.rng.chance(this.mode.fault)) {
      action = this.rng.pick(write ? ['throw', 'timeout', 'late', 'lose'] : ['throw', 'timeout']);
      this.counters.faults[action] += 1;
      if (op) op.faults.push(`${action} ${call.op} ${call.key ?? call.prefix}`);
    } else if (this.mode.hold && this.rng.chance(this.mode.hold)) {
      action = 'hold';
      this.counters.held += 1;
    }
    return action;
  }

  /** Releases held calls (oldest first) that would have been in flight longer than allowed at `until`. */
  async #releaseDue(until) {
    for (;;) {
      const due = this.kv.held.filter((h) => h.heldAt + MAX_IN_FLIGHT_MS <= until).sort((x, y) => x.heldAt - y.heldAt)[0];
      if (!due) return;
      this.clock.to(due.heldAt + this.rng.int(MAX_IN_FLIGHT_MS + 1));
      this.kv.release(due);
      await flush();
    }
  }

  async advance(ms) {
    const target = this.clock.t + ms;
    await this.#releaseDue(target);
    this.clock.to(target);
  }

  async releaseOne() {
    if (this.kv.held.length === 0) return;
    this.kv.release(this.rng.pick(this.kv.held));
    await flush();
  }

  // ---- operations ---------------------------------------------------------------------------

  now(loc) {
    return this.clock.t + this.offset[loc];
  }

  /** Starts an operation and lets it run until it completes or waits on a held store call. */
  async start(kind, loc, args, call) {
    const op = {
      id: this.ops.length + 1,
      kind,
      loc,
      args,
      startSeq: (this.seq += 1),
      startT: this.clock.t,
      locNow: this.now(loc),
      logAtStart: this.kv.log.length,
      faults: [],
    };
    this.ops.push(op);
    this.counters.ops += 1;
    const manager = this.managers[loc];
    const promise = als.run(op, () => Promise.resolve().then(() => call(manager)));
    const settled = promise.then(
      (result) => this.#done(op, { result }),
      (error) => this.#done(op, { error }),
    );
    this.running.add(settled);
    settled.finally(() => this.running.delete(settled));
    await flush();
    return op;
  }

  #done(op, { result, error }) {
    op.endSeq = this.seq += 1;
    op.endT = this.clock.t;
    op.result = result;
    op.error = error;
    op.tainted = Boolean(error) || op.faults.length > 0;
    this.#record(op);
  }

  #session(handle) {
    return this.sessions.get(handle);
  }

  #newSession(op, session, setCookie, parent) {
    const cookie = pair(setCookie);
    const s = {
      handle: session.handle,
      user: session.userId,
      createdAt: session.createdAt,
      absolute: session.absoluteExpiresAt,
      parent,
      // The login it descends from: a login starts one, every rotation keeps its parent's.
      lineage: parent ? this.#session(parent).lineage : session.handle,
      latest: { cookie, issuedAt: session.issuedAt },
      createdBy: op,
    };
    this.sessions.set(s.handle, s);
    this.cookies.set(cookie, session.issuedAt);
    this.issuers.set(cookie, op);
    this.clients.push(s.handle);
    return s;
  }

  #newCookie(op, handle, session, setCookie) {
    const s = this.#session(handle);
    if (!s || !setCookie || clears(setCookie)) return;
    const cookie = pair(setCookie);
    this.cookies.set(cookie, session.issuedAt);
    this.issuers.set(cookie, op);
    if (session.issuedAt >= s.latest.issuedAt) s.latest = { cookie, issuedAt: session.issuedAt };
  }

  #revoked(op, kind, fields) {
    if (op.faults.some((f) => f.startsWith('lose'))) return; // a silently lost write: no promise to keep
    // A logout or revokeSession ends the session's whole login (lineage), a rotation only its ID.
    const lineage = LINEAGE_KINDS.has(kind) ? this.#session(fields.handle)?.lineage : undefined;
    this.revocations.push({ kind, t: op.endT, op, ...fields, ...(lineage ? { lineage } : {}) });
    this.counters.revocations[kind] += 1;
  }

  /** What an operation's outcome means for the oracle. */
  #record(op) {
    const { result, error } = op;
    const r = result ?? {};
    if (r.reason) this.counters.refusalReasons[r.reason] = (this.counters.refusalReasons[r.reason] ?? 0) + 1;
    switch (op.kind) {
      case 'login': {
        if (r.ok) this.#newSession(op, r.session, r.setCookie, null);
        if (op.args.over && r.ok) this.#revoked(op, 'loginOver', { handle: op.args.over });
        break;
      }
      case 'validate': {
        op.accepted = r.ok === true;
        if (r.ok && r.setCookie) this.#newCookie(op, op.args.handle, r.session, r.setCookie);
        if (!r.ok && clears(r.setCookie)) this.clients = this.clients.filter((h) => h !== op.args.handle);
        break;
      }
      case 'rotate':
      case 'update': {
        // A rotation judged the old session live when it produced a new one (ok, or store_unavailable
        // after the new session was stored but the old one could not be retired).
        op.accepted = Boolean(r.session);
        if (r.session) {
          const parent = this.#session(op.args.handle);
          this.#newSession(op, r.session, r.setCookie, op.args.handle);
          this.clients = this.clients.filter((h) => h !== op.args.handle);
          if (parent && this.#revokedBefore(parent, op.startSeq) !== undefined) {
            this.counters.lineage_rotationsOfRevoked += 1;
          }
        } else if (clears(r.setCookie)) {
          this.clients = this.clients.filter((h) => h !== op.args.handle);
        }
        if (r.ok) this.#revoked(op, op.kind, { handle: op.args.handle });
        break;
      }
      case 'logout': {
        // A failed logout leaves the browser logged in: it will try again.
        if (r.ok) this.#revoked(op, 'logout', { handle: op.args.handle });
        if (r.ok) this.clients = this.clients.filter((h) => h !== op.args.handle);
        else this.retries.push(op); // typically right away, from the same page (the same location)
        break;
      }
      case 'revokeSession': {
        if (r === true || result === true) this.#revoked(op, 'revokeSession', { handle: op.args.handle });
        break;
      }
      case 'revokeUser': {
        if (!error) this.#revoked(op, 'revokeUser', { user: op.args.user, upTo: op.locNow });
        break;
      }
      case 'revokeIssuedBefore': {
        if (!error) this.#revoked(op, 'revokeIssuedBefore', { before: op.args.before });
        break;
      }
      default:
        throw new Error(`unknown op ${op.kind}`);
    }
    if (error && !(error instanceof SessionStoreError)) {
      this.violation('crash', op, `unexpected ${error.name}: ${error.message}`);
    }
    if (['logout', 'revokeSession', 'revokeUser', 'revokeIssuedBefore'].includes(op.kind) && (error || r.ok === false)) {
      this.counters.failedRevocations += 1;
    }
  }

  /** Whether a successful revocation covers session `s`. */
  static covers(rev, s) {
    if (rev.lineage !== undefined) return rev.lineage === s.lineage;
    if (rev.handle !== undefined) return rev.handle === s.handle;
    if (rev.user !== undefined) return rev.user === s.user && s.createdAt <= rev.upTo;
    return s.createdAt < rev.before;
  }

  /** The earliest completion time of a successful revocation of `s` completed before event `seq`. */
  #revokedBefore(s, seq) {
    let t;
    for (const rev of this.revocations) {
      if (rev.op.endSeq < seq && Schedule.covers(rev, s) && (t === undefined || rev.t < t)) t = rev.t;
    }
    return t;
  }

  /** The earliest completion time of any successful revocation of `s`. */
  #revokedAt(s) {
    return this.#revokedBefore(s, Infinity);
  }

  /**
   * Records a broken property; `excluded` names the documented limit it is an instance of (see
   * EXCLUDED), with the cause found.
   */
  violation(property, op, message, excluded) {
    this.violations.push({ property, op, message, excluded });
  }

  // ---- the random schedule ------------------------------------------------------------------

  #anySession() {
    const all = [...this.sessions.values()];
    return all.length ? this.rng.pick(all) : undefined;
  }

  #clientSession() {
    const live = this.clients.map((h) => this.#session(h)).filter(Boolean);
    return live.length ? this.rng.pick(live) : this.#anySession();
  }

  #revokedSession(afterBound) {
    const now = this.clock.t;
    const candidates = [...this.sessions.values()].filter((s) => {
      const t = this.#revokedAt(s);
      return t !== undefined && (!afterBound || now >= t + B);
    });
    return candidates.length ? this.rng.pick(candidates) : undefined;
  }

  async validate(s, loc) {
    const cookie = s.latest.cookie;
    return this.start('validate', loc, { handle: s.handle, cookie, issuedAt: this.cookies.get(cookie) }, (m) => m.validate(cookie));
  }

  async rotate(s, loc, kind = this.rng.chance(0.5) ? 'rotate' : 'update') {
    const cookie = s.latest.cookie;
    const args = { handle: s.handle, cookie, issuedAt: this.cookies.get(cookie) };
    if (kind === 'rotate') return this.start('rotate', loc, args, (m) => m.rotate(cookie));
    const data = { n: this.rng.int(1000) };
    return this.start('update', loc, args, (m) => m.update(cookie, data));
  }

  async step() {
    if (this.retries.length > 0 && this.rng.chance(0.5)) {
      const failed = this.retries.shift();
      const cookie = failed.args.cookie;
      const loc = this.rng.chance(0.8) ? failed.loc : this.rng.pick(FRONT);
      await this.start('logout', loc, { handle: failed.args.handle, cookie, retry: true }, (m) => m.destroy(cookie));
      return;
    }
    const front = this.rng.pick(FRONT);
    const action = this.rng.weighted({
      login: 10,
      validate: 28,
      attack: 6,
      probe: 6,
      logout: 6,
      rotate: 7,
      revokeSession: 4,
      revokeUser: 3,
      revokeIssuedBefore: 1.5,
      advance: 22,
      release: this.kv.held.length ? 10 : 0,
    });
    switch (action) {
      case 'login': {
        const user = this.rng.pick(USERS);
        const over = this.rng.chance(0.15) ? this.#anySession() : undefined;
        const cookie = over?.latest.cookie;
        await this.start('login', front, { user, over: over?.handle }, (m) => m.create(cookie ?? null, user, this.rng.chance(0.3) ? { data: { role: 'user' } } : {}));
        break;
      }
      case 'validate': {
        const s = this.#clientSession();
        if (s) await this.validate(s, front);
        break;
      }
      case 'attack': {
        // Someone keeps using (or rotating) a revoked session, typically where the store lags.
        const s = this.#revokedSession(false) ?? this.#anySession();
        if (!s) break;
        if (this.rng.chance(0.7)) await this.validate(s, front);
        else await this.rotate(s, front);
        break;
      }
      case 'probe': {
        const s = this.#revokedSession(true);
        if (!s) break;
        if (this.rng.chance(0.75)) await this.validate(s, front);
        else await this.rotate(s, front);
        break;
      }
      case 'logout': {
        const s = this.#clientSession();
        if (s) {
          const cookie = s.latest.cookie;
          await this.start('logout', front, { handle: s.handle, cookie }, (m) => m.destroy(cookie));
        }
        break;
      }
      case 'rotate': {
        const s = this.#clientSession();
        if (s) await this.rotate(s, front);
        break;
      }
      case 'revokeSession': {
        const s = this.#anySession();
        if (!s) break;
        const loc = this.rng.chance(0.6) ? 'op' : front;
        const owner = this.rng.chance(0.5) ? s.user : undefined;
        await this.start('revokeSession', loc, { handle: s.handle, owner }, (m) => m.revokeSession(s.handle, owner));
        break;
      }
      case 'revokeUser': {
        const user = this.rng.pick(USERS);
        const loc = this.rng.chance(0.7) ? 'op' : front;
        await this.start('revokeUser', loc, { user }, (m) => m.revokeUser(user));
        break;
      }
      case 'revokeIssuedBefore': {
        const before = this.now('op') - this.rng.pick([0, 1, this.rng.int(120 * SECOND), this.rng.int(900 * SECOND)]);
        await this.start('revokeIssuedBefore', 'op', { before }, (m) => m.revokeIssuedBefore(before));
        break;
      }
      case 'advance': {
        const roll = this.rng.next();
        const ms =
          roll < 0.35 ? this.rng.int(3 * SECOND)
          : roll < 0.7 ? this.rng.between(3 * SECOND, 40 * SECOND)
          : roll < 0.95 ? this.rng.between(40 * SECOND, 130 * SECOND)
          : this.rng.between(300 * SECOND, 700 * SECOND);
        await this.advance(ms);
        break;
      }
      case 'release':
        await this.releaseOne();
        break;
      default:
        throw new Error(action);
    }
  }

  /** Lets everything in flight finish (each held call lands within MAX_IN_FLIGHT_MS of being made). */
  async settle() {
    let idle = 0;
    while (this.kv.held.length > 0 || this.running.size > 0) {
      if (this.kv.held.length > 0) {
        const oldest = this.kv.held.reduce((x, y) => (y.heldAt < x.heldAt ? y : x));
        this.clock.to(oldest.heldAt + this.rng.int(MAX_IN_FLIGHT_MS + 1));
        this.kv.release(oldest);
        idle = 0;
      } else if ((idle += 1) > 100) {
        throw new Error(`seed ${this.seed}: ${this.running.size} operations never finished`);
      }
      await flush();
    }
  }

  async run(steps) {
    for (let i = 0; i < steps; i += 1) await this.step();
    await this.settle();
    // Finally: once every revocation is past its bound, every location is asked about every
    // revoked session (a validate, and for some an attempt to rotate it).
    const last = Math.max(this.clock.t, ...this.revocations.map((r) => r.t + B));
    await this.advance(last - this.clock.t);
    for (const s of [...this.sessions.values()]) {
      if (this.#revokedAt(s) === undefined) continue;
      for (const loc of FRONT) {
        await this.validate(s, loc);
        if (this.rng.chance(0.2)) await this.rotate(s, loc);
      }
    }
    await this.settle();
    this.check();
    if (process.env.LAGGING_DUMP) {
      for (const w of this.kv.log) if (w.key.startsWith(process.env.LAGGING_DUMP)) console.log('WRITE', ((w.at - this.t0) / 1000).toFixed(3), w.origin, w.key.slice(0, 12), w.value, JSON.stringify(w.delay));
    }
    const st = this.kv.stats;
    this.counters.staleReads += st.staleReads;
    this.counters.writesAfterStaleRead += st.writesAfterStaleRead;
    this.counters.listOmissions += st.listOmissions;
    this.counters.schedules += 1;
  }

  // ---- the properties -----------------------------------------------------------------------

  check() {
    const c = this.counters;
    const faultFree = this.mode.fault === 0;
    // Managers that ran a revocation which failed or lost a write hold in-memory refusals the store
    // never learnt about; (b) is not about those.
    const taintedAt = new Map(LOCATIONS.map((l) => [l, []]));
    for (const op of this.ops) {
      const revocation = ['logout', 'login', 'rotate', 'update', 'revokeSession', 'revokeUser', 'revokeIssuedBefore'].includes(op.kind);
      if (revocation && (op.tainted || op.result?.reason === 'store_unavailable')) taintedAt.get(op.loc).push(op);
    }
    const lineageOf = (handle) => (handle === undefined ? undefined : this.#session(handle)?.lineage);
    const touches = (op, s) =>
      op.args.handle === s.handle ||
      op.args.over === s.handle ||
      (['logout', 'revokeSession'].includes(op.kind) && lineageOf(op.args.handle) === s.lineage) ||
      (op.kind === 'login' && lineageOf(op.args.over) === s.lineage) ||
      (op.args.user !== undefined && op.args.user === s.user) ||
      op.kind === 'revokeIssuedBefore';

    const decisions = this.ops.filter((op) => ['validate', 'rotate', 'update'].includes(op.kind) && op.endSeq !== undefined);
    for (const op of decisions) {
      const s = this.#session(op.args.handle);
      const r = op.result ?? {};
      const revokedAt = this.#revokedAt(s);
      const record = this.#readOf(op, `s:${s.handle}`);
      if (op.kind === 'validate' && r.ok && r.refreshed && r.setCookie === null && record === null) c.young_validateAccepted += 1;

      // (a) no acceptance at or after t + B.
      if (revokedAt !== undefined && op.startT >= revokedAt + B) {
        c.a_probesAfterBound += 1;
        const locNow = op.locNow;
        if (locNow < op.args.issuedAt + IDLE_S * SECOND - SKEW_MS && locNow < s.absolute - SKEW_MS) c.a_probesAfterBoundLive += 1;
        const covering = this.revocations.filter((rev) => rev.t <= op.startT - B && Schedule.covers(rev, s));
        if (covering.some((rev) => rev.lineage !== undefined && rev.op.endSeq < s.createdBy.startSeq)) c.a_probesOfLaterRotations += 1;
        if (op.accepted) {
          const how = covering.map((rev) => `${rev.kind} #${rev.op.id}`).join(', ');
          const race = this.#cutoffRace(s, op, this.#revocationCutoffs(covering));
          this.violation('a', op, `accepted ${op.startT - revokedAt} ms after its revocation (${how}) completed (bound ${B} ms)${race ? `: ${race}` : ''}`, race ? 'cutoffRace' : undefined);
        }
      } else if (revokedAt !== undefined && op.accepted && op.startT >= revokedAt) {
        c.a_acceptedInsideWindow += 1;
      }

      // (d) store failures keep the cookie.
      const detected = op.faults.some((f) => !f.startsWith('lose'));
      if (detected) {
        c.d_faultedDecisions += 1;
        if (!r.ok && r.reason !== 'store_unavailable') {
          this.violation('d', op, `its store call failed (${op.faults}) but it answered ${r.reason}`);
        }
      }
      if (r.reason === 'store_unavailable') {
        c.d_storeUnavailable += 1;
        const kept = op.kind === 'validate' ? r.setCookie === null : r.setCookie === null || (Boolean(r.session) && !clears(r.setCookie));
        if (!kept || clears(r.setCookie)) this.violation('d', op, `store_unavailable with Set-Cookie ${r.setCookie}`);
      }

      // (c) a live, active session is never refused (fault-free schedules).
      if (faultFree && this.#liveAndActive(s, op)) {
        c.c_liveDecisions += 1;
        // A rotation needs the record to copy: where it has not arrived yet (an envelope signed
        // less than propagation + skew + write grace ago), try again later, cookie kept.
        const young =
          op.kind !== 'validate' &&
          r.reason === 'store_unavailable' &&
          r.setCookie === null &&
          op.faults.length === 0 &&
          record === null &&
          op.locNow < op.args.issuedAt + YOUNG_MS;
        if (young) c.c_youngRecordRetries += 1;
        else if (!op.accepted) {
          const seen = record === undefined ? 'no record read' : record === null ? 'record not visible here' : 'record visible';
          this.violation('c', op, `live, active session refused: ${r.reason} (${seen}, envelope signed ${op.locNow - op.args.issuedAt} ms before by this clock)`);
        }
      }
    }

    // (b) a manager that refused a revoked session never accepts it again.
    for (const s of this.sessions.values()) {
      if (this.#revokedAt(s) === undefined) continue;
      for (const loc of FRONT) {
        if (taintedAt.get(loc).some((op) => touches(op, s))) continue;
        let refusal;
        for (const op of decisions) {
          if (op.loc !== loc || op.args.handle !== s.handle) continue;
          if (refusal && op.startSeq > refusal.endSeq) {
            c.b_laterDecisions += 1;
            if (op.accepted) {
              const race = this.#cutoffRace(s, op, this.#refusalCutoffs(s, refusal));
              const how = op.kind === 'validate' && op.result.refreshed === false ? 'on the fast path' : 'from the store';
              this.violation('b', op, `accepted ${how} after refusing it as ${refusal.result.reason} (op #${refusal.id})${race ? `: ${race}` : ''}`, race ? 'cutoffRace' : undefined);
            }
          }
          if (!refusal && !op.accepted && REVOKED_REASONS.has(op.result?.reason)) refusal = op;
        }
      }
    }

    // One manager never lowers a stored cutoff (its revokeUser/revokeIssuedBefore calls are
    // serialized and only raise); across locations, or landing late, it can (the documented limit).
    for (const [key, writes] of this.kv.byKey) {
      if (!isCutoffKey(key)) continue;
      const order = [...writes].sort((x, y) => x.at - y.at || x.seq - y.seq); // last write wins
      for (let i = 0; i < order.length; i += 1) {
        const w = order[i];
        const before = cutoffOf(w.value);
        c.cutoffWrites += 1;
        const higher = order.slice(0, i).filter((x) => cutoffOf(x.value) > before);
        if (higher.length === 0) continue;
        const own = higher.find((x) => x.origin === w.origin);
        if (own && !w.late) {
          const op = w.ctx ?? { id: '?', kind: 'write', loc: w.origin, args: {} };
          this.violation('cutoff', op, `${key.slice(0, 12)} lowered from ${this.rel(cutoffOf(own.value))} (op #${own.ctx?.id}) to ${this.rel(before)} by the same location`);
        } else {
          c.cutoffLoweredByRace += 1;
        }
      }
    }

    for (const v of this.violations) {
      if (v.excluded) c.excluded[v.excluded] = (c.excluded[v.excluded] ?? 0) + 1;
      else c.violations[v.property] = (c.violations[v.property] ?? 0) + 1;
    }
  }

  rel(t) {
    return t === undefined ? '?' : `${((t - this.t0) / 1000).toFixed(3)}s`;
  }

  /** The write `op` read for `key`: a write, null (nothing there) or undefined (not read). */
  #readOf(op, key) {
    const read = (op?.reads ?? []).find((x) => x.key === key);
    return read === undefined ? undefined : read.write;
  }

  /**
   * The store reads a decision rests on: its own, or, for an envelope accepted on the fast path,
   * those of the refresh or rotation that issued that envelope.
   */
  #basis(op) {
    if (op.kind === 'validate' && op.result?.refreshed === false) return this.issuers.get(op.args.cookie);
    return op;
  }

  /** The cutoff writes through which revocations `revs` cover a session: [] unless all are cutoffs. */
  #revocationCutoffs(revs) {
    const out = [];
    for (const rev of revs) {
      if (rev.kind !== 'revokeUser' && rev.kind !== 'revokeIssuedBefore') return [];
      const key = rev.kind === 'revokeUser' ? userCutoffKey(rev.user) : GLOBAL_CUTOFF_KEY;
      // Its own write; or, when it had nothing to raise, the higher stored value it read.
      const write = [...(rev.op.writes ?? [])].reverse().find((w) => w.key === key) ?? this.#readOf(rev.op, key);
      if (!write) return [];
      out.push({ key, write, by: `${rev.kind} #${rev.op.id}` });
    }
    return out;
  }

  /** The cutoff writes a refusal of `s` read that covered it: [] if a tombstone or memory refused it. */
  #refusalCutoffs(s, refusal) {
    const reads = refusal.reads ?? [];
    const tombstone = reads.some((x) => (x.key.startsWith('s:') || x.key.startsWith('l:')) && x.write?.value?.includes('"ended"'));
    if (tombstone) return [];
    return reads
      .filter((x) => isCutoffKey(x.key) && x.write && cutoffOf(x.write.value) > s.createdAt)
      .map((x) => ({ key: x.key, write: x.write, by: `refusal #${refusal.id}` }));
  }

  /**
   * Why accepting `s` in `op` despite the covering cutoff writes `high` is the documented cutoff
   * race, or undefined when it is not: for every one of them, the decision read a write to the
   * same key that landed later (last write wins), holds a value too low to cover `s`, and came
   * from another location or landed after its caller had been told it failed.
   */
  #cutoffRace(s, op, high) {
    const basis = this.#basis(op);
    if (high.length === 0 || !basis) return undefined;
    const causes = [];
    for (const { key, write, by } of high) {
      const seen = this.#readOf(basis, key);
      if (!seen) return undefined;
      const later = seen.at > write.at || (seen.at === write.at && seen.seq > write.seq);
      const value = cutoffOf(seen.value);
      if (!later || value === undefined || value > s.createdAt) return undefined;
      const why = seen.origin !== write.origin ? `written at ${seen.origin}, not ${write.origin}` : seen.late ? 'landing after its call failed' : undefined;
      if (!why) return undefined;
      causes.push(
        `${key.slice(0, 12)} read as ${this.rel(value)} (op #${seen.ctx?.id} ${seen.ctx?.kind}@${seen.origin}, ${why}), ` +
          `overwriting ${this.rel(cutoffOf(write.value))} (${by}) in op #${basis.id}`,
      );
    }
    return `cutoff race: ${causes.join('; ')}`;
  }

  /** The oracle for (c): nothing has begun ending `s`, and the presented cookie is neither idle nor past its deadline. */
  #liveAndActive(s, op) {
    const sameLogin = (handle) => handle !== undefined && this.#session(handle)?.lineage === s.lineage;
    for (const other of this.ops) {
      if (other.startSeq >= op.endSeq || other === op) continue;
      switch (other.kind) {
        case 'logout':
        case 'revokeSession':
          // Ends the whole login, every rotation of it included.
          if (sameLogin(other.args.handle)) return false;
          break;
        case 'rotate':
        case 'update':
          if (other.args.handle === s.handle) return false;
          break;
        case 'login':
          if (sameLogin(other.args.over)) return false;
          break;
        case 'revokeUser':
          // Covered by its cutoff, or created before it finished (so its listing may end it).
          if (other.args.user === s.user && (s.createdAt <= other.locNow || s.createdBy.startSeq < other.endSeq)) return false;
          break;
        case 'revokeIssuedBefore':
          if (s.createdAt < other.args.before) return false;
          break;
        default:
      }
    }
    const issuedAt = op.args.issuedAt;
    return issuedAt !== undefined && op.locNow < issuedAt + IDLE_S * SECOND - SKEW_MS && op.locNow < s.absolute - SKEW_MS;
  }

  /**
   * The ops that concern one handle (its login, its user, global cutoffs), for a failure report;
   * without a handle, every revokeUser and revokeIssuedBefore.
   */
  trace(handle) {
    const s = this.#session(handle);
    const rel = (t) => `${((t - this.t0) / 1000).toFixed(3)}s`;
    const sameLogin = (h) => s !== undefined && h !== undefined && this.#session(h)?.lineage === s.lineage;
    const lines = [];
    for (const op of this.ops) {
      const a = op.args;
      const mine = s
        ? a.handle === handle || a.over === handle || sameLogin(a.handle) || sameLogin(a.over) || a.user === s.user || op.kind === 'revokeIssuedBefore' ||
          (op.kind === 'login' && op.result?.session?.handle === handle)
        : op.kind === 'revokeUser' || op.kind === 'revokeIssuedBefore';
      if (!mine) continue;
      const r = op.error ? `threw ${op.error.message}` : JSON.stringify(op.result, (k, v) => (k === 'setCookie' && typeof v === 'string' ? (clears(v) ? 'CLEAR' : 'cookie') : k === 'data' ? undefined : v));
      lines.push(
        `  #${op.id} ${op.kind}@${op.loc} start=${rel(op.startT)} end=${op.endT === undefined ? '-' : rel(op.endT)} ` +
          `${a.handle ? `h=${a.handle.slice(0, 8)} ` : ''}${a.over ? `over=${a.over.slice(0, 8)} ` : ''}${a.user ? `user=${a.user} ` : ''}` +
          `${a.before !== undefined ? `before=${rel(a.before)} ` : ''}${op.faults.length ? `faults=[${op.faults}] ` : ''}-> ${r?.slice(0, 300)}`,
      );
    }
    return lines.join('\n');
  }

  /** Traces of the sessions `s` was rotated out of, nearest first. */
  #ancestry(s) {
    let text = '';
    for (let child = s; child?.parent; child = this.#session(child.parent)) {
      text += `\nrotated out of ${child.parent.slice(0, 8)} by op #${child.createdBy.id}:\n${this.trace(child.parent)}`;
    }
    return text;
  }

  report() {
    const first = [...this.violations.filter((v) => !v.excluded), ...this.violations.filter((v) => v.excluded)].slice(0, 3);
    return first
      .map((v) => {
        const s = this.#session(v.op.args.handle);
        return (
          `seed ${this.seed} (mode ${this.modeName}, offsets ${JSON.stringify(this.offset)}): property (${v.property}) ` +
          `${v.excluded ? `(excluded: ${v.excluded}) ` : ''}violated by op #${v.op.id} ${v.op.kind}@${v.op.loc} on ${v.op.args.handle?.slice(0, 8)} ` +
          `(user ${s?.user}, created ${s ? ((s.createdAt - this.t0) / 1000).toFixed(3) : '?'}s): ${v.message}\n` +
          `replay: LAGGING_SEED=${this.seed} node --test tests/lagging.test.mjs\n${this.trace(v.op.args.handle)}` +
          this.#ancestry(s)
        );
      })
      .join('\n\n');
  }
}

async function runSchedule(seed, counters, steps = 110) {
  const schedule = new Schedule(seed, modeFor(seed), counters);
  idRng = makeRng(seed ^ 0x1d5eed);
  try {
    await schedule.run(steps);
  } finally {
    idRng = undefined;
  }
  return schedule;
}

// ---------------------------------------------------------------------------------------------
// Random schedules
// ---------------------------------------------------------------------------------------------

/**
 * The one documented limit (ARCHITECTURE.md) whose instances are counted and printed rather than
 * failing this test (LAGGING_STRICT=1 makes them fail it too). Anything else that breaks a
 * property fails it.
 */
const EXCLUDED = {
  cutoffRace:
    'KV has no compare-and-swap: a revokeUser/revokeIssuedBefore cutoff written from another location, or landing after its call failed, can land after a higher one and lower the stored cutoff (last write wins); sessions it covered come back',
};
const STRICT = Boolean(process.env.LAGGING_STRICT);

test('lagging KV: random schedules keep revocation properties (a)-(d)', async () => {
  const counters = newCounters();
  const only = process.env.LAGGING_SEED;
  const count = Number(process.env.LAGGING_SCHEDULES ?? 300);
  const base = 20_260_501;
  const seeds = only !== undefined ? [Number(only)] : Array.from({ length: count }, (_, i) => base + i);
  const failures = [];
  const excluded = {};
  const started = Date.now();
  for (const seed of seeds) {
    const schedule = await runSchedule(seed, counters);
    if (schedule.violations.some((v) => !v.excluded || STRICT)) failures.push(schedule);
    for (const v of schedule.violations) if (v.excluded) (excluded[v.excluded] ??= []).push(schedule);
    if (process.env.LAGGING_VERBOSE) {
      console.log(JSON.stringify([seed, schedule.modeName, schedule.violations.map((v) => `${v.excluded ?? v.property}: ${v.op.kind}@${v.op.loc} ${v.message}`).slice(0, 4)]));
    }
  }
  const elapsed = Date.now() - started;
  console.log(`lagging KV: ${seeds.length} schedules in ${elapsed} ms\n${JSON.stringify(counters, null, 1)}`);
  console.log(
    `cutoff races (documented limit): the stored cutoff went down ${counters.cutoffLoweredByRace} times (writes from another location or landing late), ` +
      `${counters.excluded.cutoffRace} violations excluded as caused by it; one manager lowering it: ${counters.violations.cutoff}`,
  );
  for (const [name, schedules] of Object.entries(excluded)) {
    const unique = [...new Set(schedules)];
    const example = unique[0].violations.find((v) => v.excluded === name);
    console.log(
      `EXCLUDED (${name}, documented limit): ${EXCLUDED[name]}\n  ${counters.excluded[name]} violations in ${unique.length} schedules (seeds ${unique.slice(0, 8).map((s) => s.seed).join(', ')}${unique.length > 8 ? ', ...' : ''}); ` +
        `e.g. seed ${unique[0].seed}: property (${example.property}) op #${example.op.id} ${example.op.kind}@${example.op.loc}: ${example.message}`,
    );
  }
  if (failures.length > 0) {
    assert.fail(`${failures.length} of ${seeds.length} schedules broke a property; seeds ${failures.map((f) => f.seed).join(', ')}\n\n${failures[0].report()}`);
  }
  if (only === undefined) {
    // Every property was exercised, and the model really lagged, held and failed.
    for (const [name, value] of Object.entries({
      a_probesAfterBoundLive: counters.a_probesAfterBoundLive,
      a_acceptedInsideWindow: counters.a_acceptedInsideWindow,
      a_probesOfLaterRotations: counters.a_probesOfLaterRotations,
      lineage_rotationsOfRevoked: counters.lineage_rotationsOfRevoked,
      b_laterDecisions: counters.b_laterDecisions,
      c_liveDecisions: counters.c_liveDecisions,
      c_youngRecordRetries: counters.c_youngRecordRetries,
      young_validateAccepted: counters.young_validateAccepted,
      d_storeUnavailable: counters.d_storeUnavailable,
      d_faultedDecisions: counters.d_faultedDecisions,
      staleReads: counters.staleReads,
      writesAfterStaleRead: counters.writesAfterStaleRead,
      listOmissions: counters.listOmissions,
      held: counters.held,
      ...Object.fromEntries(Object.entries(counters.revocations).map(([k, v]) => [`revocations.${k}`, v])),
      ...Object.fromEntries(Object.entries(counters.faults).map(([k, v]) => [`faults.${k}`, v])),
    })) {
      assert.ok(value > 0, `${name} was never exercised`);
    }
  }
});

// ---------------------------------------------------------------------------------------------
// Hand-written cases (the store's delays are fixed: the worst case unless a test says otherwise)
// ---------------------------------------------------------------------------------------------

/** Managers at a, b, c and op over one lagging store whose delays are all `delayMs` (list: `listDelayMs`). */
function fixed({ delayMs = PROPAGATION_MS, listDelayMs = PROPAGATION_MS, offsets = {}, idle = IDLE_S, absolute = ABSOLUTE_S, storeTimeoutMs = STORE_TIMEOUT_MS } = {}) {
  // 30 s before a round time, so a refresh a minute in crosses a touch interval and writes.
  const clock = new SharedClock(1_800_000_000_000 - 30 * SECOND);
  const kv = new LaggingKV({
    clock,
    rng: makeRng(1),
    locations: LOCATIONS,
    delay: ({ list }) => (list ? listDelayMs : delayMs),
  });
  const m = {};
  for (const loc of LOCATIONS) {
    m[loc] = new SessionManager({
      store: kv.at(loc),
      keys: KEYS,
      envelopeTtl: ENVELOPE_TTL_S,
      idleTimeout: idle,
      absoluteTimeout: absolute,
      storeTimeoutMs,
      now: () => clock.t + (offsets[loc] ?? 0),
    });
  }
  const t0 = clock.t;
  const at = (t) => `t0+${((t - t0) / 1000).toFixed(1)}s`;
  return { clock, kv, m, t0, at };
}

/** Holds every call `match` accepts until `release()` (the calls already made stay held). */
function holdCalls(kv, match) {
  kv.intercept = (call) => (match(call) ? 'hold' : undefined);
  return {
    stop() {
      kv.intercept = undefined;
    },
    release() {
      kv.intercept = undefined;
      kv.releaseAll();
      return flush();
    },
  };
}

/**
 * Uses each of `cookies` (one cookie or several) at every front location every `stepMs` from now
 * until `until`, each time keeping the newest envelope it is handed (an attacker holding stolen
 * copies). Returns, per cookie and location, the last time it was accepted and the first refusal
 * after that, relative to `since` (one such record, or an array for an array of cookies).
 */
async function hammer({ clock, m }, cookies, { since, until, stepMs = 5 * SECOND }) {
  const list = Array.isArray(cookies) ? cookies : [cookies];
  const seen = list.map(() => Object.fromEntries(FRONT.map((l) => [l, { lastAccepted: undefined, refusedFrom: undefined, reason: undefined }])));
  const latest = [...list];
  for (; clock.t <= until; clock.advance(stepMs)) {
    for (let i = 0; i < list.length; i += 1) {
      for (const loc of FRONT) {
        const r = await m[loc].validate(latest[i]);
        const s = seen[i][loc];
        if (r.ok) {
          s.lastAccepted = clock.t - since;
          s.refusedFrom = undefined;
          if (r.setCookie) latest[i] = pair(r.setCookie);
        } else if (s.refusedFrom === undefined) {
          s.refusedFrom = clock.t - since;
          s.reason = r.reason;
        }
      }
    }
  }
  return Array.isArray(cookies) ? seen : seen[0];
}

function assertRefusedWithin(seen, bound, label) {
  for (const [loc, s] of Object.entries(seen)) {
    assert.ok(s.lastAccepted === undefined || s.lastAccepted < bound, `${label}: ${loc} accepted it ${s.lastAccepted} ms after the revocation (bound ${bound})`);
    assert.ok(s.refusedFrom !== undefined && s.refusedFrom <= bound, `${label}: ${loc} still accepted it at the end (${JSON.stringify(s)})`);
    assert.ok(REVOKED_REASONS.has(s.reason) || s.reason === 'session_not_found', `${label}: ${loc} refused it as ${s.reason}`);
  }
}

const fmt = (seen) => Object.entries(seen).map(([loc, s]) => `${loc}: last accepted ${s.lastAccepted ?? '-'} ms, refused from ${s.refusedFrom} ms (${s.reason})`).join('; ');

test('the KV model: per-location lag, last write wins, TTLs, a lagging list, faults', async () => {
  const clock = new SharedClock();
  // Writes reach b after 10 s, a and c after 60 s; listings everywhere after 30 s.
  const kv = new LaggingKV({ clock, rng: makeRng(7), locations: ['a', 'b', 'c'], delay: ({ location, list }) => (list ? 30 : location === 'b' ? 10 : 60) * SECOND });
  const [a, b, c] = ['a', 'b', 'c'].map((l) => kv.at(l));
  await a.put('k', 'one', { metadata: { n: 1 } });
  assert.equal(await a.get('k', 'text'), 'one', 'read your own write');
  assert.equal(await b.get('k'), null, 'not yet elsewhere');
  clock.advance(10 * SECOND);
  assert.equal(await b.get('k'), 'one');
  assert.equal(await c.get('k'), null);
  await c.put('k', 'two'); // c never saw "one"; its later write wins everywhere once propagated
  clock.advance(50 * SECOND);
  assert.deepEqual([await a.get('k'), await b.get('k'), await c.get('k')], ['one', 'two', 'two']);
  clock.advance(10 * SECOND);
  assert.equal(await a.get('k'), 'two', 'last write wins');
  await a.put('t', 'x', { expirationTtl: 60 });
  await assert.rejects(a.put('t', 'x', { expirationTtl: 59 }), /at least 60/);
  assert.equal((await a.list({ prefix: 't' })).keys.length, 0, 'a fresh key may be missing from a listing');
  clock.advance(30 * SECOND);
  const page = await a.list({ prefix: '' });
  assert.deepEqual(page.keys.map((k) => k.name), ['k', 't']);
  assert.deepEqual(page.keys[0].metadata, undefined, 'the listing shows the winning write');
  await a.delete('k');
  assert.equal(await a.get('k'), null);
  assert.deepEqual((await a.list()).keys.map((k) => k.name), ['k', 't'], 'a deleted key may still be listed');
  clock.advance(30 * SECOND);
  assert.equal(await a.get('t'), null, 'expired');
  assert.deepEqual((await a.list()).keys, []);
  kv.intercept = ({ op }) => (op === 'put' ? 'lose' : op === 'get' ? 'throw' : 'hold');
  await a.put('lost', '1');
  await assert.rejects(a.get('lost'), /injected get failure/);
  const held = a.delete('k');
  assert.equal(kv.held.length, 1);
  kv.intercept = undefined;
  assert.equal(await a.get('lost'), null, 'a lost write never lands');
  kv.releaseAll();
  await held;
});

test('original bug: a refresh that read the record before a logout never makes the logged-out cookie usable again', async () => {
  // Long idle and absolute timeouts, so nothing but the logout can end the session within the hour.
  const w = fixed({ idle: 3600, absolute: 12 * 3600 });
  const { clock, kv, m } = w;
  const login = await m.a.create(null, 'olga');
  const handle = login.session.handle;
  const cookie = pair(login.setCookie);
  clock.advance(61 * SECOND); // envelope expired; the record has reached every location

  // 1. In flight: b's refresh reads the live record, then the logout completes at a, then b's
  //    refresh finishes with a new envelope and its last-seen write lands after the tombstone.
  const hold = holdCalls(kv, (call) => call.location === 'b' && call.op === 'get');
  const stale = m.b.validate(cookie);
  await flush();
  assert.equal(kv.held.length, 5, 'b read the record, the lineage tombstone and the user, global and "other sessions" cutoffs');
  hold.stop();
  const out = await m.a.destroy(cookie);
  assert.equal(out.ok, true);
  const loggedOutAt = clock.t;
  clock.advance(2 * SECOND);
  await hold.release();
  const r = await stale;
  assert.equal(r.ok, true, 'the refresh decided before the logout');
  const staleWrites = kv.log.filter((wr) => wr.at > loggedOutAt);
  assert.ok(staleWrites.length > 0 && staleWrites.every((wr) => wr.key.startsWith('t:')), `the stale refresh wrote only its last-seen key: ${staleWrites.map((x) => x.key.slice(0, 2))}`);
  assert.match(kv.settled(`s:${handle}`), /"ended":"revoked"/, 'the record stays a tombstone');

  // 2. Lagging: 30 s after the logout, c has not seen the tombstone yet and refreshes the old cookie.
  clock.advance(28 * SECOND);
  const lag = await m.c.validate(cookie);
  assert.equal(lag.ok, true, 'inside the window a lagging location may still accept it');
  assert.ok(lag.setCookie, 'with a new envelope');

  // Someone keeps both cookies and uses them everywhere for the next hour.
  const [seenOld, seenNew] = await hammer(w, [cookie, pair(lag.setCookie)], { since: loggedOutAt, until: loggedOutAt + 3600 * SECOND, stepMs: 10 * SECOND });
  console.log(`logout at ${w.at(loggedOutAt)}; old cookie: ${fmt(seenOld)}\nrefreshed cookie: ${fmt(seenNew)}`);
  assertRefusedWithin(seenOld, B, 'old cookie');
  assertRefusedWithin(seenNew, B, 'cookie from the stale refresh');
  for (const loc of LOCATIONS) {
    assert.deepEqual(await m[loc].listSessions('olga'), [], `${loc} lists no session (a last-seen key alone shows nothing)`);
  }
});

test('revokeUser ends a session its listing missed (created moments ago in another location)', async () => {
  const w = fixed();
  const { clock, m, kv } = w;
  const old = await m.a.create(null, 'pia');
  clock.advance(10 * 60 * SECOND);
  const fresh = await m.b.create(null, 'pia'); // only b has it yet, and no listing shows it
  clock.advance(SECOND);
  const revokedAt = clock.t;
  const listed = await m.op.revokeUser('pia');
  assert.equal(listed, 1, 'the listing saw only the old session');
  assert.equal(kv.peek(`s:${fresh.session.handle}`, 'op'), null, 'op cannot even read its record');
  assert.match(kv.settled(`s:${old.session.handle}`), /"ended":"revoked"/);
  assert.match(kv.settled(`s:${fresh.session.handle}`), /"user_id":"pia"/, 'its record was never touched');
  const seen = await hammer(w, pair(fresh.setCookie), { since: revokedAt, until: revokedAt + 15 * 60 * SECOND });
  console.log(`revokeUser at ${w.at(revokedAt)}; unlisted session: ${fmt(seen)}`);
  assertRefusedWithin(seen, B, 'unlisted session');
  assert.ok(seen.b.lastAccepted !== undefined, 'b used the envelope until it expired (the window is real)');
  // A login after the revocation is not affected, wherever it happens.
  clock.advance(SECOND);
  const after = await m.c.create(null, 'pia');
  clock.advance(2 * PROPAGATION_MS);
  for (const loc of FRONT) assert.equal((await m[loc].validate(pair(after.setCookie))).ok, true, `${loc}: a new login works`);
});

test('a store call that hangs ends as store_unavailable and keeps the cookie', async () => {
  const w = fixed({ storeTimeoutMs: 20 });
  const { clock, kv, m } = w;
  const login = await m.a.create(null, 'quin');
  clock.advance(61 * SECOND);
  kv.intercept = (call) => (call.op === 'get' ? 'hang' : undefined);
  for (const call of [() => m.b.validate(pair(login.setCookie)), () => m.b.rotate(pair(login.setCookie)), () => m.b.update(pair(login.setCookie), { x: 1 })]) {
    const r = await call();
    assert.equal(r.reason, 'store_unavailable');
    assert.equal(r.setCookie, null);
  }
  kv.intercept = (call) => (call.op === 'put' || call.op === 'delete' ? 'hang' : undefined);
  const rot = await m.b.rotate(pair(login.setCookie));
  assert.equal(rot.reason, 'store_unavailable');
  assert.equal(rot.setCookie, null, 'the new session was not stored: no cookie');
  await assert.rejects(m.op.revokeUser('quin'), SessionStoreError);
  kv.intercept = undefined;
  assert.equal((await m.b.validate(pair(login.setCookie))).ok, true, 'works again once the store answers');
});

test('a logout retried after a failed one writes the tombstone (not just ok from memory)', async () => {
  const w = fixed();
  const { clock, kv, m } = w;
  const login = await m.a.create(null, 'vera');
  const cookie = pair(login.setCookie);
  clock.advance(5 * SECOND);
  kv.intercept = (call) => (call.op === 'put' && call.key.startsWith('s:') ? 'throw' : undefined);
  const failed = await m.a.destroy(cookie);
  assert.equal(failed.ok, false, 'the tombstone write failed');
  kv.intercept = undefined;
  clock.advance(5 * SECOND); // the user presses "log out" again
  const retried = await m.a.destroy(cookie);
  const loggedOutAt = clock.t;
  assert.equal(retried.ok, true);
  assert.ok(kv.settled(`s:${login.session.handle}`)?.includes('"ended"'), `ok: true, but no tombstone was written: s: holds ${kv.settled(`s:${login.session.handle}`)}`);
  const seen = await hammer(w, cookie, { since: loggedOutAt, until: loggedOutAt + 5 * 60 * SECOND });
  console.log(`logout retried at ${w.at(loggedOutAt)}: ${fmt(seen)}`);
  assertRefusedWithin(seen, B, 'session logged out by the retry');
});

// ---- the bugs these schedules found, one deterministic test each (all fixed) -----------------

/** The `l:` keys (lineage tombstones) written so far, with their settled values. */
const lineageTombstones = (kv) => [...kv.byKey.keys()].filter((k) => k.startsWith('l:')).map((k) => [k, kv.settled(k)]);

test('a rotation at a location the new record has not reached yet keeps the cookie, and works once it has', async () => {
  const { clock, kv, m } = fixed();
  const login = await m.a.create(null, 'rhea');
  const cookie = pair(login.setCookie);
  clock.advance(5 * SECOND); // the record reaches b after 60 s
  const writes = kv.log.length;
  for (const [name, call] of [['rotate', () => m.b.rotate(cookie)], ['update', () => m.b.update(cookie, { step: 2 })]]) {
    const r = await call();
    assert.deepEqual([r.ok, r.reason, r.setCookie, r.session], [false, 'store_unavailable', null, undefined], `${name} at b 5 s after login at a: try again later, cookie kept`);
  }
  assert.equal(kv.log.length, writes, 'nothing was written (no record to copy)');
  const fast = await m.b.validate(cookie);
  assert.equal(fast.ok, true, 'the session still works at b');
  clock.advance(56 * SECOND); // 61 s: the record is at b now
  const rot = await m.b.rotate(cookie);
  assert.equal(rot.ok, true, `rotate at b once the record arrived: ${rot.reason}`);
  assert.equal((await m.b.validate(cookie)).reason, 'rotated', 'and the old cookie is refused there');
  assert.equal((await m.a.validate(pair(rot.setCookie))).ok, true, 'the new one works at a (fresh envelope)');
});

test('a refresh at a location the record has not reached yet is accepted on the envelope alone, without a new cookie', async () => {
  // envelopeTtl 30 s (allowed: anything from 1 s), no skew: the first refresh elsewhere comes too early.
  const clock = new SharedClock();
  const kv = new LaggingKV({ clock, rng: makeRng(1), locations: LOCATIONS, delay: () => PROPAGATION_MS });
  const short = (loc) => new SessionManager({ store: kv.at(loc), keys: KEYS, envelopeTtl: 30, now: () => clock.t });
  const [a, b] = [short('a'), short('b')];
  const login = await a.create(null, 'ruth');
  const cookie = pair(login.setCookie);
  clock.advance(31 * SECOND);
  const gets = kv.stats.gets;
  const early = await b.validate(cookie);
  assert.deepEqual([early.ok, early.refreshed, early.setCookie], [true, true, null], `refresh at b 31 s after login at a: ${early.reason}`);
  assert.equal(kv.stats.gets - gets, 5, 'b asked the store (record, lineage, three cutoffs)');
  clock.advance(10 * SECOND);
  const again = await b.validate(cookie);
  assert.deepEqual([again.ok, again.refreshed, again.setCookie], [true, true, null], 'the next request asks the store again');
  clock.advance(20 * SECOND); // 61 s: the record is at b
  const later = await b.validate(cookie);
  assert.equal(later.ok, true);
  assert.ok(later.setCookie, 'a new envelope once the record is there');

  // envelopeTtl 60 s (the default), clocks 2 s behind at a and 2 s ahead at b (within the 5 s allowance).
  const w = fixed({ offsets: { a: -2 * SECOND, b: 2 * SECOND } });
  const skewed = await w.m.a.create(null, 'ruth');
  w.clock.advance(ENVELOPE_TTL_S * SECOND - 4 * SECOND + 1); // b's clock says the envelope has expired
  const skewedRefresh = await w.m.b.validate(pair(skewed.setCookie));
  assert.deepEqual([skewedRefresh.ok, skewedRefresh.refreshed, skewedRefresh.setCookie], [true, true, null], `skewed clocks: ${skewedRefresh.reason}`);
});

test('a record still absent once the propagation window has passed is session_not_found; before that it is not', async () => {
  // The window: 60 s of propagation + 5 s of clock skew + the write grace (2 x storeTimeoutMs).
  for (const [storeTimeoutMs, window] of [
    [STORE_TIMEOUT_MS, 75 * SECOND], // the default 5 s: 75 s
    [20 * SECOND, 105 * SECOND],
    [1, PROPAGATION_MS + SKEW_MS + 2],
  ]) {
    const { clock, kv, m } = fixed({ storeTimeoutMs });
    const label = `storeTimeoutMs ${storeTimeoutMs}`;
    kv.intercept = (call) => (call.op === 'put' && call.key.startsWith('s:') ? 'lose' : undefined); // the record never lands
    const login = await m.a.create(null, 'rita');
    kv.intercept = undefined;
    const cookie = pair(login.setCookie);
    const issuedAt = login.session.issuedAt;
    assert.equal(PROPAGATION_MS + SKEW_MS + 2 * storeTimeoutMs, window);
    clock.to(issuedAt + PROPAGATION_MS + SKEW_MS);
    const old = await m.c.validate(cookie);
    assert.deepEqual([old.ok, old.setCookie], [true, null], `${label}: 60 s + 5 s (the window before the write grace) is inside it now`);
    clock.to(issuedAt + window - 1);
    const inside = await m.b.validate(cookie);
    assert.deepEqual([inside.ok, inside.setCookie], [true, null], `${label}: within the window of signing: not here yet, accepted on the envelope`);
    const rot = await m.b.rotate(cookie);
    assert.deepEqual([rot.reason, rot.setCookie], ['store_unavailable', null], `${label}: rotate: try again later`);
    clock.advance(1);
    const outside = await m.b.validate(cookie);
    assert.equal(outside.reason, 'session_not_found', `${label}: from the window's end on, absence means the session is gone`);
    assert.ok(clears(outside.setCookie), 'and the cookie is cleared');
    assert.equal((await m.b.validate(cookie)).reason, 'session_not_found', 'remembered');
    assert.equal((await m.c.rotate(cookie)).reason, 'session_not_found', `${label}: rotate too`);
  }
});

test('an isolate that refused a revoked or rotated session from the store keeps refusing it on the fast path', async () => {
  const { clock, kv, m } = fixed();
  const login = await m.a.create(null, 'sven');
  const cookie = pair(login.setCookie);
  clock.advance(61 * SECOND);
  await m.a.destroy(cookie);
  clock.advance(30 * SECOND);
  const refreshed = await m.c.validate(cookie); // c lags: a fresh envelope, legitimately inside the window
  assert.equal(refreshed.ok, true);
  const fresh = pair(refreshed.setCookie);
  clock.advance(31 * SECOND); // the tombstone has reached b
  const rot = await m.b.rotate(fresh);
  assert.equal(rot.reason, 'revoked', 'b read the tombstone');
  const gets = kv.stats.gets;
  const again = await m.b.validate(fresh);
  assert.deepEqual([again.ok, again.reason], [false, 'revoked'], 'b refuses the fresh envelope it refused a moment ago');
  assert.equal(kv.stats.gets, gets, 'from memory, on the fast path');

  // The same for a rotation's old ID: c refreshes it before the tombstone arrives, b refuses it
  // from the store and then keeps refusing c's fresh envelope.
  const other = await m.a.create(null, 'sven');
  clock.advance(61 * SECOND);
  const rotated = await m.a.rotate(pair(other.setCookie));
  assert.equal(rotated.ok, true);
  clock.advance(10 * SECOND);
  const stale = await m.c.validate(pair(other.setCookie));
  assert.equal(stale.ok, true, 'c has not seen the rotation yet');
  clock.advance(51 * SECOND);
  assert.equal((await m.b.validate(pair(other.setCookie))).reason, 'rotated', 'b read the rotated tombstone');
  assert.equal((await m.b.validate(pair(stale.setCookie))).reason, 'rotated', 'and refuses the fresh envelope c made');
  assert.equal((await m.b.validate(pair(rotated.setCookie))).ok, true, 'the new session is unaffected');
});

for (const [how, by, end] of [
  ['a logout', 'a', (w, cookie) => w.m.a.destroy(cookie).then((r) => r.ok)],
  ['revokeSession', 'op', (w, cookie, login) => w.m.op.revokeSession(login.session.handle, login.session.userId)],
]) {
  test(`${how} ends the whole login: a rotation a lagging location makes from the stale record afterwards is refused within the bound`, async () => {
    const w = fixed();
    const { clock, kv, m } = w;
    const login = await m.a.create(null, 'tove');
    clock.advance(61 * SECOND);
    assert.equal(await end(w, pair(login.setCookie), login), true);
    const endedAt = clock.t;
    const tombstones = lineageTombstones(kv);
    assert.equal(tombstones.length, 1, 'one lineage tombstone');
    // Under the user: l:<user hash>:<lineage>.
    assert.match(tombstones[0][0], /^l:[A-Za-z0-9_-]{43}:[A-Za-z0-9_-]{22}$/);
    assert.ok(tombstones[0][0].startsWith(`l:${createHash('sha256').update('tove').digest('base64url')}:`), 'under the user hash');
    assert.match(tombstones[0][1], /"ended":"revoked"/);
    clock.advance(10 * SECOND); // b has seen neither tombstone
    const rot = await m.b.rotate(pair(login.setCookie));
    assert.equal(rot.ok, true, 'inside the window b may still judge the old session live');
    clock.advance(40 * SECOND); // and rotate that again, still before anything reached b
    const rot2 = await m.b.update(pair(rot.setCookie), { n: 2 });
    assert.equal(rot2.ok, true, 'a second generation');
    for (const cookie of [rot.setCookie, rot2.setCookie]) {
      const gets = kv.stats.gets;
      assert.equal((await m[by].validate(pair(cookie))).reason, 'revoked', `${by}, which ended the login, refuses its fresh rotations at once`);
      assert.equal(kv.stats.gets, gets, 'from memory');
    }
    const [seen1, seen2] = await hammer(w, [pair(rot.setCookie), pair(rot2.setCookie)], { since: endedAt, until: endedAt + 10 * 60 * SECOND });
    console.log(`${how} at ${w.at(endedAt)}, rotated at b 10 s and 50 s later; the new sessions: ${fmt(seen1)}\n  ${fmt(seen2)}`);
    assertRefusedWithin(seen1, B, 'session rotated out of an ended login');
    assertRefusedWithin(seen2, B, 'its own rotation');

  });
}

test("one manager's concurrent revokeIssuedBefore and revokeUser calls are serialized and never lower the stored cutoff", async () => {
  const w = fixed();
  const { clock, kv, m } = w;
  const victim = await m.b.create(null, 'ulla');
  clock.advance(30 * SECOND);
  // The first call (an old cutoff) has its write in flight when the second (everything up to now) starts.
  const hold = holdCalls(kv, (call) => call.location === 'op' && call.op === 'put');
  const first = m.op.revokeIssuedBefore(clock.t - 3600 * SECOND);
  await flush();
  assert.equal(kv.held.length, 1, "the first call's write is in flight");
  hold.stop();
  const revokedAt = clock.t;
  const gets = kv.stats.gets;
  const second = m.op.revokeIssuedBefore(revokedAt);
  await flush();
  assert.equal(kv.stats.gets, gets, 'the second call waits: it has not even read the stored cutoff');
  clock.advance(2 * SECOND);
  await hold.release();
  await first;
  await second;
  const stored = cutoffOf(kv.settled(GLOBAL_CUTOFF_KEY));
  assert.ok(stored >= revokedAt, `the stored cutoff went down to ${w.at(stored)}`);
  const seen = await hammer(w, pair(victim.setCookie), { since: revokedAt, until: revokedAt + 5 * 60 * SECOND });
  console.log(`revokeIssuedBefore(now) at ${w.at(revokedAt)}; stored cutoff afterwards ${w.at(stored)}; victim: ${fmt(seen)}`);
  assertRefusedWithin(seen, B, 'session created before the cutoff');

  // A lower cutoff afterwards writes nothing at all (a write that changes nothing could still
  // land after a concurrent higher one).
  const writes = kv.log.length;
  await m.op.revokeIssuedBefore(revokedAt - 10 * SECOND);
  assert.equal(kv.log.length, writes, 'a lower revokeIssuedBefore writes nothing');
  assert.equal(cutoffOf(kv.settled(GLOBAL_CUTOFF_KEY)), stored);

  // revokeUser shares the queue: two calls for one user and a revokeIssuedBefore, all at once,
  // the first write held; the user cutoff ends at the later call's time.
  const user = 'ursa';
  const key = userCutoffKey(user);
  const mine = await m.c.create(null, user);
  clock.advance(5 * SECOND);
  const hold2 = holdCalls(kv, (call) => call.location === 'op' && call.op === 'put' && call.key === key);
  const u1 = m.op.revokeUser(user);
  await flush();
  assert.equal(kv.held.length, 1);
  hold2.stop();
  clock.advance(SECOND);
  const u2At = clock.t;
  const u2 = m.op.revokeUser(user);
  const g = m.op.revokeIssuedBefore(revokedAt);
  clock.advance(2 * SECOND);
  await hold2.release();
  await Promise.all([u1, u2, g]);
  const order = kv.byKey.get(key).map((x) => cutoffOf(x.value));
  assert.deepEqual(order, [...order].sort((x, y) => x - y), `the user cutoff only rose: ${order.map(w.at)}`);
  assert.ok(cutoffOf(kv.settled(key)) >= u2At + 1, 'and ends at or after the later call (sessions up to when it ran)');
  clock.advance(2 * PROPAGATION_MS);
  for (const loc of FRONT) assert.equal((await m[loc].validate(pair(mine.setCookie))).reason, 'revoked', `${loc}: the user's session is revoked`);
});

test('documented limit: revokeUser from two locations at once can lower the stored cutoff (KV has no compare-and-swap)', async () => {
  // Pins the limit ARCHITECTURE.md documents, and that the random schedules exclude only as such:
  // a's call reads and computes its cutoff first, but its write lands after op's higher one.
  const w = fixed();
  const { clock, kv, m } = w;
  const user = 'uwe';
  const key = userCutoffKey(user);
  const hold = holdCalls(kv, (call) => call.location === 'a' && call.op === 'put' && call.key === key);
  const early = m.a.revokeUser(user);
  await flush();
  hold.stop();
  clock.advance(SECOND);
  const session = await m.c.create(null, user); // after a's cutoff, before op's
  clock.advance(SECOND);
  await m.op.revokeUser(user);
  clock.advance(SECOND);
  await hold.release();
  await early;
  assert.ok(cutoffOf(kv.settled(key)) <= session.session.createdAt, 'last write wins: the stored cutoff went down');
  clock.advance(2 * PROPAGATION_MS);
  assert.equal((await m.op.validate(pair(session.setCookie))).reason, 'revoked', 'op, which revoked it, still refuses it from memory');
  assert.equal((await m.b.validate(pair(session.setCookie))).ok, true, 'b reads the lowered cutoff and accepts it: the documented limit');
});

// ---- found by the schedules (seeds 20261076 and 20261827 of LAGGING_SCHEDULES=3000): a record's
// write may land up to a read and a write after its envelope was signed. Fixed by the write grace
// (2 x storeTimeoutMs) in the not-visible-yet window; here storeTimeoutMs is 5 s, so the window is
// 60 s + 5 s + 10 s = 75 s.

test('a rotation whose store calls were slow: its record not yet visible elsewhere is not a logout', async () => {
  const { clock, kv, m } = fixed();
  const login = await m.a.create(null, 'wim');
  clock.advance(30 * SECOND);
  // a's rotation: its reads take 5 s, then its writes take 5 s (each within the 5 s store timeout).
  const hold = holdCalls(kv, (call) => call.location === 'a');
  const rotation = m.a.rotate(pair(login.setCookie));
  await flush();
  const signedAt = clock.t;
  clock.advance(5 * SECOND);
  kv.releaseAll();
  await flush();
  clock.advance(5 * SECOND);
  await hold.release();
  const rot = await rotation;
  assert.equal(rot.ok, true);
  assert.equal(rot.session.issuedAt, signedAt, 'signed when the rotation started');
  const landedAt = signedAt + 10 * SECOND;
  // The record landed at +10 s: b sees it from +70 s. Before that (past the old 65 s window),
  // b accepts the session on its envelope, without a new cookie and without clearing it.
  for (const at of [signedAt + PROPAGATION_MS + SKEW_MS, signedAt + PROPAGATION_MS + SKEW_MS + SECOND, landedAt + PROPAGATION_MS - 1]) {
    clock.to(at);
    assert.equal(kv.peek(`s:${rot.session.handle}`, 'b'), null, 'not at b yet');
    const r = await m.b.validate(pair(rot.setCookie));
    assert.deepEqual([r.ok, r.reason, r.setCookie], [true, undefined, null], `validate at b ${(at - signedAt) / 1000} s after signing: ${r.reason}`);
  }
  clock.to(landedAt + PROPAGATION_MS);
  assert.notEqual(kv.peek(`s:${rot.session.handle}`, 'b'), null, 'at b now');
  const r = await m.b.validate(pair(rot.setCookie));
  assert.equal(r.ok, true);
  assert.ok(r.setCookie && !clears(r.setCookie), 're-signed from the record once it is there');
});

test('a login whose record write was slow, with skewed clocks: its record not yet visible elsewhere is not a logout', async () => {
  // Clocks 2 s behind at a and 2 s ahead at b (within the 5 s allowance); the record's write takes 2 s.
  const { clock, kv, m } = fixed({ offsets: { a: -2 * SECOND, b: 2 * SECOND } });
  const hold = holdCalls(kv, (call) => call.location === 'a' && call.op === 'put');
  const creating = m.a.create(null, 'wim');
  await flush();
  const startedAt = clock.t;
  clock.advance(2 * SECOND);
  await hold.release();
  const login = await creating;
  clock.to(startedAt + PROPAGATION_MS + 1500); // b's clock: 65.5 s after the signing; the record reaches b at +62 s
  assert.equal(kv.peek(`s:${login.session.handle}`, 'b'), null, 'not at b yet');
  const r = await m.b.validate(pair(login.setCookie));
  assert.deepEqual([r.ok, r.reason, r.setCookie], [true, undefined, null], `validate at b: ${r.reason} (Set-Cookie ${r.setCookie})`);
  clock.to(startedAt + 2 * SECOND + PROPAGATION_MS); // the record is at b
  const later = await m.b.validate(pair(login.setCookie));
  assert.ok(later.ok && later.setCookie, 're-signed once the record is there');
});

test('the random schedules that found it (seeds 20261076 and 20261827) keep properties (a)-(d)', async () => {
  for (const seed of [20_261_076, 20_261_827]) {
    const schedule = await runSchedule(seed, newCounters());
    const broken = schedule.violations.filter((v) => !v.excluded || STRICT);
    assert.equal(broken.length, 0, `seed ${seed}:\n${schedule.report()}`);
  }
});
