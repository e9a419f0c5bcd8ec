// Vercel Edge Functions and Next.js edge routes or middleware (the `edge-light` condition): their
// bundler turns `*.wasm?module` into a WebAssembly.Module compiled at build time (the Edge runtime
// compiles no wasm from bytes at run time); instantiate it synchronously at load. As in the workerd
// entry, nothing random runs at global scope.
import wasm from './edge_session_bg.wasm?module';
import { initSync } from './edge_session.js';

initSync({ module: wasm });

export { SessionManager, MemoryStore, SessionConfigError, SessionStoreError, adminHandler } from './core.js';
