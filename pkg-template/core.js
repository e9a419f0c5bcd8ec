// The JS layer of edge-session: a small driver. It reads the Cookie header, performs the store
// reads and writes the wasm core asks for, passes Date.now() in and hands Set-Cookie values back.
// Every decision, key name, stored shape and default belongs to the core.

import { Engine } from './edge_session.js';

/** Bad configuration or arguments: a short secret, inconsistent timeouts, unknown options. */
export class SessionConfigError extends Error {
  constructor(message, reason) {
    super(message);
    this.name = 'SessionConfigError';
    this.reason = reason;
  }
}

/**
 * The session store or the revocation hub failed or timed out (thrown by management calls, never
 * by validate). `reason` is `store_unavailable` or `hub_unavailable`.
 */
export class SessionStoreError extends Error {
  constructor(message, options) {
    super(message, options);
    this.name = 'SessionStoreError';
    this.reason = options?.reason ?? 'store_unavailable';
  }
}

function rethrowConfig(error) {
  if (error && error.name === 'SessionConfigError' && typeof error.reason === 'string') {
    throw new SessionConfigError(error.message, error.reason);
  }
  throw error;
}

/** Calls the core, turning its configuration errors into SessionConfigError. */
function core(call) {
  try {
    return call();
  } catch (error) {
    return rethrowConfig(error);
  }
}

function cookieHeaderOf(input) {
  if (typeof input === 'string') return input;
  const headers = input && (input.headers ?? input);
  if (headers && typeof headers.get === 'function') return headers.get('cookie') ?? undefined;
  return undefined;
}

function userAgentOf(input) {
  const headers = input && input.headers;
  return headers && typeof headers.get === 'function' ? headers.get('user-agent') ?? undefined : undefined;
}

/** Session data as JSON text for the core (which checks it is an object of at most 1024 bytes). */
function dataJson(data) {
  if (data === undefined || data === null) return undefined;
  let text;
  try {
    text = JSON.stringify(data);
  } catch (error) {
    throw new SessionConfigError(`invalid session data: not JSON-serialisable (${error.message})`, 'invalid_data');
  }
  if (typeof text !== 'string') throw new SessionConfigError('invalid session data: must be a JSON object', 'invalid_data');
  return text;
}

/**
 * `value` with everything in it made read-only. Session data is a JSON value (objects, arrays,
 * strings, numbers, booleans, null), so freezing it whole is cheap and complete.
 */
function deepFreeze(value) {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const key of Object.keys(value)) deepFreeze(value[key]);
  }
  return value;
}

/**
 * The core carries data as JSON text; the application gets it parsed and frozen. Data is signed
 * into the cookie: the only way to change it is `update`, which re-signs it, so a session's data
 * is read-only everywhere (and the fast path can hand the same object to every call that
 * validates the same cookie).
 */
function withData(session) {
  session.data = session.data === null ? null : deepFreeze(JSON.parse(session.data));
  return session;
}

/**
 * An envelope's data parsed (null when none), or undefined when it is not JSON. The wasm core checks
 * only that the data is braces around at most 1024 bytes (it carries no JSON parser); an envelope
 * whose data is not JSON can only come from the signing key, and is refused here as `malformed`, as
 * the native core refuses it, rather than thrown at the application.
 */
function parsedData(text) {
  if (text === null) return null;
  try {
    return deepFreeze(JSON.parse(text));
  } catch {
    return undefined;
  }
}

function refusal(reason, setCookie) {
  return { ok: false, reason, setCookie };
}

/**
 * A stored value for the core: the text the store returned (the core parses and checks it),
 * `null` when absent. A store handing back something other than text holds no value this
 * library wrote: the core reads it as corrupt.
 */
function storedText(text) {
  if (text === null || text === undefined) return null;
  return typeof text === 'string' ? text : '\u0000';
}

/** Listing metadata for the core: its JSON text, `null` when there is none. */
function metadataText(metadata) {
  return metadata === undefined || metadata === null ? null : JSON.stringify(metadata);
}

/**
 * The options as JSON text for the core, keeping what JSON would lose: a name given `undefined`
 * stays present (as null, so an unknown one is still refused by name), a non-finite number
 * stays a number the core refuses (as its text, "NaN" or "Infinity"), and a value JSON cannot
 * hold (a function, symbol or bigint) becomes one no option accepts.
 */
function optionsJson(options) {
  try {
    return JSON.stringify(options, (_, value) => {
      if (value === undefined) return null;
      if (typeof value === 'number' && !Number.isFinite(value)) return String(value);
      if (typeof value === 'function' || typeof value === 'symbol' || typeof value === 'bigint') return [];
      return value;
    });
  } catch (error) {
    throw new SessionConfigError(`invalid options: not serialisable (${error.message})`, 'invalid_options');
  }
}

const utf8Encoder = new TextEncoder();
const utf8Decoder = new TextDecoder();

/**
 * The fast path's side of the boundary: the Cookie header goes into the core's input buffer with
 * `encodeInto`, and a session valid on its envelope alone comes back as numbers, byte ranges and
 * its handle's text in the module's memory (see `Engine.check`), so validating allocates nothing
 * in wasm and builds a plain session object here (the same shape the full path returns).
 *
 * What is derived from an envelope (user id, handle, the parsed and frozen data) is kept per
 * memo slot, which the core keys by the envelope's verified tag: the same cookie validated again
 * (every request of a browser until its envelope is refreshed) reuses it instead of decoding,
 * hashing and parsing anew. The core still verifies, and judges expiry and revocation, on every
 * call; the session object itself is new each time.
 */
class FastPath {
  #engine;
  #layout;
  #buffer = null;
  #input;
  #out;
  #bytes;
  #handle;
  #memo = [];

  constructor(engine) {
    this.#engine = engine;
    this.#layout = engine.fastLayout();
    this.#views();
  }

  /**
   * Views over the module's memory, rebuilt when it grew: growing detaches the old buffer, and a
   * view of a detached buffer has length 0, which is how `session` notices without asking
   * `memory.buffer` on every call.
   */
  #views() {
    const { buffer } = this.#layout.memory;
    if (buffer !== this.#buffer) {
      this.#buffer = buffer;
      this.#input = new Uint8Array(buffer, this.#layout.input, this.#layout.inputLen);
      this.#out = new Float64Array(buffer, this.#layout.out, 11);
      this.#bytes = new Uint8Array(buffer);
      this.#handle = new Uint8Array(buffer, this.#layout.handle, 43);
    }
  }

  /** The session when `header` carries one valid on its envelope alone; null otherwise. */
  session(header, now) {
    if (header === undefined) return null;
    if (this.#input.length === 0) this.#views();
    const { read, written } = utf8Encoder.encodeInto(header, this.#input);
    // Longer than any header the core accepts: the full path says why.
    if (read !== header.length) return null;
    const found = this.#engine.check(written, now);
    if (found === 0) return null;
    // Memory may have grown (a remembered handle is hashed into a new string).
    if (this.#out.length === 0) this.#views();
    const o = this.#out;
    let kept = this.#memo[o[10]];
    // A hit leaves the handle buffer as it was (another session's handle, possibly): a slot this
    // side does not hold is never filled from it.
    if (found !== 1 && kept === undefined) return null;
    if (found === 1) {
      const bytes = this.#bytes;
      kept = {
        userId: utf8Decoder.decode(bytes.subarray(o[6], o[6] + o[7])),
        handle: utf8Decoder.decode(this.#handle),
        data: o[9] === 0 ? null : parsedData(utf8Decoder.decode(bytes.subarray(o[8], o[8] + o[9]))),
      };
      this.#memo[o[10]] = kept;
    }
    const session = {
      userId: kept.userId,
      handle: kept.handle,
      createdAt: o[0],
      issuedAt: o[1],
      envelopeExpiresAt: o[2],
      idleExpiresAt: o[3],
      absoluteExpiresAt: o[4],
      generation: o[5],
      data: kept.data,
    };
    // Data that is not JSON: the full path refuses it.
    return session.data === undefined ? null : session;
  }
}

const HOST_OPTIONS = ['store', 'now', 'onEvent', 'hub'];
// At most this many pages (of the hub's 500 entries) per pull; a longer backlog is left for the
// next interval, and the isolate counts as behind (strict once out of reach) until it catches up.
const HUB_MAX_PAGES = 40;
// A pull shared through the Cache API is used by the other isolates of a location for at most
// this long after it was made (the Cache API keeps it for one second, its smallest TTL).
const HUB_SHARE_MS = 500;
const HUB_CACHE = 'edge-session-hub';
const HUB_PULLED_AT = 'x-edge-session-pulled-at';
// How long a pull may take while the hub is failing (healthy: storeTimeoutMs).
const HUB_RETRY_TIMEOUT_MS = 1000;
const CREATE_OPTIONS = new Set(['userAgent', 'data']);
// Why a logout may have left a session it could not identify alive (see #end).
const LOGOUT_UNREADABLE = new Set(['duplicate_cookie', 'header_too_large']);

/**
 * Issues, validates, refreshes, rotates and revokes sessions for one isolate. Create it once per
 * isolate (module scope, lazily on the first request) so its in-memory revocations persist.
 */
export class SessionManager {
  #engine;
  #store;
  #now;
  #onEvent;
  #timeoutMs;
  #clear;
  #cutoffWrites = Promise.resolve();
  #hub;
  #hubName;
  #hubHealthy = true;
  #hubOut = false;
  #fast;

  constructor(options) {
    if (!options || typeof options !== 'object') {
      throw new SessionConfigError('options are required', 'invalid_options');
    }
    const { store, now, onEvent, hub } = options;
    for (const method of ['get', 'put', 'delete', 'list']) {
      if (!store || typeof store[method] !== 'function') {
        throw new SessionConfigError(`store must have a ${method}() method (a KV namespace works)`, 'invalid_store');
      }
    }
    for (const [name, value] of [['now', now], ['onEvent', onEvent]]) {
      if (value !== undefined && typeof value !== 'function') {
        throw new SessionConfigError(`${name} must be a function`, 'invalid_options');
      }
    }
    if (hub !== undefined && (!hub || typeof hub.idFromName !== 'function' || typeof hub.get !== 'function')) {
      throw new SessionConfigError(
        'hub must be a Durable Object namespace binding of the RevocationHub class (env.REVOCATIONS)',
        'invalid_hub',
      );
    }
    const settings = Object.fromEntries(Object.entries(options).filter(([k]) => !HOST_OPTIONS.includes(k)));
    if (hub !== undefined) settings.hub = true;
    this.#engine = core(() => new Engine(optionsJson(settings)));
    this.#hub = hub;
    this.#hubName = `edge-session/${this.#engine.settings.cookieName}`;
    this.#store = store;
    this.#now = now ?? Date.now;
    this.#onEvent = onEvent;
    this.#timeoutMs = this.#engine.settings.storeTimeoutMs;
    this.#clear = this.#engine.clearCookie();
    this.#fast = new FastPath(this.#engine);
  }

  /** The cookie's full name, e.g. `__Host-session`. */
  get cookieName() {
    return this.#engine.settings.cookieName;
  }

  /**
   * This isolate's view, for operators: the cookie name and the in-memory revocations (sessions
   * and users refused here without a store read, the global cutoff in force, whether the isolate
   * reads the store on every request). Never a secret, a session ID or a user id.
   */
  status() {
    const now = this.#now();
    const s = this.#engine.status(now);
    const { cookieName, keyIds, timeouts, hubPollInterval } = this.#engine.settings;
    return {
      cookieName,
      keyIds: [...keyIds],
      timeouts: { ...timeouts },
      revocations: { sessions: s.revokedSessions, users: s.revokedUsers, issuedBefore: s.issuedBefore, strict: s.strict },
      hub: s.hub
        ? {
            pollInterval: hubPollInterval,
            seq: s.hub.seq,
            head: s.hub.head,
            lastPullAt: s.hub.lastPullAt,
            lastPullAgeMs: s.hub.lastPullAt === null ? null : Math.max(0, now - s.hub.lastPullAt),
            outOfReach: s.hub.outOfReach,
          }
        : null,
    };
  }

  /** The `Set-Cookie` value that deletes the session cookie. */
  clearCookie() {
    return this.#clear;
  }

  #emit(event) {
    if (!this.#onEvent) return;
    try {
      this.#onEvent(event);
    } catch {
      // An audit hook must never break a request.
    }
  }

  /** Runs one store (or hub) call with a deadline; any failure becomes a SessionStoreError. */
  async #io(call, what = 'session store', reason = 'store_unavailable', timeoutMs = this.#timeoutMs) {
    let timer;
    const deadline = new Promise((_, reject) => {
      timer = setTimeout(() => reject(new SessionStoreError(`${what} timed out`, { reason })), timeoutMs);
    });
    try {
      return await Promise.race([Promise.resolve().then(call), deadline]);
    } catch (error) {
      throw error instanceof SessionStoreError ? error : new SessionStoreError(`${what} failed`, { cause: error, reason });
    } finally {
      clearTimeout(timer);
    }
  }

  // ---- revocation hub ----------------------------------------------------------------------------

  #hubCall(path, init, timeoutMs = this.#timeoutMs) {
    return this.#io(
      async () => {
        // A stub per call: workerd ties I/O objects to the request that made them.
        const stub = this.#hub.get(this.#hub.idFromName(this.#hubName));
        const response = await stub.fetch(`https://revocation-hub${path}`, init);
        const text = await response.text();
        if (!response.ok) throw new Error(`revocation hub answered ${response.status}: ${text.slice(0, 200)}`);
        return text;
      },
      'revocation hub',
      'hub_unavailable',
      timeoutMs,
    );
  }

  /**
   * Appends the core's hub entries (with a hub; a no-op without). Throws SessionStoreError
   * (`hub_unavailable`) when the hub failed: the revocation then holds only within the KV bound.
   */
  async #announce(...entries) {
    const list = entries.filter((e) => e !== undefined && e !== null);
    if (!this.#hub || list.length === 0) return;
    const text = await this.#hubCall('/append', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ entries: list }),
    });
    // The hub numbers every entry it keeps; an answer without those numbers says nothing was.
    let seqs;
    try {
      seqs = JSON.parse(text)?.seqs;
    } catch {
      // Not JSON: handled below.
    }
    if (!Array.isArray(seqs) || seqs.length !== list.length) {
      throw new SessionStoreError('revocation hub answered an append without its sequence numbers', { reason: 'hub_unavailable' });
    }
  }

  /** The named cache isolates of one location share pulls through, when the runtime has one. */
  async #sharedCache() {
    try {
      // Opened per pull, like the stub: workerd ties I/O objects to the request that made them.
      return globalThis.caches?.open ? await globalThis.caches.open(HUB_CACHE) : null;
    } catch {
      return null;
    }
  }

  /**
   * One page of entries after `after`: from the Cache API when another isolate of this location
   * pulled it less than HUB_SHARE_MS ago, else from the hub (then shared). `asOf` is when the
   * hub answered, which is what the isolate then knows.
   */
  async #hubPage(after, origin, fresh) {
    const cache = await this.#sharedCache();
    // The Durable Object's id names the log: two workers of one origin with other hubs never
    // share pages.
    const log = this.#hub.idFromName(this.#hubName).toString();
    const key = `${origin}/__edge-session/hub/${encodeURIComponent(log)}/pull?after=${after}`;
    if (cache && !fresh) {
      const hit = await cache.match(key).catch(() => undefined);
      const asOf = Number(hit?.headers.get(HUB_PULLED_AT));
      const now = this.#now();
      if (hit && Number.isSafeInteger(asOf) && asOf <= now && now - asOf < HUB_SHARE_MS) {
        return { page: await hit.text(), asOf, shared: true };
      }
    }
    const asOf = this.#now();
    // While the hub is failing, a pull gives up sooner: one request per interval waits for it.
    const timeout = this.#hubHealthy ? this.#timeoutMs : Math.min(this.#timeoutMs, HUB_RETRY_TIMEOUT_MS);
    const text = await this.#hubCall(`/pull?after=${after}`, undefined, timeout);
    if (cache) {
      const headers = { 'content-type': 'application/json', 'cache-control': 'max-age=1', [HUB_PULLED_AT]: String(asOf) };
      await cache.put(key, new Response(text, { headers })).catch(() => {});
    }
    return { page: text, asOf, shared: false };
  }

  /**
   * Pulls what is new from the hub when a pull is due (at most once per interval per isolate).
   * The request that claims it waits for it (workerd cancels what a request leaves running), so
   * the isolate never accepts on knowledge older than the interval plus a round trip; requests
   * meanwhile go on with what it knows. Once the hub has been out of reach for three intervals
   * the isolate reads records on every request (the core decides) until a pull succeeds.
   */
  #syncHub(request, now, force = false) {
    const claim = this.#engine.hubClaim(now, force);
    // Not due: nothing to wait for (and no promise made, on the fast path's every request).
    if (claim === undefined) return undefined;
    return this.#pullClaimed(claim, request, now, force);
  }

  /** Pulls from `claim.after` (a forced pull skips shared pages); true once caught up. */
  async #pullClaimed(claim, request, now, fresh) {
    if (claim.outOfReach && !this.#hubHealthy) this.#unreachable(now);
    let origin = 'https://edge-session.invalid';
    try {
      if (request && typeof request.url === 'string') origin = new URL(request.url).origin;
    } catch {
      // A request without a usable URL shares under the placeholder origin.
    }
    return this.#pullPages(claim.after, now, origin, fresh);
  }

  /** Reports, once per outage, that the isolate now reads records on every request. */
  #unreachable(now) {
    if (this.#hubOut) return;
    this.#hubOut = true;
    this.#emit({ type: 'hub_unreachable', at: now });
  }

  async #pullPages(after, now, origin, fresh = false) {
    try {
      for (let pages = 0; pages < HUB_MAX_PAGES; pages++) {
        const { page, asOf, shared } = await this.#hubPage(after, origin, fresh);
        const applied = this.#engine.hubApply(page, after, asOf);
        if (!applied.ok) throw new Error('malformed hub page');
        if (applied.overflow) this.#overflowed(now);
        this.#emit({ type: 'hub_pulled', at: asOf, seq: applied.after, entries: applied.entries, shared });
        if (!applied.more) {
          this.#hubHealthy = true;
          if (this.#hubOut) {
            this.#hubOut = false;
            this.#emit({ type: 'hub_reachable', at: this.#now() });
          }
          return true;
        }
        after = applied.after;
      }
    } catch (error) {
      this.#engine.hubFailed(now);
      this.#hubHealthy = false;
      this.#emit({ type: 'hub_pull_failed', at: now, message: String(error?.message ?? error) });
      const later = this.#now();
      if (this.#engine.status(later).hub.outOfReach) this.#unreachable(later);
    }
    return false;
  }

  async #read(key) {
    return storedText(await this.#io(() => this.#store.get(key, 'text')));
  }

  // The store calls below are started from plain loops, not from Array.prototype.map callbacks:
  // Node 20's V8 (11.3) can crash the process ("Fatal error ... unreachable code" in
  // Deoptimizer::DoComputeBuiltinContinuation) when optimized code holding an inlined builtin
  // continuation is deoptimized lazily. With 10,000 revokeUser calls in a row (a scenario run 4
  // times per process), it crashed 6 and 8 runs in 24 with map(), 1 in 24 with these loops (the
  // rest is V8 lazily deoptimizing an inlined async function; Node 22 does not have the bug).

  /** Reads every key the core listed, in parallel. */
  #readAll(keys) {
    const reads = [];
    for (const key of keys) reads.push(this.#read(key));
    return Promise.all(reads);
  }

  /** Performs the core's writes; throws SessionStoreError once all settled if any failed. */
  async #apply({ puts = [], deletes = [] }) {
    const writes = [];
    for (const p of puts) {
      const options = {};
      if (p.expirationTtl !== null) options.expirationTtl = p.expirationTtl;
      if (p.metadata !== null) options.metadata = p.metadata;
      writes.push(this.#io(() => this.#store.put(p.key, JSON.stringify(p.value), options)));
    }
    for (const key of deletes) writes.push(this.#io(() => this.#store.delete(key)));
    for (const result of await Promise.allSettled(writes)) {
      if (result.status === 'rejected') throw result.reason;
    }
  }

  /**
   * Every key under `prefix`, following cursors. A page that is not a listing, or a cursor that
   * is missing or comes back again (a listing that would never end), is a store failure.
   */
  async #list(prefix) {
    const keys = [];
    const seen = new Set();
    let cursor;
    do {
      const page = await this.#io(() => this.#store.list({ prefix, cursor }));
      if (!page || !Array.isArray(page.keys) || !page.keys.every((k) => k && typeof k.name === 'string')) {
        throw new SessionStoreError('session store answered a malformed listing');
      }
      keys.push(...page.keys);
      cursor = page.list_complete ? undefined : page.cursor;
      if (!page.list_complete && (typeof cursor !== 'string' || cursor === '' || seen.has(cursor))) {
        throw new SessionStoreError('session store answered a listing that never ends');
      }
      seen.add(cursor);
    } while (cursor);
    return { names: keys.map((k) => k.name), metadata: keys.map((k) => metadataText(k.metadata)) };
  }

  /** A refusal the core made: reported, with the clearing cookie the core chose (or none). */
  #rejected(outcome, now) {
    const { reason, setCookie, handle } = outcome;
    if (outcome.overflow) this.#overflowed(now);
    this.#emit({ type: 'rejected', reason, at: now, ...(handle ? { handle } : {}) });
    return refusal(reason, setCookie);
  }

  /** The store failed: say so and keep the cookie (a KV blip is not a logout). */
  #unavailable(now, handle) {
    return this.#rejected({ reason: 'store_unavailable', setCookie: null, handle }, now);
  }

  #overflowed(now) {
    this.#emit({ type: 'revocations_full', at: now });
  }

  /** Checks the request's session cookie; reads the store only for an authentic envelope that needs its record. */
  async validate(request) {
    if (this.#hub) {
      const pulling = this.#syncHub(request, this.#now());
      if (pulling !== undefined) await pulling;
    }
    const now = this.#now();
    const header = cookieHeaderOf(request);
    const session = this.#fast.session(header, now);
    if (session !== null) return { ok: true, session, setCookie: null, refreshed: false };
    const verdict = this.#engine.validate(header, now);
    if (verdict.ok) return this.#withEnvelopeData(verdict, now);
    if (verdict.need === undefined) return this.#rejected(verdict, now);
    return this.#refresh(header, verdict, now);
  }

  /** `result` with its session's data parsed, or the refusal of data that is not JSON. */
  #withEnvelopeData(result, now) {
    const data = parsedData(result.session.data);
    if (data === undefined) return this.#rejected({ reason: 'malformed', setCookie: this.#clear, handle: result.session.handle }, now);
    result.session.data = data;
    return result;
  }

  async #refresh(header, pending, now) {
    let values;
    try {
      values = await this.#readAll(pending.need);
    } catch {
      return this.#unavailable(now, pending.handle);
    }
    const resumed = this.#engine.resume(header, values, now);
    if (!resumed.ok) return this.#rejected(resumed, now);
    // Checked before the last-seen write: a refusal writes nothing.
    const checked = this.#withEnvelopeData(resumed, now);
    if (checked.ok !== true) return checked;
    let recordWritten = false;
    if (resumed.puts) {
      try {
        await this.#apply(resumed);
        recordWritten = true;
      } catch {
        // Only the last-seen time for the devices list; the session was judged already.
      }
    }
    const session = resumed.session;
    this.#emit({ type: 'refreshed', userId: session.userId, handle: session.handle, at: now, recordWritten });
    return { ok: true, session, setCookie: resumed.setCookie, refreshed: true };
  }

  /**
   * Logs `userId` in with a new session ID, optionally with `data` (a JSON object of at most 1024
   * bytes, signed into the cookie: readable by its holder, never secret). A session already on
   * `request` is ended first, so a planted or stolen pre-login cookie never becomes a logged-in one.
   */
  async create(request, userId, options = {}) {
    const now = this.#now();
    const unknown = Object.keys(options ?? {}).filter((k) => !CREATE_OPTIONS.has(k));
    if (unknown.length > 0) {
      throw new SessionConfigError(`unknown create option ${JSON.stringify(unknown[0])}; known: userAgent, data`, 'invalid_options');
    }
    if (typeof userId !== 'string') {
      throw new SessionConfigError('userId must be a string of 1-128 bytes', 'invalid_user_id');
    }
    const data = dataJson(options?.data);
    const userAgent = options?.userAgent ?? userAgentOf(request);
    const issued = core(() => this.#engine.issue(userId, userAgent, data, now));
    if (request) {
      // A session already on the request is ended first. If that could not be stored, no new
      // login (the old one may live on); if only the hub missed it, the store has it and the
      // login goes ahead (other isolates refuse the old one within the KV bound).
      const ended = await this.#end(request, now);
      if (ended === 'store_unavailable') return refusal(ended, null);
    }
    try {
      await this.#apply(issued);
    } catch {
      return this.#unavailable(now);
    }
    const session = withData(issued.session);
    this.#emit({ type: 'created', userId: session.userId, handle: session.handle, at: now });
    return { ok: true, session, setCookie: issued.setCookie };
  }

  /**
   * Ends the request's session: true when done, null when there was none, or the reason code
   * (`store_unavailable`, `hub_unavailable`) when the store or the hub failed, or
   * (`duplicate_cookie`, `header_too_large`) when the Cookie header could not be read.
   */
  async #end(request, now) {
    const out = this.#engine.destroy(cookieHeaderOf(request), now);
    // Two session cookies, or a header too long to read, may hide a live session that cannot be
    // picked out: nothing was ended, which is not a success. Anything else names no session.
    if (!out.ok) return LOGOUT_UNREADABLE.has(out.reason) ? out.reason : null;
    if (out.overflow) this.#overflowed(now);
    const failure = await this.#endWrites(out, 'revoked', out.lineage, out.until, now);
    if (failure) {
      this.#emit({ type: 'destroy_failed', userId: out.userId, handle: out.handle, reason: failure.reason, at: now });
      return failure.reason;
    }
    this.#emit({ type: 'destroyed', userId: out.userId, handle: out.handle, at: now });
    return true;
  }

  /**
   * Writes the end of a session (`out`: the core's writes and hub entry) to the store, then
   * announces it to the hub. When the store write failed, this isolate keeps refusing `target`
   * until `until` (the session's absolute deadline) and the hub is told to hold it as long.
   * Returns the first failure (a SessionStoreError), or undefined.
   */
  async #endWrites(out, reason, target, until, now) {
    let failure;
    let entry = out.hub;
    try {
      await this.#apply(out);
    } catch (error) {
      failure = error;
      // The record may still be live: keep refusing it for as long as it could live.
      const held = this.#engine.holdEnded(target, reason, until, now);
      if (held.overflow) this.#overflowed(now);
      entry = held.hub;
    }
    try {
      await this.#announce(entry);
    } catch (error) {
      failure ??= error;
    }
    return failure;
  }

  /**
   * Logs out: tombstones the session's record server-side and returns the clearing cookie. When the
   * store write failed it answers `ok: false, reason: 'store_unavailable'` (this isolate refuses the
   * session already; others may not until the store is back), and `ok: false, reason:
   * 'duplicate_cookie'` or `'header_too_large'` when the Cookie header hides which session to end
   * (nothing ended). Idempotent.
   */
  async destroy(request) {
    const now = this.#now();
    const ended = await this.#end(request, now);
    if (typeof ended === 'string') return { ok: false, reason: ended, setCookie: this.#clear };
    return { ok: true, setCookie: this.#clear };
  }

  /** Gives the request's session a new ID (privilege change); the old cookie is refused afterwards. */
  rotate(request) {
    return this.#rotate(request, false, undefined);
  }

  /** Replaces the session's data, by rotation: a new ID carries the new data; answers like `rotate`. */
  update(request, data) {
    return this.#rotate(request, true, data);
  }

  async #rotate(request, change, newData) {
    const data = change ? dataJson(newData) : undefined;
    if (data !== undefined) core(() => this.#engine.checkData(data));
    // Judged like a refresh, so on what the hub has told this isolate as recently: without the
    // pull, an isolate whose last pull is old would judge on its store read alone.
    if (this.#hub) {
      const pulling = this.#syncHub(request, this.#now());
      if (pulling !== undefined) await pulling;
    }
    const now = this.#now();
    const header = cookieHeaderOf(request);
    const pending = this.#engine.authenticate(header, now);
    if (pending.need === undefined) return this.#rejected(pending, now);
    let values;
    try {
      values = await this.#readAll(pending.need);
    } catch {
      return this.#unavailable(now, pending.handle);
    }
    const rotated = core(() => this.#engine.rotate(header, values, change, data, now));
    if (!rotated.ok) return this.#rejected(rotated, now);
    const previousHandle = rotated.previousHandle;
    try {
      await this.#apply(rotated);
    } catch {
      // The new session was not stored: the user keeps the old one, untouched.
      return this.#unavailable(now, previousHandle);
    }
    if (this.#engine.rememberRotated(previousHandle, now)) this.#overflowed(now);
    const session = withData(rotated.session);
    const failure = await this.#endWrites(
      { ...rotated.retire, hub: rotated.hub },
      'rotated',
      previousHandle,
      session.absoluteExpiresAt,
      now,
    );
    if (failure) {
      // The old ID may still be live elsewhere: not a success. The new cookie is still handed
      // over, so the user is never left with no session at all; here the old one stays refused.
      const reason = failure.reason;
      this.#emit({ type: 'rotate_failed', userId: session.userId, handle: session.handle, previousHandle, reason, at: now });
      return { ok: false, reason, setCookie: rotated.setCookie, session, previousHandle };
    }
    this.#emit({ type: 'rotated', userId: session.userId, handle: session.handle, previousHandle, at: now });
    return { ok: true, session, setCookie: rotated.setCookie };
  }

  /** Lists a user's live sessions, newest first. Throws SessionStoreError when the store fails. */
  async listSessions(userId) {
    const now = this.#now();
    const user = String(userId);
    const keys = this.#engine.userKeys(user);
    const [index, touches, ended] = await Promise.all([
      this.#list(keys.index),
      this.#list(keys.touch),
      this.#list(keys.ended),
    ]);
    return this.#engine.listSessions(user, index.names, index.metadata, touches.names, touches.metadata, ended.names, now);
  }

  /**
   * Revokes one session by handle; with `userId`, only if it is that user's. Returns false when
   * there is no such live session. Throws SessionStoreError when a read or write failed.
   */
  async revokeSession(handle, userId) {
    const now = this.#now();
    let key;
    try {
      key = this.#engine.recordKey(String(handle));
    } catch {
      return false;
    }
    const record = await this.#read(key);
    const owner = userId === undefined || userId === null ? undefined : String(userId);
    const out = this.#engine.revokeHandle(String(handle), record, owner, now);
    if (!out) return false;
    if (out.overflow) this.#overflowed(now);
    const failure = await this.#endWrites(out, 'revoked', out.lineage, out.until, now);
    if (failure) throw failure;
    this.#emit({ type: 'revoked', scope: 'session', userId: out.userId, handle: out.handle, at: now });
    return true;
  }

  /**
   * Revokes every session of `userId` created up to now, including ones a listing cannot see yet:
   * a per-user cutoff is written first and read at every refresh. Returns how many listed
   * sessions were ended. Throws SessionStoreError when any read or write failed.
   */
  revokeUser(userId) {
    return this.#serialized(() => this.#revokeUser(userId));
  }

  /**
   * Runs cutoff read-modify-writes one at a time: KV has no compare-and-swap, so two overlapping
   * ones from this isolate could land in the wrong order and lower the stored cutoff.
   */
  #serialized(task) {
    const run = this.#cutoffWrites.then(task, task);
    this.#cutoffWrites = run.catch(() => {});
    return run;
  }

  async #revokeUser(userId) {
    const now = this.#now();
    const user = String(userId);
    const keys = this.#engine.userKeys(user);
    const [stored, storedOthers] = await this.#readAll([keys.cutoff, keys.others]);
    const cutoff = this.#engine.revokeUser(user, stored, storedOthers, now);
    const ended = await this.#cutOff(user, keys, cutoff, now);
    this.#emit({ type: 'revoked', scope: 'user', userId: user, at: now });
    return ended;
  }

  /**
   * Writes a user cutoff the core made (`cutoff`: its write, hub entry, `before` and the login
   * it spares), announces it, then ends what a listing shows. The cutoff and the hub entry each
   * refuse every session it names on their own, so both are attempted before failing. Returns
   * how many listed sessions were ended.
   */
  async #cutOff(user, keys, cutoff, now) {
    if (cutoff.overflow) this.#overflowed(now);
    const [stored, announced] = await Promise.allSettled([this.#apply(cutoff), this.#announce(cutoff.hub)]);
    for (const result of [stored, announced]) {
      if (result.status === 'rejected') throw result.reason;
    }
    // Only once the new cutoff is stored: an unreadable "other sessions" cutoff it replaces.
    if (cutoff.repair?.length) await this.#apply({ deletes: cutoff.repair });
    const listed = await this.#list(keys.index);
    const ended = this.#engine.endListed(user, cutoff.before, listed.names, listed.metadata, now, cutoff.lineage ?? undefined);
    await this.#apply(ended);
    return ended.puts.length;
  }

  /**
   * "Log out my other sessions" (ASVS 7.4.3): ends every session of the request's user except
   * the current one (and its later rotations), everywhere within the revocation bound, including
   * sessions a listing cannot see yet. The caller's session is judged against the store first
   * (and, with a hub, after a fresh pull), so a session already ended elsewhere cannot make
   * itself the one that stays. Answers `{ ok: true, revoked, session, setCookie: null }`
   * (`revoked`: how many listed sessions were ended), a refusal like `validate`'s when the
   * request has no valid session, or `{ ok: false, reason: 'store_unavailable' |
   * 'hub_unavailable', setCookie: null }` when the store or hub failed; `session` is set then when
   * the caller's session was judged valid before the failure (it keeps it).
   *
   * Not queued behind other revocations of this isolate: two of one user race as they would
   * from two isolates (ARCHITECTURE.md, "`revokeOthers`").
   */
  async revokeOthers(request) {
    // A fresh pull (never a shared page), which must succeed: this is the one call that lets a
    // session spare itself, so it must know every revocation the hub has.
    if (this.#hub && !(await this.#syncHub(request, this.#now(), true))) {
      return { ok: false, reason: 'hub_unavailable', setCookie: null };
    }
    const now = this.#now();
    const header = cookieHeaderOf(request);
    const pending = this.#engine.authenticate(header, now);
    if (pending.need === undefined) return this.#rejected(pending, now);
    let cutoff;
    let revoked;
    try {
      const values = await this.#readAll(pending.need);
      cutoff = this.#engine.revokeOthers(header, values, now);
      if (cutoff.ok === false) return this.#rejected(cutoff, now);
      revoked = await this.#cutOff(cutoff.userId, this.#engine.userKeys(cutoff.userId), cutoff, now);
    } catch (error) {
      if (!(error instanceof SessionStoreError)) throw error;
      this.#emit({ type: 'revoke_others_failed', userId: pending.userId, handle: pending.handle, reason: error.reason, at: now });
      const judged = cutoff?.ok ? { session: withData(cutoff.session) } : {};
      return { ok: false, reason: error.reason, setCookie: null, ...judged };
    }
    const session = withData(cutoff.session);
    this.#emit({ type: 'revoked', scope: 'others', userId: session.userId, handle: session.handle, revoked, at: now });
    return { ok: true, revoked, session, setCookie: null };
  }

  /**
   * Revokes every session created before `issuedBefore` (unix ms, not in the future): here at once,
   * elsewhere at their next refresh. The stored cutoff only ever rises. Throws SessionConfigError
   * for a bad time, SessionStoreError when the store failed.
   */
  revokeIssuedBefore(issuedBefore) {
    return this.#serialized(() => this.#revokeIssuedBefore(issuedBefore));
  }

  async #revokeIssuedBefore(issuedBefore) {
    const now = this.#now();
    const cutoff = typeof issuedBefore === 'number' ? issuedBefore : Number.NaN;
    core(() => this.#engine.checkTime(cutoff, now));
    const stored = await this.#read(this.#engine.globalCutoffKey);
    const out = core(() => this.#engine.revokeIssuedBefore(cutoff, stored, now));
    if (out.corrupt) this.#emit({ type: 'corrupt_cutoff_replaced', at: now });
    const results = await Promise.allSettled([this.#apply(out), this.#announce(out.hub)]);
    for (const result of results) {
      if (result.status === 'rejected') throw result.reason;
    }
    const inForce = this.#engine.status(now).issuedBefore;
    this.#emit({ type: 'revoked', scope: 'issued_before', issuedBefore: inForce, at: now });
  }
}

// ---- operator HTTP tools -------------------------------------------------------------------------

const ADMIN_MIN_TOKEN_CHARS = 32;
const ADMIN_MAX_BODY_BYTES = 16 * 1024;
// Slow-down of bad tokens, per client: ADMIN_FAILURES failures within ADMIN_WINDOW_MS block the
// client for ADMIN_FIRST_BLOCK_MS, doubled at each further block up to ADMIN_MAX_BLOCK_MS. A client
// with no failure for ADMIN_FORGET_MS (and not blocked) is forgotten.
const ADMIN_FAILURES = 5;
const ADMIN_WINDOW_MS = 60_000;
const ADMIN_FIRST_BLOCK_MS = 15_000;
const ADMIN_MAX_BLOCK_MS = 15 * 60_000;
const ADMIN_FORGET_MS = 15 * 60_000;
// At most this many clients are tracked; beyond it, new clients share one overflow bucket (so a
// flood of fresh addresses neither grows memory nor pushes a blocked client out).
const ADMIN_MAX_CLIENTS = 1000;
const ADMIN_SHARED_CLIENT = '\u0000shared';
const ADMIN_OVERFLOW_CLIENT = '\u0000overflow';
const ADMIN_HANDLE_RE = /^[A-Za-z0-9_-]{1,128}$/;
const ADMIN_OPTIONS = new Set(['token', 'now']);
const ADMIN_JSON_HEADERS = {
  'content-type': 'application/json; charset=utf-8',
  'cache-control': 'no-store',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
};
const MAKE_TOKEN =
  `node -e "console.log(require('node:crypto').randomBytes(32).toString('base64url'))", ` +
  'then store it as a secret (wrangler secret put ADMIN_TOKEN)';

const utf8 = new TextEncoder();

function adminJson(status, body, extra = {}) {
  const headers = new Headers(ADMIN_JSON_HEADERS);
  for (const [k, v] of Object.entries(extra)) headers.set(k, v);
  return new Response(JSON.stringify(body), { status, headers });
}

class AdminBadRequest extends Error {
  constructor(reason, status = 400) {
    super(reason);
    this.reason = reason;
    this.status = status;
  }
}

async function sha256(text) {
  return new Uint8Array(await crypto.subtle.digest('SHA-256', utf8.encode(text)));
}

/** The bearer token of the request, or null. */
function bearerOf(request) {
  const match = /^Bearer[ ]+(\S+)\s*$/i.exec(request.headers.get('authorization') || '');
  return match ? match[1] : null;
}

function clientOf(request) {
  const ip = (request.headers.get('cf-connecting-ip') || '').trim();
  return ip === '' ? ADMIN_SHARED_CLIENT : ip.slice(0, 64);
}

/** A client quiet for ADMIN_FORGET_MS since its last failure and the end of its last block. */
function forgotten(entry, now) {
  return now - Math.max(entry.last, entry.blockedUntil) >= ADMIN_FORGET_MS;
}

/** Failed-token bookkeeping per client, bounded in size. */
class Throttle {
  #clients = new Map();
  #prunedAt = -Infinity;

  /** The key to account `client` under: itself if tracked or there is room, else the overflow bucket. */
  resolve(client, now) {
    if (this.#clients.has(client) || this.#clients.size < ADMIN_MAX_CLIENTS) return client;
    if (now - this.#prunedAt >= 1000) {
      this.#prunedAt = now;
      for (const [key, e] of this.#clients) {
        if (forgotten(e, now)) this.#clients.delete(key);
      }
      if (this.#clients.size < ADMIN_MAX_CLIENTS) return client;
    }
    return ADMIN_OVERFLOW_CLIENT;
  }

  /** Whole seconds until `key` may try again; 0 when it may now. */
  retryAfter(key, now) {
    const e = this.#clients.get(key);
    return e && e.blockedUntil > now ? Math.ceil((e.blockedUntil - now) / 1000) : 0;
  }

  failed(key, now) {
    const e = this.#clients.get(key) ?? { windowStart: now, failures: 0, strikes: 0, blockedUntil: 0, last: now };
    if (forgotten(e, now)) e.strikes = 0;
    if ((e.blockedUntil !== 0 && e.blockedUntil <= now) || now - e.windowStart >= ADMIN_WINDOW_MS) {
      e.windowStart = now;
      e.failures = 0;
      e.blockedUntil = 0;
    }
    e.failures += 1;
    e.last = now;
    if (e.failures >= ADMIN_FAILURES) {
      e.strikes += 1;
      e.blockedUntil = now + Math.min(ADMIN_FIRST_BLOCK_MS * 2 ** Math.min(e.strikes - 1, 30), ADMIN_MAX_BLOCK_MS);
    }
    this.#clients.delete(key);
    this.#clients.set(key, e);
  }

  succeeded(key) {
    this.#clients.delete(key);
  }

  get size() {
    return this.#clients.size;
  }
}

function mediaTypeOf(request) {
  const type = request.headers.get('content-type');
  return type === null ? null : type.split(';')[0].trim().toLowerCase();
}

/** Reads a JSON object body of at most 16 KiB (streamed, so a larger one is never buffered). */
async function readJsonObject(request) {
  const type = mediaTypeOf(request);
  if (type !== null && type !== 'application/json') throw new AdminBadRequest('content_type', 415);
  const length = Number(request.headers.get('content-length') || '0');
  if (length > ADMIN_MAX_BODY_BYTES) throw new AdminBadRequest('body_too_large', 413);
  const chunks = [];
  let total = 0;
  if (request.body) {
    const reader = request.body.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      total += value.byteLength;
      if (total > ADMIN_MAX_BODY_BYTES) {
        await reader.cancel().catch(() => {});
        throw new AdminBadRequest('body_too_large', 413);
      }
      chunks.push(value);
    }
  }
  const bytes = new Uint8Array(total);
  let at = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, at);
    at += chunk.byteLength;
  }
  let text;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new AdminBadRequest('malformed_json');
  }
  if (text.trim() === '') throw new AdminBadRequest('json_object_required');
  // A body without a Content-Type is JSON only if it says so.
  if (type === null) throw new AdminBadRequest('content_type', 415);
  let value;
  try {
    value = JSON.parse(text);
  } catch {
    throw new AdminBadRequest('malformed_json');
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new AdminBadRequest('json_object_required');
  return value;
}

/** Runs a manager call whose SessionConfigError `reason` is the client's fault: a 400 `as`. */
async function clientInput(call, reason, as) {
  try {
    return await call();
  } catch (error) {
    if (error?.name === 'SessionConfigError' && error.reason === reason) throw new AdminBadRequest(as);
    throw error;
  }
}

async function adminRevoke(manager, request) {
  const body = await readJsonObject(request);
  const keys = ['userId', 'handle', 'issuedBefore'].filter((k) => body[k] !== undefined);
  if (keys.length !== 1) throw new AdminBadRequest('exactly_one_of_userId_handle_issuedBefore');
  if (keys[0] === 'userId') {
    if (typeof body.userId !== 'string' || body.userId === '') throw new AdminBadRequest('invalid_userId');
    const revoked = await manager.revokeUser(body.userId);
    return adminJson(200, { ok: true, scope: 'user', userId: body.userId, revoked });
  }
  if (keys[0] === 'handle') {
    if (typeof body.handle !== 'string' || !ADMIN_HANDLE_RE.test(body.handle)) throw new AdminBadRequest('invalid_handle');
    const revoked = await manager.revokeSession(body.handle);
    if (!revoked) return adminJson(404, { error: 'not_found' });
    return adminJson(200, { ok: true, scope: 'session', handle: body.handle, revoked: 1 });
  }
  const { issuedBefore } = body;
  if (typeof issuedBefore !== 'number' || !Number.isSafeInteger(issuedBefore) || issuedBefore < 0) {
    throw new AdminBadRequest('invalid_issuedBefore');
  }
  // The manager refuses a time in the future (SessionConfigError `invalid_time`).
  await clientInput(() => manager.revokeIssuedBefore(issuedBefore), 'invalid_time', 'invalid_issuedBefore');
  return adminJson(200, { ok: true, scope: 'issued_before', issuedBefore });
}

async function adminSessions(manager, url) {
  const userId = url.searchParams.get('userId');
  if (userId === null || userId === '') throw new AdminBadRequest('invalid_userId');
  const sessions = await clientInput(() => manager.listSessions(userId), 'invalid_user_id', 'invalid_userId');
  return adminJson(200, { userId, sessions });
}

const ADMIN_ROUTES = {
  '/admin/revoke': { method: 'POST', run: (manager, request) => adminRevoke(manager, request) },
  '/admin/sessions': { method: 'GET', run: (manager, _request, url) => adminSessions(manager, url) },
  '/admin/status': { method: 'GET', run: async (manager) => adminJson(200, manager.status()) },
};

/**
 * The operator routes under `/admin/`, as a fetch-style handler: `POST /admin/revoke`,
 * `GET /admin/sessions?userId=`, `GET /admin/status`, each behind `Authorization: Bearer <token>`
 * (compared in constant time; repeated bad tokens from one client are slowed down with 429).
 * The handler resolves `null` for a path outside `/admin/`, so the host can route on.
 */
export function adminHandler(manager, options) {
  for (const method of ['status', 'listSessions', 'revokeSession', 'revokeUser', 'revokeIssuedBefore']) {
    if (!manager || typeof manager[method] !== 'function') {
      throw new SessionConfigError('adminHandler needs a SessionManager as its first argument', 'invalid_options');
    }
  }
  if (!options || typeof options !== 'object') {
    throw new SessionConfigError(`adminHandler options are required: { token }; make a token with ${MAKE_TOKEN}`, 'invalid_token');
  }
  const unknown = Object.keys(options).filter((k) => !ADMIN_OPTIONS.has(k));
  if (unknown.length > 0) {
    throw new SessionConfigError(`unknown adminHandler option ${JSON.stringify(unknown[0])}; known: token, now`, 'invalid_options');
  }
  const { token, now } = options;
  if (typeof token !== 'string' || token.length < ADMIN_MIN_TOKEN_CHARS || !/^\S+$/.test(token)) {
    const got = typeof token !== 'string' ? typeof token : /\s/.test(token) ? 'a token with white space' : `${token.length} characters`;
    throw new SessionConfigError(
      `admin token must be at least ${ADMIN_MIN_TOKEN_CHARS} characters without white space (got ${got}); make one with ${MAKE_TOKEN}`,
      'invalid_token',
    );
  }
  if (now !== undefined && typeof now !== 'function') {
    throw new SessionConfigError('now must be a function', 'invalid_options');
  }
  const clock = now ?? Date.now;
  const throttle = new Throttle();
  // Digested on first use, not here: workerd allows no crypto work at global scope.
  let expected;

  return async function admin(request) {
    const url = new URL(request.url);
    if (!url.pathname.startsWith('/admin/')) return null;
    const route = Object.hasOwn(ADMIN_ROUTES, url.pathname) ? ADMIN_ROUTES[url.pathname] : undefined;
    if (route === undefined) return adminJson(404, { error: 'not_found' });
    if (request.method !== route.method) return adminJson(405, { error: 'method_not_allowed' }, { allow: route.method });

    const at = clock();
    const client = throttle.resolve(clientOf(request), at);
    const wait = throttle.retryAfter(client, at);
    if (wait > 0) return adminJson(429, { error: 'too_many_requests', retryAfter: wait }, { 'retry-after': String(wait) });
    // Both sides are SHA-256 digests (32 bytes) compared with an XOR loop: the time taken depends
    // on neither the token's length nor where the first difference is.
    const presented = bearerOf(request);
    expected ??= sha256(token);
    const [given, want] = await Promise.all([sha256(presented ?? ''), expected]);
    let diff = presented === null ? 1 : 0;
    for (let i = 0; i < want.length; i++) diff |= given[i] ^ want[i];
    if (diff !== 0) {
      throttle.failed(client, at);
      return adminJson(401, { error: 'unauthorized' }, { 'www-authenticate': 'Bearer' });
    }
    throttle.succeeded(client);

    try {
      return await route.run(manager, request, url);
    } catch (error) {
      if (error instanceof AdminBadRequest) return adminJson(error.status, { error: 'bad_request', reason: error.reason });
      if (error?.name === 'SessionStoreError') return adminJson(503, { error: 'unavailable', reason: error.reason });
      throw error;
    }
  };
}

/** An in-memory store with Workers KV's interface and TTL rules, for tests and single-process Node. */
export class MemoryStore {
  #entries = new Map();
  #now;

  constructor(options = {}) {
    this.#now = options.now ?? Date.now;
  }

  #live(key) {
    const entry = this.#entries.get(key);
    if (entry && entry.expiresAt !== undefined && entry.expiresAt <= this.#now()) {
      this.#entries.delete(key);
      return undefined;
    }
    return entry;
  }

  async get(key, type = 'text') {
    const entry = this.#live(key);
    if (!entry) return null;
    return type === 'json' ? JSON.parse(entry.value) : entry.value;
  }

  async put(key, value, options = {}) {
    const ttl = options.expirationTtl;
    if (ttl !== undefined && !(ttl >= 60)) {
      throw new Error(`Invalid expiration_ttl of ${ttl}. Expiration TTL must be at least 60.`);
    }
    this.#entries.set(String(key), {
      value: String(value),
      expiresAt: ttl === undefined ? undefined : this.#now() + ttl * 1000,
      metadata: options.metadata === undefined ? undefined : structuredClone(options.metadata),
    });
  }

  async delete(key) {
    this.#entries.delete(String(key));
  }

  async list({ prefix = '', cursor, limit = 1000 } = {}) {
    const names = [...this.#entries.keys()].filter((k) => k.startsWith(prefix) && this.#live(k)).sort();
    const start = cursor ? Number(cursor) : 0;
    const page = names.slice(start, start + limit);
    const next = start + page.length;
    return {
      keys: page.map((name) => {
        const { expiresAt, metadata } = this.#entries.get(name);
        return {
          name,
          ...(expiresAt !== undefined ? { expiration: Math.floor(expiresAt / 1000) } : {}),
          ...(metadata !== undefined ? { metadata: structuredClone(metadata) } : {}),
        };
      }),
      list_complete: next >= names.length,
      ...(next < names.length ? { cursor: String(next) } : {}),
    };
  }
}
