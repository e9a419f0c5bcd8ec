// The Node side of `make bench` (run in its own process by bench/run.mjs): the same cases as in
// workerd, built from the package's Node entry, timed in-process. Prints one JSON object.
//   node bench/node/bench.mjs <secret base64url> <reps> <target ms>
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { SessionManager, MemoryStore } from '../../pkg/node.js';
import { parseSigned, serializeSigned } from 'hono/utils/cookie';
import * as jose from 'jose';
import { b64urlDecode, buildCases, loop } from '../lib/cases.mjs';
import { measureAll } from '../lib/measure.mjs';

const [secretText, repsText, targetText] = process.argv.slice(2);
const floorModule = new WebAssembly.Module(readFileSync(new URL('../../target/bench/hmac_floor.wasm', import.meta.url)));
const { cases, info } = await buildCases(
  { SessionManager, parseSigned, serializeSigned, jose, floorModule },
  { secret: b64urlDecode(secretText), stores: { Mem: ['MemoryStore', new MemoryStore()] } },
);
const result = await measureAll(info.names, {
  reps: Number(repsText),
  targetMs: Number(targetText),
  async run(name, n) {
    const started = performance.now();
    const ok = await loop(cases[name], n);
    const ms = performance.now() - started;
    if (ok !== n) throw new Error(`${name}: ${n - ok} of ${n} calls refused`);
    return ms;
  },
});
process.stdout.write(`${JSON.stringify({ ...result, info })}\n`);
