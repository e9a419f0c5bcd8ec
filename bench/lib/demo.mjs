// Demo throughput: `wrangler dev` (the repo's wrangler.toml) on a free loopback port, then
// autocannon against /health and against /api/me with a fresh login's cookie, under the same
// concurrent load, alternating. The server runs under `timeout` in its own process group, so it
// stops by itself even if this process dies.
import { randomBytes } from 'node:crypto';
import autocannon from 'autocannon';
import { startWranglerDev } from '../../tests/js/server-process.mjs';
import { ratio, summary } from './stats.mjs';

function startDemo(root, lifetimeS) {
  const vars = { SESSION_KEYS: `k1:${randomBytes(32).toString('base64url')}`, DEMO_PASSWORD: 'demo', ADMIN_TOKEN: '' };
  return startWranglerDev({ root, vars, lifetimeMs: lifetimeS * 1000, stateName: 'edge-session-bench-demo-' });
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
