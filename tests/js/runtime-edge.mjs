// Vercel's Edge runtime: runtime-edgevm.mjs bundles this file (esbuild, the `edge-light`
// condition, `*.wasm?module` turned into a global binding as Vercel's build does) into one script
// and evaluates it in an EdgeVM (@edge-runtime/vm), which has web APIs only: no modules, no fs, no
// process. The script leaves the suite runner on globalThis for the host to call.
import { runSuite } from './runtime-suite.mjs';

globalThis.runEdgeSessionSuite = (report) => runSuite((object) => report(JSON.stringify(object)));
