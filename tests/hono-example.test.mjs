// examples/hono-worker built and run the way its README says, in a scratch copy: `edge-session`
// resolved through node_modules (a link to the built pkg/, no [alias]; `hono` a link to the
// repo's), bundled by the repo's wrangler, and served by `wrangler dev` (workerd, a local KV
// namespace and the RevocationHub Durable Object from the example's wrangler.toml). Exercised over
// HTTP: login, the protected route, its sessions, logout of the other sessions, logout, and the
// CSRF guard. Needs `make build` (pkg/) and the repo's node_modules; no network.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { freePort, spawnGroup, waitForHttp } from './js/server-process.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const EXAMPLE = path.join(ROOT, 'examples', 'hono-worker');
const WRANGLER = path.join(ROOT, 'node_modules', '.bin', 'wrangler');

const plain = (text) => text.replace(/\x1b\[[0-9;]*m/g, '');

let scratch;
let app; // the scratch copy of the example
let env;
const cleanups = [];

before(() => {
  if (!fs.existsSync(path.join(ROOT, 'pkg', 'hono-workerd.js'))) throw new Error('pkg/ has no hono-workerd.js: run `make build` first');
  scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'edge-session-hono-example-'));
  app = path.join(scratch, 'app');
  fs.cpSync(EXAMPLE, app, {
    recursive: true,
    filter: (src) => !/(^|\/)(node_modules|\.wrangler|\.dev\.vars|dist)$/.test(path.relative(EXAMPLE, src)),
  });
  // What `npm install` would give it, linked instead of downloaded.
  fs.mkdirSync(path.join(app, 'node_modules'));
  fs.symlinkSync(path.join(ROOT, 'pkg'), path.join(app, 'node_modules', 'edge-session'), 'dir');
  fs.symlinkSync(path.join(ROOT, 'node_modules', 'hono'), path.join(app, 'node_modules', 'hono'), 'dir');
  fs.writeFileSync(path.join(app, '.dev.vars'), `SESSION_KEYS=k1:${randomBytes(32).toString('base64url')}\n`);
  env = {
    ...process.env,
    WRANGLER_SEND_METRICS: 'false',
    WRANGLER_SEND_ERROR_REPORTS: 'false',
    CLOUDFLARE_CF_FETCH_ENABLED: 'false',
    WRANGLER_LOG_PATH: path.join(scratch, 'wrangler-logs'),
    NO_COLOR: '1',
    FORCE_COLOR: '0',
    BROWSER: 'none',
  };
});

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

/** `wrangler dev` in the scratch copy on a free loopback port; resolves once `GET /` answers. */
async function wranglerDev() {
  const port = await freePort();
  const args = ['dev', '--ip', '127.0.0.1', '--port', String(port), '--persist-to', path.join(scratch, 'state'), '--log-level', 'log'];
  const server = spawnGroup(WRANGLER, args, { cwd: app, env, lifetimeMs: 120_000, killAfterMs: 5000 });
  cleanups.push(server.stop);
  const url = `http://127.0.0.1:${port}`;
  const logs = () => plain(server.output());
  const failure = await waitForHttp(`${url}/`, {
    group: server,
    deadlineMs: 45_000,
    intervalMs: 200,
    // A bundling error does not end `wrangler dev` (it waits for a fix): fail at once.
    failOn: [/Build failed/, 'wrangler could not bundle the example'],
    exited: 'wrangler dev exited',
    timedOut: 'wrangler dev did not answer in 45 s',
  });
  if (failure) throw new Error(`${failure}:\n${logs()}`);
  return { url, logs };
}

test('wrangler bundles the example with no alias: the workerd entries of edge-session and edge-session/hono, nothing else', async () => {
  assert.doesNotMatch(fs.readFileSync(path.join(app, 'wrangler.toml'), 'utf8'), /^\s*\[alias\]/m, 'no alias');
  const out = path.join(scratch, 'dist');
  await promisify(execFile)(WRANGLER, ['deploy', '--dry-run', '--outdir', out, '--metafile', path.join(out, 'meta.json')], { cwd: app, env, timeout: 60_000 });
  const inputs = Object.keys(JSON.parse(fs.readFileSync(path.join(out, 'meta.json'), 'utf8')).inputs);
  const fromPkg = inputs.filter((f) => !f.includes('node_modules/hono/') && !f.startsWith('src/')).map((f) => path.basename(f)).sort();
  assert.deepEqual(fromPkg, ['core.js', 'edge_session.js', 'guard.js', 'hono-core.js', 'hono-workerd.js', 'hub.js', 'workerd.js']);
  assert.ok(inputs.some((f) => f.includes('node_modules/hono/')), 'hono is bundled');
});

test('the example in workerd: login, protected route, logout of the other sessions, logout, CSRF', { timeout: 60_000 }, async () => {
  const server = await wranglerDev();
  const call = async (method, route, { cookie, json, headers = {} } = {}) => {
    const h = { ...headers };
    if (cookie) h.cookie = cookie;
    if (json !== undefined) h['content-type'] = 'application/json';
    const res = await fetch(`${server.url}${route}`, { method, headers: h, body: json === undefined ? undefined : JSON.stringify(json), signal: AbortSignal.timeout(10_000) });
    const setCookies = res.headers.getSetCookie();
    const body = await res.json();
    return { status: res.status, body, setCookies, cookie: setCookies[0]?.split(';')[0] ?? null };
  };
  const login = async (username, password = 'demo') => call('POST', '/login', { json: { username, password } });

  const first = await login('alice');
  assert.equal(first.status, 200, `${JSON.stringify(first.body)}\n${server.logs()}`);
  assert.equal(first.body.userId, 'alice');
  assert.match(first.setCookies[0] ?? '', /^__Host-session=[^;]+;.*HttpOnly/);
  assert.deepEqual((await login('alice', 'wrong')).body, { error: 'login_failed' });

  const me = await call('GET', '/me', { cookie: first.cookie });
  assert.equal(me.status, 200);
  assert.deepEqual({ userId: me.body.userId, role: me.body.role, handle: me.body.handle }, { userId: 'alice', role: 'member', handle: first.body.handle });
  assert.deepEqual(me.setCookies, [], 'a fresh envelope: no new cookie');
  const none = await call('GET', '/me');
  assert.equal(none.status, 401);
  assert.deepEqual(none.body, { error: 'unauthenticated', reason: 'missing' });

  const second = await login('alice');
  const listed = await call('GET', '/sessions', { cookie: first.cookie });
  assert.equal(listed.status, 200);
  assert.deepEqual(listed.body.map((s) => s.current).sort(), [false, true]);

  // CSRF: refused before any session work; the session is untouched.
  const cross = await call('POST', '/logout-others', { cookie: first.cookie, headers: { origin: 'https://evil.example' } });
  assert.equal(cross.status, 403);
  assert.deepEqual(cross.body, { error: 'forbidden', reason: 'cross_origin' });
  const form = await fetch(`${server.url}/login`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'username=alice&password=demo' });
  assert.equal(form.status, 403);
  assert.deepEqual(await form.json(), { error: 'forbidden', reason: 'content_type' });
  assert.equal((await call('GET', '/me', { cookie: second.cookie })).status, 200);

  const others = await call('POST', '/logout-others', { cookie: first.cookie, headers: { origin: server.url } });
  assert.equal(others.status, 200, JSON.stringify(others.body));
  assert.deepEqual(others.body, { ok: true, revoked: 1 });
  assert.deepEqual((await call('GET', '/me', { cookie: second.cookie })).body, { error: 'unauthenticated', reason: 'revoked' });
  assert.equal((await call('GET', '/me', { cookie: first.cookie })).status, 200, 'the caller stays logged in');

  const out = await call('POST', '/logout', { cookie: first.cookie });
  assert.equal(out.status, 200);
  assert.deepEqual(out.body, { ok: true });
  assert.match(out.setCookies[0] ?? '', /^__Host-session=;.*Max-Age=0/);
  assert.deepEqual((await call('GET', '/me', { cookie: first.cookie })).body, { error: 'unauthenticated', reason: 'revoked' });
});
