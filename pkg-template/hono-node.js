// edge-session/hono for Node.js 20+, Deno and Bun: the node entry instantiates the wasm, then the
// shared implementation.
import './node.js';

export * from './hono-core.js';
