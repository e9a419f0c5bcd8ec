// One isolate for tests/hub.test.mjs: a worker whose module-scope SessionManager follows the
// RevocationHub bound as `REVOCATIONS` and keeps sessions in the KV namespace bound as `KV`
// (both shared with the other worker). Real time: the test measures real delays.
//
// The store counts this isolate's KV calls, so the test can show the fast path read nothing.
// `POST /fault?mode=fail|hang|none` makes this isolate's hub calls fail or never answer from
// then on (a hub that is down or unreachable from here), without touching the hub itself.
//
// Routes (JSON answers; `cookie` is the name=value pair of a Set-Cookie, `clears` says the
// Set-Cookie deleted the cookie):
//   POST /login?user=U          create(null, U)
//   GET  /me                    validate(request)
//   POST /logout                destroy(request)
//   POST /rotate                rotate(request)
//   POST /revokeOthers          revokeOthers(request)
//   POST /revokeUser?user=U     revokeUser(U)
//   POST /revokeSession?handle= revokeSession(handle)
//   POST /revokeBefore?t=MS     revokeIssuedBefore(MS)
//   POST /burst?n=N&from=I      appends N session revocations straight to the hub, 100 per call
//   GET  /stats                 { kv: { get, list, put, delete }, status, hub: the hub's /stats,
//                               events: onEvent types, pulls: [{ entries, shared }] per page }
//   POST /stats/reset           zeroes the KV counters and forgets events and pulls
//   POST /fault?mode=           fail | hang | none: this isolate's hub calls from now on
export { RevocationHub } from '../../pkg/workerd.js';
import { SessionManager } from '../../pkg/workerd.js';
import { answer } from './answer.mjs';

let manager;
let currentEnv;
let fault = null;
const kv = { get: 0, list: 0, put: 0, delete: 0 };
const events = [];
const pulls = [];

const store = {
  get: (key, type) => (kv.get++, currentEnv.KV.get(key, type)),
  put: (key, value, options) => (kv.put++, currentEnv.KV.put(key, value, options)),
  delete: (key) => (kv.delete++, currentEnv.KV.delete(key)),
  list: (options) => (kv.list++, currentEnv.KV.list(options)),
};

/** The hub binding, with this request's fault applied. */
const hub = {
  idFromName: (name) => currentEnv.REVOCATIONS.idFromName(name),
  get(id) {
    const stub = currentEnv.REVOCATIONS.get(id);
    return {
      fetch(url, init) {
        if (fault === 'fail') return Promise.resolve(new Response('injected hub failure', { status: 503 }));
        if (fault === 'hang') return new Promise(() => {});
        return stub.fetch(url, init);
      },
    };
  },
};

function setup(env) {
  currentEnv = env;
  manager ??= new SessionManager({
    store,
    hub,
    hubPollInterval: Number(env.HUB_POLL_S),
    keys: env.SESSION_KEYS,
    envelopeTtl: 3000,
    idleTimeout: 7200,
    absoluteTimeout: 43200,
    storeTimeoutMs: 1000,
    onEvent: (e) => {
      if (e.type === 'hub_pulled') pulls.push({ entries: e.entries, shared: e.shared });
      else events.push(e.type);
    },
  });
}


function hubStub(env) {
  return env.REVOCATIONS.get(env.REVOCATIONS.idFromName(`edge-session/${manager.cookieName}`));
}

/** A well-formed session handle (base64url of 32 bytes) numbered `n`. */
function handleOf(n) {
  const bytes = new Uint8Array(32).fill(0xb5);
  new DataView(bytes.buffer).setUint32(0, n);
  return btoa(String.fromCharCode(...bytes)).replaceAll('+', '-').replaceAll('/', '_').replace(/=+$/, '');
}

async function burst(env, n, from) {
  const stub = hubStub(env);
  const now = Date.now();
  const calls = [];
  for (let i = 0; i < n; i += 100) {
    const entries = [];
    for (let j = i; j < Math.min(n, i + 100); j++) {
      const handle = handleOf(from + j);
      entries.push({ kind: 'session', handle, at: now, until: now + 3_600_000 });
    }
    calls.push(
      stub.fetch('https://hub/append', { method: 'POST', body: JSON.stringify({ entries }) }).then(async (r) => {
        if (!r.ok) throw new Error(`append ${r.status}: ${await r.text()}`);
        return (await r.json()).seqs;
      }),
    );
  }
  return (await Promise.all(calls)).flat();
}

export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    setup(env);
    const q = (name) => url.searchParams.get(name) ?? undefined;
    try {
      switch (`${request.method} ${url.pathname}`) {
        case 'POST /login':
          return answer(await manager.create(null, q('user')));
        case 'GET /me':
          return answer(await manager.validate(request));
        case 'POST /logout':
          return answer(await manager.destroy(request));
        case 'POST /rotate':
          return answer(await manager.rotate(request));
        case 'POST /revokeOthers':
          return answer(await manager.revokeOthers(request));
        case 'POST /revokeUser':
          return Response.json({ ok: true, listed: await manager.revokeUser(q('user')) });
        case 'POST /revokeSession':
          return Response.json({ ok: await manager.revokeSession(q('handle')) });
        case 'POST /revokeBefore':
          await manager.revokeIssuedBefore(Number(q('t')));
          return Response.json({ ok: true });
        case 'POST /burst':
          return Response.json({ seqs: await burst(env, Number(q('n')), Number(q('from') ?? 0)) });
        case 'GET /stats': {
          const hubStats = await (await hubStub(env).fetch('https://hub/stats')).json();
          return Response.json({ kv, status: manager.status(), hub: hubStats, events, pulls });
        }
        case 'POST /fault':
          fault = q('mode') === 'none' ? null : q('mode');
          return Response.json({ ok: true, fault });
        case 'POST /stats/reset':
          for (const k of Object.keys(kv)) kv[k] = 0;
          events.length = 0;
          pulls.length = 0;
          return Response.json({ ok: true });
        default:
          return Response.json({ error: 'no such route' }, { status: 404 });
      }
    } catch (error) {
      return Response.json({ ok: false, error: `${error.name}: ${error.message}`, reason: error.reason }, { status: 500 });
    }
  },
};
