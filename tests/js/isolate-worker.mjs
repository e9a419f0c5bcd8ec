// One "location" for tests/isolates.test.mjs: a worker whose module-scope SessionManager (one per
// isolate, as the package recommends) runs over the KV namespace bound as `KV`, shared with the
// other worker. The test controls time: every request carries the clock in an `X-Now` header
// (unix ms). `X-List-Hide-After: <ms>` makes this request's KV listings leave out index entries
// of sessions created after that time, as Workers KV's eventually consistent list() may.
//
// Routes (answers are JSON; `cookie` is the name=value pair of a Set-Cookie, `clears` says the
// Set-Cookie deleted the cookie):
//   POST /login?user=U      create(null, U)
//   GET  /me                validate(request)
//   POST /logout            destroy(request)
//   POST /rotate            rotate(request)
//   POST /revokeUser?user=U revokeUser(U)
//   GET  /whoami            this isolate's id and location (to prove there are two)
import { SessionManager } from '../../pkg/workerd.js';
import { answer } from './answer.mjs';

let clock = 0;
let currentEnv;
let hideAfter;
let manager;
let isolateId;

/** The bound KV namespace, with this request's listing lag applied. */
const store = {
  get: (key, type) => currentEnv.KV.get(key, type),
  put: (key, value, options) => currentEnv.KV.put(key, value, options),
  delete: (key) => currentEnv.KV.delete(key),
  async list(options) {
    const page = await currentEnv.KV.list(options);
    if (hideAfter === undefined) return page;
    const keys = page.keys.filter((k) => !(k.name.startsWith('u:') && k.metadata && k.metadata.created_at > hideAfter));
    return { ...page, keys };
  },
};

function setup(env) {
  currentEnv = env;
  if (!manager) {
    isolateId = crypto.randomUUID();
    manager = new SessionManager({
      store,
      keys: env.SESSION_KEYS,
      envelopeTtl: 60,
      idleTimeout: 1800,
      absoluteTimeout: 43200,
      now: () => clock,
    });
  }
}


export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    const now = Number(request.headers.get('x-now'));
    if (!Number.isFinite(now) || now <= 0) return Response.json({ error: 'X-Now (unix ms) is required' }, { status: 400 });
    clock = now;
    const hide = request.headers.get('x-list-hide-after');
    hideAfter = hide === null ? undefined : Number(hide);
    setup(env);
    const user = url.searchParams.get('user') ?? undefined;
    try {
      switch (`${request.method} ${url.pathname}`) {
        case 'POST /login':
          return answer(await manager.create(null, user));
        case 'GET /me':
          return answer(await manager.validate(request));
        case 'POST /logout':
          return answer(await manager.destroy(request));
        case 'POST /rotate':
          return answer(await manager.rotate(request));
        case 'POST /revokeUser':
          return Response.json({ ok: true, listed: await manager.revokeUser(user) });
        case 'GET /whoami':
          return Response.json({ isolateId, location: env.LOCATION });
        default:
          return Response.json({ error: 'no such route' }, { status: 404 });
      }
    } catch (error) {
      return Response.json({ ok: false, error: `${error.name}: ${error.message}`, reason: error.reason }, { status: 500 });
    }
  },
};
