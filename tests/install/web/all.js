// A user's browser code (bundled by esbuild, platform browser): the `browser` export condition.
// create + validate with MemoryStore; the outcome goes to window.result for the test to read.
import { SessionManager, MemoryStore } from 'edge-session';

const keys = new URLSearchParams(location.search).get('keys');
try {
  const manager = new SessionManager({ store: new MemoryStore(), keys });
  const created = await manager.create(null, 'alice', { data: { theme: 'dark' } });
  const cookie = created.setCookie.split(';')[0];
  const valid = await manager.validate({ headers: new Headers({ cookie }) });
  window.result = { created: created.ok, ok: valid.ok, userId: valid.session?.userId, data: valid.session?.data };
} catch (error) {
  window.result = { error: String(error?.stack ?? error) };
}
