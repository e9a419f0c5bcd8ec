// edge-session for Hono: a middleware that validates the session once per request, helpers that
// change it and carry its Set-Cookie, and the CSRF guard as a middleware. Shared by the
// hono-<runtime>.js entries, which load the wasm for their runtime first; nothing here imports
// hono (a middleware is a plain `(c, next)` function), so the package needs it for types only.

import { SessionConfigError, SessionManager } from './core.js';
import { originGuard as requestGuard } from './guard.js';

// Refusals that say nothing against the session: the store or the hub failed, or a stored cutoff
// is unreadable. Answered 503, and the cookie is kept.
const UNAVAILABLE = new Set(['store_unavailable', 'hub_unavailable', 'corrupt_cutoff']);
const NO_STORE = { 'Cache-Control': 'no-store' };

/**
 * What sessionMiddleware knows about one request, by its Context: the manager, why there is no
 * session (null while there is one), the one Set-Cookie to send (every value is for the same
 * cookie, so the last one wins and only it is sent), and the session cookie a helper left
 * (undefined: the request's own; null: cleared), which the next helper acts on.
 */
const requests = new WeakMap();

function stateOf(c, what) {
  const state = requests.get(c);
  if (state === undefined) {
    throw new SessionConfigError(`${what} needs sessionMiddleware() to run before it on this route`, 'invalid_options');
  }
  return state;
}

/** Queues a helper's Set-Cookie and makes its cookie the one later helpers of the request see. */
function carry(state, setCookie) {
  if (typeof setCookie !== 'string') return;
  state.setCookie = setCookie;
  const pair = setCookie.split(';')[0];
  // The clearing cookie has an empty value (`__Host-session=; ... Max-Age=0`).
  state.cookie = pair.endsWith('=') ? null : pair;
}

/**
 * The request as the next helper must see it: after a helper issued or cleared the cookie, a
 * second one (a rotation after a login, a logout after a rotation) acts on that, not on the
 * cookie the request came with. Other headers and the URL are the request's.
 */
function current(c, state) {
  const raw = c.req.raw;
  if (state.cookie === undefined) return raw;
  const cookie = state.cookie;
  return { url: raw.url, headers: { get: (name) => (name.toLowerCase() === 'cookie' ? cookie : raw.headers.get(name)) } };
}

/** The request's session after a call answered `result`: the new one, none, or unchanged. */
function follow(c, state, result) {
  if (result.session) {
    c.set('session', result.session);
    state.reason = null;
  } else if (!result.ok && !UNAVAILABLE.has(result.reason)) {
    c.set('session', null);
    state.reason = result.reason;
  }
}

/**
 * Validates the request's session once and sets `c.get('session')` (the `Session`, or null) and
 * `c.get('sessions')` (the `SessionManager`); after the handlers ran it appends the Set-Cookie
 * the request earned: a refreshed envelope, the clearing cookie of a dead one, or what a helper
 * below issued. `options` are `SessionManager` options, or `(c) => options` (bindings live on
 * `c.env`), called once: the manager is built on the first request and kept for the isolate
 * (its in-memory revocations must outlive the request; workerd forbids randomness at load).
 */
export function sessionMiddleware(options) {
  if (typeof options !== 'function' && (options === null || typeof options !== 'object')) {
    throw new SessionConfigError('sessionMiddleware needs SessionManager options or a function (c) => options', 'invalid_options');
  }
  let manager = null;
  return async function session(c, next) {
    // Mounted twice on one route (app.use and a sub-app): the first one validated already.
    if (requests.has(c)) return next();
    manager ??= new SessionManager(typeof options === 'function' ? options(c) : options);
    const result = await manager.validate(c.req.raw);
    const state = { manager, reason: result.ok ? null : result.reason, setCookie: result.setCookie ?? null, cookie: undefined };
    requests.set(c, state);
    c.set('sessions', manager);
    c.set('session', result.ok ? result.session : null);
    await next();
    if (state.setCookie !== null) c.header('Set-Cookie', state.setCookie, { append: true });
  };
}

/**
 * The answer for a result that is not ok: `503 {"error":"unavailable","reason"}` when the reason
 * says nothing against the session (`store_unavailable`, `hub_unavailable`, `corrupt_cutoff`),
 * else `401 {"error":"unauthenticated","reason"}`. The cookie is the helpers' business: they
 * already queued the one to send (none for a 503 that changed nothing, so the cookie is kept).
 */
export function refusal(c, result) {
  const reason = typeof result?.reason === 'string' ? result.reason : 'missing';
  if (UNAVAILABLE.has(reason)) return c.json({ error: 'unavailable', reason }, 503, NO_STORE);
  return c.json({ error: 'unauthenticated', reason }, 401, NO_STORE);
}

/** Lets the request on only with a valid session; otherwise answers `refusal` with the reason. */
export function requireSession() {
  return async function requireSession(c, next) {
    const state = stateOf(c, 'requireSession()');
    if (c.get('session')) return next();
    return refusal(c, { reason: state.reason ?? 'missing' });
  };
}

/**
 * Logs `userId` in (`SessionManager.create`, ending a session already on the request first) and
 * queues the new cookie. Resolves the manager's result: not ok means no new session (answer it
 * with `refusal`, a 503); the request then has no session either.
 */
export async function createSession(c, userId, options) {
  const state = stateOf(c, 'createSession');
  const result = await state.manager.create(current(c, state), userId, options);
  carry(state, result.setCookie);
  if (result.ok) {
    c.set('session', result.session);
    state.reason = null;
  } else {
    // A session the request carried may be ended already (this isolate refuses it either way).
    c.set('session', null);
    state.reason = result.reason;
  }
  return result;
}

/** Runs a manager call on the request's current session; queues its cookie and follows it. */
async function act(c, what, call) {
  const state = stateOf(c, what);
  const result = await call(state.manager, current(c, state));
  carry(state, result.setCookie);
  follow(c, state, result);
  return result;
}

/** `SessionManager.rotate` for the request's session; queues the new cookie (also when not ok but `session` is set). */
export function rotateSession(c) {
  return act(c, 'rotateSession', (manager, request) => manager.rotate(request));
}

/** `SessionManager.update` (new data, by rotation); answers and queues like `rotateSession`. */
export function updateSession(c, data) {
  return act(c, 'updateSession', (manager, request) => manager.update(request, data));
}

/**
 * Logs out (`SessionManager.destroy`) and queues the clearing cookie, which is sent whatever the
 * result. Not ok: the logout was not (fully) stored; answer `refusal` (503) so the user retries.
 */
export async function destroySession(c) {
  const state = stateOf(c, 'destroySession');
  const result = await state.manager.destroy(current(c, state));
  carry(state, result.setCookie);
  c.set('session', null);
  state.reason = 'revoked';
  return result;
}

/**
 * "Log out my other sessions" (`SessionManager.revokeOthers`). Not ok with `store_unavailable` or
 * `hub_unavailable`: the caller's session is unchanged but some others may live on; answer
 * `refusal` (503) and let them retry.
 */
export function revokeOtherSessions(c) {
  return act(c, 'revokeOtherSessions', (manager, request) => manager.revokeOthers(request));
}

/**
 * The CSRF guard of edge-session/guard as a Hono middleware: a state-changing request from another
 * origin, or declaring a body that is not JSON, is answered `403 {"error":"forbidden","reason"}`
 * before any later middleware runs. Mount it before `sessionMiddleware`.
 */
export function originGuard(options) {
  const guard = requestGuard(options);
  return async function originGuard(c, next) {
    const refused = guard(c.req.raw);
    if (refused !== null) return refused;
    await next();
  };
}
