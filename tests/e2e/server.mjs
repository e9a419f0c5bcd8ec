// Shared helpers for the end-to-end tests: start the demo under `wrangler dev` on a free loopback
// port, wait for it to answer /health, and stop it (its whole process group) afterwards.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, sleep, spawnGroup, waitForHttp } from '../js/server-process.mjs';

// The e2e tests import these from here too.
export { freePort, sleep };

/** The directory holding wrangler.toml (E2E_ROOT overrides it, e.g. to try another checkout). */
export const ROOT = process.env.E2E_ROOT
  ? path.resolve(process.env.E2E_ROOT)
  : path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

export const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

const STARTUP_TIMEOUT_MS = 90_000;
// A server is killed after this long whatever happens, so a hung test run cannot leave it behind.
const DEFAULT_LIFETIME_MS = 8 * 60_000;

/** A fresh signing key ring in the format SESSION_KEYS expects: `k1:<base64url of 32 random bytes>`. */
export function newKeyRing(id = 'k1') {
  return `${id}:${randomBytes(32).toString('base64url')}`;
}

/** Resolves once the wall clock reaches `t` (unix ms). */
export async function sleepUntil(t) {
  while (Date.now() < t) await sleep(Math.min(100, t - Date.now()));
}

/**
 * Starts `wrangler dev` for the demo.
 * @param {{ vars?: Record<string,string>, lifetimeMs?: number, script?: string }} [options]
 *   vars: passed as `--var NAME:VALUE` (SESSION_KEYS gets a fresh random key ring unless given,
 *   DEMO_PASSWORD defaults to `demo` and ADMIN_TOKEN to empty).
 *   script: another entry point (relative to ROOT) instead of wrangler.toml's `main`, with the
 *   rest of wrangler.toml (alias, KV, hub Durable Object, assets) unchanged; used for the test-only
 *   fault wrapper (which must re-export RevocationHub, as every entry must).
 * @returns {Promise<{ url: string, port: number, logs: () => string, stop: () => Promise<void> }>}
 */
export async function startServer({ vars = {}, lifetimeMs = DEFAULT_LIFETIME_MS, script } = {}) {
  const wrangler = path.join(ROOT, 'node_modules', '.bin', 'wrangler');
  if (!fs.existsSync(wrangler)) throw new Error(`${wrangler} is missing: run \`make setup-node\` (npm ci) first`);
  if (!fs.existsSync(path.join(ROOT, 'pkg', 'workerd.js'))) {
    throw new Error(`${path.join(ROOT, 'pkg')} has no workerd.js: run \`make build\` first`);
  }

  const port = await freePort();
  const persistDir = fs.mkdtempSync(path.join(os.tmpdir(), 'edge-session-e2e-'));
  // A fresh key ring per server, and the password and admin settings pinned so that a developer's
  // .dev.vars cannot change what the tests expect (--var wins over .dev.vars).
  const allVars = { SESSION_KEYS: newKeyRing(), DEMO_PASSWORD: 'demo', ADMIN_TOKEN: '', ...vars };
  const args = ['dev', ...(script ? [script] : []), '--ip', '127.0.0.1', '--port', String(port), '--persist-to', persistDir, '--log-level', 'log'];
  for (const [name, value] of Object.entries(allVars)) args.push('--var', `${name}:${value}`);

  // Under `timeout`, in its own process group: even if the test runner dies without running
  // stop(), wrangler and the workerd it started are terminated after lifetimeMs.
  const server = spawnGroup(wrangler, args, {
    cwd: ROOT,
    env: {
      ...process.env,
      WRANGLER_SEND_METRICS: 'false',
      CLOUDFLARE_CF_FETCH_ENABLED: 'false',
      WRANGLER_LOG_PATH: path.join(persistDir, 'wrangler-logs'),
      NO_COLOR: '1',
      FORCE_COLOR: '0',
      BROWSER: 'none',
    },
    lifetimeMs,
    killAfterMs: 10_000,
  });
  const guard = setTimeout(() => {
    process.stderr.write(`e2e: wrangler dev on port ${port} outlived ${lifetimeMs} ms; killing it\n`);
    server.kill('SIGKILL');
  }, lifetimeMs + 15_000);
  guard.unref();
  const stop = async () => {
    clearTimeout(guard);
    await server.stop();
    fs.rmSync(persistDir, { recursive: true, force: true });
  };

  const url = `http://127.0.0.1:${port}`;
  const failure = await waitForHttp(`${url}/health`, {
    group: server,
    deadlineMs: STARTUP_TIMEOUT_MS,
    ready: (res) => res.status === 200,
    exited: 'wrangler dev exited before serving /health',
    timedOut: `wrangler dev did not answer /health within ${STARTUP_TIMEOUT_MS} ms`,
  });
  if (failure) {
    await stop();
    throw new Error(`${failure}:\n${server.output()}`);
  }

  return { url, port, logs: server.output, stop };
}

/** The JSON objects logged in `logs` (a server's output), one per line: the demo's session events. */
export function eventsIn(logs) {
  return logs
    .split('\n')
    .map((line) => line.slice(line.indexOf('{')))
    .flatMap((line) => {
      try {
        return [JSON.parse(line)];
      } catch {
        return [];
      }
    });
}

/** Waits (up to `timeoutMs`) until `server` logged an event `wanted` accepts; returns it (or undefined). */
export async function waitForEvent(server, wanted, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = eventsIn(server.logs()).find(wanted);
    if (found !== undefined || Date.now() >= deadline) return found;
    await sleep(100);
  }
}

// ---- small HTTP helpers for the fetch-based tests ---------------------------------------------

/** The `name=value` part of each Set-Cookie header of a response. */
export function setCookies(res) {
  return res.headers.getSetCookie();
}

/** The value to send back in a Cookie header, from a response's Set-Cookie (null when none). */
export function cookieFrom(res) {
  const [first] = res.headers.getSetCookie();
  return first ? first.split(';')[0].trim() : null;
}

/** Parses the attributes of a Set-Cookie value into { name, value, attrs: Map(lowercase -> value) }. */
export function parseSetCookie(header) {
  const [pair, ...rest] = header.split(';');
  const eq = pair.indexOf('=');
  const attrs = new Map();
  for (const part of rest) {
    const [k, ...v] = part.trim().split('=');
    if (k) attrs.set(k.toLowerCase(), v.join('='));
  }
  return { name: pair.slice(0, eq).trim(), value: pair.slice(eq + 1).trim(), attrs };
}

/** True when a Set-Cookie value deletes the cookie (Max-Age=0 or an Expires in the past). */
export function isClearing(header) {
  const { value, attrs } = parseSetCookie(header);
  if (attrs.has('max-age') && Number(attrs.get('max-age')) <= 0) return true;
  if (attrs.has('expires') && Date.parse(attrs.get('expires')) < Date.now()) return true;
  return value === '' && attrs.has('max-age');
}

/** Logs `username` in with fetch; returns { res, body, cookie }. */
export async function login(url, username, password = 'demo', extraHeaders = {}) {
  const res = await fetch(`${url}/api/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...extraHeaders },
    body: JSON.stringify({ username, password }),
  });
  const body = await res.json();
  return { res, body, cookie: cookieFrom(res) };
}

/** GET /api/me with the given Cookie header value. */
export async function me(url, cookie) {
  const res = await fetch(`${url}/api/me`, { headers: cookie ? { cookie } : {} });
  return { res, body: await res.json() };
}
