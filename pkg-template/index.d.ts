/**
 * edge-session: secure login sessions for edge functions.
 *
 * A session is a random 256-bit ID, a server-side record in KV (keyed by the ID's SHA-256, never the
 * ID itself) and a short-lived HMAC-SHA256 signed cookie envelope that points at it. Validation
 * checks the envelope with no store access; an authentic but expired envelope is refreshed from the
 * record.
 */

/** Why a request was not given a session. Stable codes, safe to log; never shown to attackers. */
export type RejectReason =
  | 'missing'
  | 'malformed'
  | 'header_too_large'
  | 'duplicate_cookie'
  | 'bad_version'
  | 'unknown_key'
  | 'bad_signature'
  | 'issued_in_future'
  | 'expired_idle'
  | 'expired_absolute'
  | 'revoked'
  | 'rotated'
  | 'session_not_found'
  | 'record_mismatch'
  | 'corrupt_record'
  | 'record_version'
  | 'store_unavailable';

/** What a validated session tells the application. All times are unix milliseconds. */
export interface Session {
  /** The user the session belongs to. */
  userId: string;
  /** Opaque, stable identifier of this session (the base64url SHA-256 of its ID); never the ID. */
  handle: string;
  /** When the user logged in; rotation keeps it. */
  createdAt: number;
  /** When the current cookie envelope was signed. */
  issuedAt: number;
  /** When the envelope must next be refreshed from the store. */
  envelopeExpiresAt: number;
  /** When the session ends if it sees no refresh (sliding idle timeout). */
  idleExpiresAt: number;
  /** When the session ends whatever happens (absolute lifetime; never extended). */
  absoluteExpiresAt: number;
  /** Rotation count: 0 at login, +1 on every rotation. */
  generation: number;
}

/** One of a user's sessions as listed for a "devices" page. */
export interface SessionInfo {
  handle: string;
  createdAt: number;
  lastSeenAt: number;
  absoluteExpiresAt: number;
  userAgent: string;
}

/** Result of `validate`: a session, or the reason there is none. */
export type ValidateResult =
  | {
      ok: true;
      session: Session;
      /** A refreshed cookie to send back (`Set-Cookie` value), or null when the envelope is still fresh. */
      setCookie: string | null;
      /** true when the record was read from the store to refresh the envelope. */
      refreshed: boolean;
    }
  | {
      ok: false;
      reason: RejectReason;
      /** A clearing cookie to send when the request carried a session cookie; null otherwise. */
      setCookie: string | null;
    };

/** Result of `create` / `rotate` when it succeeded. */
export interface Issued {
  ok: true;
  session: Session;
  /** The `Set-Cookie` header value carrying the new envelope. */
  setCookie: string;
}

/** Options of a store `put`, as Workers KV takes them. */
export interface StorePutOptions {
  expirationTtl?: number;
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

/** Anything with the shape of a Workers KV namespace (a `KVNamespace` binding works as is). */
export interface SessionStore {
  get(key: string, type: 'text'): Promise<string | null>;
  put(key: string, value: string, options?: StorePutOptions): Promise<void>;
  delete(key: string): Promise<void>;
  list(options: StoreListOptions): Promise<StoreListResult>;
}

/** An audit event. Never carries a raw session ID or key material. */
export type SessionEvent =
  | { type: 'created'; userId: string; handle: string; at: number }
  | { type: 'refreshed'; userId: string; handle: string; at: number; recordWritten: boolean }
  | { type: 'rejected'; reason: RejectReason; at: number; handle?: string }
  | { type: 'rotated'; userId: string; handle: string; previousHandle: string; at: number }
  | { type: 'destroyed'; userId?: string; handle: string; at: number }
  | {
      type: 'revoked';
      scope: 'session' | 'user' | 'issued_before';
      userId?: string;
      handle?: string;
      issuedBefore?: number;
      at: number;
    };

/** Signing keys: the first listed (or `current`) signs, all verify. Secrets must be >= 32 bytes. */
export type KeysOption =
  /** `"k2:secret2,k1:secret1"`: comma-separated `id:secret`, first is current. */
  | string
  | { current: string; keys: Record<string, string> };

export interface SessionManagerOptions {
  /** Where records live: a Workers KV namespace binding, a `MemoryStore`, or any `SessionStore`. */
  store: SessionStore;
  /** Signing key ring. */
  keys: KeysOption;
  /** Envelope lifetime in seconds (default 60): bounds how long a revoked session's cookie is honoured elsewhere. */
  envelopeTtl?: number;
  /** Idle timeout in seconds (default 1800). */
  idleTimeout?: number;
  /** Absolute session lifetime in seconds (default 43200). */
  absoluteTimeout?: number;
  /** Cookie settings. The default is `__Host-session; Path=/; Secure; HttpOnly; SameSite=Lax`. */
  cookie?: {
    /** Base name (default `session`); the `__Host-` prefix is added unless `hostPrefix` is false. */
    name?: string;
    hostPrefix?: boolean;
    sameSite?: 'Strict' | 'Lax' | 'None';
    /** Only when `hostPrefix` is false. */
    domain?: string;
    /** Only when `hostPrefix` is false; default `/`. */
    path?: string;
    /** Default true; false only for plain-http local development without the `__Host-` prefix. */
    secure?: boolean;
  };
  /** Always consult the store, even with a fresh envelope (immediate revocation within KV's consistency). */
  strict?: boolean;
  /** Audit hook; errors it throws are swallowed. */
  onEvent?: (event: SessionEvent) => void;
  /** Clock in unix ms (default `Date.now`); for tests. */
  now?: () => number;
  /** Store operation timeout in ms (default 5000); a slower store counts as unavailable. */
  storeTimeoutMs?: number;
  /**
   * How often (ms, default 10000) a refresh re-reads the global `revokeIssuedBefore` cutoff from
   * the store; 0 disables the reload. Fast-path validations never read it.
   */
  revocationSyncMs?: number;
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

export class SessionManager {
  constructor(options: SessionManagerOptions);
  /** Logs `userId` in: always a new session ID; a session already on `request` is destroyed first. */
  create(
    request: RequestLike | null,
    userId: string,
    options?: { userAgent?: string },
  ): Promise<Issued | { ok: false; reason: 'store_unavailable'; setCookie: null }>;
  /** Checks the request's session cookie; reads the store only to refresh an authentic, expired envelope. */
  validate(request: RequestLike): Promise<ValidateResult>;
  /** Gives the request's session a new ID (privilege change); the old cookie is refused afterwards. */
  rotate(request: RequestLike): Promise<Issued | { ok: false; reason: RejectReason; setCookie: string | null }>;
  /** Logs out: deletes the record server-side. Idempotent. Returns the clearing `Set-Cookie` value. */
  destroy(request: RequestLike): Promise<{ setCookie: string }>;
  /** Lists a user's live sessions. */
  listSessions(userId: string): Promise<SessionInfo[]>;
  /** Revokes one session by handle. With `userId`, only if it belongs to that user. false when not found. */
  revokeSession(handle: string, userId?: string): Promise<boolean>;
  /** Revokes all of a user's sessions; returns how many records were deleted. */
  revokeUser(userId: string): Promise<number>;
  /** Revokes every session created before `issuedBefore` (unix ms). */
  revokeIssuedBefore(issuedBefore: number): Promise<void>;
  /** The clearing `Set-Cookie` value. */
  clearCookie(): string;
  /** The cookie's full name, e.g. `__Host-session`. */
  readonly cookieName: string;
}

/** An in-memory `SessionStore` for tests and single-process Node servers. */
export class MemoryStore implements SessionStore {
  constructor(options?: { now?: () => number });
  get(key: string, type?: 'text'): Promise<string | null>;
  put(key: string, value: string, options?: StorePutOptions): Promise<void>;
  delete(key: string): Promise<void>;
  list(options: StoreListOptions): Promise<StoreListResult>;
}

/** Error thrown for bad configuration (short secret, inconsistent timeouts, bad cookie attributes). */
export class SessionConfigError extends Error {
  readonly reason: string;
}

/** Thrown by management calls (list, revoke) when the store fails; `validate` never throws it. */
export class SessionStoreError extends Error {
  readonly reason: 'store_unavailable';
}
