// Node.js 20+, Deno and Bun: read the wasm file beside this one and instantiate it synchronously.
import { readFileSync } from 'node:fs';
import { initSync } from './edge_session.js';

initSync({ module: readFileSync(new URL('./edge_session_bg.wasm', import.meta.url)) });

export { SessionManager, MemoryStore, SessionConfigError, SessionStoreError, adminHandler } from './core.js';
