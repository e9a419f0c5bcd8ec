// workerd through Miniflare: the cases timed from outside, and cold starts.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Miniflare } from 'miniflare';
import { measureAll } from './measure.mjs';
import { median, summary } from './stats.mjs';

const COMPATIBILITY_DATE = '2026-04-01';

function options(root, script, extra = {}) {
  return {
    host: '127.0.0.1',
    port: 0,
    modules: true,
    scriptPath: join(root, script),
    modulesRoot: root,
    modulesRules: [
      { type: 'ESModule', include: ['**/*.js', '**/*.mjs'] },
      { type: 'CompiledWasm', include: ['**/*.wasm'] },
    ],
    compatibilityDate: COMPATIBILITY_DATE,
    kvNamespaces: ['KV'],
    ...extra,
  };
}

/** Times every case inside workerd: wall time of a request running N calls, minus an n=0 request. */
export async function benchWorkerd({ root, secretText, reps, targetMs }) {
  const persist = mkdtempSync(join(tmpdir(), 'edge-session-bench-kv-'));
  const mf = new Miniflare(options(root, 'bench/workerd/bench-worker.mjs', { kvPersist: persist, bindings: { BENCH_SECRET: secretText } }));
  try {
    await mf.ready;
    const request = async (path) => {
      const started = performance.now();
      const res = await mf.dispatchFetch(`http://bench.local${path}`);
      const body = await res.json();
      const ms = performance.now() - started;
      if (!res.ok) throw new Error(`workerd ${path}: ${body.error ?? res.status}`);
      return { body, ms };
    };
    const info = (await request('/info')).body;
    const result = await measureAll(info.names, {
      reps,
      targetMs,
      baseline: async () => (await request('/run?case=floor&n=0')).ms,
      async run(name, n) {
        const { body, ms } = await request(`/run?case=${name}&n=${n}`);
        if (body.ok !== n) throw new Error(`workerd ${name}: ${n - body.ok} of ${n} calls refused`);
        return ms;
      },
    });
    return { ...result, info };
  } finally {
    await mf.dispose();
    rmSync(persist, { recursive: true, force: true });
  }
}

/** ms from `new Miniflare` to the end of the first response of a fresh workerd with `script`. */
async function firstResponse(root, script, bindings, headers) {
  const started = performance.now();
  const mf = new Miniflare(options(root, script, { bindings }));
  try {
    const res = await mf.dispatchFetch('http://bench.local/', { headers });
    const text = await res.text();
    const ms = performance.now() - started;
    if (res.status !== 200) throw new Error(`${script}: ${res.status} ${text}`);
    return ms;
  } finally {
    await mf.dispose();
  }
}

/**
 * Cold start in workerd: a fresh worker that loads edge-session and validates a cookie on its
 * first request, against a trivial worker's first request, in alternation.
 */
export async function coldWorkerd({ root, keys, cookie, reps }) {
  const trivial = [];
  const cold = [];
  const bindings = { BENCH_KEYS: keys };
  // One of each first, not counted: the OS file cache and Node's own module loading warm up.
  await firstResponse(root, 'bench/workerd/trivial-worker.mjs', bindings, {});
  await firstResponse(root, 'bench/workerd/cold-worker.mjs', bindings, { cookie });
  for (let rep = 0; rep < reps; rep++) {
    const pair = [
      async () => trivial.push(await firstResponse(root, 'bench/workerd/trivial-worker.mjs', bindings, {})),
      async () => cold.push(await firstResponse(root, 'bench/workerd/cold-worker.mjs', bindings, { cookie })),
    ];
    if (rep % 2) pair.reverse();
    for (const step of pair) await step();
  }
  return {
    trivialMs: summary(trivial),
    coldMs: summary(cold),
    extraMs: summary(cold.map((c, i) => c - trivial[i])),
    medianDifferenceMs: median(cold) - median(trivial),
  };
}
