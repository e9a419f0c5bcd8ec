// TEST-ONLY entry point, never deployed: the demo worker (www-demo/worker.js, imported unchanged)
// with its KV binding and its revocation hub binding wrapped so that a test can make store or hub
// calls fail or stall. It is started by store-failure.test.mjs as
// `wrangler dev tests/e2e/faulty-store-worker.mjs` with the repository's
// wrangler.toml (same alias to pkg/workerd.js, same local KV namespace, same assets), so the demo
// and the package run exactly as under `make demo`, in workerd, against a real (local) KV namespace
// and a real (local) RevocationHub Durable Object, re-exported here as wrangler.toml binds it.
// The fault switch lives only here: www-demo/worker.js has no test hook and no code path for it.
//
// Control routes (answered here, never passed to the demo):
//   PUT    /__test/faults  body {"rules":[{"ops":["get"|"put"|"delete"|"list"|"append"|"pull",...],
//                          "key":"<substring>","mode":"throw"|"slow","delayMs":<n>}]}: store calls of
//                          a listed op whose key (the prefix, for list) contains `key` (any key when
//                          omitted) throw an Error like a failed KV call ("throw"), or wait `delayMs`
//                          first ("slow", then the real call). "append" and "pull" are the package's
//                          calls to the hub (its key is the path, e.g. "/pull?after=3"); a failed
//                          one throws like an unreachable Durable Object. Answers the rules in force.
//   DELETE /__test/faults  removes every rule.
//   GET    /__test/kv?key= the raw stored text of a key (null when absent), bypassing the faults.
//   PUT    /__test/kv      body {"key","value"}: writes raw text, bypassing the faults.
//   GET    /__test/calls   the store and hub calls seen so far: [{op, key, failed}].
import demo from '../../www-demo/worker.js';

// The Durable Object class the REVOCATIONS binding names must be exported by the entry module.
export { RevocationHub } from '../../www-demo/worker.js';

const OPS = new Set(['get', 'put', 'delete', 'list', 'append', 'pull']);
let rules = [];
let calls = [];
let store = null; // the wrapped bindings, built once (the demo's SessionManager keeps the first ones)
let hub = null;

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function faulty(kv) {
  const guard = async (op, key) => {
    const rule = rules.find((r) => r.ops.includes(op) && (r.key === undefined || key.includes(r.key)));
    calls.push({ op, key, failed: rule !== undefined && rule.mode === 'throw' });
    if (rule === undefined) return;
    if (rule.mode === 'slow') {
      await sleep(rule.delayMs);
      return;
    }
    throw new Error(`KV ${op} failed: 503 Service Unavailable (injected by the e2e test)`);
  };
  return {
    async get(key, type) {
      await guard('get', key);
      return kv.get(key, type);
    },
    async put(key, value, options) {
      await guard('put', key);
      return kv.put(key, value, options);
    },
    async delete(key) {
      await guard('delete', key);
      return kv.delete(key);
    },
    async list(options) {
      await guard('list', options?.prefix ?? '');
      return kv.list(options);
    },
  };
}

// The hub binding (a Durable Object namespace): the stubs it hands out pass each fetch through the
// fault rules first. The package builds a stub per call and only ever calls stub.fetch.
function faultyHub(namespace) {
  return {
    idFromName: (name) => namespace.idFromName(name),
    get(id) {
      const stub = namespace.get(id);
      return {
        async fetch(input, init) {
          const { pathname, search } = new URL(typeof input === 'string' ? input : input.url);
          const rule = rules.find((r) => r.ops.includes(pathname.slice(1)) && (r.key === undefined || (pathname + search).includes(r.key)));
          calls.push({ op: pathname.slice(1), key: pathname + search, failed: rule !== undefined && rule.mode === 'throw' });
          if (rule?.mode === 'slow') await sleep(rule.delayMs);
          else if (rule !== undefined) throw new Error('Durable Object fetch failed: network connection lost (injected by the e2e test)');
          return stub.fetch(input, init);
        },
      };
    },
  };
}

const reply = (status, body) =>
  new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json', 'cache-control': 'no-store' } });

function parseRules(body) {
  if (!body || !Array.isArray(body.rules)) throw new Error('rules must be an array');
  return body.rules.map((r) => {
    if (!Array.isArray(r.ops) || r.ops.length === 0 || !r.ops.every((op) => OPS.has(op))) throw new Error(`bad ops: ${JSON.stringify(r.ops)}`);
    if (r.key !== undefined && typeof r.key !== 'string') throw new Error('key must be a string');
    const mode = r.mode ?? 'throw';
    if (mode !== 'throw' && mode !== 'slow') throw new Error(`bad mode: ${mode}`);
    const delayMs = mode === 'slow' ? Number(r.delayMs) : 0;
    if (!(delayMs >= 0)) throw new Error('delayMs must be a number');
    return { ops: r.ops, key: r.key, mode, delayMs };
  });
}

async function control(request, env, url) {
  try {
    if (url.pathname === '/__test/faults') {
      if (request.method === 'PUT') rules = parseRules(await request.json());
      else if (request.method === 'DELETE') rules = [];
      else return reply(405, { error: 'method_not_allowed' });
      return reply(200, { rules });
    }
    if (url.pathname === '/__test/kv') {
      if (request.method === 'GET') return reply(200, { value: await env.SESSIONS.get(url.searchParams.get('key'), 'text') });
      if (request.method === 'PUT') {
        const { key, value } = await request.json();
        await env.SESSIONS.put(key, value);
        return reply(200, { ok: true });
      }
      return reply(405, { error: 'method_not_allowed' });
    }
    if (url.pathname === '/__test/calls') return reply(200, calls);
    return reply(404, { error: 'not_found' });
  } catch (err) {
    return reply(400, { error: String(err?.message ?? err) });
  }
}

export default {
  async fetch(request, env, ctx) {
    const url = new URL(request.url);
    if (url.pathname.startsWith('/__test/')) return control(request, env, url);
    store ??= faulty(env.SESSIONS);
    hub ??= faultyHub(env.REVOCATIONS);
    return demo.fetch(request, { ...env, SESSIONS: store, REVOCATIONS: hub }, ctx);
  },
};
