// Type-level test of pkg/index.d.ts: a Worker's use of the package must compile under --strict
// with Cloudflare's workers-types (a KVNamespace is a SessionStore as is). `make test-js` runs
// `tsc -p tests/types`; nothing here executes.
import {
  MemoryStore,
  SessionConfigError,
  SessionManager,
  SessionStoreError,
  type RejectReason,
  type SessionEvent,
  type SessionInfo,
  type ValidateResult,
} from 'edge-session';

interface Env {
  SESSIONS: KVNamespace;
  SESSION_KEYS: string;
}

const log: SessionEvent[] = [];

export function managerFor(env: Env): SessionManager {
  return new SessionManager({
    store: env.SESSIONS,
    keys: env.SESSION_KEYS,
    envelopeTtl: 60,
    cookie: { name: 'sid', sameSite: 'Strict' },
    onEvent: (event) => log.push(event),
  });
}

export async function handle(request: Request, env: Env): Promise<Response> {
  const sessions = managerFor(env);
  const result: ValidateResult = await sessions.validate(request);
  if (!result.ok) {
    const reason: RejectReason = result.reason;
    const headers = new Headers();
    if (result.setCookie !== null) headers.append('Set-Cookie', result.setCookie);
    return new Response(reason, { status: 401, headers });
  }
  const userId: string = result.session.userId;
  const expires: number = result.session.absoluteExpiresAt;
  const login = await sessions.create(request, userId, { userAgent: 'x' });
  if (!login.ok) return new Response(login.reason, { status: 503 });
  const rotated = await sessions.rotate(request);
  const cookie: string | null = rotated.ok ? rotated.setCookie : rotated.setCookie;
  const devices: SessionInfo[] = await sessions.listSessions(userId);
  const revoked: boolean = await sessions.revokeSession(devices[0]?.handle ?? '', userId);
  const count: number = await sessions.revokeUser(userId);
  await sessions.revokeIssuedBefore(expires);
  const { setCookie } = await sessions.destroy(request);
  return Response.json({ cookie, revoked, count, setCookie, name: sessions.cookieName });
}

export function memory(): SessionManager {
  try {
    return new SessionManager({ store: new MemoryStore(), keys: { current: 'k2', keys: { k2: 'a', k1: 'b' } } });
  } catch (error) {
    if (error instanceof SessionConfigError || error instanceof SessionStoreError) throw new Error(error.reason);
    throw error;
  }
}
