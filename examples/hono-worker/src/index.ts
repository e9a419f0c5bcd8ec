// A Hono app on Cloudflare Workers with edge-session: log in, a protected route, the user's
// sessions, log out, and "log out my other sessions". README.md walks through it with curl.
import { Hono } from 'hono';
import { SessionStoreError } from 'edge-session';
import {
  createSession,
  destroySession,
  originGuard,
  refusal,
  requireSession,
  revokeOtherSessions,
  sessionMiddleware,
  type SessionVariables,
} from 'edge-session/hono';

// workerd finds a Durable Object class only among the entry module's exports.
export { RevocationHub } from 'edge-session';

type Bindings = {
  SESSIONS: KVNamespace;
  SESSION_KEYS: string;
  REVOCATIONS: DurableObjectNamespace;
  HUB_POLL_INTERVAL_S: string;
  DEMO_PASSWORD: string;
};

/** What a session carries: signed into the cookie, so its holder can read it. Never a secret. */
type Data = { role: 'member' | 'admin' };

const app = new Hono<{ Bindings: Bindings; Variables: SessionVariables<Data> }>();

// CSRF first: a POST from another origin, or with a body that is not JSON, is answered 403.
app.use(originGuard());
// Validates the session cookie on every request (no KV read while the envelope is fresh) and sets
// c.get('session'); the SessionManager is built from the bindings on the first request and kept
// for the isolate, which also remembers the revocations made here.
app.use(
  sessionMiddleware<Data, { Bindings: Bindings }>((c) => ({
    store: c.env.SESSIONS,
    keys: c.env.SESSION_KEYS,
    hub: c.env.REVOCATIONS,
    hubPollInterval: c.env.HUB_POLL_INTERVAL_S,
  })),
);

app.get('/', (c) =>
  c.text('POST /login {"username","password"}, GET /me, GET /sessions, POST /logout-others, POST /logout\n'),
);

app.post('/login', async (c) => {
  const body: unknown = await c.req.json().catch(() => null);
  const userId = await authenticate(body, c.env.DEMO_PASSWORD);
  if (userId === null) return c.json({ error: 'login_failed' }, 401);
  // A session already on the request is ended first: a login always gets a new session ID.
  const login = await createSession(c, userId, { data: { role: 'member' } });
  // Not ok: the store failed and nobody is logged in; refusal() answers 503.
  if (!login.ok) return refusal(c, login);
  return c.json({ userId, handle: login.session.handle });
});

app.get('/me', requireSession<Data>(), (c) => {
  const session = c.get('session');
  return c.json({
    userId: session.userId,
    role: session.data?.role ?? null,
    handle: session.handle,
    idleExpiresAt: session.idleExpiresAt,
  });
});

app.get('/sessions', requireSession<Data>(), async (c) => {
  const session = c.get('session');
  const sessions = await c.get('sessions').listSessions(session.userId);
  return c.json(sessions.map((s) => ({ ...s, current: s.handle === session.handle })));
});

app.post('/logout-others', requireSession<Data>(), async (c) => {
  const out = await revokeOtherSessions(c);
  // Not ok: some other sessions may live on (the store or the hub failed): 503, retry.
  return out.ok ? c.json({ ok: true, revoked: out.revoked }) : refusal(c, out);
});

app.post('/logout', async (c) => {
  // The clearing cookie is sent either way; not ok means the logout was not stored: 503, retry.
  const out = await destroySession(c);
  return out.ok ? c.json({ ok: true }) : refusal(c, out);
});

app.onError((error, c) => {
  // listSessions and the revoke* calls throw when KV or the hub fails.
  if (error instanceof SessionStoreError) return c.json({ error: 'unavailable', reason: error.reason }, 503);
  console.error(error);
  return c.json({ error: 'internal' }, 500);
});

/**
 * Stands in for your real credential check (a password hash, OAuth, a magic link): any username
 * of `[a-z0-9_-]{1,32}` with the password DEMO_PASSWORD. Returns the user id, or null.
 */
async function authenticate(body: unknown, password: string): Promise<string | null> {
  if (typeof body !== 'object' || body === null) return null;
  const { username, password: given } = body as Record<string, unknown>;
  if (typeof username !== 'string' || !/^[a-z0-9_-]{1,32}$/.test(username) || typeof given !== 'string') return null;
  const digest = (text: string) => crypto.subtle.digest('SHA-256', new TextEncoder().encode(text));
  const [a, b] = await Promise.all([digest(given), digest(password)]);
  return crypto.subtle.timingSafeEqual(a, b) ? username : null;
}

export default app;
