// Vercel's Edge runtime, for tests/runtimes.test.mjs: `node --no-turbo-inlining runtime-edgevm.mjs
// <project>` bundles <project>/runtime-edge.mjs the way Vercel builds an Edge Function and runs the
// bundle in an EdgeVM (@edge-runtime/vm, what the `edge-runtime` package runs). Prints JSON lines
// on stdout, as runtime-cli.mjs does for Bun and Deno: what was bundled, what the VM allows, the
// runtime line, then runtime-suite.mjs's report.
//
// - The bundle: esbuild with the conditions Vercel's Edge build uses ('edge-light', 'worker',
//   'browser', 'import'), no Node built-ins (an import of node:fs cannot resolve and fails the
//   build), and `*.wasm?module` turned into `export default globalThis["wasm_<sha1>"]`: a binding
//   the platform fills with the module it compiled at build time.
// - The VM: eval and wasm compilation from bytes are off (V8 refuses both in this context, as the
//   Edge runtime does), so the entry must instantiate the compiled module it is handed. The module
//   is compiled here and given the VM's WebAssembly.Module prototype: on Vercel it belongs to the
//   function's own realm, and an EdgeVM is a second realm in this process.
// - Randomness (crypto.getRandomValues, crypto.randomUUID, Math.random) throws while the bundle
//   loads, as workerd's does at global scope; it works again for the scenarios.
//
// Why --no-turbo-inlining: Node 20.20's V8 sometimes aborts the whole process (SIGTRAP, "Fatal
// error ... unreachable code" in Deoptimizer::DoComputeBuiltinContinuation) while this suite runs
// inside an EdgeVM, in about one run in four, during the scenario that revokes 10,000 users in a
// loop; never with the same bundle run outside a vm context, never with this flag (0 of 60 runs).
// The flag changes what the JIT inlines, not what the code does.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const require = createRequire(import.meta.url);
const line = (object) => console.log(JSON.stringify(object));
const project = path.resolve(process.argv[2] ?? '.');

// The esbuild the repo's wrangler bundles with (Vercel builds Edge Functions with esbuild too).
const esbuild = createRequire(path.join(ROOT, 'node_modules', 'wrangler', 'package.json'))('esbuild');
const { EdgeVM } = require('@edge-runtime/vm');
const { EdgeRuntime } = require('edge-runtime');
const versionOf = (name) => JSON.parse(fs.readFileSync(path.join(ROOT, 'node_modules', name, 'package.json'), 'utf8')).version;

const bindings = new Map(); // binding name -> { file, bytes }
const vercelWasm = {
  name: 'vercel-wasm-module',
  setup(build) {
    build.onResolve({ filter: /\.wasm\?module$/ }, (args) => ({
      path: path.resolve(args.resolveDir, args.path.replace(/\?module$/, '')),
      namespace: 'wasm-module',
    }));
    build.onLoad({ filter: /.*/, namespace: 'wasm-module' }, (args) => {
      const bytes = fs.readFileSync(args.path);
      const name = `wasm_${createHash('sha1').update(bytes).digest('hex')}`;
      bindings.set(name, { file: args.path, bytes });
      return { contents: `export default globalThis[${JSON.stringify(name)}];`, loader: 'js' };
    });
  },
};

// How Vercel's Edge build resolves and bundles (the wasm `?module` imports become bindings).
const edgeBuild = {
  absWorkingDir: project,
  bundle: true,
  write: false,
  metafile: true,
  platform: 'neutral',
  mainFields: ['module', 'main'],
  conditions: ['edge-light', 'worker', 'browser', 'import'],
  target: 'es2022',
  logLevel: 'silent',
  plugins: [vercelWasm],
};
/** The files a build bundled (real paths), less the wasm bindings and stdin. */
const bundled = (build) =>
  Object.keys(build.metafile.inputs)
    .filter((f) => !f.startsWith('wasm-module:') && f !== '<stdin>')
    .map((f) => fs.realpathSync(path.resolve(project, f)));

const built = await esbuild.build({ ...edgeBuild, entryPoints: [path.join(project, 'runtime-edge.mjs')], format: 'iife' });
const inputs = bundled(built);
const entry = inputs.find((f) => /(^|[\\/])(edge-light|workerd|browser|node)\.js$/.test(f));
line({
  kind: 'bundle',
  inputs,
  wasm: [...bindings.values()].map((b) => fs.realpathSync(b.file)),
  warnings: built.warnings.map((w) => ({ id: w.id, text: w.text, file: w.location?.file ? fs.realpathSync(path.resolve(project, w.location.file)) : null })),
});

// The Hono subpath under the same conditions: its edge-light entry, never the browser one.
const hono = await esbuild.build({
  ...edgeBuild,
  stdin: { contents: "export { sessionMiddleware } from 'edge-session/hono';", resolveDir: project, loader: 'js' },
  format: 'esm',
});
line({
  kind: 'hono-bundle',
  inputs: bundled(hono),
});

const vm = new EdgeVM({ codeGeneration: { strings: false, wasm: false } });
vm.context.__bytes = new Uint8Array(bindings.values().next().value.bytes);
let compileFromBytes = 'allowed';
try {
  vm.evaluate('new WebAssembly.Module(__bytes)');
} catch (error) {
  compileFromBytes = `refused: ${error.message}`;
}
delete vm.context.__bytes;
let evalString = 'allowed';
try {
  vm.evaluate('eval("1")');
} catch (error) {
  evalString = `refused: ${error.message}`;
}
line({
  kind: 'vm',
  edgeRuntimeIsEdgeVM: EdgeRuntime === EdgeVM,
  EdgeRuntime: vm.evaluate('typeof EdgeRuntime === "string" ? EdgeRuntime : null'),
  globals: JSON.parse(vm.evaluate('JSON.stringify({ process: typeof process, require: typeof require, Deno: typeof Deno, Bun: typeof Bun })')),
  compileFromBytes,
  evalString,
});

const vmModulePrototype = vm.evaluate('WebAssembly.Module.prototype');
for (const [name, { bytes }] of bindings) {
  const module = new WebAssembly.Module(bytes);
  Object.setPrototypeOf(module, vmModulePrototype);
  vm.context[name] = module;
}

vm.evaluate(`{
  const saved = [[crypto, 'getRandomValues'], [crypto, 'randomUUID'], [Math, 'random']].map(([o, k]) => [o, k, Object.getOwnPropertyDescriptor(o, k)]);
  const refuse = () => { throw new Error('randomness at global scope'); };
  for (const [o, k] of saved) Object.defineProperty(o, k, { value: refuse, writable: true, configurable: true });
  globalThis.__restoreRandomness = () => { for (const [o, k, d] of saved) d ? Object.defineProperty(o, k, d) : delete o[k]; };
}`);
try {
  vm.evaluate(built.outputFiles[0].text);
} catch (error) {
  line({ kind: 'load', ok: false, error: String((error && error.stack) || error) });
  process.exit(1);
}
vm.evaluate('__restoreRandomness(); delete globalThis.__restoreRandomness;');
line({ kind: 'load', ok: true, randomnessAfter: vm.evaluate('crypto.getRandomValues(new Uint8Array(4)).length') === 4 });

line({
  kind: 'runtime',
  name: 'edge-runtime',
  version: versionOf('edge-runtime'),
  vm: versionOf('@edge-runtime/vm'),
  host: `node ${process.versions.node}`,
  entry: entry ? pathToFileURL(entry).href : null,
});
const counts = await vm.context.runEdgeSessionSuite((json) => console.log(json));
if (counts.scenarios.failed > 0) process.exitCode = 1;
