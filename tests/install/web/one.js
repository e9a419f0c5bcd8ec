// Only one named export is imported (no MemoryStore): the entry's wasm instantiation must still
// be bundled. The store is the user's own (the four KV methods over a Map).
import { SessionManager } from 'edge-session';

const map = new Map();
const store = {
  async get(key) { return map.has(key) ? map.get(key) : null; },
  async put(key, value) { map.set(key, String(value)); },
  async delete(key) { map.delete(key); },
  async list({ prefix = '' } = {}) {
    return { keys: [...map.keys()].filter((k) => k.startsWith(prefix)).sort().map((name) => ({ name })), list_complete: true };
  },
};

const keys = new URLSearchParams(location.search).get('keys');
try {
  const manager = new SessionManager({ store, keys });
  const created = await manager.create(null, 'bob');
  const cookie = created.setCookie.split(';')[0];
  const valid = await manager.validate({ headers: new Headers({ cookie }) });
  window.result = { created: created.ok, ok: valid.ok, userId: valid.session?.userId };
} catch (error) {
  window.result = { error: String(error?.stack ?? error) };
}
