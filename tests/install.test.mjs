// The built package installed the way a user installs it: `npm pack` of pkg/ (as `npm publish`
// would pack it), `npm install <tarball>` into fresh scratch projects (offline, its own npm cache)
// and then used only through its `exports` (`import ... from 'edge-session'`, never a path into
// it), with the tools a user would run:
//   - the tarball: every file the exports, the bin and the shipped modules refer to is in it; the
//     licence texts ship; "license"/"version" match Cargo.toml; "sideEffects" keeps the entries;
//   - Node 20 (`node` condition): create / validate / destroy with MemoryStore, and the
//     `npx edge-session keygen` bin;
//   - a Worker bundled by wrangler itself, with no [alias] (`workerd` condition, .wasm bundled as
//     a compiled module, RevocationHub re-exported as a Durable Object), run by `wrangler dev`:
//     login, fast-path validation (no KV read), logout, refused;
//   - browser bundles built by esbuild (`browser` condition; the .wasm served beside the bundle,
//     as browser.js fetches it by URL) run in Chromium, including an import of a single named
//     export and a bare `import 'edge-session'`, both of which must still instantiate the wasm.
// Fixtures: tests/install/. Needs `make build` (pkg/) and the repo's node_modules (wrangler, its
// esbuild, playwright-core) and Chromium (CHROMIUM_PATH); no network.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { freePort, spawnGroup, waitForHttp } from './js/server-process.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
// The package directory to pack (EDGE_SESSION_PKG overrides it, e.g. to try a modified copy).
const PKG = path.resolve(process.env.EDGE_SESSION_PKG || path.join(ROOT, 'pkg'));
const FIXTURES = path.join(ROOT, 'tests', 'install');
const WRANGLER = path.join(ROOT, 'node_modules', '.bin', 'wrangler');
const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const KEY_RE = /^k1:[A-Za-z0-9_-]{43}$/; // keygen: id k1, base64url of 32 random bytes

const execFileP = promisify(execFile);

let scratch; // everything this file writes lives under here
let env; // child processes: no telemetry, no update checks, a private npm cache
let tarball;
let packed; // paths in the tarball
const projects = {}; // name -> scratch project directory (each with its own install)
const cleanups = [];

/** Runs a command; resolves with { stdout, stderr }, rejects with the output in the message. */
async function sh(cmd, args, options = {}) {
  try {
    return await execFileP(cmd, args, { env, timeout: 60_000, maxBuffer: 16 << 20, ...options });
  } catch (error) {
    throw new Error(`${cmd} ${args.join(' ')} failed (${error.code ?? error.signal}):\n${error.stdout ?? ''}\n${error.stderr ?? ''}`);
  }
}

function newKeyRing() {
  return `k1:${randomBytes(32).toString('base64url')}`;
}

/** The installed package's directory in `project`, found through its exported ./package.json. */
function installedDir(project) {
  return path.dirname(createRequire(path.join(project, 'package.json')).resolve('edge-session/package.json'));
}

/** Minimal glob match for a "sideEffects" entry, as webpack/esbuild read one (relative to the package). */
function sideEffectsMatch(pattern, file) {
  let p = pattern.startsWith('./') ? pattern.slice(2) : pattern;
  if (!p.includes('/')) p = `**/${p}`;
  const re = p
    .split('/')
    .map((part) => (part === '**' ? '(?:.*/)?' : `${part.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*').replace(/\?/g, '[^/]')}/`))
    .join('');
  return new RegExp(`^${re.replace(/\/$/, '')}$`).test(file.replace(/^\.\//, ''));
}

before(async () => {
  for (const file of ['package.json', 'edge_session_bg.wasm']) {
    if (!fs.existsSync(path.join(PKG, file))) throw new Error(`${PKG}/${file} is missing: run \`make build\` first`);
  }
  scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'edge-session-install-'));
  env = {
    ...process.env,
    npm_config_cache: path.join(scratch, 'npm-cache'),
    npm_config_update_notifier: 'false',
    npm_config_fund: 'false',
    npm_config_audit: 'false',
    NO_UPDATE_NOTIFIER: '1',
    WRANGLER_SEND_METRICS: 'false',
    WRANGLER_SEND_ERROR_REPORTS: 'false',
    CLOUDFLARE_CF_FETCH_ENABLED: 'false',
    WRANGLER_LOG_PATH: path.join(scratch, 'wrangler-logs'),
    NO_COLOR: '1',
    FORCE_COLOR: '0',
    BROWSER: 'none',
  };

  // npm pack, exactly as `npm publish` would pack pkg/.
  const packDir = path.join(scratch, 'pack');
  fs.mkdirSync(packDir);
  const { stdout } = await sh('npm', ['pack', PKG, '--pack-destination', packDir, '--json'], { cwd: scratch });
  const [info] = JSON.parse(stdout);
  tarball = path.join(packDir, info.filename);
  packed = info.files.map((f) => f.path);

  // One fresh project per runtime, each installing the tarball (no dependencies: no registry).
  await Promise.all(['node', 'worker', 'web'].map(async (name) => {
    const dir = path.join(scratch, name);
    fs.cpSync(path.join(FIXTURES, name), dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'package.json'), `${JSON.stringify({ name: `install-check-${name}`, private: true, type: 'module' }, null, 2)}\n`);
    await sh('npm', ['install', '--offline', '--no-audit', '--no-fund', tarball], { cwd: dir });
    projects[name] = dir;
  }));
}, { timeout: 60_000 });

after(async () => {
  for (const cleanup of cleanups.reverse()) {
    try {
      await cleanup();
    } catch {
      // keep cleaning up
    }
  }
  if (scratch) fs.rmSync(scratch, { recursive: true, force: true });
});

test('tarball: complete (exports, bin, relative imports), licence texts, license/version as Cargo.toml, sideEffects keeps the entries', () => {
  const dir = installedDir(projects.node);
  const pj = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8'));
  const has = (rel) => packed.includes(rel.replace(/^\.\//, ''));

  // Every export condition points at a file (a nested object here is a stray, e.g. a misplaced "bin").
  const root = pj.exports['.'];
  for (const [condition, target] of Object.entries(root)) {
    assert.equal(typeof target, 'string', `exports["."].${condition} is a file path`);
    assert.ok(has(target), `exports["."].${condition} -> ${target} is in the tarball`);
  }
  for (const cond of ['workerd', 'browser', 'node', 'default', 'types']) assert.ok(root[cond], `exports["."] has "${cond}"`);
  // The runtime conditions come before "default" (first match wins).
  assert.equal(Object.keys(root).at(-1), 'default', '"default" is the last condition');
  for (const [name, target] of Object.entries(pj.bin ?? {})) assert.ok(has(target), `bin ${name} -> ${target} is in the tarball`);
  assert.ok(has(pj.types), `types -> ${pj.types} is in the tarball`);
  // The subpaths too ("./hono": an entry per runtime, "default" last; "./guard").
  for (const [subpath, target] of Object.entries(pj.exports)) {
    const conditions = typeof target === 'string' ? { default: target } : target;
    for (const [condition, file] of Object.entries(conditions)) assert.ok(has(file), `exports["${subpath}"].${condition} -> ${file} is in the tarball`);
    assert.equal(Object.keys(conditions).at(-1), 'default', `exports["${subpath}"]: "default" is the last condition`);
  }

  // Every relative module or asset a shipped file refers to is shipped too.
  for (const file of packed.filter((f) => f.endsWith('.js'))) {
    const text = fs.readFileSync(path.join(dir, file), 'utf8');
    const refs = [
      ...text.matchAll(/(?:^|[\s;])(?:import|export)\s[^'"]*?from\s*['"](\.[^'"]+)['"]/gm),
      ...text.matchAll(/(?:^|[\s;])import\s*['"](\.[^'"]+)['"]/gm),
      ...text.matchAll(/import\(\s*['"](\.[^'"]+)['"]\s*\)/g),
      ...text.matchAll(/new URL\(\s*['"]([^'"]+)['"]\s*,\s*import\.meta\.url\s*\)/g),
    ].map((m) => m[1]);
    for (const ref of refs) {
      // A loader suffix names the same file (edge-light.js: `./edge_session_bg.wasm?module`).
      const rel = path.posix.normalize(path.posix.join(path.posix.dirname(file), ref.replace(/\?[^/]*$/, '')));
      assert.ok(packed.includes(rel), `${file} refers to ${ref}, which is not in the tarball ("files" in package.json)`);
    }
  }

  // Licence: the texts ship, byte for byte the repository's, and the SPDX expression is Cargo's.
  for (const file of ['LICENSE-MIT', 'LICENSE-APACHE']) {
    assert.ok(packed.includes(file), `${file} is in the tarball`);
    assert.equal(fs.readFileSync(path.join(dir, file), 'utf8'), fs.readFileSync(path.join(ROOT, file), 'utf8'), `${file} as in the repository`);
  }
  const cargo = fs.readFileSync(path.join(ROOT, 'Cargo.toml'), 'utf8').split(/^\[/m).find((s) => s.startsWith('package]'));
  const field = (name) => new RegExp(`^${name}\\s*=\\s*"([^"]*)"`, 'm').exec(cargo)?.[1];
  assert.equal(pj.license, field('license'), 'package.json "license" is Cargo.toml\'s');
  assert.equal(pj.license, 'MIT OR Apache-2.0');
  assert.equal(pj.version, field('version'), 'package.json "version" is Cargo.toml\'s');

  // "sideEffects": the entries instantiate the wasm at module load, so a bundler must never drop
  // them (webpack and Rollup skip a "side-effect-free" module whose names are only re-exports).
  assert.notEqual(pj.sideEffects, false, '"sideEffects": false would let bundlers drop the wasm instantiation');
  if (Array.isArray(pj.sideEffects)) {
    // edge-session/hono's entries load the wasm (by importing the runtime's entry) as well.
    const hono = Object.values(pj.exports['./hono'] ?? {});
    const entries = new Set([...[...Object.values(root), ...hono].filter((t) => t.endsWith('.js')), ...Object.values(pj.bin ?? {})]);
    for (const entry of entries) {
      assert.ok(pj.sideEffects.some((p) => sideEffectsMatch(p, entry)), `"sideEffects" covers the entry ${entry}`);
    }
  }
});

test('Node 20: npx edge-session keygen, then import from "edge-session" (node condition): create, validate, destroy, refused; npx edge-session inspect verifies the cookie', { timeout: 60_000 }, async () => {
  const dir = projects.node;
  const keygen = await sh('npx', ['--offline', 'edge-session', 'keygen'], { cwd: dir });
  const key = keygen.stdout.trim();
  assert.match(key, KEY_RE, 'keygen prints one key "k1:<base64url of 32 bytes>" on stdout');
  assert.equal(keygen.stdout, `${key}\n`, 'nothing else on stdout');

  // The key keygen printed is accepted by the package.
  const { stdout } = await sh(process.execPath, ['check.mjs'], { cwd: dir, env: { ...env, SESSION_KEYS: key } });
  const out = JSON.parse(stdout);
  assert.equal(fileURLToPath(out.resolved), path.join(installedDir(dir), 'node.js'), "'edge-session' resolves to the node entry");
  assert.deepEqual(out.created, { ok: true, userId: 'alice' });
  assert.equal(out.cookie, out.cookieName);
  assert.deepEqual(out.valid, { ok: true, userId: 'alice', data: { role: 'member' }, refreshed: false });
  assert.deepEqual(out.destroyed, { ok: true });
  assert.equal(out.after.ok, false, 'the session is refused after destroy');
  assert.equal(typeof out.after.reason, 'string');

  // The CLI's inspect module ships and loads from the tarball: the cookie verifies with the key
  // it was signed with, and not with another.
  const cookie = fs.readFileSync(path.join(dir, 'cookie.txt'), 'utf8');
  const inspect = async (keys) => {
    const r = await execFileP('npx', ['--offline', 'edge-session', 'inspect', cookie, '--keys', 'env:KEYS', '--json'], { cwd: dir, env: { ...env, KEYS: keys } })
      .catch((error) => error);
    return { exit: r.code ?? 0, report: JSON.parse(r.stdout) };
  };
  const good = await inspect(key);
  assert.equal(good.exit, 0, 'inspect exits 0 for a cookie that verifies');
  assert.deepEqual([good.report.envelope.userId, good.report.verified.valid], ['alice', true]);
  const other = await inspect(newKeyRing());
  assert.equal(other.exit, 1, 'inspect exits 1 for a cookie that does not verify');
  assert.deepEqual([other.report.envelope.userId, other.report.verified.valid, other.report.verified.reason], ['alice', false, 'bad_signature']);
});

/** Text without ANSI colour sequences. */
const plain = (text) => text.replace(/\x1b\[[0-9;]*m/g, '');

/** Starts `wrangler dev` in `cwd` on a free loopback port; resolves once /health answers. */
async function wranglerDev(cwd) {
  const port = await freePort();
  const args = ['dev', '--ip', '127.0.0.1', '--port', String(port), '--persist-to', path.join(cwd, '.state'), '--log-level', 'log'];
  const server = spawnGroup(WRANGLER, args, { cwd, env, lifetimeMs: 120_000, killAfterMs: 5000 });
  cleanups.push(server.stop);
  const url = `http://127.0.0.1:${port}`;
  const logs = () => plain(server.output());
  const failure = await waitForHttp(`${url}/health`, {
    group: server,
    deadlineMs: 45_000,
    intervalMs: 200,
    ready: async (res) => res.ok && (await res.text()) === 'ok',
    // A bundling error does not end `wrangler dev` (it waits for a fix): fail at once.
    failOn: [/Build failed/, 'wrangler could not bundle the worker'],
    exited: 'wrangler dev exited',
    timedOut: 'wrangler dev did not answer /health in 45 s',
  });
  if (failure) throw new Error(`${failure}:\n${logs()}`);
  return { url, stop: server.stop, logs };
}

test('Worker: wrangler bundles "edge-session" (workerd condition, no alias) and workerd runs it: login, fast-path validate, logout, refused', { timeout: 60_000 }, async () => {
  const dir = projects.worker;
  assert.doesNotMatch(fs.readFileSync(path.join(dir, 'wrangler.toml'), 'utf8'), /^\s*\[alias\]/m, 'no alias');
  fs.writeFileSync(path.join(dir, '.dev.vars'), `SESSION_KEYS=${newKeyRing()}\n`);
  const server = await wranglerDev(dir);
  const call = async (method, route, cookie) => {
    const res = await fetch(`${server.url}${route}`, { method, headers: cookie ? { cookie } : {}, signal: AbortSignal.timeout(10_000) });
    assert.equal(res.status, 200, `${method} ${route}: ${res.status}\n${server.logs()}`);
    return { body: await res.json(), setCookie: res.headers.get('set-cookie') };
  };
  try {
    const login = await call('POST', '/login?user=alice');
    assert.deepEqual(login.body, { ok: true, userId: 'alice' }, server.logs());
    assert.match(login.setCookie ?? '', /^__Host-session=[^;]+;/);
    const cookie = login.setCookie.split(';')[0];

    const me = await call('GET', '/me', cookie);
    assert.equal(me.body.ok, true, JSON.stringify(me.body));
    assert.equal(me.body.userId, 'alice');
    assert.equal(me.body.refreshed, false, 'fast path: the envelope alone');
    assert.equal(me.body.kvReads, 0, 'fast path: no KV read');

    const logout = await call('POST', '/logout', cookie);
    assert.equal(logout.body.ok, true, JSON.stringify(logout.body));
    assert.match(logout.setCookie ?? '', /^__Host-session=;/, 'the clearing cookie');

    const refused = await call('GET', '/me', cookie);
    assert.equal(refused.body.ok, false, 'the logged-out cookie is refused');
    assert.equal(typeof refused.body.reason, 'string');
  } finally {
    await server.stop();
  }
});

test('Browser: esbuild bundles "edge-session" (browser condition) and Chromium runs it; one named import and a bare import still instantiate the wasm', { timeout: 60_000 }, async (t) => {
  if (!fs.existsSync(CHROMIUM)) throw new Error(`no Chromium at ${CHROMIUM}: run \`make setup-chromium\` or set CHROMIUM_PATH`);
  const dir = projects.web;
  // The esbuild the repo's wrangler bundles with (no bundler is installed in the scratch project).
  const esbuild = createRequire(path.join(ROOT, 'node_modules', 'wrangler', 'package.json'))('esbuild');
  const { chromium } = await import('playwright-core');
  const wasm = path.join(installedDir(dir), 'edge_session_bg.wasm');
  const dist = path.join(dir, 'dist');
  const bundles = ['all', 'one', 'bare'];

  const built = {}; // name -> what esbuild said (checked in each bundle's subtest)
  for (const name of bundles) {
    const outdir = path.join(dist, name);
    const result = await esbuild.build({
      absWorkingDir: dir,
      entryPoints: [`${name}.js`],
      bundle: true,
      platform: 'browser',
      format: 'esm',
      outfile: path.join(outdir, 'bundle.js'),
      metafile: true,
      logLevel: 'silent',
    });
    built[name] = {
      warnings: result.warnings.map((w) => w.text),
      inputs: Object.values(result.metafile.outputs).find((o) => o.entryPoint)?.inputs ?? {},
    };
    // browser.js fetches new URL('./edge_session_bg.wasm', import.meta.url): serve it beside the bundle.
    fs.copyFileSync(wasm, path.join(outdir, 'edge_session_bg.wasm'));
    fs.copyFileSync(path.join(dir, 'index.html'), path.join(outdir, 'index.html'));
  }

  const requested = [];
  const types = { '.html': 'text/html', '.js': 'text/javascript', '.wasm': 'application/wasm' };
  const server = createServer((req, res) => {
    const { pathname } = new URL(req.url, 'http://x');
    requested.push(pathname);
    const file = path.join(dist, path.normalize(pathname.endsWith('/') ? `${pathname}index.html` : pathname));
    if (!file.startsWith(dist + path.sep) || !fs.existsSync(file)) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': types[path.extname(file)] ?? 'application/octet-stream' }).end(fs.readFileSync(file));
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => new Promise((resolve) => server.close(resolve)));
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true });
  cleanups.push(() => browser.close());
  const origin = `http://127.0.0.1:${server.address().port}`;
  const keys = newKeyRing();

  const open = async (name) => {
    const { warnings, inputs } = built[name];
    const page = await browser.newPage();
    const errors = [];
    page.on('pageerror', (error) => errors.push(error.message));
    await page.goto(`${origin}/${name}/?keys=${encodeURIComponent(keys)}`);
    await page.waitForFunction(() => window.result !== undefined, null, { timeout: 20_000 });
    const result = await page.evaluate(() => window.result);
    await page.close();
    assert.deepEqual(errors, []);
    assert.ok(requested.includes(`/${name}/edge_session_bg.wasm`), `${name}: the page fetched the wasm (esbuild: ${JSON.stringify(warnings)})`);
    assert.ok(inputs['node_modules/edge-session/browser.js']?.bytesInOutput > 0, `${name}: the browser entry (wasm instantiation) is in the bundle: ${JSON.stringify(inputs)}`);
    assert.ok(!Object.keys(inputs).some((f) => /edge-session\/(node|workerd)\.js$/.test(f)), `${name}: no other entry bundled`);
    // e.g. 'Ignoring this import because ... was marked as having no side effects'.
    assert.deepEqual(warnings, [], `${name}: esbuild warnings`);
    return result;
  };

  await t.test('create + validate with MemoryStore', async () => {
    assert.deepEqual(await open('all'), { created: true, ok: true, userId: 'alice', data: { theme: 'dark' } });
  });
  await t.test('only { SessionManager } imported: still instantiated', async () => {
    assert.deepEqual(await open('one'), { created: true, ok: true, userId: 'bob' });
  });
  await t.test("bare import 'edge-session': kept, the wasm is fetched", async () => {
    assert.deepEqual(await open('bare'), { loaded: true });
  });
});

test('Hono: "edge-session/hono" and "edge-session/guard" through the exports, in a Hono app in Node (hono linked as the peer dependency); a browser bundle picks the browser entries', { timeout: 60_000 }, async () => {
  const dir = projects.node;
  fs.mkdirSync(path.join(dir, 'node_modules'), { recursive: true });
  fs.symlinkSync(path.join(ROOT, 'node_modules', 'hono'), path.join(dir, 'node_modules', 'hono'), 'dir');
  const { stdout } = await sh(process.execPath, ['hono-check.mjs'], { cwd: dir, env: { ...env, SESSION_KEYS: newKeyRing() } });
  const out = JSON.parse(stdout);
  const installed = installedDir(dir);
  assert.deepEqual(
    { hono: fileURLToPath(out.resolved.hono), guard: fileURLToPath(out.resolved.guard) },
    { hono: path.join(installed, 'hono-node.js'), guard: path.join(installed, 'guard.js') },
  );
  assert.deepEqual(out.login, { status: 200, cookie: '__Host-session' });
  assert.deepEqual(out.me, { status: 200, body: { userId: 'alice', data: { role: 'member' } } });
  assert.deepEqual(out.forged, { status: 403, body: { error: 'forbidden', reason: 'cross_origin' } });
  assert.deepEqual(out.out, { status: 200, clears: true });
  assert.deepEqual(out.after, { status: 401, body: { error: 'unauthenticated', reason: 'revoked' } });
  assert.deepEqual(out.plain, { status: 403, body: { error: 'forbidden', reason: 'cross_site' } });

  // The browser condition: hono-browser.js and the browser entry, never the node or workerd ones.
  const esbuild = createRequire(path.join(ROOT, 'node_modules', 'wrangler', 'package.json'))('esbuild');
  const result = await esbuild.build({
    absWorkingDir: projects.web,
    stdin: { contents: "export { sessionMiddleware } from 'edge-session/hono';", resolveDir: projects.web, loader: 'js' },
    bundle: true,
    platform: 'browser',
    format: 'esm',
    write: false,
    metafile: true,
    logLevel: 'silent',
  });
  const inputs = Object.keys(result.metafile.inputs).filter((f) => f.startsWith('node_modules/edge-session/')).map((f) => path.basename(f)).sort();
  assert.deepEqual(inputs, ['browser.js', 'core.js', 'edge_session.js', 'guard.js', 'hono-browser.js', 'hono-core.js']);
  assert.deepEqual(result.warnings.map((w) => w.text), []);
});
