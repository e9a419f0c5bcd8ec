// Cold start in Node (a fresh process per rep, started by bench/run.mjs): the package's JS
// modules, then what its Node entry does (read the .wasm, compile and instantiate it
// synchronously with initSync), a SessionManager, and a first validate. Prints ms per phase.
//   node bench/node/cold.mjs <key ring> <cookie header>
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';

const [keys, cookie] = process.argv.slice(2);
const t0 = performance.now();
const glue = await import('../../pkg/edge_session.js');
const { SessionManager, MemoryStore } = await import('../../pkg/core.js');
const t1 = performance.now();
glue.initSync({ module: readFileSync(new URL('../../pkg/edge_session_bg.wasm', import.meta.url)) });
const t2 = performance.now();
const manager = new SessionManager({ keys, store: new MemoryStore(), envelopeTtl: 3600, idleTimeout: 7200, absoluteTimeout: 43200 });
const t3 = performance.now();
const verdict = await manager.validate(cookie);
const t4 = performance.now();
if (!verdict.ok) throw new Error(`first validate refused: ${verdict.reason}`);
// A second validate, for scale: what the same call costs once everything is loaded.
const t5 = performance.now();
await manager.validate(cookie);
const t6 = performance.now();
process.stdout.write(`${JSON.stringify({ importJs: t1 - t0, compileInstantiate: t2 - t1, construct: t3 - t2, firstValidate: t4 - t3, total: t4 - t0, secondValidate: t6 - t5 })}\n`);
