// The JS layer of edge-session: reads the Cookie header, does all store I/O, passes Date.now()
// into the wasm core and hands back Set-Cookie values. Decisions belong to the core; this file
// only moves data between the request, the store and the engine.

import { Engine } from './edge_session.js';

const RECORD_PREFIX = 's:';
const REVOCATION_KEY = 'r:issued_before';
const KV_MIN_TTL = 60;
const STORE_FAILED = Symbol('store failed');

/** Bad configuration or arguments: a short secret, inconsistent timeouts, bad cookie attributes. */
export class SessionConfigError extends Error {
  constructor(message, reason) {
    super(message);
    this.name = 'SessionConfigError';
    this.reason = reason;
  }
}

/** The session store failed or timed out (thrown only by management calls, never by validate). */
export class SessionStoreError extends Error {
  constructor(message, options) {
    super(message, options);
    this.name = 'SessionStoreError';
    this.reason = 'store_unavailable';
  }
}

function rethrowConfig(error) {
  if (error && error.name === 'SessionConfigError' && typeof error.reason === 'string') {
    throw new SessionConfigError(error.message, error.reason);
  }
  throw error;
}

function secondsToMs(options, name, fallback) {
  const value = options[name];
  if (value === undefined) return fallback;
  const n = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isFinite(n) || n <= 0) {
    throw new SessionConfigError(`${name} must be a positive number of seconds`, 'invalid_timeouts');
  }
  return Math.round(n * 1000);
}

function keySpec(keys) {
  if (typeof keys === 'string') return keys;
  if (keys && typeof keys === 'object' && typeof keys.current === 'string' && keys.keys) {
    const entries = Object.entries(keys.keys);
    if (!entries.some(([id]) => id === keys.current)) {
      throw new SessionConfigError(`current key ${JSON.stringify(keys.current)} is not in keys`, 'invalid_key_ring');
    }
    entries.sort(([a], [b]) => (a === keys.current ? -1 : b === keys.current ? 1 : 0));
    return entries
      .map(([id, secret]) => {
        if (typeof secret !== 'string' || secret.includes(',')) {
          throw new SessionConfigError(`secret for key ${JSON.stringify(id)} must be a string without commas`, 'invalid_key_ring');
        }
        return `${id}:${secret}`;
      })
      .join(',');
  }
  throw new SessionConfigError(
    'keys must be "id:secret,id:secret" or { current, keys: { id: secret } }',
    'invalid_key_ring',
  );
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

function sessionOf(outcome) {
  return {
    userId: outcome.userId,
    handle: outcome.handle,
    createdAt: outcome.createdAt,
    issuedAt: outcome.issuedAt,
    envelopeExpiresAt: outcome.envelopeExpiresAt,
    idleExpiresAt: outcome.idleExpiresAt,
    absoluteExpiresAt: outcome.absoluteExpiresAt,
    generation: outcome.generation,
  };
}

/** Runs `use(outcome)`, then frees the wasm-side outcome now rather than at garbage collection. */
async function using(outcome, use) {
  try {
    return await use(outcome);
  } finally {
    outcome.free();
  }
}

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
  #revocationSyncMs;
  #lastSync = -Infinity;

  constructor(options) {
    if (!options || typeof options !== 'object') {
      throw new SessionConfigError('options are required', 'invalid_options');
    }
    const { store } = options;
    for (const method of ['get', 'put', 'delete', 'list']) {
      if (!store || typeof store[method] !== 'function') {
        throw new SessionConfigError(`store must have a ${method}() method (a KV namespace works)`, 'invalid_store');
      }
    }
    const cookie = options.cookie ?? {};
    const hostPrefix = cookie.hostPrefix ?? true;
    const base = cookie.name ?? 'session';
    try {
      this.#engine = new Engine({
        keys: keySpec(options.keys),
        envelopeTtlMs: secondsToMs(options, 'envelopeTtl', 60_000),
        idleTimeoutMs: secondsToMs(options, 'idleTimeout', 1_800_000),
        absoluteTimeoutMs: secondsToMs(options, 'absoluteTimeout', 43_200_000),
        strict: Boolean(options.strict),
        cookieName: hostPrefix ? `__Host-${base}` : base,
        secure: cookie.secure ?? true,
        sameSite: cookie.sameSite ?? 'Lax',
        path: cookie.path ?? '/',
        domain: cookie.domain,
      });
    } catch (error) {
      rethrowConfig(error);
    }
    this.#store = store;
    this.#now = options.now ?? Date.now;
    this.#onEvent = options.onEvent;
    this.#timeoutMs = options.storeTimeoutMs ?? 5_000;
    this.#revocationSyncMs = options.revocationSyncMs ?? 10_000;
  }

  /** The cookie's full name, e.g. `__Host-session`. */
  get cookieName() {
    return this.#engine.cookieName;
  }

  /** The `Set-Cookie` value that deletes the session cookie. */
  clearCookie() {
    return this.#engine.clearCookie();
  }

  #emit(event) {
    if (!this.#onEvent) return;
    try {
      this.#onEvent(event);
    } catch {
      // An audit hook must never break a request.
    }
  }

  /** Runs one store call with a deadline; any failure becomes a SessionStoreError. */
  async #io(call) {
    let timer;
    const deadline = new Promise((_, reject) => {
      timer = setTimeout(() => reject(new SessionStoreError('session store timed out')), this.#timeoutMs);
    });
    try {
      return await Promise.race([Promise.resolve().then(call), deadline]);
    } catch (error) {
      throw error instanceof SessionStoreError ? error : new SessionStoreError('session store failed', { cause: error });
    } finally {
      clearTimeout(timer);
    }
  }

  async #read(key) {
    const value = await this.#io(() => this.#store.get(key, 'text'));
    if (value === null || value === undefined) return undefined;
    // Anything but text is not a record this library wrote: let the core call it corrupt.
    return typeof value === 'string' ? value : '\u0000';
  }

  async #apply(outcome) {
    const puts = outcome.puts();
    const deletes = outcome.deletes();
    await Promise.all([
      ...puts.map((p) =>
        this.#io(() =>
          this.#store.put(p.key, p.value, {
            expirationTtl: Math.max(KV_MIN_TTL, p.ttl),
            ...(p.metadata ? { metadata: JSON.parse(p.metadata) } : {}),
          }),
        ),
      ),
      ...deletes.map((key) => this.#io(() => this.#store.delete(key))),
    ]);
    return puts.length > 0;
  }

  /** Reloads the global revocation cutoff written by `revokeIssuedBefore` in any isolate. */
  async #syncRevocations(now) {
    if (this.#revocationSyncMs <= 0 || now - this.#lastSync < this.#revocationSyncMs) return;
    const text = await this.#read(REVOCATION_KEY);
    this.#lastSync = now;
    if (text === undefined) return;
    let cutoff;
    try {
      cutoff = JSON.parse(text).issuedBefore;
    } catch {
      cutoff = undefined;
    }
    if (typeof cutoff === 'number' && Number.isFinite(cutoff)) this.#engine.revokeIssuedBefore(cutoff);
  }

  /** The record an authenticated envelope points at (undefined when absent), or STORE_FAILED. */
  async #loadRecord(pending, now) {
    try {
      const [record] = await Promise.all([this.#read(pending.storageKey), this.#syncRevocations(now)]);
      return record;
    } catch {
      return STORE_FAILED;
    }
  }

  #rejected(reason, cookieSent, now, handle) {
    this.#emit({ type: 'rejected', reason, at: now, ...(handle ? { handle } : {}) });
    return { ok: false, reason, setCookie: cookieSent ? this.#engine.clearCookie() : null };
  }

  /** A refusal of the request's own cookie: cleared unless there was none. */
  #refused(outcome, now) {
    const reason = outcome.reason;
    return this.#rejected(reason, reason !== 'missing', now);
  }

  /** Checks the request's session cookie; reads the store only to refresh an authentic, expired envelope. */
  async validate(request) {
    const now = this.#now();
    const header = cookieHeaderOf(request);
    return using(this.#engine.validate(header, now), (verdict) => {
      const kind = verdict.kind;
      if (kind === 'valid') {
        return { ok: true, session: sessionOf(verdict), setCookie: verdict.setCookie ?? null, refreshed: false };
      }
      if (kind === 'rejected') return this.#refused(verdict, now);
      return this.#refresh(verdict, now);
    });
  }

  async #refresh(pending, now) {
    const handle = pending.handle;
    const record = await this.#loadRecord(pending, now);
    if (record === STORE_FAILED) return this.#rejected('store_unavailable', true, now, handle);
    return using(this.#engine.resume(pending, record, now), async (resumed) => {
      if (resumed.kind !== 'valid') return this.#rejected(resumed.reason, true, now, handle);
      let recordWritten = false;
      try {
        recordWritten = await this.#apply(resumed);
      } catch {
        // The record was read and checked; the throttled last-seen write is best effort.
      }
      const session = sessionOf(resumed);
      this.#emit({ type: 'refreshed', userId: session.userId, handle, at: now, recordWritten });
      return { ok: true, session, setCookie: resumed.setCookie ?? null, refreshed: true };
    });
  }

  /**
   * Logs `userId` in with a new session ID. A session already on `request` is destroyed first, so
   * a planted or stolen pre-login cookie never becomes a logged-in one.
   */
  async create(request, userId, options = {}) {
    const now = this.#now();
    if (request) await this.#destroyQuietly(request, now);
    let issued;
    try {
      issued = this.#engine.issue(userId, options.userAgent ?? userAgentOf(request), now);
    } catch (error) {
      rethrowConfig(error);
    }
    return using(issued, async () => {
      try {
        await this.#apply(issued);
      } catch {
        return this.#rejected('store_unavailable', false, now);
      }
      const session = sessionOf(issued);
      this.#emit({ type: 'created', userId: session.userId, handle: session.handle, at: now });
      return { ok: true, session, setCookie: issued.setCookie };
    });
  }

  async #destroyQuietly(request, now) {
    return using(this.#engine.authenticate(cookieHeaderOf(request), now), async (pending) => {
      if (pending.kind !== 'need_record') return false;
      const handle = pending.handle;
      const userId = pending.userId;
      try {
        await using(this.#engine.destroy(pending, now), (effects) => this.#apply(effects));
      } catch {
        // This isolate already refuses the session; other isolates will once the store is back
        // or the envelope expires and its refresh fails.
      }
      this.#emit({ type: 'destroyed', userId, handle, at: now });
      return true;
    });
  }

  /** Logs out: deletes the session's record server-side. Idempotent. */
  async destroy(request) {
    await this.#destroyQuietly(request, this.#now());
    return { setCookie: this.#engine.clearCookie() };
  }

  /** Gives the request's session a new ID (privilege change); the old cookie is refused afterwards. */
  async rotate(request) {
    const now = this.#now();
    return using(this.#engine.authenticate(cookieHeaderOf(request), now), async (pending) => {
      if (pending.kind !== 'need_record') return this.#refused(pending, now);
      const previousHandle = pending.handle;
      const record = await this.#loadRecord(pending, now);
      if (record === STORE_FAILED) return this.#rejected('store_unavailable', true, now, previousHandle);
      return using(this.#engine.rotate(pending, record, now), async (rotated) => {
        if (rotated.kind !== 'valid') return this.#rejected(rotated.reason, true, now, previousHandle);
        try {
          await this.#apply(rotated);
        } catch {
          return this.#rejected('store_unavailable', true, now, previousHandle);
        }
        const session = sessionOf(rotated);
        this.#emit({ type: 'rotated', userId: session.userId, handle: session.handle, previousHandle, at: now });
        return { ok: true, session, setCookie: rotated.setCookie };
      });
    });
  }

  async #listIndex(userId) {
    const prefix = this.#engine.userIndexPrefix(userId);
    const keys = [];
    let cursor;
    do {
      const page = await this.#io(() => this.#store.list({ prefix, cursor }));
      keys.push(...page.keys);
      cursor = page.list_complete ? undefined : page.cursor;
    } while (cursor);
    return keys.map((key) => ({ ...key, handle: key.name.slice(prefix.length) }));
  }

  /** Lists a user's live sessions, newest first. Throws SessionStoreError when the store fails. */
  async listSessions(userId) {
    const now = this.#now();
    const entries = await this.#listIndex(String(userId));
    const sessions = [];
    for (const entry of entries) {
      let meta = entry.metadata;
      if (!meta || typeof meta !== 'object') {
        const text = await this.#read(entry.name);
        try {
          meta = text === undefined ? undefined : JSON.parse(text);
        } catch {
          meta = undefined;
        }
      }
      if (!meta || typeof meta.absolute_deadline !== 'number' || meta.absolute_deadline <= now) continue;
      sessions.push({
        handle: entry.handle,
        createdAt: meta.created_at,
        lastSeenAt: meta.last_seen_at,
        absoluteExpiresAt: meta.absolute_deadline,
        userAgent: typeof meta.user_agent === 'string' ? meta.user_agent : '',
      });
    }
    return sessions.sort((a, b) => b.createdAt - a.createdAt);
  }

  /**
   * Revokes one session by handle; with `userId`, only if it is that user's. Returns false when
   * there is no such live session. Throws SessionStoreError when the store fails.
   */
  async revokeSession(handle, userId) {
    const now = this.#now();
    let key;
    try {
      key = this.#engine.storageKeyOf(String(handle));
    } catch {
      return false;
    }
    const record = await this.#read(key);
    const outcome = this.#engine.revokeHandle(String(handle), record, userId === undefined ? undefined : String(userId), now);
    if (!outcome) return false;
    return using(outcome, async () => {
      const owner = outcome.userId;
      await this.#apply(outcome);
      this.#emit({ type: 'revoked', scope: 'session', userId: owner, handle: String(handle), at: now });
      return true;
    });
  }

  /** Revokes every session of `userId`; returns how many were deleted. */
  async revokeUser(userId) {
    const now = this.#now();
    const user = String(userId);
    this.#engine.revokeUser(user, now);
    const entries = await this.#listIndex(user);
    await Promise.all(
      entries.flatMap((entry) => [
        this.#io(() => this.#store.delete(RECORD_PREFIX + entry.handle)),
        this.#io(() => this.#store.delete(entry.name)),
      ]),
    );
    this.#emit({ type: 'revoked', scope: 'user', userId: user, at: now });
    return entries.length;
  }

  /** Revokes every session created before `issuedBefore` (unix ms), here at once and in other isolates at their next refresh. */
  async revokeIssuedBefore(issuedBefore) {
    const now = this.#now();
    const cutoff = Number(issuedBefore);
    if (!Number.isFinite(cutoff) || cutoff < 0) {
      throw new SessionConfigError('issuedBefore must be a unix time in milliseconds', 'invalid_time');
    }
    this.#engine.revokeIssuedBefore(cutoff);
    const current = this.#engine.issuedBefore;
    await this.#io(() => this.#store.put(REVOCATION_KEY, JSON.stringify({ v: 1, issuedBefore: current, at: now })));
    this.#emit({ type: 'revoked', scope: 'issued_before', issuedBefore: current, at: now });
  }
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
    if (ttl !== undefined && !(ttl >= KV_MIN_TTL)) {
      throw new Error(`Invalid expiration_ttl of ${ttl}. Expiration TTL must be at least ${KV_MIN_TTL}.`);
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
