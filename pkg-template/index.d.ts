/**
 * edge-session: secure login sessions for edge functions.
 *
 * A session is a random 256-bit ID, a server-side record in KV (keyed by the ID's SHA-256, never
 * the ID itself) and a short-lived HMAC-SHA256 signed cookie envelope that points at it. A fresh
 * envelope is checked with no store access; an authentic but expired one is refreshed from the
 * record, its login's tombstone and the three revocation cutoffs (five parallel reads). Records are
 * written once and later only tombstoned, so no refresh can bring an ended session back.
 *
 * A login and every rotation of it (`rotate`, `update`) form one lineage. Logging out (`destroy`)
 * or `revokeSession` ends the lineage, not just one ID: every generation of that login is refused,
 * including one that another isolate rotated out of a record it had not yet seen ended (KV takes
 * up to 60 s to propagate a write).
 *
 * With a revocation hub (`hub` option, the `RevocationHub` Durable Object) every revocation is also
 * appended to one ordered log that each isolate pulls at most once per `hubPollInterval`, so other
 * isolates refuse a revoked session within seconds instead of at its next refresh.
 *
 * All times in results and events are unix milliseconds; all durations in options are seconds
 * (except `storeTimeoutMs`).
 */

/**
 * Why a request was not given a session. Stable codes, safe to log; show users only a generic
 * "please log in". On a refusal, `setCookie` is the clearing cookie, except for `missing`,
 * `store_unavailable` and `corrupt_cutoff` (`null`: the cookie is kept).
 */
export type RejectReason =
  /** The request carried no session cookie. */
  | 'missing'
  /** The cookie value is not a well-formed envelope. */
  | 'malformed'
  /** The Cookie header is larger than any browser would send. */
  | 'header_too_large'
  /** The session cookie appears more than once; never resolved by picking one. */
  | 'duplicate_cookie'
  /** An envelope format this version does not read, such as a cookie from before store protocol v2. */
  | 'bad_version'
  /** Signed with a key id that is not in `keys` (for example one removed after a rotation). */
  | 'unknown_key'
  /** The signature does not verify: forged, tampered, or another cookie name or secret. */
  | 'bad_signature'
  /** Signed further in the future than the 5 s clock skew allows. */
  | 'issued_in_future'
  /** No refresh within `idleTimeout`. */
  | 'expired_idle'
  /** Past `absoluteTimeout` from login. */
  | 'expired_absolute'
  /**
   * Logged out or revoked (`destroy`, `revokeSession`, `revokeUser`, `revokeOthers`, `revokeIssuedBefore`). A
   * logout or `revokeSession` ends the whole login, so every rotation of it is refused so too.
   */
  | 'revoked'
  /** Replaced by `rotate` or `update`; the old cookie is dead. */
  | 'rotated'
  /**
   * No record for the session (expired from KV, or never existed). A record missing less than
   * 60 s + 5 s + 2 × `storeTimeoutMs` (75 s by default) after the envelope was signed is taken as
   * not visible in this location yet, not as gone: `validate` then accepts the envelope (without a
   * new cookie) and `rotate`/`update` answer `store_unavailable`.
   */
  | 'session_not_found'
  /** The record does not match the envelope that points at it. */
  | 'record_mismatch'
  /** The stored record is not valid JSON of the expected shape. */
  | 'corrupt_record'
  /** The stored record has a format version this build does not read. */
  | 'record_version'
  /**
   * The store failed or timed out (`storeTimeoutMs`); the cookie is kept: answer 503, not 401.
   * Also from `rotate`/`update` when the session's record has not reached this location yet (a
   * login or rotation less than about a minute old, made elsewhere): retry shortly.
   */
  | 'store_unavailable'
  /**
   * A stored revocation cutoff (`r:issued_before`, or the user's `c:` or `o:` key) is unreadable
   * (JSON `null` included) or lies in the future. Sessions needing a refresh are refused, cookies
   * kept, until an operator repairs it (`revokeIssuedBefore` / `revokeUser` replace or delete an
   * unreadable one).
   */
  | 'corrupt_cutoff';

/** Why a configuration or an argument was refused (`SessionConfigError.reason`). */
export type ConfigErrorReason =
  /** A secret decodes to fewer than 32 bytes. */
  | 'secret_too_short'
  /** A secret is not unpadded base64url text (v1-era secrets of any text are refused so). */
  | 'secret_not_base64url'
  /** A key id is not 1-16 characters of `[A-Za-z0-9_-]`. */
  | 'invalid_key_id'
  /** The same key id appears twice. */
  | 'duplicate_key_id'
  /** `keys` is missing, empty, not `id:secret` entries, or `current` is not among `keys`. */
  | 'invalid_key_ring'
  /** Timeouts out of range or not ordered `envelopeTtl < idleTimeout <= absoluteTimeout <= 400 days`. */
  | 'invalid_timeouts'
  /** A cookie name or attribute is not allowed (e.g. `__Host-` with a `path` or `domain`). */
  | 'invalid_cookie'
  /** An unknown option name (the message names it), or an option of the wrong type. */
  | 'invalid_options'
  /** `store` lacks one of `get`, `put`, `delete`, `list`. */
  | 'invalid_store'
  /** `hub` is not a Durable Object namespace binding (it lacks `idFromName` or `get`). */
  | 'invalid_hub'
  /** A user id that is not a string of 1-128 bytes of UTF-8 without control characters. */
  | 'invalid_user_id'
  /** Session data that is not a JSON object of at most 1024 bytes once serialised. */
  | 'invalid_data'
  /** A `revokeIssuedBefore` time that is not whole unix ms, or later than now plus 5 s. */
  | 'invalid_time'
  /** Not a session handle. */
  | 'invalid_handle'
  /** An `adminHandler` token shorter than 32 characters, containing white space, or not a string. */
  | 'invalid_token'
  /** The platform's random number generator failed. */
  | 'random_failed';

/**
 * The default type of session data: a JSON object. Give `SessionManager` your own type
 * (`new SessionManager<{ role: 'admin' | 'member' }>(...)`) to have `session.data` typed.
 */
export type SessionData = Record<string, unknown>;

/** What a valid session tells the application. All times are unix milliseconds. */
export interface Session<Data extends Record<string, any> = SessionData> {
  /** The user the session belongs to, as given to `create`. */
  userId: string;
  /** Opaque, stable name of this session (base64url SHA-256 of its ID): safe to show and log, useless as a credential. */
  handle: string;
  /** When the user logged in; rotation keeps it. */
  createdAt: number;
  /** When the current cookie envelope was signed: the last proof of activity. */
  issuedAt: number;
  /** When the envelope must next be refreshed from the store (`issuedAt + envelopeTtl`, at most `absoluteExpiresAt`). */
  envelopeExpiresAt: number;
  /** When the session ends without a refresh (`issuedAt + idleTimeout`, at most `absoluteExpiresAt`). */
  idleExpiresAt: number;
  /** When the session ends whatever happens (`createdAt + absoluteTimeout`); never extended, not even by rotation. */
  absoluteExpiresAt: number;
  /** Rotation count: 0 at login, +1 at every `rotate` and `update`. */
  generation: number;
  /**
   * The data given to `create` or `update`, parsed; `null` when there is none. Carried signed but
   * not encrypted in the cookie, so it is read with no store access, and its holder can read it.
   * Read-only: deeply frozen (writing to it throws in strict code), because only `update` can
   * change it, by re-signing; calls that validate the same cookie may share one object.
   */
  data: Data | null;
}

/** One of a user's sessions, as listed for a "devices" page. Times are unix milliseconds. */
export interface SessionInfo {
  /** Pass to `revokeSession` to end this session. */
  handle: string;
  /** Login time. */
  createdAt: number;
  /** Last refresh recorded (written at most once per `idleTimeout / 10`); the login time before any. */
  lastSeenAt: number;
  /** When the session ends at the latest. */
  absoluteExpiresAt: number;
  /** A summary of the User-Agent at login (at most 128 characters); empty when unknown. */
  userAgent: string;
}

/** A refusal: no session for this request. */
export interface Refused {
  ok: false;
  /** Why; log it, show users only a generic message. */
  reason: RejectReason;
  /**
   * Send as `Set-Cookie` when not null: the clearing cookie. `null` when there was no cookie, or
   * for `store_unavailable` and `corrupt_cutoff`, which keep the cookie for when the store is back.
   */
  setCookie: string | null;
}

/** Result of `validate`: a session, or the reason there is none. */
export type ValidateResult<Data extends Record<string, any> = SessionData> =
  | {
      ok: true;
      session: Session<Data>;
      /**
       * A new envelope to send as `Set-Cookie` (refreshed or re-signed with the current key); null
       * when the cookie is still good. Also null when the envelope had expired but the session's
       * record has not reached this location yet (it was signed elsewhere less than 60 s + 5 s +
       * 2 × `storeTimeoutMs` ago, 75 s by default): the session is accepted on its envelope and the
       * next request asks the store again.
       */
      setCookie: string | null;
      /**
       * true when the store was consulted: the envelope had expired or was signed by a previous
       * key, or the manager is strict (then `setCookie` may still be null).
       */
      refreshed: boolean;
    }
  | Refused;

/** A new session from `create`, `rotate` or `update`. */
export interface Issued<Data extends Record<string, any> = SessionData> {
  ok: true;
  session: Session<Data>;
  /** The `Set-Cookie` header value carrying the new envelope: send it. */
  setCookie: string;
}

/**
 * Which service failed or timed out (within `storeTimeoutMs`): the session store, or the
 * revocation hub (only with the `hub` option). Neither says anything against the session.
 */
export type UnavailableReason = 'store_unavailable' | 'hub_unavailable';

/**
 * The store or hub failed before anything took effect: nothing changed, no cookie to send.
 * Answer 503. (`create` answers `store_unavailable` only: when just the hub missed the logout of
 * the session already on the request, the store has it and the login goes ahead.)
 */
export interface StoreUnavailable {
  ok: false;
  reason: UnavailableReason;
  setCookie: null;
}

/** Result of `create`. */
export type CreateResult<Data extends Record<string, any> = SessionData> = Issued<Data> | StoreUnavailable;

/**
 * `rotate` or `update` was refused (no valid session on the request; or the store failed, or the
 * session's record has not reached this location yet, before the new session was stored: then the
 * old session is untouched and still valid, reason `store_unavailable`). `setCookie` is the
 * clearing cookie when the request's cookie is dead, else null.
 */
export interface RotateRefused extends Refused {
  session?: undefined;
  previousHandle?: undefined;
}

/**
 * `rotate` or `update` stored the new session but failed to retire the old one, which may still
 * be accepted by other isolates until its record expires: not a success. Send `setCookie` anyway
 * (the user keeps a session; this isolate keeps refusing the old cookie) and answer 503. Do not
 * call `revokeSession(previousHandle)` to finish the job: the old and the new session are
 * generations of one login, so it ends both and logs the user out. A logout (`destroy`) with either
 * cookie ends both anyway.
 */
export interface RotateIncomplete<Data extends Record<string, any> = SessionData> {
  ok: false;
  /** `hub_unavailable`: the old ID is tombstoned in the store, but the hub was not told (KV bound). */
  reason: UnavailableReason;
  /** The new session's cookie: send it. */
  setCookie: string;
  /** The new session. */
  session: Session<Data>;
  /** The handle of the old session that may still live elsewhere. */
  previousHandle: string;
}

/** Result of `rotate` and `update`. Test `ok`, then `session !== undefined` for the incomplete case. */
export type RotateResult<Data extends Record<string, any> = SessionData> =
  | Issued<Data>
  | RotateRefused
  | RotateIncomplete<Data>;

/**
 * Result of `destroy`. `setCookie` is always the clearing cookie: send it. `ok: true`: the login is
 * ended, every rotation of it included. `ok: false` means the server-side logout was not (fully)
 * stored: this isolate refuses the login already; answer 503 and let the user retry (a retry
 * writes it). `store_unavailable`: other isolates may accept the login until the store is back
 * (with a hub that was told, they refuse it within `hubPollInterval`). `hub_unavailable`: the
 * store has the logout, only the hub missed it, so others refuse the login within the KV bound
 * (`envelopeTtl` + 65 s) instead of seconds.
 */
export type DestroyResult =
  | { ok: true; setCookie: string; reason?: undefined }
  /** `duplicate_cookie`, `header_too_large`: the Cookie header hides which session to end; nothing was ended. */
  | { ok: false; reason: UnavailableReason | 'duplicate_cookie' | 'header_too_large'; setCookie: string };

/** Options of `create`. */
export interface CreateOptions<Data extends Record<string, any> = SessionData> {
  /** Shown by `listSessions` (summarised to 128 characters). Default: the request's User-Agent header. */
  userAgent?: string;
  /**
   * Application data for the session: a JSON object of at most 1024 bytes once serialised (else
   * `SessionConfigError` `invalid_data`). Signed, not encrypted: never put secrets in it.
   */
  data?: Data;
}

/** Options of a store `put`, as Workers KV takes them. */
export interface StorePutOptions {
  /** Seconds until the value expires; KV refuses less than 60. */
  expirationTtl?: number;
  /** Up to 1024 bytes of JSON returned by `list`. */
  metadata?: unknown;
}

/** Options of a store `list`, as Workers KV takes them. */
export interface StoreListOptions {
  prefix: string;
  cursor?: string;
  limit?: number;
}

/** A page of a store `list`, as Workers KV returns it. */
export interface StoreListResult {
  keys: { name: string; expiration?: number; metadata?: unknown }[];
  list_complete: boolean;
  cursor?: string;
}

/**
 * Anything with the shape of a Workers KV namespace: a `KVNamespace` binding works as is. Keys
 * written: `s:<hash>` (record), `l:<hash>:<id>` (tombstone of an ended login, under the user's
 * hash; the id is 16 random bytes drawn at login, unrelated to the session ID), `u:<hash>:<hash>`
 * (user index), `t:<hash>:<hash>` (last seen), `c:<hash>` (per-user cutoff, `revokeUser`),
 * `o:<hash>` (the per-user cutoff of `revokeOthers`, with the login it spares) and
 * `r:issued_before` (global cutoff); never a session ID or user id.
 */
export interface SessionStore {
  get(key: string, type: 'text'): Promise<string | null>;
  put(key: string, value: string, options?: StorePutOptions): Promise<void>;
  delete(key: string): Promise<void>;
  list(options: StoreListOptions): Promise<StoreListResult>;
}

/**
 * An audit event, passed to `onEvent`. Never carries a session ID, an envelope or key material;
 * `handle` is safe to log. `at` is the manager's clock (unix ms).
 */
export type SessionEvent =
  /** A login (`create`). */
  | { type: 'created'; userId: string; handle: string; at: number }
  /**
   * A session was continued from the store. `recordWritten` is true when its last-seen time was
   * written (at most once per `idleTimeout / 10`; best effort, a failed write does not fail the refresh).
   */
  | { type: 'refreshed'; userId: string; handle: string; at: number; recordWritten: boolean }
  /** A request, `rotate` or `update` was refused; `handle` when the envelope was authentic. */
  | { type: 'rejected'; reason: RejectReason; at: number; handle?: string }
  /** `rotate` or `update` replaced `previousHandle` with `handle`. */
  | { type: 'rotated'; userId: string; handle: string; previousHandle: string; at: number }
  /** `rotate` or `update` stored `handle` but could not retire `previousHandle` (see `RotateIncomplete`). */
  | { type: 'rotate_failed'; userId: string; handle: string; previousHandle: string; reason: UnavailableReason; at: number }
  /** A logout (`destroy`, or `create` over an existing session) was stored: the login, every rotation of it included, is ended. */
  | { type: 'destroyed'; userId: string; handle: string; at: number }
  /** A logout could not be stored (or, `hub_unavailable`, not announced); this isolate refuses the login regardless. */
  | { type: 'destroy_failed'; userId: string; handle: string; reason: UnavailableReason; at: number }
  /** `revokeSession`: the login `handle` belongs to is ended, every rotation of it included. */
  | { type: 'revoked'; scope: 'session'; userId: string; handle: string; at: number }
  /** `revokeUser`. */
  | { type: 'revoked'; scope: 'user'; userId: string; at: number }
  /** `revokeOthers`: every session of `userId` but the login of `handle` (the caller's); `revoked` listed sessions ended. */
  | { type: 'revoked'; scope: 'others'; userId: string; handle: string; revoked: number; at: number }
  /** A `revokeOthers` whose store or hub work failed (`reason`). */
  | { type: 'revoke_others_failed'; userId: string; handle: string; reason: UnavailableReason; at: number }
  /** `revokeIssuedBefore`; `issuedBefore` is the cutoff now in force in this isolate (never lower than before). */
  | { type: 'revoked'; scope: 'issued_before'; issuedBefore: number; at: number }
  /**
   * This isolate's in-memory revocations (10,000 session IDs, 10,000 logins, 10,000 users) were
   * full: it now reads the store on every request until the evicted entry would have expired.
   * Nothing is forgotten.
   */
  | { type: 'revocations_full'; at: number }
  /** `revokeIssuedBefore` found an unreadable global cutoff and replaced it. */
  | { type: 'corrupt_cutoff_replaced'; at: number }
  /**
   * One page pulled from the revocation hub (or, `shared`, from another isolate's pull of the
   * last 0.5 s through the Cache API). `at` is when the hub answered it, `seq` the last sequence
   * number applied, `entries` how many the page held. Frequent: one per `hubPollInterval` per isolate.
   */
  | { type: 'hub_pulled'; at: number; seq: number; entries: number; shared: boolean }
  /** A hub pull failed or timed out; the next, an interval later, gives up after 1 s while the hub keeps failing. */
  | { type: 'hub_pull_failed'; at: number; message: string }
  /**
   * The last pull failed and none has succeeded for 3 × `hubPollInterval` (or since the isolate
   * started): this isolate reads the store on every request until one does.
   */
  | { type: 'hub_unreachable'; at: number }
  /** A pull succeeded again after `hub_unreachable`: the fast path is back. */
  | { type: 'hub_reachable'; at: number };

/** The `type` of every audit event. */
export type SessionEventType = SessionEvent['type'];

/**
 * Signing keys. Each secret is the base64url encoding (no padding) of at least 32 random bytes:
 * `node -e "console.log(require('node:crypto').randomBytes(32).toString('base64url'))"`.
 * Keep it in a Worker secret (`wrangler secret put SESSION_KEYS`).
 */
export type KeysOption =
  /** `"k2:<secret>,k1:<secret>"`: comma-separated `id:secret`; the first signs, all verify. */
  | string
  /** `current` signs; every key in `keys` verifies. */
  | { current: string; keys: Record<string, string> };

/** Options of `new SessionManager(...)`. Unknown names are refused (`invalid_options`), so a typo never silently falls back to a default. */
export interface SessionManagerOptions {
  /** Where sessions live: a Workers KV namespace binding, a `MemoryStore`, or any `SessionStore`. */
  store: SessionStore;
  /**
   * Signing keys. Rotate by putting a new key first and keeping the old one for `idleTimeout`
   * plus 5 s: old-key cookies are re-signed at their next request, after one record read.
   */
  keys: KeysOption;
  /**
   * Seconds a signed cookie is trusted without the store (default 60, at least 1, less than
   * `idleTimeout`). Bounds how long a revoked session's cookie still works on other isolates.
   * Numbers or numeric strings (environment variables work as is).
   */
  envelopeTtl?: number | string;
  /** Seconds without a refresh before a session ends (default 1800; sliding). */
  idleTimeout?: number | string;
  /** Seconds from login before a session ends whatever happens (default 43200, at most 400 days; never extended). */
  absoluteTimeout?: number | string;
  /** Cookie settings. Default `__Host-session=...; Path=/; Secure; HttpOnly; SameSite=Lax`. Unknown names are refused. */
  cookie?: {
    /** Base name (default `session`); `__Host-` is prepended unless `hostPrefix` is false. */
    name?: string;
    /** Prepend `__Host-` (default true): the browser then enforces `Secure`, `Path=/` and no `Domain`. */
    hostPrefix?: boolean;
    /** Default `Lax`. `None` requires `secure`. Case-insensitive. */
    sameSite?: 'Strict' | 'Lax' | 'None' | 'strict' | 'lax' | 'none';
    /** Only with `hostPrefix: false`. */
    domain?: string;
    /** Only with `hostPrefix: false`; default `/`. */
    path?: string;
    /** Default true; false only for plain-http local development (and then `hostPrefix: false`). */
    secure?: boolean;
  };
  /**
   * Consult the store on every request, even with a fresh cookie (default false): revocation as
   * fast as KV propagates, at four KV reads per request.
   */
  strict?: boolean;
  /** Audit hook, called synchronously; errors it throws are swallowed. */
  onEvent?: (event: SessionEvent) => void;
  /** Clock in unix ms (default `Date.now`); for tests. */
  now?: () => number;
  /**
   * Milliseconds a store call may take before it counts as `store_unavailable` (default 5000, 1 to
   * 60000). Twice this is also how late a new session's record may land after its cookie was
   * signed: a record missing elsewhere counts as not there yet for 60 s + 5 s + 2 × this.
   */
  storeTimeoutMs?: number;
  /**
   * The revocation hub: a Durable Object namespace binding of `RevocationHub` (export the class
   * from your worker and bind it; see `RevocationHub`). Every logout, rotation and revocation is
   * then also appended to the hub, and each isolate pulls what is new at most once per
   * `hubPollInterval`, on a request: other isolates refuse a revoked session within that interval
   * plus one round trip to the hub (about 5 s by default) instead of `envelopeTtl` + 65 s. Until
   * its first successful pull, and after 3 intervals without one, an isolate reads the store on
   * every request: a hub that cannot be reached never makes a session acceptable. The hub object
   * is named `edge-session/<cookie name>`. Refused with `invalid_hub` when it is not a binding.
   */
  hub?: RevocationHubBinding;
  /**
   * Seconds between two pulls of the hub by one isolate (default 5, 0.1 to 300; numbers or numeric
   * strings). Only with `hub` (refused otherwise, `invalid_options`). Each isolate pulls about
   * once per interval while it serves requests; isolates of one location share a pull made less
   * than 0.5 s ago through the Cache API. Lower is faster revocation and more hub requests.
   */
  hubPollInterval?: number | string;
  /**
   * @deprecated Accepted and ignored: the global `revokeIssuedBefore` cutoff is now read at every
   * refresh. Remove it from your options.
   */
  revocationSyncMs?: number;
}

/**
 * A Durable Object namespace binding of the `RevocationHub` class (`env.REVOCATIONS`); a
 * `DurableObjectNamespace` from `@cloudflare/workers-types` is one as is.
 */
export interface RevocationHubBinding {
  idFromName(name: string): unknown;
  get(id: unknown): { fetch(input: string, init?: RequestInit): Promise<Response> };
}

/**
 * What the session calls read the `Cookie` (and, for `create`, `User-Agent`) header from: a
 * `Request`, anything with `headers.get`, a `Headers`, or the Cookie header's text itself.
 */
export type RequestLike =
  | Request
  | Headers
  | { headers: { get(name: string): string | null } }
  | string;

/**
 * Issues, validates, refreshes, rotates and revokes sessions. Create one per isolate (module
 * scope, lazily on the first request): it remembers the revocations made here, which this
 * isolate then enforces at once.
 *
 * `Data` types `session.data` (default: any JSON object). An `interface` or a `type` both work;
 * the runtime refuses anything that is not a JSON object of at most 1024 bytes.
 *
 * Throws `SessionConfigError` for bad options: unknown names, secrets that are not base64url of
 * at least 32 bytes, inconsistent timeouts, bad cookie attributes.
 */
export class SessionManager<Data extends Record<string, any> = SessionData> {
  constructor(options: SessionManagerOptions);

  /**
   * Logs `userId` in with a brand-new session ID. A session already on `request` is ended first
   * (so a planted or stolen pre-login cookie never becomes a logged-in one); pass `null` when
   * there is no request. Writes the record and an index entry.
   *
   * Resolves `{ ok: false, reason: 'store_unavailable', setCookie: null }` when a write failed,
   * including ending the previous session (when only telling the hub about that logout failed,
   * the login goes ahead: the store has the logout). Rejects with `SessionConfigError` for an invalid
   * `userId` (`invalid_user_id`), `data` (`invalid_data`) or option name (`invalid_options`).
   */
  create(request: RequestLike | null, userId: string, options?: CreateOptions<Data>): Promise<CreateResult<Data>>;

  /**
   * Checks the request's session cookie. No store access while the envelope is fresh (default
   * 60 s); otherwise five parallel reads, a new envelope, and a last-seen write at most once per
   * `idleTimeout / 10`. A session refused from the store (logged out, revoked, rotated, not found)
   * is remembered: this isolate then refuses it without reading, even with a fresh envelope. A
   * session signed elsewhere so recently that its record is not visible here yet is accepted on
   * its envelope, without a new cookie. Never throws for a bad cookie or a store failure: those
   * are refusals. With a hub, the first request after each `hubPollInterval` first pulls what is
   * new and waits for it (up to `storeTimeoutMs`, 1 s while the hub is failing); while the hub is
   * out of reach every request reads the store, so a hub failure is never `hub_unavailable` here.
   */
  validate(request: RequestLike): Promise<ValidateResult<Data>>;

  /**
   * Gives the request's session a new ID, keeping user, data, `createdAt`, the absolute deadline
   * and its login (a logout of any generation ends them all); use it on privilege changes. The old
   * cookie is refused afterwards: here at once, elsewhere at its next refresh. Answers
   * `store_unavailable` (cookie kept) when the session's record has not reached this location yet.
   * With a hub, it first pulls when a pull is due, as `validate` does. See `RotateResult` for the
   * two failure shapes.
   */
  rotate(request: RequestLike): Promise<RotateResult<Data>>;

  /**
   * Replaces the session's data (`null` removes it), by rotation: a new ID carries the new data,
   * the old cookie is refused as `rotated`. Answers like `rotate`. Rejects with
   * `SessionConfigError` `invalid_data` (before any store access) when `data` is not a JSON
   * object of at most 1024 bytes.
   */
  update(request: RequestLike, data: Data | null): Promise<RotateResult<Data>>;

  /**
   * Logs out: tombstones the session's record and its login server-side, so the session and every
   * rotation of it (also one another isolate makes from a not yet updated record) are refused:
   * in this isolate at once, elsewhere from their next refresh. Idempotent, and fine without a
   * session. Always answers with the clearing cookie; `ok: false` when a store write or the hub
   * append failed, or when the Cookie header has two session cookies or is too long to read, so
   * the session to end is unknown (see `DestroyResult`).
   */
  destroy(request: RequestLike): Promise<DestroyResult>;

  /**
   * A user's live sessions, newest first (three KV listings: the user's sessions, their last-seen
   * times and their ended logins, so a login ended through any of its generations is left out; KV
   * listings can lag writes by up to 60 s). Rejects with `SessionStoreError` when the store fails.
   */
  listSessions(userId: string): Promise<SessionInfo[]>;

  /**
   * Revokes one session by handle, like a logout: its whole login, every rotation of it included.
   * With `userId`, only if it is that user's. Resolves false when there is no such live session.
   * Rejects with `SessionStoreError` when a read or write, or the hub append, failed.
   */
  revokeSession(handle: string, userId?: string): Promise<boolean>;

  /**
   * Revokes every session of `userId` created up to now, including any a listing misses (a
   * per-user cutoff is written first and read at every refresh). Resolves how many listed
   * sessions were ended. Rejects with `SessionStoreError` when any read or write, or the hub
   * append, failed. `revokeUser` and `revokeIssuedBefore` calls on one manager run one at a time. KV has no
   * compare-and-swap: two isolates writing one cutoff at once can lower it (last write wins), so
   * issue revocations from one place.
   */
  revokeUser(userId: string): Promise<number>;

  /**
   * Revokes every session created before `issuedBefore` (whole unix ms, at most now + 5 s): in
   * this isolate at once, elsewhere at their next refresh. The stored cutoff is written only to
   * raise it, and calls on one manager run one at a time (with `revokeUser`); issue them from one
   * place, as two isolates writing at once can still lower it (KV has no compare-and-swap).
   * Rejects with `SessionConfigError` `invalid_time` for a bad time, `SessionStoreError` when the
   * store or the hub append failed.
   */
  revokeIssuedBefore(issuedBefore: number): Promise<void>;

  /**
   * "Log out my other sessions": ends every session of the request's user except the request's
   * own login (and its later rotations), including sessions a listing cannot see yet. With a
   * hub, pulls it first (a failed pull answers `hub_unavailable` and writes nothing); judges the
   * caller against the store as a rotation does; then writes the user's "other sessions" cutoff
   * (`o:`) with the caller's login as its exception, announces it to the hub, and tombstones the
   * sessions the user's index lists. A later `revokeUser` refuses the caller too; a later
   * `revokeOthers` moves the exception. See `RevokeOthersResult`.
   */
  revokeOthers(request: RequestLike): Promise<RevokeOthersResult<Data>>;

  /** This isolate's view for operators (what `GET /admin/status` answers); never a secret. */
  status(): SessionStatus;

  /** The `Set-Cookie` value that deletes the session cookie. */
  clearCookie(): string;

  /** The cookie's full name, e.g. `__Host-session`. */
  readonly cookieName: string;
}

/** `SessionManager.status()`: this isolate's state, without secrets, session IDs or user ids. */
export interface SessionStatus {
  /** The cookie's full name, e.g. `__Host-session`. */
  cookieName: string;
  /** The signing key ids, current first (never a secret). */
  keyIds: string[];
  /** The timeouts in force, in seconds. */
  timeouts: { envelopeTtl: number; idleTimeout: number; absoluteTimeout: number };
  /** The in-memory revocations of this isolate (lost when the isolate ends; the store keeps the truth). */
  revocations: {
    /** Sessions (logins) refused here without a store read. */
    sessions: number;
    /** Users whose sessions created before a cutoff are refused here without a store read. */
    users: number;
    /** The global cutoff in force here (unix ms; sessions created earlier are refused), 0 for none. */
    issuedBefore: number;
    /**
     * Whether this isolate reads the store on every request: the `strict` option, a revocation
     * memory that was full (until the evicted entry would have expired), or a hub out of reach
     * (`hub.outOfReach`).
     */
    strict: boolean;
  };
  /** This isolate's view of the revocation hub; `null` without the `hub` option. */
  hub: HubStatus | null;
}

/** `SessionStatus.hub`. */
export interface HubStatus {
  /** `hubPollInterval`, in seconds. */
  pollInterval: number;
  /** The last sequence number this isolate applied. */
  seq: number;
  /** The hub's newest sequence number, as of the last page pulled (`head - seq` is how far behind). */
  head: number;
  /** When the last pull that caught up with the hub was answered (unix ms); `null` before the first. */
  lastPullAt: number | null;
  /** Milliseconds since `lastPullAt`; `null` before the first pull. */
  lastPullAgeMs: number | null;
  /**
   * Pulls are failing and none has caught up for 3 × `pollInterval` (or ever): this isolate reads
   * the store on every request until one succeeds. False for an isolate that is merely idle or
   * new: its next request pulls before it judges anything.
   */
  outOfReach: boolean;
}

/**
 * Result of `revokeOthers`. Test `ok`, then `reason`:
 * - `ok: true`: done; `revoked` listed sessions were ended. `setCookie` is always null (the
 *   caller's cookie is unchanged).
 * - `ok: false` with `store_unavailable` or `hub_unavailable`: nothing or not everything was
 *   written; the caller keeps its session (`session` is set when it was judged valid before the
 *   failure). Answer 503 and let the user retry.
 * - `ok: false` with any other reason: the request has no valid session (a refusal like
 *   `validate`'s).
 */
export type RevokeOthersResult<Data extends Record<string, any> = SessionData> =
  | {
      ok: true;
      /** How many listed sessions were ended (sessions a listing missed are refused too, and not counted). */
      revoked: number;
      /** The caller's session, which stays valid. */
      session: Session<Data>;
      setCookie: string | null;
    }
  | {
      ok: false;
      reason: UnavailableReason;
      /** The caller's session, when it was judged valid before the failure. */
      session?: Session<Data>;
      setCookie: null;
      revoked?: undefined;
    }
  | (Refused & { session?: undefined; revoked?: undefined });

/** Options of `adminHandler`. */
export interface AdminHandlerOptions {
  /**
   * The bearer token operators send (`Authorization: Bearer <token>`): at least 32 characters,
   * no white space. Make one with
   * `node -e "console.log(require('node:crypto').randomBytes(32).toString('base64url'))"`.
   */
  token: string;
  /** Clock for the bad-token slow-down, for tests (default `Date.now`). */
  now?: () => number;
}

/** A fetch-style handler: a `Response` for a path under `/admin/`, `null` for any other path. */
export type AdminHandler = (request: Request) => Promise<Response | null>;

/**
 * The operator routes as a fetch-style handler:
 * - `POST /admin/revoke` with a JSON body naming exactly one of `{ userId }`, `{ handle }`,
 *   `{ issuedBefore }` (unix ms);
 * - `GET /admin/sessions?userId=<id>`: `{ userId, sessions: SessionInfo[] }`;
 * - `GET /admin/status`: `SessionStatus`.
 *
 * Every route needs `Authorization: Bearer <token>`, compared in constant time (SHA-256 of both
 * sides, XOR-compared). After 5 bad tokens within a minute from one client (`CF-Connecting-IP`,
 * else one shared bucket) the client gets `429` with `Retry-After` for 15 s, doubled at each
 * further block up to 15 minutes. Errors are `{ error, reason? }` JSON: `400`/`413`/`415`
 * `bad_request`, `401 unauthorized`, `404 not_found`, `405 method_not_allowed`,
 * `503 unavailable` (`store_unavailable` or `hub_unavailable`). Other errors are thrown to the caller.
 *
 * Throws `SessionConfigError` (`invalid_token`) for a token shorter than 32 characters, and
 * (`invalid_options`) when `manager` is not a `SessionManager` or an option is unknown.
 */
export function adminHandler(manager: SessionManager<any>, options: AdminHandlerOptions): AdminHandler;

/**
 * An in-memory `SessionStore` with Workers KV's interface and TTL rules, for tests and
 * single-process Node servers. Not shared between processes or isolates.
 */
export class MemoryStore implements SessionStore {
  /** `now` is the clock used for expiry (default `Date.now`). */
  constructor(options?: { now?: () => number });
  get(key: string, type?: 'text'): Promise<string | null>;
  put(key: string, value: string, options?: StorePutOptions): Promise<void>;
  delete(key: string): Promise<void>;
  list(options: StoreListOptions): Promise<StoreListResult>;
}

/** Bad configuration or arguments; `reason` says which, the message says how to fix it (never showing a secret). */
export class SessionConfigError extends Error {
  readonly name: 'SessionConfigError';
  readonly reason: ConfigErrorReason;
}

/**
 * The store or the revocation hub failed or timed out (`reason` says which). Rejected by
 * `listSessions` and the `revoke*` calls (a revocation whose hub append failed rejects with
 * `hub_unavailable`: it holds within the KV bound only); `validate`, `create`, `rotate`,
 * `update`, `destroy` and `revokeOthers` answer with the reason instead of throwing.
 */
export class SessionStoreError extends Error {
  readonly name: 'SessionStoreError';
  readonly reason: UnavailableReason;
}

/**
 * The revocation hub, a Durable Object with SQLite storage: one ordered log of revocations that
 * every isolate pulls (`hub` option). It numbers, stores, pages and prunes entries; what they
 * mean is decided by the isolates' wasm core. Export it from your worker's entry module and bind
 * it (Durable Objects exist only in workerd, so only the `workerd` entry exports it):
 *
 * ```js
 * export { RevocationHub } from 'edge-session';
 * // new SessionManager({ store: env.SESSIONS, keys: env.SESSION_KEYS, hub: env.REVOCATIONS })
 * ```
 * ```toml
 * [[durable_objects.bindings]]
 * name = "REVOCATIONS"
 * class_name = "RevocationHub"
 *
 * [[migrations]]
 * tag = "v1"
 * new_sqlite_classes = ["RevocationHub"]
 * ```
 *
 * Throws when constructed without SQLite storage (declare it under `new_sqlite_classes`).
 */
export class RevocationHub {
  constructor(state: { storage: { sql: unknown; transactionSync<T>(closure: () => T): T } }, env?: unknown);
  /** The hub's internal HTTP interface (`/append`, `/pull`, `/stats`), reached only through the binding. */
  fetch(request: Request): Promise<Response>;
}
