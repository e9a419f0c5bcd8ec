// Demo throughput: `wrangler dev` (the repo's wrangler.toml) on a free loopback port, then
// autocannon against /health and against /api/me with a fresh login's cookie, under the same
// concurrent load, alternating. The server runs under `timeout` in its own process group, so it
// stops by itself even if this process dies.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { freePort, spawnGroup, waitForHttp } from '../../tests/js/server-process.mjs';
import { ratio, summary } from './stats.mjs';

async function startDemo(root, lifetimeS) {
  const wrangler = join(root, 'node_modules', '.bin', 'wrangler');
  if (!existsSync(wrangler)) throw new Error(`${wrangler} is missing: run \`make setup-node\``);
  const port = await freePort();
  const persist = mkdtempSync(join(tmpdir(), 'edge-session-bench-demo-'));
  const vars = { SESSION_KEYS: `k1:${randomBytes(32).toString('base64url')}`, DEMO_PASSWORD: 'demo', ADMIN_TOKEN: '' };
  // --log-level warn: no access-log line per request, which would weigh on both routes alike.
  const args = ['dev', '--ip', '127.0.0.1', '--port', String(port), '--persist-to', persist, '--log-level', 'warn'];
  for (const [name, value] of Object.entries(vars)) args.push('--var', `${name}:${value}`);
  const server = spawnGroup(wrangler, args, {
    cwd: root,
    env: { ...process.env, WRANGLER_SEND_METRICS: 'false', CLOUDFLARE_CF_FETCH_ENABLED: 'false', WRANGLER_LOG_PATH: join(persist, 'logs'), NO_COLOR: '1', BROWSER: 'none' },
    lifetimeMs: lifetimeS * 1000,
    killAfterMs: 10_000,
  });
  const stop = async () => {
    await server.stop();
    rmSync(persist, { recursive: true, force: true });
  };
  const url = `http://127.0.0.1:${port}`;
  const failure = await waitForHttp(`${url}/health`, {
    group: server,
    deadlineMs: 90_000,
    ready: (res) => res.status === 200,
    exited: 'wrangler dev exited',
    timedOut: 'wrangler dev did not answer /health in 90 s',
  });
  if (failure) {
    await stop();
    throw new Error(`${failure}:\n${server.output()}`);
  }
  return { url, stop };
}

async function login(url) {
  const res = await fetch(`${url}/api/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: 'bench', password: 'demo' }),
  });
  const [setCookie] = res.headers.getSetCookie();
  if (res.status !== 200 || !setCookie) throw new Error(`login answered ${res.status}: ${await res.text()}`);
  return setCookie.split(';')[0];
}

function load(url, path, headers, { connections, seconds }) {
  return new Promise((resolve, reject) => {
    autocannon({ url: `${url}${path}`, headers, connections, duration: seconds }, (error, result) => {
      if (error) return reject(error);
      if (result.non2xx || result.errors || result.timeouts) {
        return reject(new Error(`${path}: ${result.non2xx} non-2xx, ${result.errors} errors, ${result.timeouts} timeouts`));
      }
      resolve({ rps: result.requests.total / (result.duration || seconds), p50: result.latency.p50, p99: result.latency.p99 });
    });
  });
}

/** req/s of /health and /api/me per rep, their ratio per rep, and latencies. */
export async function benchDemo({ root, reps, seconds, connections }) {
  const demo = await startDemo(root, 60 + reps * (2 * seconds + 10) + 60);
  try {
    const opts = { connections, seconds };
    // Warm-up, not counted (the first requests compile the worker's code paths).
    await load(demo.url, '/health', {}, { connections, seconds: 1 });
    await load(demo.url, '/api/me', { cookie: await login(demo.url) }, { connections, seconds: 1 });
    const health = [];
    const me = [];
    for (let rep = 0; rep < reps; rep++) {
      // A fresh login per rep: the envelope lives 60 s, and /api/me must stay on the fast path.
      const cookie = await login(demo.url);
      const pair = [
        async () => health.push(await load(demo.url, '/health', {}, opts)),
        async () => me.push(await load(demo.url, '/api/me', { cookie }, opts)),
      ];
      if (rep % 2) pair.reverse();
      for (const step of pair) await step();
    }
    const rps = (runs) => runs.map((r) => r.rps);
    return {
      connections,
      seconds,
      health: { rps: summary(rps(health)), p50: summary(health.map((r) => r.p50)), p99: summary(health.map((r) => r.p99)) },
      me: { rps: summary(rps(me)), p50: summary(me.map((r) => r.p50)), p99: summary(me.map((r) => r.p99)) },
      meOverHealth: ratio(rps(me), rps(health)),
    };
  } finally {
    await demo.stop();
  }
}
