// A user's Hono app in Node.js over the installed package (tests/install.test.mjs): the `node`
// conditions of "edge-session/hono" and "edge-session/guard", hono linked beside it (a peer
// dependency). Login, the protected route, a CSRF refusal, logout. Prints one JSON line.
import { Hono } from 'hono';
import { MemoryStore } from 'edge-session';
import { createSession, destroySession, originGuard, refusal, requireSession, sessionMiddleware } from 'edge-session/hono';
import { originGuard as requestGuard } from 'edge-session/guard';

const app = new Hono();
app.use(originGuard());
app.use(sessionMiddleware({ store: new MemoryStore(), keys: process.env.SESSION_KEYS }));
app.post('/login', async (c) => {
  const login = await createSession(c, 'alice', { data: { role: 'member' } });
  return login.ok ? c.json({ ok: true }) : refusal(c, login);
});
app.get('/me', requireSession(), (c) => c.json({ userId: c.get('session').userId, data: c.get('session').data }));
app.post('/logout', async (c) => {
  const out = await destroySession(c);
  return out.ok ? c.json({ ok: true }) : refusal(c, out);
});

const call = async (method, path, cookie, headers = {}) => {
  const res = await app.request(`http://app.test${path}`, { method, headers: { ...headers, ...(cookie ? { cookie } : {}) } });
  return { status: res.status, body: await res.json(), setCookie: res.headers.get('set-cookie') };
};
const login = await call('POST', '/login');
const cookie = login.setCookie?.split(';')[0];
const me = await call('GET', '/me', cookie);
const forged = await call('POST', '/logout', cookie, { origin: 'https://evil.example' });
const out = await call('POST', '/logout', cookie);
const after = await call('GET', '/me', cookie);
const plain = requestGuard()(new Request('http://app.test/x', { method: 'POST', headers: { 'sec-fetch-site': 'cross-site' } }));

console.log(JSON.stringify({
  resolved: { hono: import.meta.resolve('edge-session/hono'), guard: import.meta.resolve('edge-session/guard') },
  login: { status: login.status, cookie: cookie?.split('=')[0] ?? null },
  me: { status: me.status, body: me.body },
  forged: { status: forged.status, body: forged.body },
  out: { status: out.status, clears: /Max-Age=0/.test(out.setCookie ?? '') },
  after: { status: after.status, body: after.body },
  plain: { status: plain?.status, body: plain ? await plain.json() : null },
}));
