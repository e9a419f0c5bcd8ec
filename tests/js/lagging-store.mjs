// A model of Workers KV for Node tests: eventually consistent, last write wins, no compare-and-swap.
//
// One shared log of writes; each location sees its own writes at once and everybody else's after
// a per-write, per-location delay in [0, maxDelayMs] of a shared fake clock. A read returns the
// visible write with the latest write time (ties broken by log order), so a location's view only
// ever moves forward; deletions are writes of "nothing"; TTLs expire by the shared clock. `list()`
// has its own, independent lag (even in the writer's location): a key written less than
// listDelayMs ago may be missing, and a key deleted less than listDelayMs ago may still show.
//
// Everything random comes from the seeded PRNG handed in, so a schedule replays from its seed.
//
// Faults and holds: `kv.intercept(call)` (if set) is asked about every call, with
// `{ op, key, prefix, location, now, ctx }` (ctx: the `context` option's current operation), and answers
//   undefined   the call runs normally;
//   'throw'     the call rejects and nothing is written;
//   'lose'      a write resolves as if it succeeded but is never applied (silent loss; a read
//               answers normally);
//   'hang'      the call never settles (for exercising the driver's own timeout);
//   'hold'      the call waits in `kv.held` until released: a read answers what it saw when it was
//               made, a write is applied when released (it lands late);
//   'timeout'   like 'hold', but released as a failure: a read rejects, a write is not applied;
//   'late'      like 'timeout', but the write is applied when released (the caller gave up on a
//               write that landed anyway).
// `kv.release(entry)` settles a held call; `kv.releaseAll()` settles all of them.
//
// Attribution: a write in the log carries the operation that made it (`ctx`, from the `context`
// option) and `late: true` when it landed after its caller was told it failed; the operation gets
// `writes` (the writes it landed, in order) and `reads` ({ key, write, at }: the write each of its
// reads saw, or null), so a test can say exactly which write a decision was based on.

export const KV_MIN_TTL_SECS = 60;
const MAX_KEY_BYTES = 512;
const MAX_METADATA_BYTES = 1024;

/** sfc32 seeded through splitmix32: fast, good enough, reproducible from one 32-bit seed. */
export function makeRng(seed) {
  let s = seed >>> 0;
  const split = () => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  };
  let a = split();
  let b = split();
  let c = split();
  let d = split();
  const next = () => {
    const t = (((a + b) >>> 0) + d) >>> 0;
    d = (d + 1) >>> 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) >>> 0;
    c = (c << 21) | (c >>> 11);
    c = (c + t) >>> 0;
    return t / 4294967296;
  };
  for (let i = 0; i < 12; i += 1) next();
  const rng = {
    seed,
    /** A float in [0, 1). */
    next,
    /** An integer in [0, n). */
    int: (n) => Math.floor(next() * n),
    /** An integer in [lo, hi]. */
    between: (lo, hi) => lo + Math.floor(next() * (hi - lo + 1)),
    chance: (p) => next() < p,
    pick: (items) => items[Math.floor(next() * items.length)],
    /** Picks a key of `weights` ({ name: weight }) in proportion to its weight. */
    weighted(weights) {
      const entries = Object.entries(weights).filter(([, w]) => w > 0);
      let x = next() * entries.reduce((sum, [, w]) => sum + w, 0);
      for (const [name, w] of entries) {
        x -= w;
        if (x < 0) return name;
      }
      return entries[entries.length - 1][0];
    },
  };
  return rng;
}

/** A fake clock shared by the store and every location's SessionManager. */
export class SharedClock {
  constructor(t0 = 1_800_000_000_000) {
    this.t = t0;
  }

  now() {
    return this.t;
  }

  advance(ms) {
    if (!(ms >= 0)) throw new Error(`clock cannot go back (${ms})`);
    this.t += ms;
    return this.t;
  }

  /** Moves the clock forward to `t` (never back). */
  to(t) {
    this.t = Math.max(this.t, t);
    return this.t;
  }
}

const bytes = (text) => Buffer.byteLength(text, 'utf8');

/**
 * Workers KV with per-location views. `new LaggingKV({ clock, rng, locations })`, then
 * `kv.at(location)` is what a SessionManager in that location gets as its `store`.
 */
export class LaggingKV {
  /**
   * @param {object} options
   * @param {SharedClock} options.clock
   * @param {ReturnType<typeof makeRng>} options.rng
   * @param {string[]} options.locations every location that will read or write
   * @param {number} [options.maxDelayMs] propagation delay bound (60 s)
   * @param {number} [options.listDelayMs] how long a write may stay out of (or in) listings (60 s)
   * @param {number} [options.listLimit] page size of list() (KV's is 1000)
   * @param {() => object | undefined} [options.context] the current operation, for attribution:
   *   stale reads and the writes that follow them are counted on it
   * @param {(w: { key: string, origin: string, location: string, list: boolean }) => number} [options.delay]
   *   replaces the random delays (deterministic tests); must stay within the bounds above
   */
  constructor({ clock, rng, locations, maxDelayMs = 60_000, listDelayMs = 60_000, listLimit = 1000, context, delay }) {
    if (!clock || !rng || !Array.isArray(locations) || locations.length === 0) {
      throw new Error('LaggingKV needs { clock, rng, locations }');
    }
    this.clock = clock;
    this.rng = rng;
    this.locations = [...locations];
    this.maxDelayMs = maxDelayMs;
    this.listDelayMs = listDelayMs;
    this.listLimit = listLimit;
    this.context = context ?? (() => undefined);
    this.delay = delay;
    /** Every write ever made, in the order the store received them. */
    this.log = [];
    /** key -> writes to it, in log order. */
    this.byKey = new Map();
    /** Calls waiting for release (see the file comment). */
    this.held = [];
    /** Set by tests: (call) => undefined | 'throw' | 'lose' | 'hang' | 'hold' | 'timeout' | 'late'. */
    this.intercept = undefined;
    this.stats = {
      gets: 0,
      puts: 0,
      deletes: 0,
      lists: 0,
      staleReads: 0,
      listOmissions: 0,
      listGhosts: 0,
      intercepted: { throw: 0, lose: 0, hang: 0, hold: 0, timeout: 0, late: 0 },
      writesAfterStaleRead: 0,
    };
    this.#views = new Map();
  }

  #views;

  /** A delay in [0, max]: often the worst case, often almost none, otherwise uniform. */
  #delay(max) {
    const roll = this.rng.next();
    if (roll < 0.25) return max;
    if (roll < 0.45) return this.rng.int(Math.min(max, 2_000) + 1);
    return this.rng.int(max + 1);
  }

  /** Appends a write (value `null` = delete) made at `location`, at the current time. */
  #write(location, key, value, { expirationTtl, metadata } = {}) {
    const at = this.clock.now();
    const delay = {};
    const listDelay = {};
    for (const loc of this.locations) {
      const which = { key, origin: location, location: loc };
      delay[loc] = loc === location ? 0 : this.delay ? this.delay({ ...which, list: false }) : this.#delay(this.maxDelayMs);
      listDelay[loc] = this.delay ? this.delay({ ...which, list: true }) : this.#delay(this.listDelayMs);
      if (!(delay[loc] >= 0 && delay[loc] <= this.maxDelayMs && listDelay[loc] >= 0 && listDelay[loc] <= this.listDelayMs)) {
        throw new Error(`delay out of bounds for ${key} at ${loc}`);
      }
    }
    const write = {
      seq: this.log.length + 1,
      key,
      value,
      metadata: metadata === undefined ? undefined : structuredClone(metadata),
      at,
      expiresAt: expirationTtl === undefined ? undefined : at + expirationTtl * 1000,
      origin: location,
      delay,
      listDelay,
    };
    this.log.push(write);
    let writes = this.byKey.get(key);
    if (!writes) this.byKey.set(key, (writes = []));
    writes.push(write);
    return write;
  }

  static #newer(a, b) {
    return !b || a.at > b.at || (a.at === b.at && a.seq > b.seq);
  }

  /**
   * The write `location` sees for `key` at `now` (last write wins among the visible ones), counting
   * only the first `upTo` writes of the log (to ask what a past read saw).
   */
  visibleWrite(key, location, now = this.clock.now(), forList = false, upTo = Infinity) {
    let best;
    for (const w of this.byKey.get(key) ?? []) {
      const lag = forList ? w.listDelay[location] : w.delay[location];
      if (w.seq <= upTo && now >= w.at + lag && LaggingKV.#newer(w, best)) best = w;
    }
    return best;
  }

  /** The write that wins once everything has propagated. */
  latestWrite(key) {
    let best;
    for (const w of this.byKey.get(key) ?? []) if (LaggingKV.#newer(w, best)) best = w;
    return best;
  }

  static #live(write, now) {
    return write && write.value !== null && (write.expiresAt === undefined || now < write.expiresAt);
  }

  /** What `location` reads for `key` at `now` (given the first `upTo` writes): the text, or null. */
  peek(key, location, now = this.clock.now(), upTo = Infinity) {
    const w = this.visibleWrite(key, location, now, false, upTo);
    return LaggingKV.#live(w, now) ? w.value : null;
  }

  /** What every location will read once all writes so far have propagated. */
  settled(key, now = this.clock.now()) {
    const w = this.latestWrite(key);
    return LaggingKV.#live(w, now) ? w.value : null;
  }

  /** The store as seen from `location` (Workers KV's interface). */
  at(location) {
    if (!this.locations.includes(location)) throw new Error(`unknown location ${location}`);
    let view = this.#views.get(location);
    if (!view) {
      view = {
        location,
        get: (key, type) => this.#call('get', location, { key }, () => this.#get(location, key, type)),
        put: (key, value, options) =>
          this.#call('put', location, { key }, () => this.#check(key, value, options), () => this.#put(location, key, value, options)),
        delete: (key) => this.#call('delete', location, { key }, () => this.#checkKey(key), () => this.#delete(location, key)),
        list: (options = {}) => this.#call('list', location, { prefix: options.prefix ?? '' }, () => this.#list(location, options)),
      };
      this.#views.set(location, view);
    }
    return view;
  }

  /**
   * Runs one call through the intercept hook. Reads take their snapshot when called (`read`);
   * writes are validated when called (`check`, which throws like KV does) and applied by `apply`.
   */
  #call(op, location, what, read, apply) {
    const isWrite = op === 'put' || op === 'delete';
    const ctx = this.context();
    return new Promise((resolve, reject) => {
      let action;
      let result;
      try {
        action = this.intercept ? this.intercept({ op, location, now: this.clock.now(), ctx, ...what }) : undefined;
        if (action) this.stats.intercepted[action] += 1;
        if (action === 'throw') throw new Error(`injected ${op} failure at ${location}`);
        if (action === 'hang') return; // never settles
        result = read(); // a read's snapshot, or a write's validation
      } catch (error) {
        reject(error);
        return;
      }
      const land = () => {
        if (!isWrite) return;
        const write = apply();
        write.ctx = ctx;
        write.late = action === 'late';
        if (ctx) {
          (ctx.keysWritten ??= []).push(what.key);
          (ctx.writes ??= []).push(write);
        }
        if (ctx && ctx.staleRead) {
          ctx.writesAfterStaleRead = (ctx.writesAfterStaleRead ?? 0) + 1;
          this.stats.writesAfterStaleRead += 1;
        }
      };
      if (action === 'lose' && isWrite) {
        resolve(undefined);
        return;
      }
      if (action === 'hold' || action === 'timeout' || action === 'late') {
        const entry = {
          id: this.held.length === 0 ? 1 : this.held[this.held.length - 1].id + 1,
          op,
          location,
          ...what,
          kind: action,
          heldAt: this.clock.now(),
          ctx,
          settle: () => {
            if (action === 'hold') {
              try {
                land();
                resolve(isWrite ? undefined : result);
              } catch (error) {
                reject(error);
              }
              return;
            }
            if (action === 'late') land();
            reject(new Error(`${op} at ${location} timed out (${action})`));
          },
        };
        this.held.push(entry);
        return;
      }
      try {
        land();
        resolve(isWrite ? undefined : result);
      } catch (error) {
        reject(error);
      }
    });
  }

  /** Settles one held call (removing it from `held`). */
  release(entry) {
    const i = this.held.indexOf(entry);
    if (i < 0) return false;
    this.held.splice(i, 1);
    entry.settle();
    return true;
  }

  /** Settles every held call, oldest first. */
  releaseAll() {
    while (this.held.length > 0) this.release(this.held[0]);
  }

  #checkKey(key) {
    if (typeof key !== 'string' || key.length === 0 || bytes(key) > MAX_KEY_BYTES) {
      throw new Error(`KV GET/PUT failed: 414 invalid key ${JSON.stringify(key)}`);
    }
  }

  #check(key, value, options = {}) {
    this.#checkKey(key);
    if (typeof value !== 'string') throw new Error('this model stores text values only');
    const ttl = options.expirationTtl;
    if (ttl !== undefined && !(Number.isFinite(ttl) && ttl >= KV_MIN_TTL_SECS)) {
      throw new Error(`KV PUT failed: 400 Invalid expiration_ttl of ${ttl}. Expiration TTL must be at least 60.`);
    }
    if (options.metadata !== undefined && bytes(JSON.stringify(options.metadata)) > MAX_METADATA_BYTES) {
      throw new Error('KV PUT failed: 413 metadata too large');
    }
    const unknown = Object.keys(options).filter((k) => !['expirationTtl', 'metadata', 'expiration'].includes(k));
    if (unknown.length > 0) throw new Error(`unexpected put options ${unknown}`);
  }

  #get(location, key, type = 'text') {
    this.#checkKey(key);
    this.stats.gets += 1;
    const now = this.clock.now();
    const seen = this.visibleWrite(key, location, now);
    const latest = this.latestWrite(key);
    const ctx = this.context();
    if (ctx) (ctx.reads ??= []).push({ key, write: seen ?? null, at: now });
    if (seen !== latest) {
      this.stats.staleReads += 1;
      if (ctx) ctx.staleRead = true;
    }
    const text = LaggingKV.#live(seen, now) ? seen.value : null;
    if (text === null) return null;
    if (type === 'json') return JSON.parse(text);
    if (type !== undefined && type !== 'text' && !(typeof type === 'object' && (type.type ?? 'text') === 'text')) {
      throw new Error(`this model reads text or json only, not ${JSON.stringify(type)}`);
    }
    return text;
  }

  #put(location, key, value, options = {}) {
    this.stats.puts += 1;
    return this.#write(location, key, value, options);
  }

  #delete(location, key) {
    this.stats.deletes += 1;
    return this.#write(location, key, null);
  }

  #list(location, { prefix = '', cursor, limit } = {}) {
    this.stats.lists += 1;
    const now = this.clock.now();
    const pageSize = Math.min(limit ?? this.listLimit, this.listLimit);
    const names = [];
    for (const key of this.byKey.keys()) {
      if (!key.startsWith(prefix)) continue;
      const listed = this.visibleWrite(key, location, now, true);
      const actual = this.visibleWrite(key, location, now);
      const inList = LaggingKV.#live(listed, now);
      const inGet = LaggingKV.#live(actual, now);
      if (inGet && !inList) this.stats.listOmissions += 1;
      if (inList && !inGet) this.stats.listGhosts += 1;
      if (inList) names.push([key, listed]);
    }
    names.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    const after = cursor === undefined || cursor === null ? '' : Buffer.from(String(cursor), 'base64url').toString();
    const rest = names.filter(([key]) => key > after);
    const page = rest.slice(0, pageSize);
    const complete = page.length === rest.length;
    return {
      keys: page.map(([name, w]) => ({
        name,
        ...(w.expiresAt !== undefined ? { expiration: Math.floor(w.expiresAt / 1000) } : {}),
        ...(w.metadata !== undefined ? { metadata: structuredClone(w.metadata) } : {}),
      })),
      list_complete: complete,
      ...(complete ? {} : { cursor: Buffer.from(page[page.length - 1][0]).toString('base64url') }),
      cacheStatus: null,
    };
  }
}
