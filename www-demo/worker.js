// edge-session demo worker: a login page and a small JSON API on Cloudflare Workers (wrangler dev).
// The HTTP contract is documented in www-demo/README.md.
import { SessionManager, adminHandler } from 'edge-session';
import { originGuard } from 'edge-session/guard';

// The revocation hub's Durable Object class: wrangler.toml binds it as REVOCATIONS, and workerd
// finds a Durable Object class only among the entry module's exports.
export { RevocationHub } from 'edge-session';

const USERNAME_RE = /^[a-z0-9_-]{1,32}$/;
// A session handle is the base64url SHA-256 of the session ID (43 characters); allow some slack.
const HANDLE_RE = /^[A-Za-z0-9_-]{1,128}$/;
const MAX_BODY_BYTES = 16 * 1024;
const MAX_USER_AGENT = 256;
// What a login stores in the session (signed into the cookie: readable by its holder, never
// secret). `role` is the server's to set; the page may change everything else via POST /api/data.
const LOGIN_DATA = Object.freeze({ role: 'member', theme: 'light' });
// Refusals that say nothing against the session but something about the server: the store or the
// revocation hub failed or timed out, or a stored revocation cutoff is unreadable. Answered 503,
// and the cookie is kept.
const UNAVAILABLE = new Set(['store_unavailable', 'hub_unavailable', 'corrupt_cutoff']);
// Session events not worth a log line: the hub is pulled every HUB_POLL_INTERVAL_S on a request.
const QUIET_EVENTS = new Set(['hub_pulled']);

const JSON_HEADERS = {
  'content-type': 'application/json; charset=utf-8',
  'cache-control': 'no-store',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
};

const PAGE_HEADERS = {
  'content-security-policy':
    "default-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'; object-src 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
  'permissions-policy': 'camera=(), microphone=(), geolocation=()',
  'cache-control': 'no-cache',
};

// One SessionManager per isolate, built on first use (it keeps the in-memory revocation set, so
// logout and revocation take effect on this instance's very next request).
let manager = null;

function getManager(env) {
  if (manager !== null) return manager;
  if (typeof env.SESSION_KEYS !== 'string' || env.SESSION_KEYS === '') {
    throw new ConfigError('SESSION_KEYS is not set: put "SESSION_KEYS=k1:<base64url of 32 random bytes>" in .dev.vars');
  }
  manager = new SessionManager({
    store: env.SESSIONS,
    keys: env.SESSION_KEYS,
    envelopeTtl: seconds(env.ENVELOPE_TTL_S, 'ENVELOPE_TTL_S'),
    idleTimeout: seconds(env.IDLE_TIMEOUT_S, 'IDLE_TIMEOUT_S'),
    absoluteTimeout: seconds(env.ABSOLUTE_TIMEOUT_S, 'ABSOLUTE_TIMEOUT_S'),
    // Every revocation is also appended to the hub (a Durable Object); each isolate pulls what is
    // new at most once per interval, on a request. Without the binding the demo runs without one.
    ...(env.REVOCATIONS ? { hub: env.REVOCATIONS, hubPollInterval: interval(env.HUB_POLL_INTERVAL_S, 'HUB_POLL_INTERVAL_S') } : {}),
    onEvent: (event) => {
      if (!QUIET_EVENTS.has(event?.type)) console.log(JSON.stringify(event));
    },
  });
  return manager;
}

class ConfigError extends Error {}

function seconds(value, name) {
  if (value === undefined || value === null || value === '') return undefined;
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n <= 0) throw new ConfigError(`${name} must be a positive whole number of seconds`);
  return n;
}

// A number of seconds that may have a fraction (the package takes 0.1 to 300 for the hub's interval
// and refuses anything else with a SessionConfigError).
function interval(value, name) {
  if (value === undefined || value === null || value === '') return undefined;
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new ConfigError(`${name} must be a positive number of seconds`);
  return n;
}

function json(status, body, setCookie = null, extra = {}) {
  const headers = new Headers(JSON_HEADERS);
  for (const [k, v] of Object.entries(extra)) headers.set(k, v);
  if (setCookie) headers.append('set-cookie', setCookie);
  return new Response(JSON.stringify(body), { status, headers });
}

const notFound = () => json(404, { error: 'not_found' });

function sessionView(s) {
  return {
    userId: s.userId,
    handle: s.handle,
    createdAt: s.createdAt,
    issuedAt: s.issuedAt,
    envelopeExpiresAt: s.envelopeExpiresAt,
    idleExpiresAt: s.idleExpiresAt,
    absoluteExpiresAt: s.absoluteExpiresAt,
    generation: s.generation,
    data: s.data ?? null,
  };
}

// A refusal from the package ({ ok: false, reason, setCookie }):
// - a server-side problem (UNAVAILABLE) is 503 and passes on only the Set-Cookie the package chose:
//   none from validate, create or a rotation that changed nothing (the cookie is kept: a KV blip is
//   not a logout), the new session's cookie from a rotation that stored the new session but could
//   not retire the old one (its view is then in `session`);
// - anything else is 401 with the package's reason, plus the clearing cookie it hands back when
//   the request carried a session cookie.
function rejected(result) {
  if (UNAVAILABLE.has(result.reason)) {
    const body = { error: 'unavailable', reason: result.reason };
    if (result.setCookie && result.session) body.session = sessionView(result.session);
    return json(503, body, result.setCookie);
  }
  return json(401, { error: 'unauthenticated', reason: result.reason }, result.setCookie);
}

// The answer to rotate and update: 200 with the new session's view and cookie, or the refusal.
function rotated(result) {
  if (result.ok !== true || !result.session) return rejected(result);
  return json(200, sessionView(result.session), result.setCookie);
}

// Runs a package call whose SessionConfigError `reason` is the client's fault: answered 400 with
// `as` as the reason. Other errors go to the generic handler (SessionStoreError: 503).
async function clientInput(call, reason, as) {
  try {
    return await call();
  } catch (err) {
    if (err?.name === 'SessionConfigError' && err.reason === reason) throw new BadRequest(as);
    throw err;
  }
}

// ---- constant-time comparison -------------------------------------------------------------------

const encoder = new TextEncoder();

async function sha256(text) {
  return new Uint8Array(await crypto.subtle.digest('SHA-256', encoder.encode(text)));
}

// Compares the SHA-256 digests (always 32 bytes) with an XOR loop, so the time taken depends on
// neither the secret's length nor where the first difference is.
async function secretEquals(given, expected) {
  const [a, b] = await Promise.all([sha256(given), sha256(expected)]);
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i] ^ b[i];
  return diff === 0;
}

// ---- request guards -----------------------------------------------------------------------------

// The package's CSRF guard: a state-changing request must come from this origin (its Origin, and
// no Sec-Fetch-Site: cross-site) and, when it carries a body (or claims a content type), the body
// must be JSON: an HTML form on another site can send neither. A refusal is
// 403 {"error":"forbidden","reason":"cross_origin"|"cross_site"|"content_type"}.
const guard = originGuard();

class BadRequest extends Error {
  constructor(reason, status = 400) {
    super(reason);
    this.reason = reason;
    this.status = status;
  }
}

// Reads a JSON object body (login and data); anything else is a 400.
async function readJsonObject(request) {
  const length = Number(request.headers.get('content-length') || '0');
  if (length > MAX_BODY_BYTES) throw new BadRequest('body_too_large', 413);
  const text = await request.text();
  if (encoder.encode(text).length > MAX_BODY_BYTES) throw new BadRequest('body_too_large', 413);
  if (text.trim() === '') throw new BadRequest('json_object_required');
  let value;
  try {
    value = JSON.parse(text);
  } catch {
    throw new BadRequest('malformed_json');
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new BadRequest('json_object_required');
  return value;
}

// ---- routes -------------------------------------------------------------------------------------

async function login(request, env) {
  const body = await readJsonObject(request);
  const { username, password } = body;
  if (typeof username !== 'string' || !USERNAME_RE.test(username)) {
    return json(401, { error: 'login_failed', reason: 'invalid_username' });
  }
  const expected = typeof env.DEMO_PASSWORD === 'string' && env.DEMO_PASSWORD !== '' ? env.DEMO_PASSWORD : 'demo';
  if (typeof password !== 'string' || !(await secretEquals(password, expected))) {
    return json(401, { error: 'login_failed', reason: 'invalid_credentials' });
  }
  const mgr = getManager(env);
  const userAgent = (request.headers.get('user-agent') || '').slice(0, MAX_USER_AGENT);
  // create() destroys a session already on the request (login replaces it with a fresh ID). It
  // resolves (rather than throws) { ok: false, reason: 'store_unavailable', setCookie: null } when
  // the store failed: 503 without Set-Cookie.
  const issued = await mgr.create(request, username, { userAgent, data: LOGIN_DATA });
  if (issued.ok !== true || !issued.session) return rejected(issued);
  return json(200, sessionView(issued.session), issued.setCookie);
}

async function me(request, env) {
  const result = await getManager(env).validate(request);
  if (!result.ok) return rejected(result);
  return json(200, sessionView(result.session), result.setCookie);
}

async function rotate(request, env) {
  return rotated(await getManager(env).rotate(request));
}

// Replaces the session's data (by rotation: a new ID carries it). Body: { "data": { ... } }, a JSON
// object the package limits to 1024 bytes. The stored `role` is kept and cannot be set here.
async function updateData(request, env) {
  const body = await readJsonObject(request);
  const { data } = body;
  if (data === null || typeof data !== 'object' || Array.isArray(data)) throw new BadRequest('invalid_data');
  if (Object.hasOwn(data, 'role')) throw new BadRequest('role_read_only');
  const mgr = getManager(env);
  const current = await mgr.validate(request);
  if (!current.ok) return rejected(current);
  const role = current.session.data?.role;
  const next = role === undefined ? { ...data } : { role, ...data };
  return rotated(await clientInput(() => mgr.update(request, next), 'invalid_data', 'invalid_data'));
}

// Logout. The package tombstones the record and always hands back the clearing cookie; when the
// store write failed ({ ok: false, reason: 'store_unavailable' }) the record may still be live for
// other instances, so the answer is 503, never 200.
async function logout(request, env) {
  const result = await getManager(env).destroy(request);
  if (result.ok !== true) {
    const reason = result.reason ?? 'store_unavailable';
    // Two session cookies (or a header too long to read): which session to end is unknown and
    // none was ended; the clearing cookie still goes out.
    if (!UNAVAILABLE.has(reason)) return json(401, { error: 'unauthenticated', reason }, result.setCookie);
    return json(503, { error: 'unavailable', reason }, result.setCookie);
  }
  return json(200, { ok: true }, result.setCookie);
}

// "Log out my other sessions": ends every session of the caller's user except the caller's own
// (and its later rotations), including ones the list cannot show yet. The caller's session
// stays; its cookie is refreshed when the check needed the store (setCookie not null).
async function revokeOthers(request, env) {
  const result = await getManager(env).revokeOthers(request);
  if (result.ok === true) return json(200, { ok: true, revoked: result.revoked }, result.setCookie);
  if (UNAVAILABLE.has(result.reason)) {
    // Some of the other sessions may be ended, some not: not a success. The caller's session is
    // untouched and, like every 503 but logout's and a half-done rotation's, the answer sets no
    // cookie (an envelope the check refreshed is refreshed again on the next request).
    return json(503, { error: 'unavailable', reason: result.reason });
  }
  return json(401, { error: 'unauthenticated', reason: result.reason }, result.setCookie);
}

async function listSessions(request, env) {
  const mgr = getManager(env);
  const result = await mgr.validate(request);
  if (!result.ok) return rejected(result);
  const current = result.session.handle;
  const sessions = (await mgr.listSessions(result.session.userId))
    .map((s) => ({
      handle: s.handle,
      createdAt: s.createdAt,
      lastSeenAt: s.lastSeenAt,
      absoluteExpiresAt: s.absoluteExpiresAt,
      userAgent: s.userAgent,
      current: s.handle === current,
    }))
    .sort((a, b) => Number(b.current) - Number(a.current) || b.lastSeenAt - a.lastSeenAt);
  return json(200, sessions, result.setCookie);
}

async function revokeOwnSession(request, env, handle) {
  const mgr = getManager(env);
  const result = await mgr.validate(request);
  if (!result.ok) return rejected(result);
  if (!HANDLE_RE.test(handle)) return notFound();
  const revoked = await mgr.revokeSession(handle, result.session.userId);
  if (!revoked) return notFound();
  const current = handle === result.session.handle;
  return json(200, { ok: true, current }, current ? mgr.clearCookie() : result.setCookie);
}

// The operator routes (/admin/revoke, /admin/sessions, /admin/status) are the package's
// adminHandler, mounted once per isolate. A token the package refuses (shorter than 32 characters)
// is logged once as a config error and the routes stay unmounted: /admin/* answers 404, as without
// a token, rather than run an admin API behind a guessable secret.
let admin = null;
let adminRefused = false;

function getAdmin(env) {
  if (admin !== null) return admin;
  if (adminRefused) return null;
  const mgr = getManager(env);
  try {
    admin = adminHandler(mgr, { token: env.ADMIN_TOKEN });
  } catch (err) {
    if (err?.name !== 'SessionConfigError' || err.reason !== 'invalid_token') throw err;
    adminRefused = true;
    console.error(
      JSON.stringify({ type: 'config_error', reason: err.reason, message: `ADMIN_TOKEN refused, /admin/* not mounted: ${err.message}` }),
    );
    return null;
  }
  return admin;
}

async function route(request, env, url) {
  const { pathname } = url;
  const method = request.method;

  if (pathname === '/health') {
    return method === 'GET' || method === 'HEAD' ? json(200, { ok: true }) : methodNotAllowed('GET');
  }

  const isApi = pathname === '/api' || pathname.startsWith('/api/');
  const isAdmin = pathname === '/admin' || pathname.startsWith('/admin/');

  if (!isApi && !isAdmin) {
    if (method !== 'GET' && method !== 'HEAD') return notFound();
    return servePage(request, env);
  }

  // Admin routes do not exist unless a token is configured.
  if (isAdmin && !(typeof env.ADMIN_TOKEN === 'string' && env.ADMIN_TOKEN !== '')) return notFound();

  if (method === 'POST' || method === 'DELETE' || method === 'PUT' || method === 'PATCH') {
    const refused = guard(request);
    if (refused !== null) return refused;
  }

  if (isAdmin) {
    const handler = getAdmin(env);
    return (handler !== null && (await handler(request))) || notFound();
  }
  if (pathname === '/api/login') return method === 'POST' ? login(request, env) : methodNotAllowed('POST');
  if (pathname === '/api/me') return method === 'GET' ? me(request, env) : methodNotAllowed('GET');
  if (pathname === '/api/rotate') return method === 'POST' ? rotate(request, env) : methodNotAllowed('POST');
  if (pathname === '/api/data') return method === 'POST' ? updateData(request, env) : methodNotAllowed('POST');
  if (pathname === '/api/logout') return method === 'POST' ? logout(request, env) : methodNotAllowed('POST');
  if (pathname === '/api/sessions') return method === 'GET' ? listSessions(request, env) : methodNotAllowed('GET');
  if (pathname === '/api/sessions/revoke-others') {
    return method === 'POST' ? revokeOthers(request, env) : methodNotAllowed('POST');
  }
  if (pathname.startsWith('/api/sessions/')) {
    const handle = decodeURIComponentSafe(pathname.slice('/api/sessions/'.length));
    if (handle === null || handle === '' || handle.includes('/')) return notFound();
    return method === 'DELETE' ? revokeOwnSession(request, env, handle) : methodNotAllowed('DELETE');
  }
  return notFound();
}

function methodNotAllowed(allow) {
  return json(405, { error: 'method_not_allowed' }, null, { allow });
}

function decodeURIComponentSafe(s) {
  try {
    return decodeURIComponent(s);
  } catch {
    return null;
  }
}

// Static files (index.html, app.js, style.css) from the assets directory, with security headers.
async function servePage(request, env) {
  const asset = await env.ASSETS.fetch(request);
  if (asset.status === 404) return notFound();
  const response = new Response(asset.body, asset);
  for (const [k, v] of Object.entries(PAGE_HEADERS)) response.headers.set(k, v);
  return response;
}

export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    try {
      return await route(request, env, url);
    } catch (err) {
      if (err instanceof BadRequest) return json(err.status, { error: 'bad_request', reason: err.reason });
      // Management calls (listSessions, revoke*) throw SessionStoreError when KV or the revocation
      // hub fails or times out; its reason says which.
      if (err?.name === 'SessionStoreError') {
        const reason = err.reason === 'hub_unavailable' ? 'hub_unavailable' : 'store_unavailable';
        return json(503, { error: 'unavailable', reason });
      }
      if (err instanceof ConfigError || err?.name === 'SessionConfigError') {
        console.error(JSON.stringify({ type: 'config_error', message: String(err.message), reason: err.reason }));
        return json(500, { error: 'misconfigured' });
      }
      console.error(JSON.stringify({ type: 'error', message: String(err?.message ?? err) }));
      return json(500, { error: 'internal' });
    }
  },
};
