// RevocationHub: a Durable Object (SQLite storage) that keeps the ordered log of revocations every
// isolate pulls. It only numbers, stores, pages and prunes entries; what an entry means, and how
// long it matters, is decided by the wasm core of the isolate that appends it.
//
// Its HTTP interface is internal (reached only through the Durable Object binding):
//   POST /append  {"entries":[entry, ...]}  -> {"seqs":[...], "head", "log"}   (all or nothing)
//   GET  /pull?after=N                      -> {"entries":[...], "head", "log"} (at most PAGE)
//   GET  /stats                             -> {"head", "log", "entries", "appends", "pulls"}

/** Most entries one pull answers; the core pages through a burst (`HUB_PAGE` in src/hub.rs). */
export const HUB_PAGE = 500;
/** Most entries one append may carry. */
export const HUB_MAX_APPEND = 100;
/**
 * How long an entry is kept after its `until` (the time after which no envelope it could refuse
 * is still valid): covers clock skew between isolates and the hub, and an isolate that pulls a
 * little late. Pruned entries were useless to every isolate anyway.
 */
export const HUB_PRUNE_MARGIN_MS = 5 * 60_000;
const MAX_BODY_BYTES = 64 * 1024;
const KINDS = {
  session: ['handle'],
  login: ['lineage'],
  user: ['user_id', 'before'],
  before: ['before'],
};
const TOKEN_RE = /^[A-Za-z0-9_-]{1,128}$/;

function json(status, body) {
  return new Response(JSON.stringify(body), {
    status,
    headers: { 'content-type': 'application/json', 'cache-control': 'no-store' },
  });
}

const utf8 = new TextEncoder();

function isTime(value) {
  return Number.isSafeInteger(value) && value >= 0;
}

/** The entry as it will be stored, or a reason it is refused. */
function checkEntry(entry) {
  if (entry === null || typeof entry !== 'object' || Array.isArray(entry)) return 'entry_not_object';
  const needs = Object.hasOwn(KINDS, entry.kind) ? KINDS[entry.kind] : undefined;
  if (needs === undefined) return 'unknown_kind';
  if (!isTime(entry.at) || !isTime(entry.until) || entry.until < entry.at) return 'invalid_times';
  for (const field of needs) {
    const value = entry[field];
    if (field === 'before') {
      if (!isTime(value)) return 'invalid_before';
    } else if (field === 'user_id') {
      if (typeof value !== 'string' || value === '' || utf8.encode(value).length > 128) return 'invalid_user_id';
    } else if (typeof value !== 'string' || !TOKEN_RE.test(value)) {
      return `invalid_${field}`;
    }
  }
  if (entry.keep !== undefined && (entry.kind !== 'user' || typeof entry.keep !== 'string' || !TOKEN_RE.test(entry.keep))) {
    return 'invalid_keep';
  }
  const stored = { kind: entry.kind, at: entry.at, until: entry.until };
  for (const field of needs) stored[field] = entry[field];
  if (entry.keep !== undefined) stored.keep = entry.keep;
  return stored;
}

/**
 * The revocation log. Re-export it from your worker and bind it:
 *
 *   export { RevocationHub } from 'edge-session';
 *
 *   [[durable_objects.bindings]]
 *   name = "REVOCATIONS"
 *   class_name = "RevocationHub"
 *
 *   [[migrations]]
 *   tag = "v1"
 *   new_sqlite_classes = ["RevocationHub"]
 *
 * then pass `hub: env.REVOCATIONS` to `new SessionManager(...)`.
 */
export class RevocationHub {
  #sql;
  #storage;
  #ready = false;
  #head = 0;
  #log = '';
  #appends = 0;
  #pulls = 0;

  constructor(state) {
    this.#storage = state.storage;
    this.#sql = state.storage.sql;
    if (!this.#sql) {
      throw new Error('RevocationHub needs SQLite storage: declare it under new_sqlite_classes in a [[migrations]] entry');
    }
  }

  /** Creates the tables on first use, and draws the log's identity (never at global scope). */
  #open() {
    if (this.#ready) return;
    this.#sql.exec(`CREATE TABLE IF NOT EXISTS entries (
      seq INTEGER PRIMARY KEY, until INTEGER NOT NULL, body TEXT NOT NULL)`);
    this.#sql.exec('CREATE INDEX IF NOT EXISTS entries_until ON entries (until)');
    this.#sql.exec('CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v TEXT NOT NULL)');
    const meta = Object.fromEntries(this.#sql.exec('SELECT k, v FROM meta').toArray().map((r) => [r.k, r.v]));
    if (meta.log === undefined) {
      meta.log = crypto.randomUUID();
      meta.head = '0';
      this.#sql.exec('INSERT INTO meta (k, v) VALUES (?, ?), (?, ?)', 'log', meta.log, 'head', meta.head);
    }
    this.#log = meta.log;
    this.#head = Number(meta.head);
    this.#ready = true;
  }

  async fetch(request) {
    const url = new URL(request.url);
    try {
      this.#open();
      if (url.pathname === '/pull' && request.method === 'GET') return this.#pull(url);
      if (url.pathname === '/append' && request.method === 'POST') return await this.#append(request);
      if (url.pathname === '/stats' && request.method === 'GET') return this.#stats();
      return json(404, { error: 'not_found' });
    } catch (error) {
      return json(500, { error: 'hub_failed', message: String(error?.message ?? error) });
    }
  }

  #pull(url) {
    const after = Number(url.searchParams.get('after') ?? '0');
    if (!isTime(after)) return json(400, { error: 'invalid_after' });
    this.#pulls += 1;
    const rows = this.#sql
      .exec('SELECT seq, body FROM entries WHERE seq > ? ORDER BY seq LIMIT ?', after, HUB_PAGE)
      .toArray();
    const entries = rows.map((r) => ({ seq: r.seq, ...JSON.parse(r.body) }));
    return json(200, { entries, head: this.#head, log: this.#log });
  }

  async #append(request) {
    const text = await request.text();
    if (utf8.encode(text).length > MAX_BODY_BYTES) return json(413, { error: 'body_too_large' });
    let body;
    try {
      body = JSON.parse(text);
    } catch {
      return json(400, { error: 'malformed_json' });
    }
    const list = body?.entries;
    if (!Array.isArray(list) || list.length === 0 || list.length > HUB_MAX_APPEND) {
      return json(400, { error: 'entries_required', max: HUB_MAX_APPEND });
    }
    const stored = [];
    for (const entry of list) {
      const checked = checkEntry(entry);
      if (typeof checked === 'string') return json(400, { error: 'invalid_entry', reason: checked });
      stored.push(checked);
    }
    const now = Date.now();
    // One synchronous transaction: every entry gets the next number, or none does. A Durable
    // Object runs one request's synchronous code at a time, so concurrent appends from many
    // isolates are serialized here and never share or skip a number.
    const seqs = this.#storage.transactionSync(() => {
      const out = [];
      let head = this.#head;
      for (const entry of stored) {
        head += 1;
        this.#sql.exec('INSERT INTO entries (seq, until, body) VALUES (?, ?, ?)', head, entry.until, JSON.stringify(entry));
        out.push(head);
      }
      this.#sql.exec("UPDATE meta SET v = ? WHERE k = 'head'", String(head));
      this.#sql.exec('DELETE FROM entries WHERE until < ?', now - HUB_PRUNE_MARGIN_MS);
      this.#head = head;
      return out;
    });
    this.#appends += 1;
    return json(200, { seqs, head: this.#head, log: this.#log });
  }

  #stats() {
    const [{ n }] = this.#sql.exec('SELECT count(*) AS n FROM entries').toArray();
    return json(200, { head: this.#head, log: this.#log, entries: n, appends: this.#appends, pulls: this.#pulls });
  }
}
