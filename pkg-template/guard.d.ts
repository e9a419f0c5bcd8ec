/**
 * edge-session/guard: a CSRF guard for fetch-style handlers, with no wasm and no session.
 *
 * ```js
 * import { originGuard } from 'edge-session/guard';
 * const guard = originGuard({ allowedOrigins: ['https://app.example.com'] });
 * export default {
 *   async fetch(request, env) {
 *     const refused = guard(request); // a 403 Response, or null
 *     if (refused) return refused;
 *     // ... the application
 *   },
 * };
 * ```
 */

/** Why a request was refused (the `reason` of the 403 body). */
export type ForbiddenReason =
  /** An `Origin` header names another origin than the request URL's and is not allowed (`Origin: null` included). */
  | 'cross_origin'
  /** `Sec-Fetch-Site: cross-site` (without an allowed `Origin`). */
  | 'cross_site'
  /** A body is declared whose media type is not `application/json` (with `requireJson`). */
  | 'content_type';

/** Options of `originGuard`. Unknown names are refused (`SessionConfigError`, `invalid_options`). */
export interface OriginGuardOptions {
  /**
   * Origins besides the request URL's own that may send state-changing requests, each exactly
   * `scheme://host[:port]` (e.g. `https://app.example.com`; a path or trailing slash is refused).
   * A listed origin is trusted even though its browser says `Sec-Fetch-Site: cross-site`.
   */
  allowedOrigins?: string[];
  /**
   * Refuse a state-changing request that declares a body (`Content-Type`, a non-zero
   * `Content-Length`, `Transfer-Encoding`) whose media type is not `application/json` (default
   * true). It covers old browsers that send neither `Origin` nor `Sec-Fetch-Site`: an HTML form
   * cannot send JSON. Set false to accept form posts (still only from allowed origins).
   */
  requireJson?: boolean;
}

/** A fetch-style guard: a `403` `Response` for a refused request, `null` to go on. */
export type OriginGuard = (request: Request) => Response | null;

/**
 * A guard against cross-site request forgery for every method but GET, HEAD and OPTIONS: refused
 * requests get `403 {"error":"forbidden","reason":ForbiddenReason}` (JSON, `Cache-Control:
 * no-store`). Requests without `Origin` and `Sec-Fetch-Site` (curl, server-to-server) are judged
 * by the body rule only. Throws `SessionConfigError` (`invalid_options`) for bad options.
 */
export function originGuard(options?: OriginGuardOptions): OriginGuard;
