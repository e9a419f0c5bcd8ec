// Type-level test of pkg/index.d.ts: a Worker's use of the package must compile under --strict
// with Cloudflare's workers-types (a KVNamespace is a SessionStore as is), and misuse must not.
// Every `@ts-expect-error` below is a line that has to be a compile error. `make test-js` runs
// `tsc -p tests/types`; nothing here executes.
import {
  adminHandler,
  MemoryStore,
  SessionConfigError,
  SessionManager,
  SessionStoreError,
  type AdminHandler,
  type ConfigErrorReason,
  type CreateResult,
  type DestroyResult,
  type RejectReason,
  type RotateResult,
  type Session,
  type SessionEvent,
  type SessionInfo,
  type SessionManagerOptions,
  type SessionStatus,
  type SessionStore,
  type UnavailableReason,
  type ValidateResult,
} from 'edge-session';

interface Env {
  SESSIONS: KVNamespace;
  SESSION_KEYS: string;
  ENVELOPE_TTL_S: string;
}

// Session data as an interface (no index signature) and as a type alias: both must work.
interface AppData {
  role: 'member' | 'admin';
  theme: string;
  tenant?: string;
}
type Prefs = { locale: string; beta: boolean };

const log: SessionEvent[] = [];
let sessions: SessionManager<AppData> | undefined;

export function managerFor(env: Env): SessionManager<AppData> {
  return (sessions ??= new SessionManager<AppData>({
    store: env.SESSIONS,
    keys: env.SESSION_KEYS,
    envelopeTtl: env.ENVELOPE_TTL_S,
    idleTimeout: 1800,
    cookie: { name: 'sid', sameSite: 'Strict' },
    storeTimeoutMs: 2000,
    onEvent: (event) => log.push(event),
  }));
}

function withCookie(response: Response, setCookie: string | null): Response {
  if (setCookie !== null) response.headers.append('Set-Cookie', setCookie);
  return response;
}

export async function handle(request: Request, env: Env): Promise<Response> {
  const manager = managerFor(env);
  const result: ValidateResult<AppData> = await manager.validate(request);
  if (!result.ok) {
    const reason: RejectReason = result.reason;
    const status = reason === 'store_unavailable' || reason === 'corrupt_cutoff' ? 503 : 401;
    return withCookie(new Response(reason, { status }), result.setCookie);
  }
  // Typed data, read straight from the session.
  const session: Session<AppData> = result.session;
  const data: AppData | null = session.data;
  const role: 'member' | 'admin' | undefined = session.data?.role;
  const theme: string = session.data ? session.data.theme : 'light';
  // @ts-expect-error data may be null
  session.data.role;
  // @ts-expect-error not a field of AppData
  session.data?.colour;

  const userId: string = session.userId;
  const expires: number = session.absoluteExpiresAt;
  const generation: number = session.generation;

  // create: typed data and user agent.
  const login: CreateResult<AppData> = await manager.create(request, userId, { data: { role: 'member', theme: 'dark' } });
  if (!login.ok) {
    // hub_unavailable: the session on the request was logged out in the store, the hub missed it.
    const reason: 'store_unavailable' | 'hub_unavailable' = login.reason;
    const none: null = login.setCookie;
    return new Response(reason + String(none), { status: 503 });
  }
  const loginRole: 'member' | 'admin' | undefined = login.session.data?.role;
  await manager.create(null, userId, { userAgent: 'cli' });
  await manager.create(null, userId);
  // @ts-expect-error wrong data type
  await manager.create(null, userId, { data: { role: 'owner', theme: 'dark' } });
  // @ts-expect-error missing required field
  await manager.create(null, userId, { data: { role: 'admin' } });
  // @ts-expect-error data must be an object, not an array
  await manager.create(null, userId, { data: ['admin'] });
  // @ts-expect-error unknown create option
  await manager.create(null, userId, { userAgnet: 'x' });
  // @ts-expect-error user ids are strings
  await manager.create(null, 42);

  // update: a rotation with new data (null removes it).
  const updated: RotateResult<AppData> = await manager.update(request, { role: 'admin', theme: 'dark' });
  await manager.update(request, null);
  // @ts-expect-error wrong data type
  await manager.update(request, { role: 'root', theme: 'dark' });
  // @ts-expect-error data is required (null to remove it)
  await manager.update(request);
  // @ts-expect-error a string is not session data
  await manager.update(request, 'admin');

  // rotate: success, refusal, or the new session with the old one possibly still live.
  const rotated = await manager.rotate(request);
  let cookie: string | null;
  if (rotated.ok) {
    cookie = rotated.setCookie;
    const fresh: AppData | null = rotated.session.data;
    void fresh;
  } else if (rotated.session !== undefined) {
    // RotateIncomplete: send the new cookie. The old ID may live elsewhere until its record
    // expires; revokeSession(previous) would end it, but with it the whole login (the new session
    // too), so this application only logs it.
    cookie = rotated.setCookie;
    const newHandle: string = rotated.session.handle;
    const previous: string = rotated.previousHandle;
    const why: UnavailableReason = rotated.reason;
    console.warn(`rotation ${previous} -> ${newHandle} incomplete (${why})`);
  } else {
    const reason: RejectReason = rotated.reason;
    cookie = rotated.setCookie;
    // @ts-expect-error a refusal carries no session
    rotated.session.handle;
    void reason;
  }
  if (!updated.ok && updated.session) {
    const data2: AppData | null = updated.session.data;
    void data2;
  }

  const devices: SessionInfo[] = await manager.listSessions(userId);
  const lastSeen: number | undefined = devices[0]?.lastSeenAt;
  const revoked: boolean = await manager.revokeSession(devices[0]?.handle ?? '', userId);
  const count: number = await manager.revokeUser(userId);
  await manager.revokeIssuedBefore(expires);
  // @ts-expect-error unix ms, not a Date
  await manager.revokeIssuedBefore(new Date());

  const out: DestroyResult = await manager.destroy(request);
  if (!out.ok) {
    const why: UnavailableReason | 'duplicate_cookie' | 'header_too_large' = out.reason;
    // @ts-expect-error a failed logout may be the hub's, not only the store's
    const storeOnly: 'store_unavailable' = out.reason;
    void storeOnly;
    return withCookie(new Response(why, { status: 503 }), out.setCookie);
  }
  const clearing: string = out.setCookie;

  return Response.json({
    data, role, theme, userId, generation, loginRole, cookie, lastSeen, revoked, count, clearing,
    name: manager.cookieName, clear: manager.clearCookie(),
  });
}

/** A second manager with a type-alias data type; the default is any JSON object. */
export async function others(request: Request, env: Env): Promise<void> {
  const prefs = new SessionManager<Prefs>({ store: env.SESSIONS, keys: env.SESSION_KEYS });
  const r = await prefs.validate(request);
  if (r.ok && r.session.data) {
    const beta: boolean = r.session.data.beta;
    void beta;
  }
  const plain = new SessionManager({ store: env.SESSIONS, keys: env.SESSION_KEYS });
  const v = await plain.validate(request);
  if (v.ok) {
    const anything: unknown = v.session.data?.whatever;
    // @ts-expect-error values of untyped data are unknown, not any
    const s: string = v.session.data?.whatever;
    void anything;
    void s;
  }
  await plain.create(null, 'u', { data: { any: 'object', n: 1 } });
  // @ts-expect-error still a JSON object
  await plain.create(null, 'u', { data: 'text' });
  // @ts-expect-error session data must be an object type
  new SessionManager<string>({ store: env.SESSIONS, keys: env.SESSION_KEYS });
  // @ts-expect-error a manager of one data type is not one of another
  const wrong: SessionManager<Prefs> = managerFor(env);
  void wrong;
}

export function events(event: SessionEvent): string {
  switch (event.type) {
    case 'created':
    case 'destroyed':
      return `${event.userId} ${event.handle}`;
    case 'destroy_failed':
      return `${event.userId} ${event.handle} ${event.reason}`;
    case 'refreshed':
      return `${event.handle} ${event.recordWritten}`;
    case 'rejected':
      return `${event.reason} ${event.handle ?? ''}`;
    case 'rotated':
      return `${event.previousHandle} -> ${event.handle}`;
    case 'rotate_failed': {
      const reason: UnavailableReason = event.reason;
      return `${event.previousHandle} -> ${event.handle} (${reason})`;
    }
    case 'revoked':
      if (event.scope === 'issued_before') return String(event.issuedBefore);
      if (event.scope === 'user') return event.userId;
      if (event.scope === 'others') return `${event.userId} but ${event.handle}: ${event.revoked}`;
      return event.handle;
    case 'hub_pulled': {
      const shared: boolean = event.shared;
      return `${event.seq} +${event.entries} ${shared}`;
    }
    case 'hub_pull_failed':
      return event.message;
    case 'revoke_others_failed':
      return `${event.userId} ${event.handle} ${event.reason}`;
    case 'revocations_full':
    case 'corrupt_cutoff_replaced':
    case 'hub_unreachable':
    case 'hub_reachable':
      return String(event.at);
    default: {
      const exhaustive: never = event;
      return exhaustive;
    }
  }
}

export function options(store: SessionStore): SessionManagerOptions[] {
  return [
    { store, keys: { current: 'k2', keys: { k2: 'a', k1: 'b' } } },
    // Deprecated but accepted.
    { store, keys: 'k1:x', revocationSyncMs: 0 },
    // @ts-expect-error unknown option (also refused at runtime)
    { store, keys: 'k1:x', envelopeTTL: 60 },
    // @ts-expect-error unknown cookie option
    { store, keys: 'k1:x', cookie: { httpOnly: false } },
    // @ts-expect-error keys are required
    { store },
  ];
}

export function memory(): SessionManager {
  try {
    return new SessionManager({ store: new MemoryStore(), keys: 'k1:x' });
  } catch (error) {
    if (error instanceof SessionConfigError) {
      const reason: ConfigErrorReason = error.reason;
      if (reason === 'secret_not_base64url' || reason === 'secret_too_short') throw new Error(error.message);
      // @ts-expect-error not a config error reason
      if (reason === 'store_unavailable') throw error;
    }
    if (error instanceof SessionStoreError) {
      const reason: 'store_unavailable' | 'hub_unavailable' = error.reason;
      throw new Error(reason);
    }
    throw error;
  }
}

// Operator routes: the handler answers null outside /admin/, so the worker routes on.
let admin: AdminHandler | undefined;
export async function operator(request: Request, env: Env & { ADMIN_TOKEN: string }): Promise<Response> {
  admin ??= adminHandler(managerFor(env), { token: env.ADMIN_TOKEN });
  const answered: Response | null = await admin(request);
  if (answered !== null) return answered;
  const status: SessionStatus = managerFor(env).status();
  const revoked: number = status.revocations.sessions + status.revocations.users;
  const strict: boolean = status.revocations.strict;
  // @ts-expect-error null without a hub
  status.hub.seq;
  // @ts-expect-error status carries no secrets
  status.keys;
  // @ts-expect-error the token is required
  adminHandler(managerFor(env), {});
  const invalid: ConfigErrorReason = 'invalid_token';
  return new Response(`${status.cookieName} ${revoked} ${strict} ${invalid}`);
}
