// edge-session/hono for Cloudflare Workers (workerd): the workerd entry instantiates the wasm,
// then the shared implementation.
import './workerd.js';

export * from './hono-core.js';
