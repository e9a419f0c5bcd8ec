// A test worker for tests/wasm-corpus.test.mjs: feeds the fuzz corpora's stored values and Cookie
// headers through the package's public API (pkg/workerd.js, the wasm build) inside workerd, and
// answers what each call returned, or what it threw (a wasm trap is a RuntimeError "unreachable").
//
// The sessions are real (created through the API into the real local KV `KV`); the store each
// item's manager gets reads the real KV except for the one key role being fed a corpus value,
// and keeps its own writes in an overlay, so one item's tombstones never reach the next.
import { SessionManager } from '../../pkg/workerd.js';


/** The store a manager sees: real KV, but `role` keys answer `text`, and writes stay local. */
function feedingStore(kv, role, text) {
  const overlay = new Map();
  const fed = (key) => (role === 'r' ? key === 'r:issued_before' : key.startsWith(`${role}:`));
  const parsed = () => {
    try {
      return JSON.parse(text);
    } catch {
      return text;
    }
  };
  return {
    async get(key, type = 'text') {
      if (fed(key)) return type === 'json' ? JSON.parse(text) : text;
      if (overlay.has(key)) {
        const value = overlay.get(key);
        return value === null || type !== 'json' ? value : JSON.parse(value);
      }
      return kv.get(key, type);
    },
    async put(key, value) {
      overlay.set(key, String(value));
    },
    async delete(key) {
      overlay.set(key, null);
    },
    async list(options) {
      const page = await kv.list(options);
      // Listings of index (u:) and last-seen (t:) keys carry the corpus value as metadata.
      const keys = page.keys.map((k) => (fed(k.name) ? { ...k, metadata: parsed() } : k));
      return { ...page, keys };
    },
  };
}

/** A revocation hub binding whose Durable Object answers every pull with `text`. */
function feedingHub(text, name) {
  return {
    idFromName: () => ({ toString: () => name }),
    get: () => ({
      fetch: async (url) => {
        if (String(url).includes('/append')) return new Response('{}');
        return new Response(text, { headers: { 'content-type': 'application/json' } });
      },
    }),
  };
}

/** What a call returned, as plain data; what it threw, as `threw`. */
async function outcome(call) {
  try {
    const r = await call();
    if (r === null || typeof r !== 'object') return { value: r };
    return { ok: r.ok, reason: r.reason, userId: r.session?.userId };
  } catch (error) {
    return { threw: `${error?.name}: ${error?.message}`, stack: String(error?.stack ?? '') };
  }
}

let counter = 0;

async function storedValues(env, { keys, t0, values }) {
  let clock = t0;
  const now = () => clock;
  const base = new SessionManager({ store: env.KV, keys, now });
  const login = await base.create({ headers: new Map() }, 'alice');
  if (!login.ok) throw new Error(`login failed: ${login.reason}`);
  const cookie = login.setCookie.split(';')[0];
  const handle = login.session.handle;
  const results = [];
  // The control: the real values give a valid session once the envelope has expired.
  clock = t0 + 90_000;
  results.push({ name: '(control)', role: '-', call: 'validate', ...(await outcome(() => base.validate(cookie))) });
  for (const { name, text } of values) {
    for (const role of ['s', 'l', 'c', 'r', 'o']) {
      const m = new SessionManager({ store: feedingStore(env.KV, role, text), keys, now });
      results.push({ name, role, call: 'validate', ...(await outcome(() => m.validate(cookie))) });
      if (role === 's') results.push({ name, role, call: 'revokeSession', ...(await outcome(() => m.revokeSession(handle))) });
      if (role === 'c') results.push({ name, role, call: 'revokeUser', ...(await outcome(() => m.revokeUser('alice'))) });
      if (role === 'o') results.push({ name, role, call: 'revokeOthers', ...(await outcome(() => m.revokeOthers(cookie))) });
    }
    for (const role of ['u', 't']) {
      const m = new SessionManager({ store: feedingStore(env.KV, role, text), keys, now });
      results.push({ name, role, call: 'listSessions', ...(await outcome(() => m.listSessions('alice'))) });
    }
    // As a hub page, and as the one entry of a page.
    for (const [role, page] of [['hub', text], ['hub-entry', `{"entries":[${text}],"head":1,"log":"corpus"}`]]) {
      const hub = feedingHub(page, `corpus-${counter++}`);
      const m = new SessionManager({ store: env.KV, keys, now, hub });
      results.push({ name, role, call: 'validate', ...(await outcome(() => m.validate(cookie))) });
    }
  }
  return results;
}

async function cookieHeaders(env, { keys, t0, headers }) {
  const results = [];
  for (const { name, text } of headers) {
    for (const at of [t0 + 30_000, t0 + 90_000, t0 + 13 * 3_600_000]) {
      const m = new SessionManager({ store: env.KV, keys, now: () => at });
      results.push({ name, role: 'cookie', call: `validate@${at - t0}`, ...(await outcome(() => m.validate(text))) });
      results.push({
        name,
        role: 'cookie',
        call: `validate(Request)@${at - t0}`,
        ...(await outcome(() => m.validate({ headers: new Map([['cookie', text]]) }))),
      });
    }
  }
  return results;
}

export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    const body = await request.json();
    try {
      if (url.pathname === '/stored') return Response.json(await storedValues(env, body));
      if (url.pathname === '/cookies') return Response.json(await cookieHeaders(env, body));
      return new Response('not found', { status: 404 });
    } catch (error) {
      return Response.json({ error: String(error?.stack ?? error) }, { status: 500 });
    }
  },
};
