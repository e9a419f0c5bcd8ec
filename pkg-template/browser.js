// Browsers and bundlers that serve assets by URL: fetch and instantiate the wasm once, at import.
import init from './edge_session.js';

await init({ module_or_path: new URL('./edge_session_bg.wasm', import.meta.url) });

export { SessionManager, MemoryStore, SessionConfigError, SessionStoreError, adminHandler } from './core.js';
