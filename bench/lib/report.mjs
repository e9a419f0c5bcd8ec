// BENCHMARKS.md from one run's results (bench/run.mjs): the headline table first, then details.
import { fmt, fmtSpeed, fmtSummary, summary } from './stats.mjs';

const us = (values) => fmtSummary(summary(values));
const kb = (bytes) => `${fmt(bytes / 1024)} KiB`;
const bytes = (n) => `${n.toLocaleString('en')} B (${kb(n)})`;
const mib = (bytes) => `${fmt(bytes / 2 ** 20)} MiB`;
const range = (s, f, unit = '') => `${f(s.median)} (${f(s.min)}–${f(s.max)})${unit}`;
const times = (r) => `${fmt(r.median)}× (${fmt(r.min)}–${fmt(r.max)})`;

const ROWS = [
  ['fast', 'edge-session fast path (`SessionManager.validate`)', 'webCrypto'],
  ['fastData', 'edge-session fast path, 100 B of session data', 'webCryptoData'],
  ['fastDistinct', 'edge-session fast path, 1,024 distinct sessions in turn (memo never reused)', 'webCrypto'],
  ['refreshKv', 'edge-session refresh path (expired envelope; parallel local KV gets)', 'webCrypto'],
  ['refreshMem', 'edge-session refresh path (expired envelope; parallel MemoryStore gets)', 'webCrypto'],
  ['webCrypto', 'hand-written WebCrypto HMAC verify (key imported once)', 'webCrypto'],
  ['webCryptoData', 'hand-written WebCrypto, 100 B of session data', 'webCrypto'],
  ['hono', 'hono signed cookie (`parseSigned`)', 'webCrypto'],
  ['jose', 'jose HS256 JWT (`jwtVerify`)', 'webCrypto'],
  ['floor', 'bare wasm HMAC floor (same envelope)', 'webCrypto'],
  ['floorData', 'bare wasm HMAC floor, 100 B data envelope', 'webCryptoData'],
];

function headline(r) {
  const lines = ['| verifier | runtime | µs per validate | vs WebCrypto |', '|---|---|---:|---|'];
  for (const [side, label] of [['workerd', 'workerd'], ['node', 'Node']]) {
    const m = r[side].us;
    for (const [key, name, against] of ROWS.filter(([key]) => key in m)) {
      const mark = against === 'webCryptoData' ? ' ¹' : '';
      const vs = key === against ? '(reference)' : `${fmtSpeed(ratioOf(m[key], m[against]))}${mark}`;
      lines.push(`| ${name} | ${label} | ${us(m[key])} | ${vs} |`);
    }
  }
  const n = r.native.cases;
  const native = [
    ['core', 'edge-session core, `Engine::validate` in a Rust loop'],
    ['coreData', 'edge-session core, 100 B of session data'],
    ['floor', 'bare HMAC floor (same envelope)'],
    ['floorData', 'bare HMAC floor, 100 B data envelope'],
  ];
  for (const [key, name] of native) lines.push(`| ${name} | native | ${us(n[key].ns.map((x) => x / 1000))} | — |`);
  return lines.join('\n');
}

function ratioOf(a, b) {
  return summary(a.map((x, i) => x / b[i]));
}

function targets(r) {
  const { workerd, node } = r.ratios;
  const gz = r.sizes.pkg.gzip;
  const status = (value, ok) => `${value}: ${ok ? 'met' : '**not met**'}`;
  const faster = (x) => status(`${fmt(1 / x.median)}× faster`, 1 / x.median >= 2);
  const floor = (x) => status(`${fmt(x.median)}× the floor`, x.median <= 1.3);
  return [
    '| target | workerd | Node |',
    '|---|---|---|',
    `| fast path ≥ 2× faster than WebCrypto | ${faster(workerd.fast)} | ${faster(node.fast)} |`,
    `| fast path within 1.3× of the bare wasm floor | ${floor(workerd.fastVsFloor)} | ${floor(node.fastVsFloor)} |`,
    `| wasm ≤ 40 KiB gzipped | ${status(`${kb(gz)} (gzip -9)`, gz <= 40 * 1024)} | same module |`,
  ].join('\n');
}

function everyCase(r) {
  const lines = [
    '| case | what | cookie chars | workerd µs | workerd calls/rep | Node µs | Node calls/rep |',
    '|---|---|---:|---:|---:|---:|---:|',
  ];
  const cell = (side, key) => (key in r[side].us ? `${us(r[side].us[key])} | ${r[side].n[key]}` : '— | —');
  for (const key of r.workerd.info.names) {
    const len = r.workerd.info.cookieLengths[key];
    lines.push(`| \`${key}\` | ${r.workerd.info.what[key]} | ${len ?? '—'} | ${cell('workerd', key)} | ${cell('node', key)} |`);
  }
  return lines.join('\n');
}

function comparisons(r) {
  const { workerd: w, node: n } = r.ratios;
  const c = r.native.cases;
  const nativeRatio = (a, b) => ratioOf(c[a].ns, c[b].ns);
  return [
    '| comparison (time ÷ time, rep by rep) | workerd | Node | native |',
    '|---|---|---|---|',
    `| fast path ÷ floor (same envelope) | ${times(w.fastVsFloor)} | ${times(n.fastVsFloor)} | ${times(nativeRatio('core', 'floor'))} |`,
    `| fast path with 100 B data ÷ floor (same envelope) | ${times(w.dataVsFloor)} | ${times(n.dataVsFloor)} | ${times(nativeRatio('coreData', 'floorData'))} |`,
    `| fast path ÷ WebCrypto | ${times(w.fast)} | ${times(n.fast)} | — |`,
    `| fast path, distinct sessions ÷ WebCrypto | ${times(w.fastDistinct)} | ${times(n.fastDistinct)} | — |`,
    `| fast path, distinct sessions ÷ floor | ${times(w.distinctVsFloor)} | ${times(n.distinctVsFloor)} | — |`,
    `| fast path with 100 B data ÷ WebCrypto with 100 B data | ${times(w.dataVsWebCrypto)} | ${times(n.dataVsWebCrypto)} | — |`,
    `| hono ÷ WebCrypto | ${times(w.hono)} | ${times(n.hono)} | — |`,
    `| jose ÷ WebCrypto | ${times(w.jose)} | ${times(n.jose)} | — |`,
    `| floor ÷ WebCrypto | ${times(w.floor)} | ${times(n.floor)} | — |`,
  ].join('\n');
}

function refresh(r) {
  const lines = [
    '| runtime, store | refresh µs | parallel gets µs | 1 get µs | beyond the reads µs | of which deadlines µs | of which the rest µs | refresh ÷ fast path |',
    '|---|---:|---:|---:|---:|---:|---:|---:|',
  ];
  const notes = [];
  for (const [side, label] of [['workerd', 'workerd'], ['node', 'Node']]) {
    const m = r[side].us;
    for (const [s, store] of Object.entries(r[side].info.stores)) {
      const d = r.ratios[side].stores[s];
      lines.push(
        `| ${label}, ${store.name} | ${us(m[`refresh${s}`])} | ${us(m[`get4${s}`])} | ${us(m[`get1${s}`])} | ${fmtSummary(d.beyondReads)} | ${fmtSummary(d.deadlines)} | ${fmtSummary(d.beyondDeadlines)} | ${times(d.refreshVsFast)} |`,
      );
      notes.push(`${label}, ${store.name}: ${store.calls.get} gets, ${store.calls.put} puts, ${store.calls.delete} deletes`);
    }
  }
  return [
    `A refresh reads ${r.workerd.info.stores.Kv?.reads ?? '?'} keys in parallel (the record, the login's tombstone, and the user's, the global and the "other sessions" cutoffs; only the record exists here), judges them in the core and signs a new envelope; it writes nothing here (the clock stays inside one touch interval). Store calls per refresh, counted: ${notes.join('; ')}.`,
    '',
    'The bare loops make the same gets (`get(key, \'text\')`) with nothing around them. "Beyond the reads" is refresh minus the same bare parallel gets, rep by rep. It splits into the deadlines the package puts around each store call (the same gets, each raced against a 5 s `setTimeout` as pkg-template/core.js does, minus the bare gets) and the rest (refresh minus those guarded gets: `JSON.parse` of what was read, the core\'s `resume`, the new envelope, the answer). A local KV get goes through Miniflare\'s storage service and is slow and uneven, so the in-isolate MemoryStore rows give the sharper figure for the package\'s own cost.',
    '',
    ...lines,
  ].join('\n');
}

function cold(r) {
  const w = r.coldWorkerd;
  const n = r.coldNode;
  const ms = (s) => range(s, (x) => fmt(x));
  return [
    'workerd: from `new Miniflare()` to the end of the first response, a fresh workerd process each time, edge-session worker (loads the package, whose wasm is compiled and instantiated at load, and validates a cookie on its first request) against a trivial worker, alternating.',
    '',
    '| workerd | ms |',
    '|---|---:|',
    `| trivial worker, first response | ${ms(w.trivialMs)} |`,
    `| edge-session worker, first validate | ${ms(w.coldMs)} |`,
    `| difference, rep by rep | ${ms(w.extraMs)} |`,
    '',
    'Node: a fresh `node` process per rep, timed inside it (process start-up excluded).',
    '',
    '| Node phase | ms |',
    '|---|---:|',
    `| import the package's JS (glue + driver) | ${ms(n.importJs)} |`,
    `| read + compile + instantiate the wasm (\`initSync\`, synchronous, as the Node entry does) | ${ms(n.compileInstantiate)} |`,
    `| \`new SessionManager\` | ${ms(n.construct)} |`,
    `| first \`validate\` | ${ms(n.firstValidate)} |`,
    `| total to the first answer | ${ms(n.total)} |`,
    `| second \`validate\`, for scale | ${ms(n.secondValidate)} |`,
  ].join('\n');
}

function demo(r) {
  const d = r.demo;
  const rps = (s) => range(s, (x) => fmt(x, 4));
  const ms = (s) => range(s, (x) => fmt(x));
  return [
    `\`wrangler dev\` with the repo's wrangler.toml (the demo worker, revocation hub included, \`--log-level warn\`), autocannon in this process with ${d.connections} connections, ${d.seconds} s per run, /health and /api/me alternating, a fresh login before each /api/me run (so every request stays on the fast path). Client and server share the ${r.env.cores} cores.`,
    '',
    '| route | req/s | p50 latency ms | p99 latency ms |',
    '|---|---:|---:|---:|',
    `| GET /health | ${rps(d.health.rps)} | ${ms(d.health.p50)} | ${ms(d.health.p99)} |`,
    `| GET /api/me (validate + JSON of the session) | ${rps(d.me.rps)} | ${ms(d.me.p50)} | ${ms(d.me.p99)} |`,
    '',
    `/api/me ÷ /health throughput, rep by rep: ${times(d.meOverHealth)}.`,
  ].join('\n');
}

function memory(r) {
  const m = r.memory;
  const b = (s) => range(s, (x) => fmt(x / 2 ** 20), ' MiB');
  const perSession = m.growth.median / m.sessions;
  return [
    `Node, \`--expose-gc\`, a fresh process per rep: ${m.sessions.toLocaleString('en')} sessions issued (into a store that keeps nothing), their cookies held in an array (${mib(m.cookieBytes)} of text) throughout; V8 used heap (\`v8.getHeapStatistics().used_heap_size\`) after two full GCs, before and after validating every one of them once.`,
    '',
    '| | |',
    '|---|---:|',
    `| V8 heap after loading the package | ${b(m.fresh)} |`,
    `| V8 heap with the cookies, before validating | ${b(m.before)} |`,
    `| V8 heap after validating ${m.sessions.toLocaleString('en')} distinct sessions | ${b(m.after)} |`,
    `| growth | ${range(m.growth, (x) => fmt(x / 1024), ' KiB')}, ${fmt(perSession)} B per session |`,
    `| wasm linear memory, before → after | ${mib(m.wasmBefore.median)} → ${mib(m.wasmAfter.median)} |`,
    `| process RSS after | ${b(m.rssAfter)} |`,
  ].join('\n');
}

function method(r) {
  const c = r.config;
  return [
    `- Every figure is the median of ${c.reps} reps (range in parentheses); every comparison is a ratio taken rep by rep between measurements of the same run, then its median (range). Within a rep the cases run one after another in an order rotated each rep.`,
    `- Each case runs in a loop sized beforehand to about ${c.targetMs} ms (the sizing runs double as warm-up). Every call's result is checked: a refused cookie fails the run.`,
    '- workerd (Miniflare, one worker, `bench/workerd/bench-worker.mjs`): `Date.now()` does not advance inside workerd during synchronous code, so each loop runs in one request and is timed from Node around `dispatchFetch`, minus the median of three `n=0` requests taken at the start of the rep.',
    '- Node: the same cases (`bench/lib/cases.mjs`, unchanged) in a fresh process, timed in-process with `performance.now()`.',
    '- Every verifier gets the Cookie header text and must find its cookie; the floor gets the envelope text.',
    '- edge-session: `SessionManager.validate(cookieHeader)` on the package as built in pkg/ (workerd and Node entries), no revocation hub, the store unused on the fast path. The refresh path validates a cookie whose 60 s envelope expired 1 s ago, on a fixed clock, against a store: in workerd the local KV binding (Miniflare) and, for comparison, the package\'s MemoryStore inside the isolate; in Node the MemoryStore.',
    '- hand-written WebCrypto: verifies the very same envelope bytes (HMAC-SHA256 under the envelope subkey, imported once as a CryptoKey), then reads the user id, deadlines and data (JSON.parse\'d, as the package does) and checks the deadlines.',
    '- hono: an equivalent cookie (the same claims as base64url JSON, signed by `serializeSigned`); `parseSigned` imports the secret on every call (its API takes the secret, not a key), then the value is decoded and its expiry checked.',
    '- jose: an HS256 JWT of the same claims; `jwtVerify` with a CryptoKey imported once, `algorithms: [\'HS256\']`.',
    '- bare wasm HMAC floor (`bench/floor`, hmac + sha2, sha2 at the root Cargo.lock\'s version, no wasm-bindgen, built with the root\'s release profile at `opt-level = 3` and the same `wasm-opt -Oz` pass as the package): the envelope text encoded into wasm memory, base64url-decoded, HMAC-SHA256 of all but the tag from a keyed state cloned per call, `verify_slice`. No cookie parsing, no claims, no allocation.',
    '- native (`bench/native`): `Engine::validate` on the same kind of cookie and the floor\'s `Floor::verify`, timed with `std::time::Instant`.',
    `- Both Rust parts are built for speed: the root Cargo.toml\'s release profile with \`opt-level = 3\` (the package\'s module is built at \`${r.env.optLevel ?? '?'}\`), passed to cargo as \`--config\`: ${r.env.profile.map((p) => `\`${p.replace('profile.release.', '')}\``).join(', ')}.`,
  ].join('\n');
}

function environment(r) {
  const e = r.env;
  const [b1, b5] = r.loadavg.before;
  const [a1] = r.loadavg.after;
  return [
    `| | |`,
    '|---|---|',
    `| date | ${e.date} |`,
    `| machine | ${e.cpu}, ${e.cores} cores, ${fmt(e.memoryGiB)} GiB, ${e.os} |`,
    `| load average | ${b1.toFixed(2)} (1 min), ${b5.toFixed(2)} (5 min) at the start; ${a1.toFixed(2)} (1 min) at the end |`,
    `| edge-session | commit ${e.commit}${e.localChanges ? ' plus uncommitted changes in src/, pkg-template/ or Cargo.*' : ''}, pkg/ built by \`make build\` |`,
    `| Node | ${e.node} |`,
    `| workerd | ${e.workerd} (Miniflare ${e.miniflare}), wrangler ${e.wrangler} |`,
    `| Rust | ${e.rustc}, ${e.wasmBindgen}; package: sha2 ${e.crates.sha2} (its block function; HMAC in src/sha256.rs), \`opt-level = ${e.optLevel}\` (sha2 at 3); floor: hmac ${e.benchCrates.hmac}, sha2 ${e.benchCrates.sha2}, \`opt-level = 3\`${e.cratesMatch ? '' : ' (**sha2 differs from the package\'s: bench/Cargo.lock**)'} |`,
    `| compared | hono ${e.hono}, jose ${e.jose}; load from autocannon ${e.autocannon} |`,
    `| run | ${r.seconds.toFixed(0)} s for the whole \`make bench\` harness${r.tiny ? ' (tiny mode: figures meaningless)' : ''} |`,
  ].join('\n');
}

/** A warning when other work shared the machine (1-minute load average above half the cores). */
function busy(r) {
  const load = Math.max(r.loadavg.before[0], r.loadavg.after[0]);
  if (load <= r.env.cores / 2) return [];
  return [
    '',
    `> Other processes were busy during this run (1-minute load average up to ${load.toFixed(2)} on ${r.env.cores} cores): absolute figures are inflated and noisy; the rep-by-rep ratios hold up better.`,
  ];
}

export function report(r) {
  const e = r.env;
  return `${[
    '# Benchmarks',
    '',
    `Generated by \`make bench\` (bench/run.mjs) on ${e.date.slice(0, 10)}; do not edit by hand.${r.tiny ? ' **Tiny mode (BENCH_TINY): a smoke run, not a measurement.**' : ''}`,
    `${e.cpu}, ${e.cores} cores; Node ${e.node}; ${e.workerd} (Miniflare ${e.miniflare}); ${e.rustc.split(' (')[0]}; commit ${e.commit}${e.localChanges ? '+local changes' : ''}. Median of ${r.config.reps} reps (range); "vs WebCrypto" is a rep-by-rep ratio within this run, against the same runtime's WebCrypto row (¹ with 100 B of data: against WebCrypto with the same data).`,
    ...busy(r),
    '',
    headline(r),
    '',
    'The fast path rows validate one cookie over and over, as a browser sends the same cookie until its envelope is refreshed: every call verifies the tag and judges expiry and revocation, and the strings derived from the envelope (user id, handle, data text) are reused from a memo slot keyed by the verified tag. The "distinct sessions" row cycles through 1,024 cookies, more than the 256 slots, so it pays for deriving them every time.',
    '',
    '## Targets (measured, not asserted)',
    '',
    targets(r),
    '',
    '## Ratios',
    '',
    comparisons(r),
    '',
    '## Refresh path: cost beyond the store reads',
    '',
    refresh(r),
    '',
    '## Every case',
    '',
    everyCase(r),
    '',
    '## Wasm size',
    '',
    '| module | raw | gzip -9 | brotli -q 11 |',
    '|---|---:|---:|---:|',
    ...[
      ['pkg/edge_session_bg.wasm (every runtime loads it)', r.sizes.pkg],
      ...(r.sizes.inspect ? [['pkg/edge_session_inspect_bg.wasm (`edge-session inspect` only)', r.sizes.inspect]] : []),
      ['bench floor (hmac + sha2, nothing else)', r.sizes.floor],
    ].map(([name, z]) => `| ${name} | ${bytes(z.raw)} | ${bytes(z.gzip)} | ${bytes(z.brotli)} |`),
    '',
    '## Cold start',
    '',
    cold(r),
    '',
    '## Demo throughput',
    '',
    demo(r),
    '',
    '## Memory',
    '',
    memory(r),
    '',
    '## Method',
    '',
    method(r),
    '',
    '## Machine and versions',
    '',
    environment(r),
  ].join('\n')}\n`;
}
