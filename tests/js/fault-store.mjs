// Store fault injection for tests: wrappers around any Workers-KV-like binding (get/put/delete/list)
// and any Durable Object namespace binding of the RevocationHub (idFromName/get -> stub.fetch), plus
// a minimal in-process RevocationHub namespace for Node. Runtime-agnostic (no node: imports): the
// same module runs in Node and, bundled into a test worker, in workerd.
//
// A wrapper hands out views: `view()` applies the fault rules in force (give it to the manager under
// test), `clean()` passes every call through, `readOnly()` reads through and drops writes (probes
// that must not change the store). Every call through a view is logged in `calls`:
// { via, op, key, fault, outcome } with outcome 'ok' | 'threw' | 'hung' | 'late' | 'lost' | 'altered'.
//
// Fault kinds (`add({ kind, key, variant })`; `key` is a key prefix, e.g. 's:', or a predicate):
//   throw    the call rejects (a failed KV call, an unreachable Durable Object); nothing is written
//   hang     the call never settles (past any store deadline); nothing is written
//   late     a write that settles only after `lateMs` and is then applied: it lands after the
//            caller's deadline told it the write failed
//   stale    a read answers the key's previous value (the one before its latest write; absent when
//            it had none), a listing the previous state of every key: what KV serves before a write
//            has propagated
//   corrupt  a read answers a damaged value (see CORRUPTIONS / LIST_CORRUPTIONS, `variant`)
//   foreign  a read answers a valid-looking value of another key of the same kind (another
//            session's record, another user's cutoff, another user's listing)
//   lose     a write resolves as if done and is never applied (silent loss)
// For the hub the rule names the call ('append' or 'pull') instead of a key prefix; `stale` pulls
// miss the newest entry, `foreign` pulls answer a page of another log, `lose`/`foreign` appends
// answer a made-up success without appending, `corrupt` appends are applied but answered with a
// damaged body.

export const KINDS = ['throw', 'hang', 'late', 'stale', 'corrupt', 'foreign', 'lose'];
const READ_KINDS = new Set(['stale', 'corrupt', 'foreign']);
const WRITE_KINDS = new Set(['late', 'lose']);

const HUGE = 1 << 20;

function parse(text) {
  if (typeof text !== 'string') return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** Every number becomes a string, every string a number, every array an object (recursively). */
function retype(value) {
  if (typeof value === 'number') return String(value);
  if (typeof value === 'string') return 7;
  if (typeof value === 'boolean') return String(value);
  if (Array.isArray(value)) return { length: value.length };
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, retype(v)]));
  return value;
}

/** Every string field blown up to 1 MiB, plus 2 MiB of padding. */
function blowUp(value) {
  const out = {};
  for (const [k, v] of Object.entries(value && typeof value === 'object' ? value : {})) {
    out[k] = typeof v === 'string' ? v + 'x'.repeat(HUGE) : v;
  }
  out.pad = 'p'.repeat(2 * HUGE);
  return out;
}

// What a damaged stored value looks like. Absent keys get damaged too (garbage where nothing was).
const SOME_CUTOFF = '{"v":2,"before":1,"at":1}';
export const CORRUPTIONS = {
  /** The JSON cut in half. */
  truncated: (t) => {
    const text = t ?? SOME_CUTOFF;
    return text.slice(0, Math.max(1, Math.floor(text.length / 2)));
  },
  /** Every field of the wrong type. */
  types: (t) => JSON.stringify(retype(parse(t) ?? parse(SOME_CUTOFF))),
  /** A format version this build does not know. */
  version: (t) => JSON.stringify({ ...(parse(t) ?? parse(SOME_CUTOFF)), v: 3 }),
  /** Megabytes: strings blown up, padding added. */
  huge: (t) => JSON.stringify(blowUp(parse(t) ?? parse(SOME_CUTOFF))),
  /** Not JSON at all. */
  nonjson: () => '<html>503 Service Unavailable</html>\u0000\ufffd',
  /** The JSON literal null. */
  jsonnull: () => 'null',
  /** Not text: bytes where the binding promised a string. */
  nontext: () => new Uint8Array([0x7b, 0x22, 0x76]).buffer,
};

// What a damaged listing page looks like.
export const LIST_CORRUPTIONS = {
  /** Half the names, claiming to be complete. */
  truncated: (page) => ({ keys: page.keys.slice(0, Math.floor(page.keys.length / 2)), list_complete: true }),
  /** Metadata of the wrong types. */
  types: (page) => ({ ...page, keys: page.keys.map((k) => ({ ...k, metadata: retype(k.metadata ?? {}) })) }),
  /** Metadata of an unknown version. */
  version: (page) => ({ ...page, keys: page.keys.map((k) => ({ ...k, metadata: { ...(k.metadata ?? {}), v: 3 } })) }),
  /** Metadata of megabytes. */
  huge: (page) => ({ ...page, keys: page.keys.map((k) => ({ ...k, metadata: blowUp(k.metadata) })) }),
  /** A string instead of a page. */
  nonjson: () => '<html>503</html>',
  /** null instead of a page. */
  jsonnull: () => null,
  /** A page whose keys are not a list. */
  nontext: () => ({ keys: 'keys', list_complete: true }),
  /** A page that never completes: always more, always the same cursor. */
  loop: (page) => ({ keys: page.keys, list_complete: false, cursor: 'again' }),
};

// What a damaged hub answer looks like (the response body).
export const HUB_CORRUPTIONS = {
  truncated: (t) => t.slice(0, Math.max(1, Math.floor(t.length / 2))),
  types: (t) => JSON.stringify(retype(parse(t) ?? {})),
  /** Entries of a kind this build does not know, numbered past the head. */
  version: (t) => {
    const page = parse(t) ?? {};
    const head = (Number(page.head) || 0) + 1;
    return JSON.stringify({ ...page, head, entries: [{ seq: head, kind: 'everything', at: 1, until: 2 ** 52 }] });
  },
  huge: (t) => JSON.stringify({ ...(parse(t) ?? {}), pad: 'p'.repeat(4 * HUGE) }),
  nonjson: () => '<html>502 Bad Gateway</html>',
  jsonnull: () => 'null',
  nontext: () => '\u0000\u0001\u0002',
};

const never = () => new Promise(() => {});

function matches(rule, op, key) {
  if (rule.ops && !rule.ops.includes(op)) return false;
  if (typeof rule.key === 'function') return rule.key(key);
  return rule.key === undefined || key.startsWith(rule.key);
}

/** The ops a fault kind applies to by default. */
function defaultOps(kind, reads, writes) {
  if (READ_KINDS.has(kind)) return reads;
  if (WRITE_KINDS.has(kind)) return writes;
  return [...reads, ...writes];
}

/**
 * Fault rules, a call log and held late writes, shared by the KV and hub wrappers.
 */
class Faults {
  rules = [];
  calls = [];
  #pending = new Set();

  constructor({ lateMs = 100 } = {}) {
    this.lateMs = lateMs;
  }

  add(rule) {
    if (!KINDS.includes(rule.kind)) throw new Error(`unknown fault kind ${rule.kind}`);
    this.rules.push(rule);
    return this;
  }

  clear() {
    this.rules = [];
    return this;
  }

  /** Whether any call met a fault. */
  get fired() {
    return this.calls.some((c) => c.fault !== null);
  }

  /** Resolves once every late write has landed. */
  async settled() {
    while (this.#pending.size > 0) await Promise.all([...this.#pending]);
  }

  later(task) {
    const p = new Promise((resolve) => setTimeout(resolve, this.lateMs)).then(task);
    const tracked = p.then(
      () => {},
      () => {},
    );
    this.#pending.add(tracked);
    tracked.then(() => this.#pending.delete(tracked));
    return p;
  }

  log(via, op, key, rule, outcome) {
    const entry = { via, op, key, fault: rule ? rule.kind : null, variant: rule?.variant, outcome };
    this.calls.push(entry);
    return entry;
  }
}

/** The kind of a store key: its prefix up to and including the first colon ('s:', 'u:', ...). */
export const keyKind = (key) => key.slice(0, key.indexOf(':') + 1);

/**
 * A KV binding with faults. Keeps every write made through any of its views (`history`), so a
 * stale read can answer the value before the latest one.
 */
export class FaultyKV extends Faults {
  /** key -> [{ value, metadata } | null (deleted)], oldest first. */
  history = new Map();

  constructor(inner, options) {
    super(options);
    this.inner = inner;
  }

  view() {
    return this.#binding('faulty', true, true);
  }

  clean() {
    return this.#binding('clean', false, true);
  }

  readOnly() {
    return this.#binding('probe', false, false);
  }

  #binding(via, faulty, writes) {
    const rule = (op, key) =>
      faulty ? this.rules.find((r) => matches({ ...r, ops: r.ops ?? defaultOps(r.kind, ['get', 'list'], ['put', 'delete']) }, op, key)) : undefined;
    return {
      get: (key, type) => this.#get(via, rule('get', key), key, type),
      put: (key, value, options) => (writes ? this.#write(via, rule('put', key), 'put', key, value, options) : Promise.resolve()),
      delete: (key) => (writes ? this.#write(via, rule('delete', key), 'delete', key) : Promise.resolve()),
      list: (options = {}) => this.#list(via, rule('list', options.prefix ?? ''), options),
    };
  }

  #remember(key, entry) {
    let h = this.history.get(key);
    if (!h) this.history.set(key, (h = []));
    h.push(entry);
  }

  /** The key's value before its latest write through these views (null: absent). */
  previous(key) {
    const h = this.history.get(key);
    return h && h.length >= 2 ? h[h.length - 2] : null;
  }

  async #apply(op, key, value, options) {
    if (op === 'put') {
      await this.inner.put(key, value, options);
      this.#remember(key, { value, metadata: options?.metadata });
    } else {
      await this.inner.delete(key);
      this.#remember(key, null);
    }
  }

  async #write(via, rule, op, key, value, options) {
    switch (rule?.kind) {
      case 'throw':
        this.log(via, op, key, rule, 'threw');
        throw new Error(`KV ${op} failed: 503 (injected)`);
      case 'hang':
        this.log(via, op, key, rule, 'hung');
        return never();
      case 'lose':
        this.log(via, op, key, rule, 'lost');
        return undefined;
      case 'late': {
        const entry = this.log(via, op, key, rule, 'late');
        return this.later(async () => {
          await this.#apply(op, key, value, options);
          entry.landed = true;
        });
      }
      default:
        this.log(via, op, key, null, 'ok');
        return this.#apply(op, key, value, options);
    }
  }

  /** A valid value stored under another key of the same kind (a live record first, for s:). */
  async #foreignValue(key) {
    const kind = keyKind(key);
    const candidates = [];
    for (const prefix of kind === 'r:' ? ['c:', 'o:'] : [kind]) {
      let cursor;
      do {
        const page = await this.inner.list({ prefix, cursor });
        candidates.push(...page.keys.map((k) => k.name).filter((name) => name !== key));
        cursor = page.list_complete ? undefined : page.cursor;
      } while (cursor);
    }
    let fallback = null;
    for (const name of candidates) {
      const text = await this.inner.get(name, 'text');
      if (text === null) continue;
      if (kind !== 's:' || !('ended' in (parse(text) ?? {}))) return text;
      fallback ??= text;
    }
    return fallback;
  }

  async #get(via, rule, key, type) {
    if (rule?.kind === 'throw') {
      this.log(via, 'get', key, rule, 'threw');
      throw new Error('KV GET failed: 503 (injected)');
    }
    if (rule?.kind === 'hang') {
      this.log(via, 'get', key, rule, 'hung');
      return never();
    }
    let text;
    if (rule?.kind === 'stale') {
      text = this.history.has(key) ? this.previous(key)?.value ?? null : null;
    } else if (rule?.kind === 'foreign') {
      text = await this.#foreignValue(key);
    } else {
      text = await this.inner.get(key, 'text');
    }
    if (rule?.kind === 'corrupt') text = CORRUPTIONS[rule.variant](text);
    this.log(via, 'get', key, rule ?? null, rule ? 'altered' : 'ok');
    if (text === null || type === undefined || type === 'text') return text;
    if (type === 'json') return JSON.parse(text);
    throw new Error(`this wrapper reads text or json only, not ${JSON.stringify(type)}`);
  }

  /** Every key under `prefix` with its metadata, as the inner store lists it (all pages). */
  async #listAll(prefix) {
    const keys = [];
    let cursor;
    do {
      const page = await this.inner.list({ prefix, cursor });
      keys.push(...page.keys);
      cursor = page.list_complete ? undefined : page.cursor;
    } while (cursor);
    return keys;
  }

  async #list(via, rule, options) {
    const prefix = options.prefix ?? '';
    if (rule?.kind === 'throw') {
      this.log(via, 'list', prefix, rule, 'threw');
      throw new Error('KV LIST failed: 503 (injected)');
    }
    if (rule?.kind === 'hang') {
      this.log(via, 'list', prefix, rule, 'hung');
      return never();
    }
    if (rule?.kind === 'stale') {
      // Each key as it was before its latest write (keys written only outside these views as now).
      const now = new Map((await this.#listAll(prefix)).map((k) => [k.name, k]));
      const names = new Set([...now.keys(), ...[...this.history.keys()].filter((k) => k.startsWith(prefix))]);
      const keys = [];
      for (const name of [...names].sort()) {
        if (!this.history.has(name)) {
          keys.push(now.get(name));
          continue;
        }
        const before = this.previous(name);
        if (before) keys.push({ name, ...(before.metadata !== undefined ? { metadata: before.metadata } : {}) });
      }
      this.log(via, 'list', prefix, rule, 'altered');
      return { keys, list_complete: true };
    }
    if (rule?.kind === 'foreign') {
      // Another user's listing: every key of this kind but the ones asked for.
      const kind = keyKind(prefix);
      const keys = (await this.#listAll(kind)).filter((k) => !k.name.startsWith(prefix));
      this.log(via, 'list', prefix, rule, 'altered');
      return { keys, list_complete: true };
    }
    if (rule?.kind === 'corrupt') {
      // Cursors of a damaged page are the wrapper's own: the damage is applied to the whole listing.
      if (options.cursor === 'again') {
        this.log(via, 'list', prefix, rule, 'altered');
        return LIST_CORRUPTIONS.loop({ keys: [] });
      }
      const keys = await this.#listAll(prefix);
      this.log(via, 'list', prefix, rule, 'altered');
      return LIST_CORRUPTIONS[rule.variant]({ keys, list_complete: true });
    }
    this.log(via, 'list', prefix, null, 'ok');
    return this.inner.list(options);
  }
}

/**
 * A RevocationHub namespace binding with faults on its two calls: 'append' (POST /append) and
 * 'pull' (GET /pull?after=N).
 */
export class FaultyHub extends Faults {
  constructor(namespace, options) {
    super(options);
    this.namespace = namespace;
    this.foreignLog = `foreign-${Math.floor(Math.random() * 1e9)}`;
  }

  view() {
    return this.#binding('faulty', true);
  }

  clean() {
    return this.#binding('clean', false);
  }

  #binding(via, faulty) {
    const ns = this.namespace;
    return {
      idFromName: (name) => ns.idFromName(name),
      get: (id) => {
        const stub = ns.get(id);
        return {
          fetch: (input, init) => {
            const url = new URL(typeof input === 'string' ? input : input.url);
            const op = url.pathname.slice(1);
            const rule = faulty
              ? this.rules.find((r) => matches({ ...r, ops: r.ops ?? defaultOps(r.kind, ['pull'], ['append']) }, op, op))
              : undefined;
            return this.#fetch(via, rule, op, stub, input, init, url);
          },
        };
      },
    };
  }

  async #fetch(via, rule, op, stub, input, init, url) {
    const respond = (body) => new Response(body, { status: 200, headers: { 'content-type': 'application/json' } });
    const key = op + url.search;
    const entriesOf = () => {
      try {
        return JSON.parse(init?.body ?? '{}').entries ?? [];
      } catch {
        return [];
      }
    };
    switch (rule?.kind) {
      case 'throw':
        this.log(via, op, key, rule, 'threw');
        throw new Error('Durable Object fetch failed: network connection lost (injected)');
      case 'hang':
        this.log(via, op, key, rule, 'hung');
        return never();
      case 'late': {
        const entry = this.log(via, op, key, rule, 'late');
        return this.later(async () => {
          const res = await stub.fetch(input, init);
          entry.landed = res.ok;
          return res;
        });
      }
      case 'lose':
      case 'foreign':
        if (op === 'append') {
          // A success that never happened: made-up sequence numbers, nothing appended.
          this.log(via, op, key, rule, 'lost');
          const n = entriesOf().length;
          const log = rule.kind === 'foreign' ? this.foreignLog : undefined;
          return respond(JSON.stringify({ seqs: Array.from({ length: n }, (_, i) => 1_000_000 + i), head: 1_000_000 + n, ...(log ? { log } : {}) }));
        }
        break;
      default:
        break;
    }
    if (rule?.kind === 'foreign' && op === 'pull') {
      // A page of another deployment's log: a few revocations of sessions that are not ours.
      this.log(via, op, key, rule, 'altered');
      const at = 1;
      const until = 2 ** 52;
      const entries = [
        { seq: 1, kind: 'user', user_id: 'someone-else', before: at, at, until },
        { seq: 2, kind: 'session', handle: 'A'.repeat(43), at, until },
      ];
      return respond(JSON.stringify({ entries, head: 2, log: this.foreignLog }));
    }
    const res = await stub.fetch(input, init);
    if (!rule || rule.kind === 'lose' || rule.kind === 'late') {
      this.log(via, op, key, null, 'ok');
      return res;
    }
    let text = await res.text();
    if (rule.kind === 'stale' && op === 'pull' && res.ok) {
      // The answer as of one append ago: the newest entry missing, the head one lower.
      const page = parse(text);
      if (page && Array.isArray(page.entries) && page.head > 0) {
        text = JSON.stringify({ ...page, head: page.head - 1, entries: page.entries.filter((e) => e.seq < page.head) });
      }
    } else if (rule.kind === 'corrupt') {
      text = HUB_CORRUPTIONS[rule.variant](text);
    }
    this.log(via, op, key, rule, 'altered');
    return new Response(text, { status: res.status, headers: { 'content-type': 'application/json' } });
  }
}

/**
 * A minimal in-process RevocationHub namespace (Node has no Durable Objects): one log per name,
 * speaking pkg-template/hub.js's protocol (POST /append, GET /pull?after=N; pages of 500).
 */
export class MemoryHubNamespace {
  #logs = new Map();

  idFromName(name) {
    return { name, toString: () => `memory-hub:${name}` };
  }

  get(id) {
    let log = this.#logs.get(id.name);
    if (!log) this.#logs.set(id.name, (log = { id: `log-${this.#logs.size + 1}`, entries: [] }));
    const json = (status, body) => new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });
    return {
      fetch: async (input, init = {}) => {
        const url = new URL(typeof input === 'string' ? input : input.url);
        const head = () => log.entries.length;
        if (url.pathname === '/append' && init.method === 'POST') {
          const body = JSON.parse(init.body);
          if (!Array.isArray(body.entries) || body.entries.length === 0 || body.entries.length > 100) {
            return json(400, { error: 'entries_required' });
          }
          const seqs = body.entries.map((entry) => {
            log.entries.push({ ...entry, seq: head() + 1 });
            return head();
          });
          return json(200, { seqs, head: head(), log: log.id });
        }
        if (url.pathname === '/pull') {
          const after = Number(url.searchParams.get('after') ?? '0');
          return json(200, { entries: log.entries.filter((e) => e.seq > after).slice(0, 500), head: head(), log: log.id });
        }
        return json(404, { error: 'not_found' });
      },
    };
  }
}
