// TEST-ONLY worker for tests/faults.test.mjs: runs cases of the store-fault matrix
// (tests/js/fault-matrix.mjs) inside workerd, with the package's workerd entry (the wasm build),
// against the real local KV namespace bound as `KV` and the real RevocationHub Durable Object bound
// as `REVOCATIONS`, both wrapped by tests/js/fault-store.mjs. Each case keeps its keys under its
// own prefix of the namespace and uses its own cookie name (so its own hub log).
//
//   POST /case  {"spec": {...}, "id": n}  -> the case's run (judged on the Node side), plus
//                                            `unhandled`: rejections nobody handled so far
export { RevocationHub } from '../../pkg/workerd.js';
import { SessionManager } from '../../pkg/workerd.js';
import { runCase } from './fault-matrix.mjs';

const unhandled = [];
addEventListener('unhandledrejection', (event) => {
  unhandled.push(String(event.reason?.stack ?? event.reason));
  event.preventDefault();
});

/** `kv` with every key under `prefix` (listings answer the names without it). */
function prefixed(kv, prefix) {
  return {
    get: (key, type) => kv.get(prefix + key, type),
    put: (key, value, options) => kv.put(prefix + key, value, options),
    delete: (key) => kv.delete(prefix + key),
    async list(options = {}) {
      const page = await kv.list({ ...options, prefix: prefix + (options.prefix ?? '') });
      return { ...page, keys: page.keys.map((k) => ({ ...k, name: k.name.slice(prefix.length) })) };
    },
  };
}

export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    if (url.pathname !== '/case' || request.method !== 'POST') return Response.json({ error: 'not_found' }, { status: 404 });
    const { spec, id, timeoutMs, lateMs } = await request.json();
    const runtime = {
      SessionManager,
      timeoutMs,
      lateMs,
      world: async (n, withHub) => ({
        kv: prefixed(env.KV, `case${n}/`),
        hub: withHub ? env.REVOCATIONS : null,
        cookieName: `case${n}`,
      }),
    };
    try {
      const run = await runCase(runtime, spec, id);
      return Response.json({ run, unhandled });
    } catch (error) {
      return Response.json({ error: String(error?.stack ?? error), unhandled }, { status: 500 });
    }
  },
};
