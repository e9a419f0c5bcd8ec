// The Hono app tests/hono.test.mjs drives, built from the Hono class and one runtime's
// edge-session/hono entry (pkg/hono-workerd.js inside workerd, pkg/hono-node.js in Node), so the
// same routes run in both. Sessions live in `env.KV` (a KV namespace, or a MemoryStore in Node)
// behind a wrapper that counts reads and fails every call while a fault is on. The manager's
// clock is real time plus a skew the test moves forward (`now` option), to expire envelopes.
//
// Routes (every session route behind originGuard() and sessionMiddleware()):
//   POST /login?user=U[&raw=1]  createSession with data { role: 'member', theme: 'light' }
//                               (raw=1: the handler answers a bare `new Response`)
//   GET  /me                    requireSession(): { userId, handle, generation, data }
//   GET  /public                no requirement: { userId } or { userId: null }
//   GET  /twice                 sessionMiddleware mounted a second time on the route
//   POST /rotate                rotateSession
//   POST /data                  body { data }: updateSession (the role kept)
//   POST /rotate-twice          rotateSession, then updateSession of the rotated session
//   POST /login-logout?user=U   createSession, then destroySession of the new session
//   POST /logout                destroySession
//   POST /revoke-others         requireSession() + revokeOtherSessions
//   GET  /sessions              requireSession() + c.var.sessions.listSessions
//   POST /unguarded/login       createSession without sessionMiddleware (a misuse: 500)
//   POST /__test/clock?advance=MS, POST /__test/fault?on=0|1, GET /__test/stats,
//   POST /__test/stats/reset    (answered before any middleware)
export function buildApp(Hono, edge) {
  const { sessionMiddleware, requireSession, createSession, rotateSession, updateSession, destroySession, revokeOtherSessions, refusal, originGuard } = edge;
  const test = { skew: 0, fault: false, reads: 0, events: [], builds: 0 };
  let kv = null; // this request's env.KV (workerd ties bindings' I/O to the request)

  const store = {
    async get(key, type) {
      test.reads++;
      if (test.fault) throw new Error('KV get failed (injected)');
      return kv.get(key, type);
    },
    async put(key, value, options) {
      if (test.fault) throw new Error('KV put failed (injected)');
      return kv.put(key, value, options);
    },
    async delete(key) {
      if (test.fault) throw new Error('KV delete failed (injected)');
      return kv.delete(key);
    },
    async list(options) {
      if (test.fault) throw new Error('KV list failed (injected)');
      return kv.list(options);
    },
  };

  const app = new Hono();
  app.onError((error, c) => c.json({ error: error.name, reason: error.reason ?? null, message: error.message }, 500));

  app.post('/__test/clock', (c) => {
    test.skew += Number(c.req.query('advance'));
    return c.json({ skew: test.skew });
  });
  app.post('/__test/fault', (c) => {
    test.fault = c.req.query('on') === '1';
    return c.json({ fault: test.fault });
  });
  app.get('/__test/stats', (c) => c.json({ reads: test.reads, events: test.events, builds: test.builds }));
  app.post('/__test/stats/reset', (c) => {
    test.reads = 0;
    test.events.length = 0;
    return c.json({ ok: true });
  });
  app.post('/unguarded/login', async (c) => c.json(await createSession(c, 'nobody')));

  // Called once per isolate, on the first request that reaches it (counted).
  const sessions = sessionMiddleware((c) => {
    test.builds++;
    return {
      store,
      keys: c.env.SESSION_KEYS,
      envelopeTtl: 60,
      idleTimeout: 1800,
      absoluteTimeout: 43200,
      storeTimeoutMs: 1000,
      now: () => Date.now() + test.skew,
      onEvent: (e) => test.events.push(e.type),
    };
  });

  app.use(async (c, next) => {
    kv = c.env.KV;
    await next();
  });
  app.use(originGuard());
  app.use(sessions);

  const view = (s) => ({ userId: s.userId, handle: s.handle, generation: s.generation, data: s.data });

  app.post('/login', async (c) => {
    const user = c.req.query('user');
    const login = await createSession(c, user, { data: { role: 'member', theme: 'light' } });
    if (!login.ok) return refusal(c, login);
    if (c.req.query('raw') === '1') return new Response(`welcome ${user}`);
    return c.json(view(c.get('session')));
  });
  app.get('/me', requireSession(), (c) => c.json(view(c.get('session'))));
  app.get('/public', (c) => c.json({ userId: c.get('session')?.userId ?? null }));
  app.get('/twice', sessions, (c) => c.json({ userId: c.get('session')?.userId ?? null }));
  app.post('/rotate', async (c) => {
    const rotated = await rotateSession(c);
    return rotated.ok ? c.json(view(rotated.session)) : refusal(c, rotated);
  });
  app.post('/data', async (c) => {
    const { data } = await c.req.json();
    const role = c.get('session')?.data?.role;
    const updated = await updateSession(c, { ...data, role });
    return updated.ok ? c.json(view(updated.session)) : refusal(c, updated);
  });
  // Two changes in one request: each helper acts on the session the one before left.
  app.post('/rotate-twice', async (c) => {
    const rotated = await rotateSession(c);
    if (!rotated.ok) return refusal(c, rotated);
    const updated = await updateSession(c, { ...rotated.session.data, theme: 'twice' });
    return updated.ok ? c.json(view(c.get('session'))) : refusal(c, updated);
  });
  app.post('/login-logout', async (c) => {
    const login = await createSession(c, c.req.query('user'));
    if (!login.ok) return refusal(c, login);
    const out = await destroySession(c);
    return out.ok ? c.json({ handle: login.session.handle, session: c.get('session') }) : refusal(c, out);
  });
  app.post('/logout', async (c) => {
    const out = await destroySession(c);
    return out.ok ? c.json({ ok: true }) : refusal(c, out);
  });
  app.post('/revoke-others', requireSession(), async (c) => {
    const out = await revokeOtherSessions(c);
    return out.ok ? c.json({ ok: true, revoked: out.revoked }) : refusal(c, out);
  });
  app.get('/sessions', requireSession(), async (c) => {
    const list = await c.get('sessions').listSessions(c.get('session').userId);
    return c.json(list.map((s) => s.handle));
  });
  return app;
}
