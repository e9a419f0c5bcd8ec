// Memory in Node (run with --expose-gc by bench/run.mjs): the heap after validating 10,000
// distinct sessions, against the heap before, both after a full GC. The cookies are issued
// first (by the same manager, into a store that keeps nothing) and held throughout, so the
// difference is what validating leaves behind. Prints bytes.
//   node --expose-gc bench/node/memory.mjs <key ring> <sessions>
import v8 from 'node:v8';
import { SessionManager } from '../../pkg/node.js';
import { initSync } from '../../pkg/edge_session.js';
import { discardStore } from '../lib/cases.mjs';

const [keys, countText] = process.argv.slice(2);
// The package's Node entry has instantiated the module already: initSync hands back its exports.
const { memory } = initSync({ module: new Uint8Array() });
const count = Number(countText);
globalThis.gc();
const fresh = v8.getHeapStatistics().used_heap_size;
const manager = new SessionManager({ keys, store: discardStore, envelopeTtl: 3600, idleTimeout: 7200, absoluteTimeout: 43200 });
const cookies = [];
for (let i = 0; i < count; i++) {
  const { setCookie } = await manager.create(null, `user-${i}`);
  cookies.push(setCookie.split(';')[0]);
}
await manager.validate(cookies[0]);

function snapshot() {
  globalThis.gc();
  globalThis.gc();
  const m = process.memoryUsage();
  return {
    heapUsed: v8.getHeapStatistics().used_heap_size,
    heapTotal: v8.getHeapStatistics().total_heap_size,
    wasmMemory: memory.buffer.byteLength,
    rss: m.rss,
    external: m.external,
  };
}
const before = snapshot();
let accepted = 0;
for (const cookie of cookies) accepted += (await manager.validate(cookie)).ok ? 1 : 0;
const after = snapshot();
if (accepted !== count) throw new Error(`${count - accepted} of ${count} sessions refused`);
process.stdout.write(`${JSON.stringify({ count, fresh, before, after, cookieBytes: cookies.reduce((n, c) => n + c.length, 0) })}\n`);
