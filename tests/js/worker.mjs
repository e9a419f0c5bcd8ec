// A test worker that runs one package scenario inside workerd against the real local KV
// binding `KV`, and answers with the outcome as JSON.
import { SessionManager, MemoryStore, SessionConfigError, SessionStoreError } from '../../pkg/workerd.js';
import { knownIssues, scenarios } from './scenarios.mjs';

export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    if (url.pathname === '/names') {
      return Response.json({ scenarios: Object.keys(scenarios), knownIssues: Object.keys(knownIssues) });
    }
    const name = url.searchParams.get('name');
    const run = Object.hasOwn(scenarios, name) ? scenarios[name] : Object.hasOwn(knownIssues, name) ? knownIssues[name] : undefined;
    if (!run) return Response.json({ ok: false, error: `no scenario ${name}` }, { status: 404 });
    const ctx = { SessionManager, MemoryStore, SessionConfigError, SessionStoreError, freshStore: () => env.KV };
    try {
      await run(ctx);
      return Response.json({ ok: true });
    } catch (error) {
      return Response.json({ ok: false, error: String(error && error.stack ? error.stack : error) });
    }
  },
};
