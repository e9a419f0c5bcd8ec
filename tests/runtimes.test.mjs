// The package beyond Node and workerd: the scenario suite (tests/js/scenarios.mjs) in Bun, in Deno
// and in Vercel's Edge runtime, each resolving `import ... from 'edge-session'` by its own export
// conditions. Everything is offline and local: the runtimes are the repo's devDependencies (the
// `bun` and `deno` npm packages ship their binaries; `edge-runtime` / `@edge-runtime/vm`), caches
// and state go to a scratch directory, no registry and no remote module is ever asked for.
//
// A scratch project holds tests/js/runtime-*.mjs and scenarios.mjs, and node_modules/edge-session
// as a link to pkg/, so each runtime walks the package's real "exports":
//   - Bun (`bun`, `node`, `import`, `default` conditions) and Deno (`deno`, `node`, ...) pick
//     "node" -> node.js, which reads the wasm with node:fs; runtime-cli.mjs prints one JSON line
//     per scenario, checked here;
//   - Vercel's Edge runtime: runtime-edgevm.mjs (in a Node child process) bundles runtime-edge.mjs
//     the way Vercel builds an Edge Function (esbuild with the `edge-light` condition;
//     `*.wasm?module` becomes a global binding holding a WebAssembly.Module the platform compiled)
//     and evaluates it in an EdgeVM with eval and wasm compilation from bytes disabled (V8 enforces
//     it), so edge-light.js must instantiate the compiled module it is handed. The VM's randomness
//     throws while the bundle loads, as in workerd, so the entry has no top-level randomness.
// All three run at once, each in its own process, and print JSON lines checked here (one subtest
// per scenario). Needs `make build` (pkg/). Each runtime's version is in its test's name and
// diagnostics.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
// The package directory (EDGE_SESSION_PKG overrides it, e.g. to try a modified copy).
const PKG = path.resolve(process.env.EDGE_SESSION_PKG || path.join(ROOT, 'pkg'));
const BIN = path.join(ROOT, 'node_modules', '.bin');
/** The version of an installed devDependency, from its package.json. */
const versionOf = (name) => JSON.parse(fs.readFileSync(path.join(ROOT, 'node_modules', name, 'package.json'), 'utf8')).version;
const VERSIONS = {
  bun: versionOf('bun'),
  deno: versionOf('deno'),
  edgeRuntime: versionOf('edge-runtime'),
  edgeVm: versionOf('@edge-runtime/vm'),
};
const TIMEOUT = 60_000;
let SCENARIOS; // the scenario names, in order, and the known issues' names, read from the copy the
let KNOWN; // runtimes run (so an edit of tests/js/scenarios.mjs meanwhile cannot make them differ)

let scratch; // everything this file writes lives under here
let project; // the scratch project the runtimes run in
let env; // child processes: offline, caches in scratch, no telemetry or update checks
const runs = {}; // runtime -> promise of { lines, stdout, stderr, code }

/** Runs a command; resolves with its output and exit code (a failure to start rejects). */
function run(cmd, args, options = {}) {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { cwd: project, env, timeout: TIMEOUT, killSignal: 'SIGKILL', maxBuffer: 16 << 20, ...options }, (error, stdout, stderr) => {
      if (error && typeof error.code !== 'number') {
        reject(new Error(`${cmd} ${args.join(' ')} could not run (${error.code ?? error.signal}): ${error.message}\n${stdout}\n${stderr}`));
        return;
      }
      resolve({ stdout, stderr, code: error ? error.code : 0, lines: jsonLines(stdout) });
    });
  });
}

/** The JSON objects among the lines of `text` (anything else a runtime prints is ignored). */
function jsonLines(text) {
  return text
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l));
}

before(async () => {
  for (const file of ['package.json', 'node.js', 'edge-light.js', 'edge_session_bg.wasm']) {
    if (!fs.existsSync(path.join(PKG, file))) throw new Error(`${PKG}/${file} is missing: run \`make build\` first`);
  }
  scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'edge-session-runtimes-'));
  project = path.join(scratch, 'project');
  fs.mkdirSync(path.join(project, 'node_modules'), { recursive: true });
  fs.symlinkSync(PKG, path.join(project, 'node_modules', 'edge-session'), 'dir');
  fs.writeFileSync(path.join(project, 'package.json'), `${JSON.stringify({ name: 'runtimes-check', private: true, type: 'module' }, null, 2)}\n`);
  for (const file of ['scenarios.mjs', 'runtime-suite.mjs', 'runtime-cli.mjs', 'runtime-edge.mjs']) {
    fs.copyFileSync(path.join(ROOT, 'tests', 'js', file), path.join(project, file));
  }
  const { scenarios, knownIssues } = await import(pathToFileURL(path.join(project, 'scenarios.mjs')).href);
  SCENARIOS = Object.keys(scenarios);
  KNOWN = Object.keys(knownIssues);
  const dead = 'http://127.0.0.1:9/'; // a registry that never answers: any fetch fails at once
  env = {
    ...process.env,
    HOME: path.join(scratch, 'home'),
    XDG_CACHE_HOME: path.join(scratch, 'cache'),
    NO_COLOR: '1',
    FORCE_COLOR: '0',
    DO_NOT_TRACK: '1', // Bun: no telemetry or crash reports
    NPM_CONFIG_REGISTRY: dead,
    npm_config_registry: dead,
    // Bun: its install cache here, no transpiler cache (and --no-install below).
    BUN_INSTALL_CACHE_DIR: path.join(scratch, 'bun-cache'),
    BUN_RUNTIME_TRANSPILER_CACHE_PATH: '0',
    BUN_CONFIG_REGISTRY: dead,
    // Deno: its cache here, no update check, never a prompt.
    DENO_DIR: path.join(scratch, 'deno-dir'),
    DENO_NO_UPDATE_CHECK: '1',
    DENO_NO_PROMPT: '1',
  };
  fs.mkdirSync(env.HOME);
  // All three start now and run side by side; their tests wait for them.
  runs.bun = run(path.join(BIN, 'bun'), ['--no-install', 'runtime-cli.mjs']);
  runs.deno = run(path.join(BIN, 'deno'), [
    'run',
    // Bare specifiers from the existing node_modules (package.json style), never the npm registry
    // or a remote URL; no deno.json, no lock file.
    '--node-modules-dir=manual',
    '--no-remote',
    '--cached-only',
    '--no-config',
    '--no-lock',
    '--no-prompt',
    // node.js reads the wasm beside it; nothing else (no net, env, write or run).
    `--allow-read=${project},${fs.realpathSync(PKG)}`,
    'runtime-cli.mjs',
  ]);
  // Node runs the EdgeVM (tests/js/runtime-edgevm.mjs says why with --no-turbo-inlining).
  runs.edge = run(process.execPath, ['--no-turbo-inlining', path.join(ROOT, 'tests', 'js', 'runtime-edgevm.mjs'), project]);
  // A failure to start is reported by that runtime's test, not as an unhandled rejection here.
  for (const p of Object.values(runs)) p.catch(() => {});
});

after(() => {
  if (scratch) fs.rmSync(scratch, { recursive: true, force: true });
});

/** Checks the runtime line: which runtime, its version, the file 'edge-session' resolved to. */
function checkRuntime(t, { lines, stdout, stderr }, { name, version, entry }) {
  const runtime = lines.find((l) => l.kind === 'runtime');
  assert.ok(runtime, `no runtime line; stdout:\n${stdout}\nstderr:\n${stderr}`);
  t.diagnostic(`${runtime.name} ${runtime.version}; 'edge-session' -> ${runtime.entry}`);
  assert.equal(runtime.name, name);
  assert.equal(runtime.version, version, `${name} reports the version its npm package installed`);
  assert.equal(fs.realpathSync(fileURLToPath(runtime.entry)), fs.realpathSync(path.join(PKG, entry)), `'edge-session' resolves to ${entry}`);
}

/**
 * Checks the suite's report: every scenario ran, in order, and passed (one subtest each), known
 * issues as to-do, the summary's counts and, for a process, its exit code.
 */
async function checkSuite(t, { lines, stdout, stderr, code }, label) {
  const results = lines.filter((l) => l.kind === 'scenario');
  const summary = lines.find((l) => l.kind === 'summary');
  assert.ok(summary, `the suite did not finish; stdout:\n${stdout}\nstderr:\n${stderr}`);
  t.diagnostic(`${label}: ${summary.passed} passed, ${summary.failed} failed of ${SCENARIOS.length} scenarios; known issues ${summary.knownIssues.passed} passed, ${summary.knownIssues.failed} failed`);
  assert.deepEqual(results.filter((r) => r.set === 'scenarios').map((r) => r.name), SCENARIOS, 'every scenario ran, in order');
  assert.deepEqual(results.filter((r) => r.set === 'knownIssues').map((r) => r.name), KNOWN, 'every known issue ran');
  for (const r of results.filter((x) => x.set === 'scenarios')) {
    await t.test(`${label}: ${r.name}`, () => assert.equal(r.ok, true, r.error));
  }
  // Known gaps in the core: reported as to-do (they fail today without failing the run).
  for (const r of results.filter((x) => x.set === 'knownIssues')) {
    await t.test(`${label}: ${r.name}`, { todo: 'known core gap, see tests/js/scenarios.mjs knownIssues' }, () => assert.equal(r.ok, true, r.error));
  }
  assert.equal(summary.failed, 0, `${summary.failed} scenario(s) failed`);
  assert.equal(summary.passed, SCENARIOS.length);
  if (code !== undefined) assert.equal(code, 0, `exit code; stderr:\n${stderr}`);
}

test(`Bun ${VERSIONS.bun}: every package scenario passes, 'edge-session' by name ("node" condition -> node.js)`, { timeout: TIMEOUT }, async (t) => {
  const report = await runs.bun;
  checkRuntime(t, report, { name: 'bun', version: VERSIONS.bun, entry: 'node.js' });
  await checkSuite(t, report, 'bun');
});

test(`Deno ${VERSIONS.deno}: every package scenario passes, 'edge-session' by name from node_modules ("node" condition -> node.js)`, { timeout: TIMEOUT }, async (t) => {
  const report = await runs.deno;
  checkRuntime(t, report, { name: 'deno', version: VERSIONS.deno, entry: 'node.js' });
  await checkSuite(t, report, 'deno');
});

test(`Vercel Edge runtime (edge-runtime ${VERSIONS.edgeRuntime}, @edge-runtime/vm ${VERSIONS.edgeVm}): every package scenario passes in an EdgeVM, 'edge-session' bundled by the "edge-light" condition, the wasm handed over compiled`, { timeout: TIMEOUT }, async (t) => {
  const report = await runs.edge;
  const { lines, stdout, stderr } = report;
  const bundle = lines.find((l) => l.kind === 'bundle');
  assert.ok(bundle, `no bundle line; stdout:\n${stdout}\nstderr:\n${stderr}`);
  const pkgReal = fs.realpathSync(PKG);
  const shipped = bundle.inputs.filter((f) => f.startsWith(pkgReal + path.sep)).map((f) => path.relative(pkgReal, f)).sort();
  t.diagnostic(`bundled from the package: ${shipped.join(', ')}`);
  assert.deepEqual(shipped, ['core.js', 'edge-light.js', 'edge_session.js'], 'the edge-light entry, the driver and the glue; no other entry');
  assert.deepEqual(bundle.wasm, [path.join(pkgReal, 'edge_session_bg.wasm')], 'one wasm binding: the package wasm');
  // The one warning allowed: wasm-bindgen's async init() (unused here) computes the wasm's URL
  // from import.meta.url, which a script has not.
  const warnings = bundle.warnings.filter((w) => !(w.id === 'empty-import-meta' && w.file === path.join(pkgReal, 'edge_session.js')));
  assert.deepEqual(warnings, [], 'esbuild warnings');
  const honoBundle = lines.find((l) => l.kind === 'hono-bundle');
  assert.ok(honoBundle, `no hono-bundle line; stderr:\n${stderr}`);
  const honoShipped = honoBundle.inputs.map((f) => path.relative(pkgReal, f)).sort();
  assert.deepEqual(
    honoShipped,
    ['core.js', 'edge-light.js', 'edge_session.js', 'guard.js', 'hono-core.js', 'hono-edge-light.js'],
    "'edge-session/hono' takes its edge-light entry, never the browser one",
  );

  const vm = lines.find((l) => l.kind === 'vm');
  assert.ok(vm, `no vm line; stderr:\n${stderr}`);
  assert.equal(vm.edgeRuntimeIsEdgeVM, true, "edge-runtime's EdgeRuntime is @edge-runtime/vm's EdgeVM");
  assert.equal(vm.EdgeRuntime, 'edge-runtime');
  assert.deepEqual(vm.globals, { process: 'undefined', require: 'undefined', Deno: 'undefined', Bun: 'undefined' }, 'web APIs only');
  assert.match(vm.compileFromBytes, /^refused: .*disallowed/, 'the VM compiles no wasm from bytes');
  assert.match(vm.evalString, /^refused: /, 'the VM evaluates no strings');
  const load = lines.find((l) => l.kind === 'load');
  assert.ok(load, `no load line; stderr:\n${stderr}`);
  assert.equal(load.ok, true, `the bundle loads (randomness refused meanwhile): ${load.error}`);
  assert.equal(load.randomnessAfter, true, 'randomness works again after the load');

  checkRuntime(t, report, { name: 'edge-runtime', version: VERSIONS.edgeRuntime, entry: 'edge-light.js' });
  const runtime = lines.find((l) => l.kind === 'runtime');
  assert.equal(runtime.vm, VERSIONS.edgeVm);
  t.diagnostic(`EdgeVM on ${runtime.host}`);
  await checkSuite(t, report, 'edge-runtime');
});
