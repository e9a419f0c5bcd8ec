/**
 * edge-session/hono: sessions as Hono middleware (hono 4, an optional peer dependency).
 *
 * ```ts
 * import { Hono } from 'hono';
 * import { sessionMiddleware, requireSession, createSession, refusal, originGuard, type SessionVariables } from 'edge-session/hono';
 * export { RevocationHub } from 'edge-session';
 *
 * type Data = { role: 'member' | 'admin' };
 * const app = new Hono<{ Bindings: Env; Variables: SessionVariables<Data> }>();
 * app.use(originGuard());
 * app.use(sessionMiddleware<Data, { Bindings: Env }>((c) => ({ store: c.env.SESSIONS, keys: c.env.SESSION_KEYS })));
 * app.post('/login', async (c) => {
 *   const login = await createSession(c, await authenticate(c), { data: { role: 'member' } });
 *   return login.ok ? c.json({ ok: true }) : refusal(c, login); // 503: the store failed
 * });
 * app.get('/me', requireSession(), (c) => c.json({ role: c.var.session.data?.role }));
 * export default app;
 * ```
 */
import type { Context, Env, MiddlewareHandler } from 'hono';
import type {
  CreateOptions,
  CreateResult,
  DestroyResult,
  RejectReason,
  RevokeOthersResult,
  RotateResult,
  Session,
  SessionData,
  SessionManager,
  SessionManagerOptions,
} from './index.js';
import type { OriginGuardOptions } from './guard.js';

export type { OriginGuardOptions, ForbiddenReason } from './guard.js';

/**
 * What `sessionMiddleware` sets on the context: declare it in your app's `Variables`
 * (`new Hono<{ Variables: SessionVariables<Data> }>()`) to have `c.get('session')` typed.
 */
export interface SessionVariables<Data extends Record<string, any> = SessionData> {
  /** The request's valid session, or null (then `requireSession()` says why). */
  session: Session<Data> | null;
  /** The isolate's `SessionManager` (for `listSessions`, `revokeSession`, `status`, ...). */
  sessions: SessionManager<Data>;
}

/**
 * A handler's context (`c`) where `sessionMiddleware` ran; the helpers read `Data` from its
 * `Variables` (`SessionVariables<Data>`), so a value of another shape is a compile error.
 */
export interface SessionContext<Data extends Record<string, any> = SessionData> {
  readonly var: { readonly sessions: SessionManager<Data> };
}

/**
 * Validates the request's session once (no store access while the envelope is fresh) and sets
 * `c.get('session')` and `c.get('sessions')`; after the handlers ran it appends the Set-Cookie
 * the request earned (a refreshed envelope, the clearing cookie of a dead one, or what a helper
 * issued). `options`: `SessionManager` options, or a function of the context (bindings live on
 * `c.env`) called once, on the first request: the manager is built then and kept for the isolate.
 * A bad option rejects that request with `SessionConfigError` (Hono's error handler answers it);
 * the next request tries again.
 */
export function sessionMiddleware<Data extends Record<string, any> = SessionData, E extends Env = any>(
  options: SessionManagerOptions | ((c: Context<E>) => SessionManagerOptions),
): MiddlewareHandler<{ Variables: SessionVariables<Data> }>;

/**
 * Lets the request on only with a valid session, so `c.get('session')` is a `Session` after it;
 * otherwise answers `401 {"error":"unauthenticated","reason"}`, or `503
 * {"error":"unavailable","reason"}` for `store_unavailable`, `hub_unavailable` and
 * `corrupt_cutoff` (no Set-Cookie: the cookie is kept). Needs `sessionMiddleware` before it.
 * `requireSession<Data>()` types `c.get('session').data` exactly; without the type argument the
 * app's `SessionVariables<Data>` still types its fields.
 */
export function requireSession<Data extends Record<string, any> = SessionData>(): MiddlewareHandler<{
  Variables: { session: Session<Data> };
}>;

/** The body of a `refusal` answer. */
export type RefusalBody =
  | { error: 'unauthenticated'; reason: RejectReason }
  | { error: 'unavailable'; reason: 'store_unavailable' | 'hub_unavailable' | 'corrupt_cutoff' };

/**
 * The answer to a result that is not ok (from `validate` or a helper below): 503
 * `{"error":"unavailable","reason"}` when the reason says nothing against the session, else 401
 * `{"error":"unauthenticated","reason"}`; `Cache-Control: no-store`. The helpers already queued
 * the cookie to send (the clearing one of a failed logout, the new one of an incomplete rotation).
 */
export function refusal(c: Context<any, any, any>, result: { reason: RejectReason | 'hub_unavailable' }): Response;

// The helpers below act on the request's session cookie, or on the one an earlier helper of the
// same request issued or cleared (a rotation after a login rotates the new session), and queue
// their Set-Cookie: `sessionMiddleware` sends the last one.

/**
 * Logs `userId` in (`SessionManager.create`; a session already on the request is ended first)
 * and queues the new session's cookie. Not ok: no new session, and the request has none either;
 * answer `refusal(c, result)` (503).
 */
export function createSession<Data extends Record<string, any> = SessionData>(
  c: SessionContext<Data>,
  userId: string,
  options?: CreateOptions<NoInfer<Data>>,
): Promise<CreateResult<Data>>;

/**
 * `SessionManager.rotate`: a new ID for the request's session, its cookie queued. Not ok with
 * `session` set: the new cookie is queued but the old ID may live elsewhere; answer 503.
 */
export function rotateSession<Data extends Record<string, any> = SessionData>(c: SessionContext<Data>): Promise<RotateResult<Data>>;

/** `SessionManager.update`: new data by rotation; answers and queues like `rotateSession`. */
export function updateSession<Data extends Record<string, any> = SessionData>(
  c: SessionContext<Data>,
  data: NoInfer<Data> | null,
): Promise<RotateResult<Data>>;

/**
 * `SessionManager.destroy`: logs out and queues the clearing cookie (always). Not ok: the logout
 * was not (fully) stored; answer `refusal(c, result)` (503) so the user retries.
 */
export function destroySession(c: SessionContext<any>): Promise<DestroyResult>;

/**
 * `SessionManager.revokeOthers`: ends every other session of the caller's user. Not ok with
 * `session` set: the caller's session is fine, some others may live on; answer 503.
 */
export function revokeOtherSessions<Data extends Record<string, any> = SessionData>(
  c: SessionContext<Data>,
): Promise<RevokeOthersResult<Data>>;

/**
 * The CSRF guard (`edge-session/guard`) as a middleware: every method but GET, HEAD and OPTIONS
 * from another origin (`Origin`, `Sec-Fetch-Site: cross-site`), or declaring a body that is not
 * JSON, is answered `403 {"error":"forbidden","reason"}`. Mount it before `sessionMiddleware`.
 * Throws `SessionConfigError` (`invalid_options`) for bad options.
 */
export function originGuard(options?: OriginGuardOptions): MiddlewareHandler;
