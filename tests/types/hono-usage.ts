// Type-level test of pkg/hono.d.ts and pkg/guard.d.ts: a Hono app on Workers using
// edge-session/hono must compile under --strict with `session.data` typed from the app's
// Variables, and misuse must not (every `@ts-expect-error` line has to be a compile error).
// `make test-js` runs `tsc -p tests/types`; nothing here executes.
import { Hono } from 'hono';
import { SessionManager } from 'edge-session';
import {
  createSession,
  destroySession,
  originGuard,
  refusal,
  requireSession,
  revokeOtherSessions,
  rotateSession,
  sessionMiddleware,
  updateSession,
  type SessionVariables,
} from 'edge-session/hono';
import { originGuard as requestGuard, type ForbiddenReason, type OriginGuard } from 'edge-session/guard';

interface Bindings {
  SESSIONS: KVNamespace;
  SESSION_KEYS: string;
  REVOCATIONS: DurableObjectNamespace;
}

interface AppData {
  role: 'member' | 'admin';
  theme: string;
}

const app = new Hono<{ Bindings: Bindings; Variables: SessionVariables<AppData> }>();

app.use(originGuard({ allowedOrigins: ['https://app.example.com'] }));
app.use(
  sessionMiddleware<AppData, { Bindings: Bindings }>((c) => ({
    store: c.env.SESSIONS,
    keys: c.env.SESSION_KEYS,
    hub: c.env.REVOCATIONS,
    envelopeTtl: 60,
  })),
);
// An options object works too (a MemoryStore-backed manager in Node, say).
sessionMiddleware({ store: {} as KVNamespace, keys: 'k1:x' });
// @ts-expect-error options are SessionManager options: a typo is an error
sessionMiddleware({ store: {} as KVNamespace, keys: 'k1:x', envelopeTTL: 60 });
// @ts-expect-error bindings are typed through E: SESSION is not one
sessionMiddleware<AppData, { Bindings: Bindings }>((c) => ({ store: c.env.SESSION, keys: c.env.SESSION_KEYS }));

app.post('/login', async (c) => {
  const login = await createSession(c, 'alice', { data: { role: 'member', theme: 'light' } });
  if (!login.ok) {
    const reason: 'store_unavailable' | 'hub_unavailable' = login.reason;
    return refusal(c, login);
  }
  const role: 'member' | 'admin' = login.session.data!.role;
  // @ts-expect-error the data type comes from the app's Variables: 'root' is not a role
  await createSession(c, 'alice', { data: { role: 'root', theme: 'light' } });
  return c.json({ role });
});

app.get('/public', (c) => {
  const session = c.get('session');
  // @ts-expect-error without requireSession the session may be null
  session.userId;
  const theme: string | undefined = session?.data?.theme;
  return c.json({ theme });
});

app.get('/me', requireSession<AppData>(), async (c) => {
  // After requireSession the session is not null, and its data is AppData.
  const session = c.get('session');
  const role: 'member' | 'admin' | undefined = session.data?.role;
  // @ts-expect-error AppData has no such field
  session.data?.tenant;
  // @ts-expect-error a role is 'member' | 'admin'
  if (session.data?.role === 'superuser') return c.text('never');
  const manager: SessionManager<AppData> = c.get('sessions');
  const listed = await manager.listSessions(session.userId);
  return c.json({ role, count: listed.length });
});

app.post('/data', async (c) => {
  const updated = await updateSession(c, { role: 'member', theme: 'dark' });
  if (!updated.ok) return refusal(c, updated);
  // @ts-expect-error update takes the app's data type
  await updateSession(c, { role: 'member', theme: 42 });
  return c.json(updated.session.data);
});

app.post('/rotate', async (c) => {
  const rotated = await rotateSession(c);
  if (rotated.ok) return c.json({ handle: rotated.session.handle });
  // Not ok, with a session: the new cookie was queued but the old ID may live on.
  if (rotated.session !== undefined) return c.json({ handle: rotated.session.handle, previous: rotated.previousHandle }, 503);
  return refusal(c, rotated);
});

app.post('/logout', async (c) => {
  const out = await destroySession(c);
  return out.ok ? c.json({ ok: true }) : refusal(c, out);
});

app.post('/others', requireSession(), async (c) => {
  // requireSession() without a type argument keeps the app's fields typed (AppData & SessionData;
  // requireSession<AppData>() above is exact).
  const role: 'member' | 'admin' | undefined = c.get('session').data?.role;
  // @ts-expect-error a role is 'member' | 'admin'
  const wrong: number | undefined = c.get('session').data?.role;
  const out = await revokeOtherSessions(c);
  if (out.ok) return c.json({ revoked: out.revoked });
  // @ts-expect-error refusal needs a result with a reason
  refusal(c, {});
  return refusal(c, out);
});

// @ts-expect-error allowedOrigins is a list of strings
originGuard({ allowedOrigins: 'https://app.example.com' });
// @ts-expect-error unknown option
originGuard({ sameSite: true });

const guard: OriginGuard = requestGuard({ requireJson: false });
export async function plainWorker(request: Request): Promise<Response> {
  const refused: Response | null = guard(request);
  if (refused) {
    const body = (await refused.json()) as { error: 'forbidden'; reason: ForbiddenReason };
    return new Response(body.reason, { status: 403 });
  }
  return new Response('ok');
}

export default app;
