// `make bench`: measures edge-session against hand-written WebCrypto, hono's signed cookies, jose
// HS256 JWTs and a bare wasm HMAC floor, in workerd (Miniflare) and in Node, plus the core
// natively, the wasm size, cold starts, demo throughput under wrangler dev, and memory; writes
// BENCHMARKS.md. Needs `make build` (pkg/) first; builds bench/floor and bench/native itself.
//
// Every figure is the median of REPS reps with its range; every comparison is a rep-by-rep ratio
// inside this one run. Nothing is asserted about speed: a run fails only when something does not
// work (a cookie refused, a server that does not start).
//
// BENCH_TINY=1 (make test-bench): every part once, briefly, to prove the harness works; the
// report goes to target/bench/BENCHMARKS.tiny.md and BENCHMARKS.md is left alone.
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join, relative } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import zlib from 'node:zlib';
import { DATA_100, USER, discardStore } from './lib/cases.mjs';
import { benchDemo } from './lib/demo.mjs';
import { ratio, summary } from './lib/stats.mjs';
import { benchWorkerd, coldWorkerd } from './lib/workerd.mjs';
import { report } from './lib/report.mjs';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const OUT = join(ROOT, 'target', 'bench');
const TINY = Boolean(process.env.BENCH_TINY) && process.env.BENCH_TINY !== '0';
const CONFIG = TINY
  ? { reps: 2, targetMs: 4, coldReps: 1, memoryReps: 1, sessions: 1_000, demoReps: 1, demoSeconds: 1, connections: 4 }
  : { reps: 7, targetMs: 150, coldReps: 7, memoryReps: 7, sessions: 10_000, demoReps: 7, demoSeconds: 4, connections: 10 };
// The whole run stops itself after this long (servers included: they die with this process).
const WATCHDOG_MS = (TINY ? 5 : 15) * 60_000;

const started = performance.now();
const log = (message) => process.stderr.write(`bench [${((performance.now() - started) / 1000).toFixed(1)} s] ${message}\n`);
setTimeout(() => {
  log(`still running after ${WATCHDOG_MS / 60_000} min: giving up`);
  process.exit(2);
}, WATCHDOG_MS).unref();

function run(cmd, args, options = {}) {
  return execFileSync(cmd, args, { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], ...options });
}

/** Runs a child process and parses the JSON object it prints last. */
function child(cmd, args) {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    p.stdout.on('data', (chunk) => (out += chunk));
    p.once('error', reject);
    p.once('exit', (code) => {
      if (code !== 0) return reject(new Error(`${cmd} ${args.slice(0, 2).join(' ')} exited with ${code}`));
      try {
        resolve(JSON.parse(out.trim().split('\n').pop()));
      } catch (error) {
        reject(new Error(`${cmd}: unreadable output ${JSON.stringify(out.slice(0, 500))}: ${error.message}`));
      }
    });
  });
}

const version = (pkg) => JSON.parse(readFileSync(join(ROOT, 'node_modules', pkg, 'package.json'), 'utf8')).version;

/** The version of each named crate in a Cargo.lock. */
function lockVersions(path, names) {
  const text = readFileSync(path, 'utf8');
  return Object.fromEntries(names.map((name) => [name, text.match(new RegExp(`name = "${name}"\\nversion = "([^"]+)"`))?.[1] ?? null]));
}

function environment() {
  const cpus = os.cpus();
  const git = (...args) => {
    try {
      return run('git', args).trim();
    } catch {
      return '';
    }
  };
  // The package hashes with sha2's block function (src/sha256.rs); the floor with hmac + sha2.
  const rootCrates = lockVersions(join(ROOT, 'Cargo.lock'), ['sha2']);
  const benchCrates = lockVersions(join(ROOT, 'bench', 'Cargo.lock'), ['sha2', 'hmac']);
  return {
    date: new Date().toISOString(),
    cpu: cpus[0]?.model ?? 'unknown',
    cores: cpus.length,
    memoryGiB: os.totalmem() / 2 ** 30,
    os: `${os.type()} ${os.release()}`,
    commit: git('rev-parse', '--short', 'HEAD'),
    localChanges: git('status', '--porcelain', '--', 'src', 'pkg-template', 'Cargo.toml', 'Cargo.lock') !== '',
    node: process.version,
    workerd: run(join(ROOT, 'node_modules', '.bin', 'workerd'), ['--version']).trim(),
    miniflare: version('miniflare'),
    wrangler: version('wrangler'),
    hono: version('hono'),
    jose: version('jose'),
    autocannon: version('autocannon'),
    rustc: run('rustc', ['--version']).trim(),
    wasmBindgen: run('wasm-bindgen', ['--version']).trim(),
    crates: rootCrates,
    cratesMatch: rootCrates.sha2 === benchCrates.sha2,
    optLevel: releaseProfile({ asIs: true }).find((s) => s.startsWith('profile.release.opt-level='))?.split('=')[1] ?? 'unknown',
    benchCrates,
  };
}

/**
 * The root Cargo.toml's release profile as `--config` settings: `[profile.release]` and
 * `[profile.release.package.NAME]` tables, one `key = value` per line; `opt-level` set to 3.
 *
 * The package's module is compiled for size (its fast path is written to stay fast that way);
 * the floor and the native bench are compiled for speed, so the floor is the fastest bare verify
 * this toolchain makes, not one slowed down to match.
 */
function releaseProfile({ asIs = false } = {}) {
  const settings = [];
  let table = null;
  for (const line of readFileSync(join(ROOT, 'Cargo.toml'), 'utf8').split('\n')) {
    const header = line.match(/^\s*\[([^\]]+)\]\s*$/);
    if (header) {
      table = /^profile\.release(\.package\.[\w-]+)?$/.test(header[1].trim()) ? header[1].trim() : null;
      continue;
    }
    const entry = table && line.match(/^\s*([\w-]+)\s*=\s*(.+?)\s*$/);
    if (entry) settings.push(`${table}.${entry[1]}=${!asIs && table === 'profile.release' && entry[1] === 'opt-level' ? '3' : entry[2]}`);
  }
  return settings;
}

/** The bare HMAC floor as wasm and the native bench binary, both at opt-level 3 (see releaseProfile). */
function buildRust(profile) {
  const cargo = ['--manifest-path', join(ROOT, 'bench', 'Cargo.toml'), '--target-dir', OUT, '--release', '--quiet'];
  for (const setting of profile) cargo.push('--config', setting);
  log('cargo build: bench/floor (wasm32) and bench/native');
  run('cargo', ['build', ...cargo, '-p', 'hmac-floor', '--target', 'wasm32-unknown-unknown'], { stdio: 'inherit' });
  run('cargo', ['build', ...cargo, '-p', 'edge-session-bench'], { stdio: 'inherit' });
  // The same wasm-opt pass scripts/build-pkg.sh gives the package's module.
  run(join(ROOT, 'node_modules', '.bin', 'wasm-opt'), [
    '-Oz',
    ...['bulk-memory', 'reference-types', 'multivalue', 'sign-ext', 'nontrapping-float-to-int', 'mutable-globals'].map((f) => `--enable-${f}`),
    '--strip-debug',
    '--strip-producers',
    '--strip-target-features',
    '-o',
    join(OUT, 'hmac_floor.wasm'),
    join(OUT, 'wasm32-unknown-unknown', 'release', 'hmac_floor.wasm'),
  ]);
}

function sizes() {
  const of = (path) => {
    const bytes = readFileSync(path);
    return {
      raw: bytes.length,
      gzip: zlib.gzipSync(bytes, { level: 9 }).length,
      brotli: zlib.brotliCompressSync(bytes, { params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 11 } }).length,
    };
  };
  return {
    pkg: of(join(ROOT, 'pkg', 'edge_session_bg.wasm')),
    inspect: of(join(ROOT, 'pkg', 'edge_session_inspect_bg.wasm')),
    floor: of(join(OUT, 'hmac_floor.wasm')),
  };
}

async function main() {
  if (!existsSync(join(ROOT, 'pkg', 'edge_session_bg.wasm'))) throw new Error('pkg/ is not built: run `make build` first');
  mkdirSync(OUT, { recursive: true });
  log(TINY ? 'tiny mode (BENCH_TINY): a quick pass to prove the harness works' : `${CONFIG.reps} reps per figure`);
  const loadBefore = os.loadavg();
  const profile = releaseProfile();
  buildRust(profile);
  const env = { ...environment(), profile };
  const secret = randomBytes(32);
  const secretText = secret.toString('base64url');
  const keys = `k1:${secretText}`;
  const results = { config: CONFIG, tiny: TINY, env, sizes: sizes() };

  log('native: Engine::validate and the floor');
  results.native = await child(join(OUT, 'release', 'edge-session-bench'), [keys, JSON.stringify(DATA_100), String(CONFIG.reps), String(CONFIG.targetMs)]);

  log('workerd (Miniflare): every case, timed from outside');
  results.workerd = await benchWorkerd({ root: ROOT, secretText, reps: CONFIG.reps, targetMs: CONFIG.targetMs });

  log('Node: every case, in a fresh process');
  results.node = await child(process.execPath, [join(ROOT, 'bench', 'node', 'bench.mjs'), secretText, String(CONFIG.reps), String(CONFIG.targetMs)]);

  // A cookie for the cold starts, issued by the package under the same keys.
  const { SessionManager } = await import(join(ROOT, 'pkg', 'node.js'));
  const issuer = new SessionManager({ keys, store: discardStore, envelopeTtl: 3600, idleTimeout: 7200, absoluteTimeout: 43200 });
  const cookie = (await issuer.create(null, USER)).setCookie.split(';')[0];

  log('cold start: workerd');
  results.coldWorkerd = await coldWorkerd({ root: ROOT, keys, cookie, reps: CONFIG.coldReps });
  log('cold start: Node');
  const coldNode = [];
  for (let rep = 0; rep < CONFIG.coldReps; rep++) coldNode.push(await child(process.execPath, [join(ROOT, 'bench', 'node', 'cold.mjs'), keys, cookie]));
  results.coldNode = Object.fromEntries(Object.keys(coldNode[0]).map((k) => [k, summary(coldNode.map((r) => r[k]))]));

  log(`memory: ${CONFIG.sessions} sessions validated in Node`);
  const memory = [];
  for (let rep = 0; rep < CONFIG.memoryReps; rep++) {
    memory.push(await child(process.execPath, ['--expose-gc', join(ROOT, 'bench', 'node', 'memory.mjs'), keys, String(CONFIG.sessions)]));
  }
  const pick = (f) => summary(memory.map(f));
  results.memory = {
    sessions: CONFIG.sessions,
    fresh: pick((m) => m.fresh),
    before: pick((m) => m.before.heapUsed),
    after: pick((m) => m.after.heapUsed),
    growth: pick((m) => m.after.heapUsed - m.before.heapUsed),
    wasmBefore: pick((m) => m.before.wasmMemory),
    wasmAfter: pick((m) => m.after.wasmMemory),
    rssAfter: pick((m) => m.after.rss),
    cookieBytes: memory[0].cookieBytes,
  };

  log(`demo throughput: wrangler dev + autocannon (${CONFIG.connections} connections, ${CONFIG.demoSeconds} s per run)`);
  results.demo = await benchDemo({ root: ROOT, reps: CONFIG.demoReps, seconds: CONFIG.demoSeconds, connections: CONFIG.connections });

  results.loadavg = { before: loadBefore, after: os.loadavg() };
  results.seconds = (performance.now() - started) / 1000;
  const ratios = (side) => {
    const us = results[side].us;
    const minus = (a, b) => summary(a.map((x, i) => x - b[i]));
    const r = Object.fromEntries(Object.keys(us).map((k) => [k, ratio(us[k], us.webCrypto)]));
    r.dataVsWebCrypto = ratio(us.fastData, us.webCryptoData);
    r.fastVsFloor = ratio(us.fast, us.floor);
    r.distinctVsFloor = ratio(us.fastDistinct, us.floor);
    r.dataVsFloor = ratio(us.fastData, us.floorData);
    r.stores = Object.fromEntries(
      Object.keys(results[side].info.stores).map((s) => [
        s,
        {
          beyondReads: minus(us[`refresh${s}`], us[`get4${s}`]),
          deadlines: minus(us[`get4Deadline${s}`], us[`get4${s}`]),
          beyondDeadlines: minus(us[`refresh${s}`], us[`get4Deadline${s}`]),
          refreshVsFast: ratio(us[`refresh${s}`], us.fast),
        },
      ]),
    );
    return r;
  };
  results.ratios = { workerd: ratios('workerd'), node: ratios('node') };

  mkdirSync(OUT, { recursive: true });
  writeFileSync(join(OUT, TINY ? 'results.tiny.json' : 'results.json'), `${JSON.stringify(results, null, 2)}\n`);
  const target = TINY ? join(OUT, 'BENCHMARKS.tiny.md') : join(ROOT, 'BENCHMARKS.md');
  writeFileSync(target, report(results));
  log(`wrote ${relative(ROOT, target)} in ${results.seconds.toFixed(0)} s`);
}

main().then(
  () => process.exit(0),
  (error) => {
    log(`failed: ${error?.stack ?? error}`);
    process.exit(1);
  },
);
