// A CSRF guard for state-changing requests, framework-free: `originGuard(options)` returns
// `(request) => Response | null`. It needs no wasm and no session; the Hono middleware of the same
// name (edge-session/hono) wraps it.

import { SessionConfigError } from './core.js';

// Methods a browser may send cross-site without asking (no preflight) and that must not change
// state; every other method is checked.
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);
const GUARD_OPTIONS = new Set(['allowedOrigins', 'requireJson']);
const FORBIDDEN_HEADERS = {
  'content-type': 'application/json; charset=utf-8',
  'cache-control': 'no-store',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
};

function mediaTypeOf(contentType) {
  return contentType === null ? null : contentType.split(';')[0].trim().toLowerCase();
}

/** `allowedOrigins` as a Set of serialised origins; throws SessionConfigError for anything else. */
function originSet(list) {
  if (list === undefined) return new Set();
  if (!Array.isArray(list)) {
    throw new SessionConfigError('allowedOrigins must be an array of origins such as "https://app.example.com"', 'invalid_options');
  }
  const origins = new Set();
  for (const entry of list) {
    let origin;
    try {
      origin = typeof entry === 'string' ? new URL(entry).origin : undefined;
    } catch {
      origin = undefined;
    }
    // Exactly an origin: scheme, host and port, no path, no trailing slash ("null" is never one).
    if (origin === undefined || origin === 'null' || origin !== entry) {
      throw new SessionConfigError(
        `allowedOrigins: ${JSON.stringify(entry)} is not an origin; write it as scheme://host[:port], e.g. "https://app.example.com"`,
        'invalid_options',
      );
    }
    origins.add(origin);
  }
  return origins;
}

/**
 * Why `request` is refused, or null when it may go on. Only state-changing methods are judged:
 * - `cross_origin`: an `Origin` header that is neither the request URL's origin nor listed in
 *   `allowedOrigins` (`Origin: null` included);
 * - `cross_site`: `Sec-Fetch-Site: cross-site`, unless the `Origin` is one listed (a listed origin
 *   of another site is cross-site by definition);
 * - `content_type` (with `requireJson`): a body is declared (a `Content-Type`, a non-zero
 *   `Content-Length` or a `Transfer-Encoding`) whose media type is not `application/json`. An HTML
 *   form on another site can send neither JSON nor, in today's browsers, a request without
 *   `Origin`; this rule covers older browsers that send neither `Origin` nor `Sec-Fetch-Site`.
 */
function refusalOf(request, allowed, requireJson) {
  if (SAFE_METHODS.has(request.method.toUpperCase())) return null;
  const headers = request.headers;
  const origin = headers.get('origin');
  let listed = false;
  if (origin !== null && origin !== new URL(request.url).origin) {
    if (!allowed.has(origin)) return 'cross_origin';
    listed = true;
  }
  if (!listed && (headers.get('sec-fetch-site') || '').toLowerCase() === 'cross-site') return 'cross_site';
  if (requireJson) {
    const contentType = headers.get('content-type');
    const length = headers.get('content-length');
    const declaresBody = contentType !== null || (length !== null && length.trim() !== '0') || headers.has('transfer-encoding');
    if (declaresBody && mediaTypeOf(contentType) !== 'application/json') return 'content_type';
  }
  return null;
}

/**
 * A guard against cross-site request forgery for every method but GET, HEAD and OPTIONS: a
 * request from another origin (by its `Origin` or `Sec-Fetch-Site` header), or one declaring a
 * body that is not JSON, is answered `403 {"error":"forbidden","reason"}` (`cross_origin`,
 * `cross_site`, `content_type`); anything else gets null, so the caller goes on. Requests without
 * `Origin` or `Sec-Fetch-Site` (curl, server-to-server) are judged by the body rule only.
 *
 * Options: `allowedOrigins` (origins besides the request URL's own that may send state-changing
 * requests, e.g. a front end on another host), `requireJson` (default true; false accepts form
 * and text bodies from the allowed origins). Throws SessionConfigError (`invalid_options`) for
 * an unknown option or an entry of `allowedOrigins` that is not exactly an origin.
 */
export function originGuard(options = {}) {
  if (options === null || typeof options !== 'object') {
    throw new SessionConfigError('originGuard options must be an object: { allowedOrigins, requireJson }', 'invalid_options');
  }
  const unknown = Object.keys(options).filter((k) => !GUARD_OPTIONS.has(k));
  if (unknown.length > 0) {
    throw new SessionConfigError(`unknown originGuard option ${JSON.stringify(unknown[0])}; known: allowedOrigins, requireJson`, 'invalid_options');
  }
  const allowed = originSet(options.allowedOrigins);
  const { requireJson = true } = options;
  if (typeof requireJson !== 'boolean') throw new SessionConfigError('requireJson must be a boolean', 'invalid_options');

  return function guard(request) {
    const reason = refusalOf(request, allowed, requireJson);
    if (reason === null) return null;
    return new Response(JSON.stringify({ error: 'forbidden', reason }), { status: 403, headers: FORBIDDEN_HEADERS });
  };
}
