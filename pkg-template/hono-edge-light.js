// edge-session/hono for Vercel Edge (the `edge-light` condition): the edge-light entry
// instantiates the wasm its bundler compiled, then the shared implementation.
import './edge-light.js';

export * from './hono-core.js';
