// TEST-ONLY entry point for tests/hostile.test.mjs, never deployed: the demo worker
// (www-demo/worker.js, imported unchanged) with its KV binding and its revocation hub binding
// wrapped so that every store and hub call is counted, in workerd (Miniflare) against a real local
// KV namespace and a real RevocationHub Durable Object.
//
// Control routes (answered here, never passed to the demo):
//   GET /__test/counts  { put, delete, append, get, list, pull, other, total writes }: the calls
//                       the demo made so far. Writes are KV put and delete and every hub call but
//                       a pull (the package only appends to the hub or pulls from it).
//   GET /__test/now     { now: Date.now() } as this isolate sees it (workerd's clock only moves
//                       between I/O, and each request is I/O, so a later request's now is >= it).
//   GET /__test/errors  the console.error lines and the exceptions the demo let through so far.
import demo from '../../www-demo/worker.js';

// The Durable Object class the REVOCATIONS binding names must be exported by the entry module.
export { RevocationHub } from '../../www-demo/worker.js';

const counts = { get: 0, list: 0, put: 0, delete: 0, pull: 0, append: 0, other: 0 };
const errors = [];
let store = null; // built once: the demo's SessionManager keeps the first bindings it sees
let hub = null;

// console.error is where the demo reports what it could not handle (a 500) and where a wasm trap
// would surface; kept here for the test to read, and still printed.
const consoleError = console.error.bind(console);
console.error = (...args) => {
  errors.push(args.map(String).join(' '));
  consoleError(...args);
};

function counted(kv) {
  return {
    get(key, type) {
      counts.get += 1;
      return kv.get(key, type);
    },
    list(options) {
      counts.list += 1;
      return kv.list(options);
    },
    put(key, value, options) {
      counts.put += 1;
      return kv.put(key, value, options);
    },
    delete(key) {
      counts.delete += 1;
      return kv.delete(key);
    },
  };
}

// The package builds a stub per call and only calls stub.fetch: a pull reads, anything else
// (an append) writes to the hub's log.
function countedHub(namespace) {
  return {
    idFromName: (name) => namespace.idFromName(name),
    get(id) {
      const stub = namespace.get(id);
      return {
        fetch(input, init) {
          const { pathname } = new URL(typeof input === 'string' ? input : input.url);
          if (pathname === '/pull') counts.pull += 1;
          else if (pathname === '/append') counts.append += 1;
          else counts.other += 1;
          return stub.fetch(input, init);
        },
      };
    },
  };
}

const reply = (body) => new Response(JSON.stringify(body), { headers: { 'content-type': 'application/json', 'cache-control': 'no-store' } });

export default {
  async fetch(request, env, ctx) {
    const url = new URL(request.url);
    if (url.pathname === '/__test/counts') {
      return reply({ ...counts, writes: counts.put + counts.delete + counts.append + counts.other });
    }
    if (url.pathname === '/__test/now') return reply({ now: Date.now() });
    if (url.pathname === '/__test/errors') return reply(errors);
    store ??= counted(env.SESSIONS);
    hub ??= countedHub(env.REVOCATIONS);
    try {
      return await demo.fetch(request, { ...env, SESSIONS: store, REVOCATIONS: hub }, ctx);
    } catch (err) {
      errors.push(`uncaught: ${err?.stack ?? err}`);
      throw err;
    }
  },
};
