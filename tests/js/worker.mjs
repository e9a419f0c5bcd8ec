// A test worker that runs one package scenario inside workerd against the real local KV
// binding `KV`, and answers with the outcome as JSON.
import { SessionManager, MemoryStore, SessionConfigError } from '../../pkg/workerd.js';
import { scenarios } from './scenarios.mjs';

export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    if (url.pathname === '/names') return Response.json(Object.keys(scenarios));
    const name = url.searchParams.get('name');
    const run = scenarios[name];
    if (!run) return Response.json({ ok: false, error: `no scenario ${name}` }, { status: 404 });
    const ctx = { SessionManager, MemoryStore, SessionConfigError, freshStore: () => env.KV };
    try {
      await run(ctx);
      return Response.json({ ok: true });
    } catch (error) {
      return Response.json({ ok: false, error: String(error && error.stack ? error.stack : error) });
    }
  },
};
