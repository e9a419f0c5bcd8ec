// Cloudflare Workers (workerd): the bundler hands us the compiled module; instantiate it
// synchronously at load. No randomness runs here, which workerd forbids at global scope.
import wasm from './edge_session_bg.wasm';
import { initSync } from './edge_session.js';

initSync({ module: wasm });

export { SessionManager, MemoryStore, SessionConfigError, SessionStoreError, adminHandler } from './core.js';
export { RevocationHub } from './hub.js';
