// A minimal user Worker over the installed package (tests/install.test.mjs).
//   GET  /health  -> 200 "ok"
//   POST /login   -> {"ok", "userId"} + Set-Cookie        (?user=NAME, default "alice")
//   GET  /me      -> {"ok", "userId", "reason", "refreshed", "kvReads"}
//   POST /logout  -> {"ok"} + the clearing Set-Cookie
// kvReads is how many KV reads the validation made: 0 on the fast path (a fresh envelope).
import { SessionManager, RevocationHub } from 'edge-session';

// workerd finds a Durable Object class only among the entry module's exports.
export { RevocationHub };

let manager = null;
let kvReads = 0;

function counted(kv) {
  return {
    get: (...args) => {
      kvReads += 1;
      return kv.get(...args);
    },
    put: (...args) => kv.put(...args),
    delete: (...args) => kv.delete(...args),
    list: (...args) => {
      kvReads += 1;
      return kv.list(...args);
    },
  };
}

function getManager(env) {
  manager ??= new SessionManager({ store: counted(env.SESSIONS), keys: env.SESSION_KEYS, hub: env.REVOCATIONS });
  return manager;
}

function json(body, setCookie) {
  const headers = { 'content-type': 'application/json' };
  if (setCookie) headers['set-cookie'] = setCookie;
  return new Response(JSON.stringify(body), { headers });
}

export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    const route = `${request.method} ${url.pathname}`;
    if (route === 'GET /health') return new Response('ok');
    const mgr = getManager(env);
    if (route === 'POST /login') {
      const out = await mgr.create(request, url.searchParams.get('user') ?? 'alice');
      return json({ ok: out.ok, userId: out.session?.userId, reason: out.reason }, out.setCookie);
    }
    if (route === 'GET /me') {
      const before = kvReads;
      const out = await mgr.validate(request);
      return json({
        ok: out.ok,
        userId: out.session?.userId,
        reason: out.reason,
        refreshed: out.refreshed === true,
        kvReads: kvReads - before,
      }, out.setCookie);
    }
    if (route === 'POST /logout') {
      const out = await mgr.destroy(request);
      return json({ ok: out.ok, reason: out.reason }, out.setCookie);
    }
    return new Response('not found', { status: 404 });
  },
};
