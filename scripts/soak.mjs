// `make soak`: the demo under `wrangler dev` on loopback, driven for SOAK_SECONDS (default 60) by
// autocannon with a bounded mix of valid, refreshing, expired, revoked and forged requests, plus
// logins and logouts that keep the population moving. Every response is checked against what the
// client knows is right for the cookie it sent, at the time it sent it; the run reports requests
// per second, latency, errors, wrong decisions and the workerd process's memory before and after,
// writes target/soak/SOAK.md, and exits 1 when there was any error or wrong decision.
//
// Needs `make build` (pkg/). Not part of `make test`: it takes a minute or two and judges a
// machine as much as the code.
//
// Settings (environment): SOAK_SECONDS (60), SOAK_CONNECTIONS (8), SOAK_SESSIONS (live sessions
// the client keeps, 100), SOAK_ENVELOPE_TTL_S (2), SOAK_IDLE_TIMEOUT_S (6),
// SOAK_ABSOLUTE_TIMEOUT_S (20); SOAK_HEAP_SNAPSHOT=<file> also writes a V8 heap snapshot of the
// worker's isolate after the run. The timeouts are short on purpose: envelopes expire and are
// refreshed, sessions go idle and reach their absolute deadline many times within one run.
//
// The model. A cookie's answer depends only on facts the client saw happen: the deadlines the
// server reported for it (issuedAt, envelopeExpiresAt, idleExpiresAt, absoluteExpiresAt from the
// session view), and the logouts, revocations and rotations the client made, each known to have
// taken effect somewhere between sending its request and reading its answer. For a request sent
// at s and answered at r, the acceptable answers are those the model gives at any instant of
// [s, r] (every instant where something changes is tried); when that is more than one answer the
// request is counted as "on a boundary". With one isolate (wrangler dev) nothing else changes
// the outcome: no KV propagation delay locally, and a revocation holds on the isolate's next
// request.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { freePort, sleep, startWranglerDev } from '../tests/js/server-process.mjs';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const OUT = join(ROOT, 'target', 'soak');

function setting(name, fallback, { min = 1 } = {}) {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < min) {
    process.stderr.write(`soak: ${name} must be a whole number >= ${min} (got ${JSON.stringify(raw)})\n`);
    process.exit(2);
  }
  return n;
}

const CONFIG = {
  seconds: setting('SOAK_SECONDS', 60),
  connections: setting('SOAK_CONNECTIONS', 8),
  sessions: setting('SOAK_SESSIONS', 100, { min: 10 }),
  envelopeS: setting('SOAK_ENVELOPE_TTL_S', 2),
  idleS: setting('SOAK_IDLE_TIMEOUT_S', 6),
  absoluteS: setting('SOAK_ABSOLUTE_TIMEOUT_S', 20),
  users: 20,
  hubPollS: 5,
};
if (!(CONFIG.envelopeS < CONFIG.idleS && CONFIG.idleS < CONFIG.absoluteS)) {
  process.stderr.write('soak: the timeouts must satisfy envelope < idle < absolute\n');
  process.exit(2);
}

// The mix: weights of what each request is meant to exercise. A login is sent only while the
// client holds fewer live sessions than SOAK_SESSIONS (otherwise the slot is a fresh request), so
// the population stays bounded; every pool below is bounded too.
const MIX = [
  ['fresh', 40], // a live session's latest cookie (the client adopts refreshed cookies)
  ['stale', 14], // a live session's login cookie, kept: expired envelope, refreshed on every use
  ['expired', 10], // cookies past their idle or absolute deadline
  ['revoked', 10], // logged out, revoked by handle, revoked by user, or rotated away
  ['forged', 20], // tampered, garbage, wrong key id, duplicated, wrong name
  ['login', 4],
  ['logout', 2],
];
const MIX_TOTAL = MIX.reduce((sum, [, w]) => sum + w, 0);
const POOL_LIMIT = 400; // dead and revoked cookies kept for replay (oldest dropped first)
// Allowance for the server's clock reading (whole ms, taken when the request is processed)
// against the client's send and receive times.
const SLACK_MS = 5;
const COOKIE = '__Host-session';
const RSS_SAMPLE_S = 5;
const WATCHDOG_MS = (CONFIG.seconds + 600) * 1000;

const started = Date.now();
const log = (message) => process.stderr.write(`soak [${((Date.now() - started) / 1000).toFixed(1)} s] ${message}\n`);
setTimeout(() => {
  log(`still running after ${WATCHDOG_MS / 1000} s: giving up`);
  process.exit(2);
}, WATCHDOG_MS).unref();

// ---- the server and its memory --------------------------------------------------------------

async function startDemo(vars) {
  if (!existsSync(join(ROOT, 'pkg', 'workerd.js'))) throw new Error('pkg/ is not built: run `make build`');
  const inspectorPort = await freePort();
  const demo = await startWranglerDev({
    root: ROOT,
    vars,
    extraArgs: ['--inspector-port', String(inspectorPort)],
    lifetimeMs: WATCHDOG_MS,
    stateName: 'edge-session-soak-',
  });
  return { ...demo, inspectorPort };
}

/** The pids of `root` and all its descendants (from /proc). */
function descendants(root) {
  const children = new Map();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const ppid = Number(fields[1]);
      if (!children.has(ppid)) children.set(ppid, []);
      children.get(ppid).push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  const out = [];
  const queue = [root];
  while (queue.length) {
    const pid = queue.shift();
    out.push(pid);
    queue.push(...(children.get(pid) ?? []));
  }
  return out;
}

/**
 * VmRSS and VmHWM (peak) in KiB of the workerd process that runs the worker, under the server's
 * process tree. wrangler dev starts two: one for its own proxy, listening on the public port, and
 * one for the worker (with the devtools inspector), listening on a port of its own.
 */
function workerdMemory(rootPid, publicPort) {
  for (const pid of descendants(rootPid)) {
    try {
      const status = readFileSync(`/proc/${pid}/status`, 'utf8');
      const name = status.match(/^Name:\s*(.*)$/m)?.[1] ?? '';
      if (!name.startsWith('workerd')) continue;
      const command = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      if (command.some((arg) => arg.endsWith(`=127.0.0.1:${publicPort}`))) continue; // the proxy
      const kib = (field) => Number(status.match(new RegExp(`^${field}:\\s*(\\d+) kB$`, 'm'))?.[1] ?? NaN);
      return { pid, rssKiB: kib('VmRSS'), peakKiB: kib('VmHWM') };
    } catch {
      // gone meanwhile
    }
  }
  return null;
}

/**
 * What the worker's isolate holds, through the devtools inspector wrangler dev exposes: a V8 heap
 * snapshot (which collects garbage first), summed over its objects. Connected only for the measurement: wrangler's inspector proxy asks for network
 * events, which would weigh on the load. Null when the inspector cannot be reached.
 */
async function isolateHeap(inspectorPort, snapshotPath = null) {
  let ws;
  try {
    const targets = await (await fetch(`http://127.0.0.1:${inspectorPort}/json`, { signal: AbortSignal.timeout(30_000) })).json();
    const WS = globalThis.WebSocket ?? (await import('ws')).default;
    ws = new WS(targets[0].webSocketDebuggerUrl);
    await new Promise((resolve, reject) => {
      ws.addEventListener('open', resolve);
      ws.addEventListener('error', () => reject(new Error('inspector connection failed')));
      setTimeout(() => reject(new Error('inspector connection timed out')), 30_000).unref();
    });
    const waiting = new Map();
    const chunks = [];
    ws.addEventListener('message', (event) => {
      const message = JSON.parse(String(event.data));
      if (message.method === 'HeapProfiler.addHeapSnapshotChunk') chunks.push(message.params.chunk);
      waiting.get(message.id)?.(message);
    });
    let id = 0;
    const send = (method) =>
      new Promise((resolve) => {
        const n = ++id;
        waiting.set(n, resolve);
        ws.send(JSON.stringify({ id: n, method }));
        setTimeout(() => resolve({ error: 'timeout' }), 60_000).unref();
      });
    const taken = await send('HeapProfiler.takeHeapSnapshot');
    if (taken.error) throw new Error(`HeapProfiler.takeHeapSnapshot answered ${JSON.stringify(taken.error)}`);
    const text = chunks.join('');
    if (snapshotPath) {
      // For looking into what the heap holds (load it in Chrome's devtools, Memory tab).
      writeFileSync(snapshotPath, text);
      log(`wrote a heap snapshot to ${snapshotPath}`);
    }
    const snapshot = JSON.parse(text);
    const fields = snapshot.snapshot.meta.node_fields;
    const at = fields.indexOf('self_size');
    const names = snapshot.snapshot.meta.node_types[0];
    const typeAt = fields.indexOf('type');
    let retained = 0;
    let buffers = 0;
    for (let i = 0; i < snapshot.nodes.length; i += fields.length) {
      retained += snapshot.nodes[i + at];
      if (names[snapshot.nodes[i + typeAt]] === 'native') buffers += snapshot.nodes[i + at];
    }
    return { retainedBytes: retained, nativeBytes: buffers, objects: snapshot.nodes.length / fields.length };
  } catch (error) {
    log(`isolate heap not measured: ${error.message}`);
    return null;
  } finally {
    ws?.close();
  }
}

// ---- the client's model -------------------------------------------------------------------------

/** A session as the client knows it. `ends`: its own endings; `login.ends`: its login's. */
function newSession(view, login = { ends: [] }) {
  return {
    userId: view.userId,
    handle: view.handle,
    createdAt: view.createdAt,
    absoluteAt: view.absoluteExpiresAt,
    ends: [],
    login,
    current: null,
  };
}

/** A cookie value with the deadlines the server reported when it set it. */
function newCookie(session, value, view) {
  return {
    session,
    value,
    issuedAt: view.issuedAt,
    envelopeAt: view.envelopeExpiresAt,
    idleAt: view.idleExpiresAt,
    absoluteAt: view.absoluteExpiresAt,
  };
}

/** The answers the model allows for `cookie` at instant `t`. */
function answersAt(cookie, t, into) {
  const s = cookie.session;
  let ended = false;
  for (const end of [...s.ends, ...s.login.ends]) {
    if (t >= end.from) into.add(end.reason);
    if (t >= end.to) ended = true;
  }
  const deadline = t >= cookie.absoluteAt ? 'expired_absolute' : t >= cookie.idleAt ? 'expired_idle' : null;
  if (deadline) into.add(deadline);
  else if (!ended) into.add(t >= cookie.envelopeAt ? 'refresh' : 'valid');
  return into;
}

/** The answers allowed for `cookie` over [sentAt, receivedAt] (with slack). */
function allowed(cookie, sentAt, receivedAt) {
  const lo = sentAt - SLACK_MS;
  const hi = receivedAt + SLACK_MS;
  const set = new Set();
  answersAt(cookie, lo, set);
  answersAt(cookie, hi, set);
  const s = cookie.session;
  const instants = [cookie.envelopeAt, cookie.idleAt, cookie.absoluteAt];
  for (const end of [...s.ends, ...s.login.ends]) instants.push(end.from, end.to);
  for (const t of instants) if (t > lo && t < hi) answersAt(cookie, t, set);
  return set;
}

// Refusals that come with a clearing Set-Cookie (all but these).
const KEEPS_COOKIE = new Set(['missing', 'store_unavailable', 'corrupt_cutoff']);

const b64 = {
  decode: (s) => Buffer.from(s, 'base64url'),
  encode: (buf) => Buffer.from(buf).toString('base64url'),
};

/** Forged variants of a genuine cookie value, each with the one reason it must be refused for. */
function forgeries(value) {
  const raw = b64.decode(value);
  const flip = (at, bit = 1) => {
    const copy = Buffer.from(raw);
    copy[at] ^= bit;
    return b64.encode(copy);
  };
  const kidLen = raw[1];
  const afterKid = 2 + kidLen;
  // created_at starts after the session id (32), the lineage (16) and the generation (4).
  const createdAt = afterKid + 32 + 16 + 4;
  const absoluteAt = createdAt + 8 * 4;
  const later = Buffer.from(raw);
  later.writeBigUInt64BE(later.readBigUInt64BE(absoluteAt) + 86_400_000n, absoluteAt);
  const otherKid = Buffer.from(raw);
  otherKid[2] = otherKid[2] === 0x7a ? 0x79 : 0x7a; // 'k1' -> 'z1'
  const randomTag = Buffer.from(raw);
  randomBytes(32).copy(randomTag, randomTag.length - 32);
  const name = `${COOKIE}=`;
  return [
    { kind: 'tag bit flipped', header: name + flip(raw.length - 1), reason: 'bad_signature' },
    { kind: 'tag replaced', header: name + b64.encode(randomTag), reason: 'bad_signature' },
    { kind: 'session id bit flipped', header: name + flip(afterKid + 3, 0x40), reason: 'bad_signature' },
    { kind: 'absolute deadline pushed a day', header: name + b64.encode(later), reason: 'bad_signature' },
    { kind: 'unknown key id', header: name + b64.encode(otherKid), reason: 'unknown_key' },
    { kind: 'version 1', header: name + b64.encode(Buffer.concat([Buffer.from([1]), raw.subarray(1)])), reason: 'bad_version' },
    { kind: 'truncated', header: name + value.slice(0, -6), reason: 'malformed' },
    { kind: 'not base64url', header: `${name}${value.slice(0, 20)}.${value.slice(21)}`, reason: 'malformed' },
    { kind: 'garbage', header: `${name}x+y/${randomBytes(24).toString('base64url')}`, reason: 'malformed' },
    { kind: 'duplicated', header: `${name}${value}; ${name}${value}`, reason: 'duplicate_cookie' },
    { kind: 'under another name', header: `session=${value}`, reason: 'missing' },
    { kind: 'oversized header', header: `pad=${'a'.repeat(16 * 1024)}; ${name}${value}`, reason: 'header_too_large' },
  ];
}

function ring(limit) {
  const items = [];
  return {
    items,
    push(item) {
      items.push(item);
      if (items.length > limit) items.splice(0, items.length - limit);
    },
  };
}

const state = {
  live: [], // sessions believed alive (none of their ends started, absolute deadline ahead)
  stale: [], // login cookies of live sessions, never replaced by the client
  dead: ring(POOL_LIMIT), // cookies past their deadlines
  revoked: ring(POOL_LIMIT), // cookies of ended sessions
  forged: [],
  loginsInFlight: 0,
};

const tally = {
  requests: 0,
  errors: 0,
  wrong: 0,
  boundary: 0,
  boundaryKinds: {},
  byIntent: Object.fromEntries(MIX.map(([k]) => [k, 0])),
  byAnswer: {},
  examples: [],
  errorExamples: [],
};

function note(list, item) {
  if (list.length < 12) list.push(item);
}

const pick = (array) => array[Math.floor(Math.random() * array.length)];
const alive = (session, t) => session.ends.length === 0 && session.login.ends.length === 0 && t < session.absoluteAt - 200;

/** Moves cookies whose session ended or passed a deadline out of the live pools. */
function sweep(now) {
  for (let i = state.live.length - 1; i >= 0; i--) {
    const s = state.live[i];
    if (!alive(s, now) || now >= s.current.idleAt - 200) {
      state.live.splice(i, 1);
      (s.ends.length || s.login.ends.length ? state.revoked : state.dead).push(s.current);
    }
  }
  for (let i = state.stale.length - 1; i >= 0; i--) {
    const c = state.stale[i];
    if (!alive(c.session, now) || now >= c.idleAt - 200) {
      state.stale.splice(i, 1);
      (c.session.ends.length || c.session.login.ends.length ? state.revoked : state.dead).push(c);
    }
  }
}

let users = 0;
const nextUser = () => `soak-u${users++ % CONFIG.users}`;

function chooseIntent() {
  let r = Math.random() * MIX_TOTAL;
  for (const [intent, weight] of MIX) {
    if ((r -= weight) < 0) return intent;
  }
  return MIX[0][0];
}

/** What to send next: { intent, method, path, headers, body, cookie?, forged?, session? }. */
function plan(now) {
  let intent = chooseIntent();
  if (intent === 'login' && state.live.length + state.loginsInFlight >= CONFIG.sessions) intent = 'fresh';
  if (intent === 'stale' && state.stale.length === 0) intent = 'fresh';
  if (intent === 'expired' && state.dead.items.length === 0) intent = 'forged';
  if (intent === 'revoked' && state.revoked.items.length === 0) intent = 'forged';
  if ((intent === 'fresh' || intent === 'logout') && state.live.length === 0) intent = 'login';
  switch (intent) {
    case 'login': {
      state.loginsInFlight++;
      return {
        intent,
        method: 'POST',
        path: '/api/login',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ username: nextUser(), password: 'demo' }),
      };
    }
    case 'logout': {
      // Out of the live pools now: from here on it is (possibly) ended.
      const at = Math.floor(Math.random() * state.live.length);
      const [session] = state.live.splice(at, 1);
      const stale = state.stale.findIndex((c) => c.session === session);
      if (stale >= 0) state.revoked.push(state.stale.splice(stale, 1)[0]);
      state.revoked.push(session.current);
      const end = { reason: 'revoked', from: now, to: Infinity };
      session.login.ends.push(end);
      return { intent, method: 'POST', path: '/api/logout', headers: { cookie: `${COOKIE}=${session.current.value}` }, session, end };
    }
    case 'forged': {
      const forged = pick(state.forged);
      return { intent, method: 'GET', path: '/api/me', headers: { cookie: forged.header }, forged };
    }
    default: {
      const cookie =
        intent === 'fresh' ? pick(state.live).current
        : intent === 'stale' ? pick(state.stale)
        : intent === 'expired' ? pick(state.dead.items)
        : pick(state.revoked.items);
      return { intent, method: 'GET', path: '/api/me', headers: { cookie: `${COOKIE}=${cookie.value}` }, cookie };
    }
  }
}

function header(headers, name) {
  for (const [k, v] of Object.entries(headers)) if (k.toLowerCase() === name) return v;
  return undefined;
}

function setCookiesOf(headers) {
  const v = header(headers, 'set-cookie');
  return v === undefined ? [] : Array.isArray(v) ? v : [v];
}

const isClearing = (setCookie) => /;\s*max-age=0(;|$)/i.test(setCookie) || /^[^=]+=;/.test(setCookie);

/** What the response said: 'valid', 'refresh', a refusal reason, or null when unreadable. */
function answerOf(status, body, headers) {
  let json;
  try {
    json = JSON.parse(body);
  } catch {
    return { answer: null, why: `unreadable body ${JSON.stringify(String(body).slice(0, 80))}` };
  }
  const cookies = setCookiesOf(headers);
  if (status === 200) {
    if (cookies.length > 1) return { answer: null, why: `${cookies.length} Set-Cookie headers` };
    if (cookies.length === 1 && isClearing(cookies[0])) return { answer: null, why: '200 with a clearing cookie' };
    return { answer: cookies.length ? 'refresh' : 'valid', json, setCookie: cookies[0] };
  }
  if (status === 401 && json.error === 'unauthenticated' && typeof json.reason === 'string') {
    const clears = cookies.length === 1 && isClearing(cookies[0]);
    if (KEEPS_COOKIE.has(json.reason) ? cookies.length !== 0 : !clears) {
      return { answer: null, why: `401 ${json.reason} with Set-Cookie ${JSON.stringify(cookies)}` };
    }
    return { answer: json.reason, json };
  }
  return { answer: null, why: `${status} ${body.slice(0, 120)}` };
}

/** Checks one response against the plan it answers; updates the model. */
function judge(req, status, body, headers, sentAt, receivedAt) {
  tally.requests++;
  tally.byIntent[req.intent]++;
  const fail = (kind, why) => {
    if (kind === 'error') {
      tally.errors++;
      note(tally.errorExamples, `${req.intent} ${req.method} ${req.path}: ${why}`);
    } else {
      tally.wrong++;
      note(tally.examples, `${req.intent}${req.forged ? ` (${req.forged.kind})` : ''}: ${why}`);
    }
  };
  const count = (answer) => (tally.byAnswer[answer] = (tally.byAnswer[answer] ?? 0) + 1);

  if (req.intent === 'login') {
    state.loginsInFlight--;
    const { answer, json, setCookie, why } = answerOf(status, body, headers);
    if (answer !== 'refresh') return fail(answer === null ? 'error' : 'wrong', why ?? `login answered ${answer}`);
    count('login');
    const session = newSession(json);
    const cookie = newCookie(session, setCookie.split(';')[0].slice(COOKIE.length + 1), json);
    session.current = cookie;
    state.live.push(session);
    state.stale.push(cookie);
    return;
  }
  if (req.intent === 'logout') {
    req.end.to = receivedAt;
    const cookies = setCookiesOf(headers);
    if (status !== 200 || !/"ok":true/.test(body) || cookies.length !== 1 || !isClearing(cookies[0])) {
      return fail('error', `logout answered ${status} ${body.slice(0, 80)}`);
    }
    count('logout');
    return;
  }

  const { answer, json, setCookie, why } = answerOf(status, body, headers);
  if (answer === null) return fail(status >= 500 || status !== 401 ? 'error' : 'wrong', why);
  count(answer);
  if (req.forged) {
    if (answer !== req.forged.reason) fail('wrong', `expected ${req.forged.reason}, got ${answer}`);
    return;
  }
  const cookie = req.cookie;
  const ok = allowed(cookie, sentAt, receivedAt);
  if (ok.size > 1) {
    tally.boundary++;
    const kind = `${[...ok].sort().join(' or ')}: ${answer}`;
    tally.boundaryKinds[kind] = (tally.boundaryKinds[kind] ?? 0) + 1;
  }
  if (!ok.has(answer)) {
    const t = (x) => (x === Infinity ? 'pending' : `${x - sentAt} ms`);
    const ends = [...cookie.session.ends, ...cookie.session.login.ends].map((e) => `${e.reason} [${t(e.from)}, ${t(e.to)}]`);
    return fail(
      'wrong',
      `expected ${[...ok].join('|')}, got ${answer} (answered in ${receivedAt - sentAt} ms; relative to sending: envelope ${t(cookie.envelopeAt)}, idle ${t(cookie.idleAt)}, absolute ${t(cookie.absoluteAt)}; ends ${ends.join(', ') || 'none'})`,
    );
  }
  if (answer === 'valid' || answer === 'refresh') {
    const s = cookie.session;
    if (json.userId !== s.userId || json.handle !== s.handle || json.createdAt !== s.createdAt || json.absoluteExpiresAt !== s.absoluteAt) {
      return fail('wrong', `200 for the wrong session: ${JSON.stringify({ userId: json.userId, handle: json.handle })} instead of ${s.userId}`);
    }
    if (answer === 'refresh') {
      if (!(json.issuedAt >= sentAt - SLACK_MS && json.issuedAt <= receivedAt + SLACK_MS)) {
        return fail('wrong', `refreshed envelope issued at ${json.issuedAt - sentAt} ms from sending`);
      }
      // The session's latest cookie becomes the newest one the client has seen; the cookie
      // that was sent stays what it was (a stale copy, as an old tab would keep it).
      if (json.issuedAt >= s.current.issuedAt) s.current = newCookie(s, setCookie.split(';')[0].slice(COOKIE.length + 1), json);
    }
  }
}

// ---- preparation ----------------------------------------------------------------------------------

async function call(url, method, path, { cookie, body, token } = {}) {
  const headers = {};
  if (cookie) headers.cookie = `${COOKIE}=${cookie}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (token) headers.authorization = `Bearer ${token}`;
  const res = await fetch(`${url}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  let json = null;
  try {
    json = JSON.parse(text);
  } catch {
    // checked by the caller
  }
  const [setCookie] = res.headers.getSetCookie();
  return { status: res.status, json, text, value: setCookie ? setCookie.split(';')[0].slice(COOKIE.length + 1) : null };
}

async function loginOnce(url, username) {
  const res = await call(url, 'POST', '/api/login', { body: { username, password: 'demo' } });
  if (res.status !== 200 || !res.value) throw new Error(`login ${username}: ${res.status} ${res.text}`);
  const session = newSession(res.json);
  session.current = newCookie(session, res.value, res.json);
  return session;
}

/** Sessions in every state the run replays, made through the demo's own routes. */
async function prepare(url, token) {
  // Sessions that will be idle by the time the run starts (their login cookies go to `dead`).
  const idle = [];
  for (let i = 0; i < 20; i++) idle.push(await loginOnce(url, nextUser()));
  const idleUntil = Math.max(...idle.map((s) => s.current.idleAt));

  const live = [];
  for (let i = 0; i < CONFIG.sessions; i++) live.push(await loginOnce(url, nextUser()));

  // Revoked through each route the demo has, on sessions set aside for it.
  const revoked = [];
  const ended = async (session, reason, action, target = session) => {
    const from = Date.now();
    const res = await action();
    const end = { reason, from, to: Date.now() };
    if (res.status !== 200) throw new Error(`preparing ${reason}: ${res.status} ${res.text}`);
    target.ends.push(end);
    revoked.push(session.current);
    return res;
  };
  for (let i = 0; i < 8; i++) {
    const s = await loginOnce(url, nextUser());
    await ended(s, 'revoked', () => call(url, 'POST', '/api/logout', { cookie: s.current.value }), s.login);
  }
  for (let i = 0; i < 8; i++) {
    const s = await loginOnce(url, nextUser());
    await ended(s, 'revoked', () => call(url, 'DELETE', `/api/sessions/${s.handle}`, { cookie: s.current.value }), s.login);
  }
  for (let i = 0; i < 8; i++) {
    // Rotation: the old cookie is refused as `rotated`; the new session (same login) joins the
    // live pool, so a later logout of it also ends the old one's login.
    const s = await loginOnce(url, nextUser());
    const res = await ended(s, 'rotated', () => call(url, 'POST', '/api/rotate', { cookie: s.current.value }));
    const next = newSession(res.json, s.login);
    next.current = newCookie(next, res.value, res.json);
    live.push(next);
  }
  for (let u = 0; u < 3; u++) {
    // revokeUser through the operator route: every session of a user that logs in only here.
    const userId = `soak-gone-${u}`;
    const sessions = [];
    for (let i = 0; i < 3; i++) sessions.push(await loginOnce(url, userId));
    const from = Date.now();
    const res = await call(url, 'POST', '/admin/revoke', { token, body: { userId } });
    if (res.status !== 200) throw new Error(`/admin/revoke ${userId}: ${res.status} ${res.text}`);
    const to = Date.now();
    for (const s of sessions) {
      s.ends.push({ reason: 'revoked', from, to });
      revoked.push(s.current);
    }
  }

  state.forged = live.slice(0, 4).flatMap((s) => forgeries(s.current.value));
  // The login cookie of each live session doubles as its stale copy until the client adopts a
  // refreshed one.
  for (const s of live) {
    state.live.push(s);
    state.stale.push(s.current);
  }
  for (const c of revoked) state.revoked.push(c);

  // Check every prepared kind once, sequentially, before the load (a misprepared state would
  // otherwise only show up as a flood of wrong decisions).
  for (const f of state.forged) {
    const res = await fetch(`${url}/api/me`, { headers: { cookie: f.header } });
    const body = await res.text();
    judge({ intent: 'forged', method: 'GET', path: '/api/me', forged: f }, res.status, body, Object.fromEntries([['set-cookie', res.headers.getSetCookie()]]), 0, 0);
  }
  for (const c of revoked) {
    const sentAt = Date.now();
    const res = await fetch(`${url}/api/me`, { headers: { cookie: `${COOKIE}=${c.value}` } });
    const body = await res.text();
    judge({ intent: 'revoked', method: 'GET', path: '/api/me', cookie: c }, res.status, body, { 'set-cookie': res.headers.getSetCookie() }, sentAt, Date.now());
  }

  await sleep(Math.max(0, idleUntil + 300 - Date.now()));
  for (const s of idle) state.dead.push(s.current);
  return { idle: idle.length, live: live.length, revoked: revoked.length, forged: state.forged.length };
}

// ---- the load ---------------------------------------------------------------------------------------

function drive(url) {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const instance = autocannon(
      {
        url,
        connections: CONFIG.connections,
        pipelining: 1,
        duration: CONFIG.seconds,
        timeout: 10,
        requests: [
          {
            // Called right before each request is written (pipelining 1: one request in flight
            // per connection, so the context belongs to this request until its response).
            setupRequest(request, context) {
              const now = Date.now();
              sweep(now);
              const req = plan(now);
              context.req = req;
              context.sentAt = Date.now();
              return {
                ...request,
                method: req.method,
                path: req.path,
                headers: { host: `${hostname}:${port}`, ...req.headers },
                body: req.body ?? Buffer.alloc(0),
              };
            },
            onResponse(status, body, context, headers) {
              if (!context.req) return;
              judge(context.req, status, body, headers, context.sentAt, Date.now());
              context.req = null;
            },
          },
        ],
      },
      (error, result) => (error ? reject(error) : resolve(result)),
    );
    instance.on('reqError', (error) => note(tally.errorExamples, `request error: ${error.message}`));
  });
}

async function adminStatus(url, token) {
  const res = await call(url, 'GET', '/admin/status', { token });
  return res.status === 200 ? res.json : { error: res.status };
}

// ---- report -------------------------------------------------------------------------------------------

const mib = (kib) => (Number.isFinite(kib) ? `${(kib / 1024).toFixed(1)} MiB` : 'n/a');
const heap = (h) =>
  h ? `${(h.retainedBytes / 1048576).toFixed(2)} MiB in ${h.objects} objects (${(h.nativeBytes / 1048576).toFixed(2)} MiB of it array buffers, the wasm memory included)` : 'n/a';

function report({ result, memory, status, prepared, transportErrors, serverErrors }) {
  const rps = tally.requests / (result.duration || CONFIG.seconds);
  const lat = result.latency;
  const lines = [
    '# Soak',
    '',
    `\`make soak\` (scripts/soak.mjs), ${new Date().toISOString()}, ${os.cpus().length} CPU(s) (${os.cpus()[0]?.model ?? 'unknown'}), Node ${process.version}.`,
    `The demo under \`wrangler dev\` on loopback with ENVELOPE_TTL_S=${CONFIG.envelopeS}, IDLE_TIMEOUT_S=${CONFIG.idleS}, ABSOLUTE_TIMEOUT_S=${CONFIG.absoluteS}, HUB_POLL_INTERVAL_S=${CONFIG.hubPollS} (revocation hub on);`,
    `autocannon, ${CONFIG.connections} connections, ${CONFIG.seconds} s, at most ${CONFIG.sessions} live sessions held by the client.`,
    '',
    '| figure | value |',
    '|---|---|',
    `| requests checked | ${tally.requests} |`,
    `| requests per second | ${rps.toFixed(0)} |`,
    `| latency p50 / p90 / p99 / max | ${lat.p50} / ${lat.p90} / ${lat.p99} / ${lat.max} ms |`,
    `| errors (transport, timeouts, 5xx, unreadable answers) | ${tally.errors + transportErrors} |`,
    `| wrong decisions | ${tally.wrong} |`,
    `| answers where two were right (see below) | ${tally.boundary} |`,
    `| RSS of the workerd process running the worker, before / after | ${mib(memory.before?.rssKiB)} / ${mib(memory.after?.rssKiB)} (peak ${mib(memory.after?.peakKiB)}) |`,
    `| worker isolate, live heap before | ${heap(memory.heapBefore)} |`,
    `| worker isolate, live heap after | ${heap(memory.heapAfter)} |`,
    `| server error lines logged | ${serverErrors} |`,
    '',
    `RSS every ${RSS_SAMPLE_S} s during the load: ${memory.samples.map((m) => (m ? (m.rssKiB / 1024).toFixed(0) : '?')).join(', ')} MiB.`,
    'The RSS is the whole workerd process: the worker, wrangler\'s local KV and Durable Object simulators',
    'and the runtime\'s own buffers (it grows under a load of GET /health alone, which touches no session',
    'and no store). The live heap is what the worker\'s isolate (the demo, the package and its wasm',
    'memory) holds after a full garbage collection: the objects of a V8 heap snapshot, summed.',
    '',
    `Prepared before the load: ${prepared.live} live sessions, ${prepared.idle} left idle past their timeout, ${prepared.revoked} revoked (logout, DELETE /api/sessions/<handle>, rotation, /admin/revoke of a user), ${prepared.forged} forged cookies.`,
    '',
    '| intent (what the request exercised) | requests |',
    '|---|---|',
    ...Object.entries(tally.byIntent).map(([k, v]) => `| ${k} | ${v} |`),
    '',
    '| answer (checked against the model) | requests |',
    '|---|---|',
    ...Object.entries(tally.byAnswer)
      .sort((a, b) => b[1] - a[1])
      .map(([k, v]) => `| ${k} | ${v} |`),
    '',
    'Where the model allows more than one answer: a request in flight across an instant that changes',
    'the answer (an envelope, idle or absolute deadline; a logout still in flight), or an ended session',
    "also past a deadline (refused for either reason, depending on whether the isolate's memory still",
    'holds the revocation).',
    '',
    '| answers allowed: answer given | requests |',
    '|---|---|',
    ...Object.entries(tally.boundaryKinds)
      .sort((a, b) => b[1] - a[1])
      .map(([k, v]) => `| ${k} | ${v} |`),
    '',
    `Isolate revocation memory (/admin/status) before: ${JSON.stringify(status.before?.revocations ?? status.before)}; after: ${JSON.stringify(status.after?.revocations ?? status.after)}.`,
  ];
  if (tally.examples.length) lines.push('', 'Wrong decisions (first few):', '', ...tally.examples.map((e) => `- ${e}`));
  if (tally.errorExamples.length) lines.push('', 'Errors (first few):', '', ...tally.errorExamples.map((e) => `- ${e}`));
  return `${lines.join('\n')}\n`;
}

async function main() {
  const token = randomBytes(32).toString('base64url');
  log('starting wrangler dev');
  const demo = await startDemo({
    SESSION_KEYS: `k1:${randomBytes(32).toString('base64url')}`,
    DEMO_PASSWORD: 'demo',
    ADMIN_TOKEN: token,
    ENVELOPE_TTL_S: String(CONFIG.envelopeS),
    IDLE_TIMEOUT_S: String(CONFIG.idleS),
    ABSOLUTE_TIMEOUT_S: String(CONFIG.absoluteS),
    HUB_POLL_INTERVAL_S: String(CONFIG.hubPollS),
  });
  try {
    log(`serving on ${demo.url}; preparing sessions`);
    const prepared = await prepare(demo.url, token);
    if (tally.wrong || tally.errors) {
      throw new Error(`preparation checks failed:\n${[...tally.examples, ...tally.errorExamples].join('\n')}`);
    }
    // The preparation's own checks are not part of the run's figures.
    Object.assign(tally, { requests: 0, boundary: 0, boundaryKinds: {}, byAnswer: {}, byIntent: Object.fromEntries(MIX.map(([k]) => [k, 0])) });
    const memory = { heapBefore: await isolateHeap(demo.inspectorPort), before: workerdMemory(demo.pid, demo.port), samples: [] };
    const status = { before: await adminStatus(demo.url, token) };
    log(`prepared ${JSON.stringify(prepared)}; workerd RSS ${mib(memory.before?.rssKiB)}; load for ${CONFIG.seconds} s`);
    const sampler = setInterval(() => memory.samples.push(workerdMemory(demo.pid, demo.port)), RSS_SAMPLE_S * 1000);
    const result = await drive(demo.url);
    clearInterval(sampler);
    memory.after = workerdMemory(demo.pid, demo.port);
    memory.heapAfter = await isolateHeap(demo.inspectorPort, process.env.SOAK_HEAP_SNAPSHOT || null);
    status.after = await adminStatus(demo.url, token);
    const transportErrors = result.errors + result.timeouts;
    const serverErrors = demo.output().split('\n').filter((l) => /"type":"error"|Uncaught|panicked|RuntimeError/.test(l)).length;
    const text = report({ result, memory, status, prepared, transportErrors, serverErrors });
    mkdirSync(OUT, { recursive: true });
    writeFileSync(join(OUT, 'SOAK.md'), text);
    process.stdout.write(text);
    log(`wrote ${relative(ROOT, join(OUT, 'SOAK.md'))}`);
    return tally.errors + transportErrors + serverErrors + tally.wrong === 0 ? 0 : 1;
  } finally {
    await demo.stop();
  }
}

main().then(
  (code) => process.exit(code),
  (error) => {
    log(`failed: ${error.stack ?? error}`);
    process.exit(1);
  },
);
