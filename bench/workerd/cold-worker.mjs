// Cold start: a worker that loads edge-session (its wasm compiled and instantiated at load, as
// the package's workerd entry does) and validates the request's cookie on its first request.
import { SessionManager } from '../../pkg/workerd.js';

export default {
  async fetch(request, env) {
    const manager = new SessionManager({ keys: env.BENCH_KEYS, store: env.KV, envelopeTtl: 3600, idleTimeout: 7200, absoluteTimeout: 43200 });
    const verdict = await manager.validate(request);
    return new Response(verdict.ok ? 'ok' : `refused: ${verdict.reason}`, { status: verdict.ok ? 200 : 500 });
  },
};
