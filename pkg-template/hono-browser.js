// edge-session/hono for browsers and bundlers that serve assets by URL: the browser entry fetches
// and instantiates the wasm, then the shared implementation.
import './browser.js';

export * from './hono-core.js';
