#!/usr/bin/env node
// edge-session: operator commands (keys, cookie inspection, the admin routes). Node.js 20+.
// Uses the package's own wasm core (loaded as ./node.js does) for every key and envelope check;
// `inspect` loads the inspect module (edge_session_inspect_bg.wasm, built from the same core) the
// first time it runs.
// Exit codes: 0 done, 1 failed (HTTP error, unreachable server, a cookie that does not verify),
// 2 bad usage.

import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { SessionManager, MemoryStore } from './node.js';
import { initSync as initInspect, inspectEnvelope } from './edge_session_inspect.js';

const DEFAULT_IDLE_S = 1800;
const DEFAULT_SKEW_S = 5;
const HTTP_TIMEOUT_MS = 15_000;

class UsageError extends Error {}
class Failure extends Error {}

const HELP = {
  main: `edge-session: operator tools for the edge-session package

Usage: edge-session <command> [options]

Commands:
  keygen [--id ID]                    a new signing key for SESSION_KEYS
  keys next "<SESSION_KEYS>"          the rings of a planned key rotation
  inspect <cookie> [--keys SPEC]      decode a session cookie; with keys, verify it
  revoke --url URL --token T (--user U | --handle H | --before TIME)
                                      POST {url}/admin/revoke
  sessions --url URL --token T --user U
                                      GET {url}/admin/sessions?userId=U
  status --url URL --token T          GET {url}/admin/status

Run "edge-session <command> --help" for a command's options.
Exit codes: 0 done, 1 failed (HTTP error, unreachable, cookie does not verify), 2 bad usage.`,
  keygen: `Usage: edge-session keygen [--id ID]

Prints a new key "ID:<base64url of 32 random bytes>" (id k1 unless --id) on stdout, and on
stderr how to store it:  npx wrangler secret put SESSION_KEYS
so "edge-session keygen | npx wrangler secret put SESSION_KEYS" stores it without showing it.
To rotate a key that is already in use, run "edge-session keys next" instead.

Options:
  --id ID      key id: 1-16 letters, digits, '_' or '-' (default k1)
  -h, --help   this help`,
  keys: `Usage: edge-session keys next "<current SESSION_KEYS>" [--id ID] [--idle S] [--skew S]

Planned key rotation (nobody is logged out), as in the package README "Key rotation":
generates a new key and prints the value of SESSION_KEYS for each step of the drill:
  1. the new key added behind the current one (deploy; wait until every isolate runs it),
  2. the new key promoted to current (sessions move to it at their next request),
  3. the new key alone, which you may set once the idle timeout + clock skew have passed
     since step 2 was deployed everywhere (the time is printed).
Each value contains your current secrets (as you gave them) and the new one: these are the
values to store, and nothing else is printed. "-" reads the current SESSION_KEYS from stdin.

Options:
  --id ID      id of the new key (default: the current id with its number + 1, e.g. k1 -> k2)
  --idle S     your idleTimeout in seconds (default ${DEFAULT_IDLE_S})
  --skew S     your clockSkew in seconds (default ${DEFAULT_SKEW_S})
  -h, --help   this help`,
  inspect: `Usage: edge-session inspect <cookie> [--keys SPEC] [--cookie-name NAME] [--json]

<cookie> is the cookie value, a whole Set-Cookie line or a Cookie header ("-" reads it from
stdin, which keeps it out of your shell history). Prints what the envelope says: version, key
id, user, data, generation, created/issued/expiry/idle/absolute times (ISO 8601, UTC),
lineage and handle. The raw session ID is never printed, only its handle (as in the store).

Without --keys nothing is verified: anyone can write a cookie that decodes.
With --keys the envelope's signature is checked exactly as the package does for NAME and the
reason is given when it fails (malformed, bad_version, unknown_key, bad_signature); the exit
code is then 1. Revocation and the store are not consulted.

Options:
  --keys SPEC         SESSION_KEYS value ("id:secret,..."), or env:VAR to read it from $VAR
  --cookie-name NAME  the cookie's name (default __Host-session); it is bound into the signature
  --json              print the report as JSON
  -h, --help          this help`,
  revoke: `Usage: edge-session revoke --url URL --token T (--user U | --handle H | --before TIME)

POST {url}/admin/revoke with "Authorization: Bearer T" and exactly one of
{"userId":U}, {"handle":H}, {"issuedBefore":<unix ms>}. Prints the JSON answer.

Options:
  --url URL       the worker's base URL (https; http only for localhost)
  --token T       the admin token (or set EDGE_SESSION_TOKEN instead of passing it here)
  --user U        revoke every session of user U
  --handle H      revoke the session with handle H (43 characters, from a listing or inspect)
  --before TIME   revoke every session created before TIME: unix milliseconds, an ISO 8601
                  date (2025-01-31T12:00:00Z), or "now"
  -h, --help      this help`,
  sessions: `Usage: edge-session sessions --url URL --token T --user U

GET {url}/admin/sessions?userId=U with "Authorization: Bearer T". Prints the JSON answer.

Options:
  --url URL    the worker's base URL (https; http only for localhost)
  --token T    the admin token (or set EDGE_SESSION_TOKEN)
  --user U     the user id
  -h, --help   this help`,
  status: `Usage: edge-session status --url URL --token T

GET {url}/admin/status with "Authorization: Bearer T". Prints the JSON answer.

Options:
  --url URL    the worker's base URL (https; http only for localhost)
  --token T    the admin token (or set EDGE_SESSION_TOKEN)
  -h, --help   this help`,
};

/**
 * `--name value` → `--name=value` for options that take a value, so a value starting with `-`
 * (a base64url handle, token or secret often does) is read as the value, not as another option.
 */
function joinValues(args, options) {
  const takesValue = new Set(
    Object.entries(options)
      .filter(([, o]) => o.type === 'string')
      .flatMap(([name, o]) => [`--${name}`, ...(o.short ? [`-${o.short}`] : [])]),
  );
  const out = [];
  for (let i = 0; i < args.length; i += 1) {
    const arg = args[i];
    if (takesValue.has(arg) && i + 1 < args.length) {
      out.push(arg.startsWith('--') ? `${arg}=${args[i + 1]}` : `${arg}${args[i + 1]}`);
      i += 1;
    } else {
      out.push(arg);
    }
  }
  return out;
}

function parse(args, options, help, { positionals = 0 } = {}) {
  let parsed;
  try {
    parsed = parseArgs({
      args: joinValues(args, options),
      options: { ...options, help: { type: 'boolean', short: 'h' } },
      allowPositionals: true,
      strict: true,
    });
  } catch (error) {
    throw new UsageError(error.message);
  }
  if (parsed.values.help) {
    console.log(help);
    return null;
  }
  if (parsed.positionals.length > positionals) {
    throw new UsageError(`unexpected argument: ${JSON.stringify(parsed.positionals[positionals])}`);
  }
  return parsed;
}

const KEY_ID = /^[A-Za-z0-9_-]{1,16}$/;

function checkKeyId(id) {
  if (!KEY_ID.test(id)) throw new UsageError(`key id ${JSON.stringify(id)}: use 1-16 letters, digits, '_' or '-'`);
  return id;
}

function newSecret() {
  return randomBytes(32).toString('base64url');
}

/** Checks a SESSION_KEYS value with the package itself; returns its entries [id, secret]. */
function checkRing(spec, what) {
  try {
    new SessionManager({ store: new MemoryStore(), keys: spec });
  } catch (error) {
    // The core's messages name key ids, never secrets.
    throw new UsageError(`${what} is not a valid SESSION_KEYS value: ${error.message}`);
  }
  return spec
    .split(',')
    .map((entry) => entry.trim())
    .filter(Boolean)
    .map((entry) => {
      const at = entry.indexOf(':');
      return [entry.slice(0, at).trim(), entry.slice(at + 1).trim()];
    });
}

function seconds(text, name) {
  if (text === undefined) return undefined;
  if (!/^\d+$/.test(text) || Number(text) <= 0) throw new UsageError(`--${name} must be a whole number of seconds > 0`);
  return Number(text);
}

function keygen(args) {
  const p = parse(args, { id: { type: 'string' } }, HELP.keygen);
  if (!p) return 0;
  const id = checkKeyId(p.values.id ?? 'k1');
  const entry = `${id}:${newSecret()}`;
  checkRing(entry, 'the new key');
  process.stdout.write(`${entry}\n`);
  process.stderr.write(
    `Store it as the worker's secret (paste the line above when asked):\n` +
      `  npx wrangler secret put SESSION_KEYS\n` +
      `or pipe it: edge-session keygen${p.values.id ? ` --id ${id}` : ''} | npx wrangler secret put SESSION_KEYS\n` +
      `For local development put SESSION_KEYS=<the line> in .dev.vars. To replace a key in use, run\n` +
      `"edge-session keys next" instead (a new ring alone logs everybody out).\n`,
  );
  return 0;
}

function nextId(ids) {
  const [current] = ids;
  const m = /^(.*?)(\d+)$/.exec(current);
  const prefix = m ? m[1] : current.slice(0, 15);
  let n = m ? Number(m[2]) + 1 : 2;
  for (const id of ids) {
    const other = new RegExp(`^${prefix.replace(/[^A-Za-z0-9]/g, '\\$&')}(\\d+)$`).exec(id);
    if (other) n = Math.max(n, Number(other[1]) + 1);
  }
  const id = `${prefix}${n}`;
  if (!KEY_ID.test(id)) throw new UsageError(`cannot derive a new key id from ${JSON.stringify(current)}: give one with --id`);
  return id;
}

function duration(s) {
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const r = s % 60;
  return [h && `${h} h`, m && `${m} min`, r && `${r} s`].filter(Boolean).join(' ') || '0 s';
}

async function readStdin() {
  const chunks = [];
  for await (const chunk of process.stdin) chunks.push(chunk);
  return Buffer.concat(chunks).toString('utf8').trim();
}

async function keys(args) {
  const [sub, ...rest] = args;
  if (sub === undefined) throw new UsageError('missing subcommand: keys next "<current SESSION_KEYS>"');
  if (sub === '-h' || sub === '--help') {
    console.log(HELP.keys);
    return 0;
  }
  if (sub !== 'next') throw new UsageError(`unknown keys subcommand ${JSON.stringify(sub)}: use "keys next"`);
  const p = parse(
    rest,
    { id: { type: 'string' }, idle: { type: 'string' }, skew: { type: 'string' } },
    HELP.keys,
    { positionals: 1 },
  );
  if (!p) return 0;
  let spec = p.positionals[0];
  if (spec === undefined) throw new UsageError('missing the current SESSION_KEYS value (or "-" to read it from stdin)');
  if (spec === '-') spec = await readStdin();
  const idle = seconds(p.values.idle, 'idle') ?? DEFAULT_IDLE_S;
  const skew = seconds(p.values.skew, 'skew') ?? DEFAULT_SKEW_S;
  const entries = checkRing(spec, 'the current SESSION_KEYS');
  const ids = entries.map(([id]) => id);
  const id = p.values.id === undefined ? nextId(ids) : checkKeyId(p.values.id);
  if (ids.includes(id)) throw new UsageError(`key id ${id} is already in the ring: choose another with --id`);
  const fresh = [id, newSecret()];
  const [current, ...older] = entries;
  const ring = (list) => list.map(([k, s]) => `${k}:${s}`).join(',');
  const step1 = ring([current, fresh, ...older]);
  const step2 = ring([fresh, current, ...older]);
  const step3 = ring([fresh]);
  checkRing(step1, 'step 1');
  checkRing(step2, 'step 2');
  const wait = idle + skew;
  const earliest = new Date(Date.now() + wait * 1000).toISOString();
  const others = older.length ? ` and ${older.map(([k]) => k).join(', ')}` : '';
  console.log(`New key ${id} (32 random bytes). Store each value below, in order, with
  npx wrangler secret put SESSION_KEYS
and deploy after each. These values contain your current secrets as given plus the new one:
they are the values to store, so keep this output out of logs. Nothing else is printed.

Step 1: add ${id} behind ${current[0]}. Deploy and wait until every isolate runs it:
${step1}

Step 2: promote ${id}. Each session is re-signed with ${id} at its next request:
${step2}

Step 3: after the idle timeout + clock skew (${idle} s + ${skew} s = ${duration(wait)}) has passed
since step 2 was deployed everywhere (if you deploy step 2 now: not before ${earliest}),
drop ${current[0]}${others}:
${step3}
${older.length ? `\nNote: ${older.map(([k]) => k).join(', ')} ${older.length > 1 ? 'were' : 'was'} already behind ${current[0]}; kept in steps 1 and 2.\n` : ''}
Emergency (a key leaked): set only the new key at once (the step 3 value); every cookie signed
with the old key is then refused as unknown_key and its holder logs in again.`);
  return 0;
}

function iso(ms) {
  if (typeof ms !== 'number' || !Number.isFinite(ms)) return String(ms);
  return Math.abs(ms) <= 8.64e15 ? new Date(ms).toISOString() : `${ms} (beyond any date)`;
}

function relative(ms, now) {
  const s = Math.round((ms - now) / 1000);
  if (!Number.isFinite(s)) return '';
  return s >= 0 ? `in ${duration(s)}` : `${duration(-s)} ago`;
}

function keysFrom(spec) {
  if (spec === undefined) return undefined;
  if (spec.startsWith('env:')) {
    const name = spec.slice(4);
    const value = process.env[name];
    if (!value) throw new UsageError(`--keys env:${name}: the environment variable ${name} is not set`);
    return value;
  }
  return spec;
}

async function inspect(args) {
  const p = parse(
    args,
    { keys: { type: 'string' }, 'cookie-name': { type: 'string' }, json: { type: 'boolean' } },
    HELP.inspect,
    { positionals: 1 },
  );
  if (!p) return 0;
  let input = p.positionals[0];
  if (input === undefined) throw new UsageError('missing the cookie (a value, a Set-Cookie line or a Cookie header; "-" for stdin)');
  if (input === '-') input = await readStdin();
  const keysSpec = keysFrom(p.values.keys);
  initInspect({ module: readFileSync(new URL('./edge_session_inspect_bg.wasm', import.meta.url)) });
  let report;
  try {
    report = inspectEnvelope(input, keysSpec, p.values['cookie-name']);
  } catch (error) {
    // SessionConfigError from the core: bad keys or a bad cookie name (never echoes a secret).
    throw new UsageError(error.message);
  }
  const now = Date.now();
  const e = report.envelope;
  const verified = report.verified;
  if (p.values.json) {
    const times = e && Object.fromEntries(
      ['createdAt', 'issuedAt', 'expiresAt', 'idleDeadline', 'absoluteDeadline'].map((k) => [k, iso(e[k])]),
    );
    console.log(JSON.stringify({ ...report, iso: times ?? null }, null, 2));
  } else {
    const lines = [`cookie name   ${report.cookieName}`];
    if (report.found) lines.push(`found as      ${report.found.replace('_', ' ')} (${report.length} characters)`);
    if (report.problem) {
      lines.push(`problem       ${report.problem.reason}: ${report.problem.detail}`);
      if (report.problem.version !== null) lines.push(`version       ${report.problem.version}`);
    }
    if (e) {
      const t = (ms) => `${iso(ms)}  (${relative(ms, now)})`;
      lines.push(
        `version       ${e.version}`,
        `key id        ${e.keyId}`,
        `user          ${e.userId}`,
        `data          ${e.data ?? '(none)'}`,
        `generation    ${e.generation}`,
        `created       ${t(e.createdAt)}`,
        `issued        ${t(e.issuedAt)}`,
        `envelope exp. ${t(e.expiresAt)}`,
        `idle deadline ${t(e.idleDeadline)}`,
        `absolute      ${t(e.absoluteDeadline)}`,
        `lineage       ${e.lineage}`,
        `handle        ${e.handle}`,
      );
      const state =
        now >= e.absoluteDeadline ? 'absolute deadline passed (the session is over)'
          : now >= e.idleDeadline ? 'idle deadline passed (refused unless refreshed in the store)'
            : now >= e.expiresAt ? 'envelope expired: the next request refreshes it from the store'
              : 'envelope fresh: accepted without a store read unless revoked';
      lines.push(`times         ${state}`);
    }
    if (verified) {
      lines.push(
        verified.valid
          ? `signature     valid (key ${verified.keyId}, cookie ${report.cookieName}); revocation not checked`
          : `signature     INVALID: ${verified.reason} (${explain(verified.reason, e, verified.ring, report.cookieName)})`,
      );
    } else {
      lines.push('signature     not checked (give --keys to verify): nothing above is authenticated');
    }
    console.log(lines.join('\n'));
  }
  if (verified && !verified.valid) {
    if (!p.values.json) process.stderr.write(`edge-session: the cookie does not verify: ${verified.reason}\n`);
    return 1;
  }
  if (!verified && report.problem) {
    process.stderr.write(`edge-session: not a readable envelope: ${report.problem.reason}\n`);
    return 1;
  }
  return 0;
}

function explain(reason, envelope, ring, name) {
  switch (reason) {
    case 'bad_signature':
      return `the tag does not verify under key ${envelope?.keyId ?? '?'} for cookie ${name}: tampered, another secret with that id, or another cookie name`;
    case 'unknown_key':
      return `key ${envelope?.keyId ?? '?'} is not in the ring (${ring.join(', ')})`;
    case 'bad_version':
      return 'not an envelope version this package reads';
    case 'malformed':
      return 'not a well-formed envelope';
    case 'missing':
      return `no cookie ${name} in the input`;
    default:
      return reason;
  }
}

function baseUrl(text) {
  if (!text) throw new UsageError('missing --url');
  let url;
  try {
    url = new URL(text);
  } catch {
    throw new UsageError(`--url ${JSON.stringify(text)} is not a URL`);
  }
  const local = ['localhost', '127.0.0.1', '[::1]'].includes(url.hostname);
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && local)) {
    throw new UsageError('--url must be https (http only for localhost, 127.0.0.1 or [::1]): the token must not travel in clear');
  }
  if (url.username || url.password) throw new UsageError('--url must not carry credentials');
  url.search = '';
  url.hash = '';
  if (!url.pathname.endsWith('/')) url.pathname += '/';
  return url;
}

function token(values) {
  const t = values.token ?? process.env.EDGE_SESSION_TOKEN;
  if (!t) throw new UsageError('missing --token (or EDGE_SESSION_TOKEN)');
  if (/[\s\u0000-\u001f\u007f]/.test(t)) throw new UsageError('the token must not contain spaces or control characters');
  return t;
}

const HTTP_OPTIONS = { url: { type: 'string' }, token: { type: 'string' } };

async function call(url, method, bearer, body) {
  let response;
  try {
    response = await fetch(url, {
      method,
      redirect: 'error',
      headers: {
        authorization: `Bearer ${bearer}`,
        accept: 'application/json',
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(HTTP_TIMEOUT_MS),
    });
  } catch (error) {
    const cause = error.cause?.code ?? error.cause?.message ?? error.name;
    throw new Failure(`${method} ${url.origin}${url.pathname} failed: ${error.message}${cause ? ` (${cause})` : ''}`);
  }
  const text = await response.text();
  let json;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  const shown = json === undefined ? text : JSON.stringify(json, null, 2);
  if (!response.ok) {
    const why = json && typeof json === 'object' ? [json.error, json.reason].filter(Boolean).join(': ') : '';
    if (shown) process.stdout.write(`${shown}\n`);
    throw new Failure(`${method} ${url.pathname}: HTTP ${response.status}${why ? ` (${why})` : ''}`);
  }
  process.stdout.write(`${shown}\n`);
  return 0;
}

function parseTime(text) {
  if (text === 'now') return Date.now();
  if (/^\d+$/.test(text)) {
    const ms = Number(text);
    if (!Number.isSafeInteger(ms)) throw new UsageError(`--before ${text}: too large`);
    if (ms < 1e11) throw new UsageError(`--before ${text} looks like seconds: give unix milliseconds (${text}000) or an ISO date`);
    return ms;
  }
  if (!/^\d{4}-\d{2}-\d{2}/.test(text)) throw new UsageError(`--before ${JSON.stringify(text)}: give unix milliseconds, an ISO 8601 date or "now"`);
  const ms = Date.parse(text);
  if (!Number.isFinite(ms)) throw new UsageError(`--before ${JSON.stringify(text)} is not a valid ISO 8601 date`);
  if (ms < 0) throw new UsageError('--before must not be before 1970');
  return ms;
}

async function revoke(args) {
  const p = parse(
    args,
    { ...HTTP_OPTIONS, user: { type: 'string' }, handle: { type: 'string' }, before: { type: 'string' } },
    HELP.revoke,
  );
  if (!p) return 0;
  const url = baseUrl(p.values.url);
  const bearer = token(p.values);
  const targets = ['user', 'handle', 'before'].filter((k) => p.values[k] !== undefined);
  if (targets.length !== 1) throw new UsageError('give exactly one of --user, --handle, --before');
  let body;
  if (p.values.user !== undefined) {
    if (!p.values.user) throw new UsageError('--user must not be empty');
    body = { userId: p.values.user };
  } else if (p.values.handle !== undefined) {
    if (!/^[A-Za-z0-9_-]{43}$/.test(p.values.handle)) throw new UsageError('--handle must be a 43-character session handle');
    body = { handle: p.values.handle };
  } else {
    body = { issuedBefore: parseTime(p.values.before) };
  }
  return call(new URL('admin/revoke', url), 'POST', bearer, body);
}

async function sessions(args) {
  const p = parse(args, { ...HTTP_OPTIONS, user: { type: 'string' } }, HELP.sessions);
  if (!p) return 0;
  const url = baseUrl(p.values.url);
  const bearer = token(p.values);
  if (!p.values.user) throw new UsageError('missing --user');
  const target = new URL('admin/sessions', url);
  target.searchParams.set('userId', p.values.user);
  return call(target, 'GET', bearer);
}

async function status(args) {
  const p = parse(args, HTTP_OPTIONS, HELP.status);
  if (!p) return 0;
  const url = baseUrl(p.values.url);
  return call(new URL('admin/status', url), 'GET', token(p.values));
}

const COMMANDS = { keygen, keys, inspect, revoke, sessions, status };

async function main(argv) {
  const [command, ...rest] = argv;
  if (command === undefined) {
    process.stderr.write(`${HELP.main}\n`);
    return 2;
  }
  if (command === '-h' || command === '--help' || command === 'help') {
    const topic = command === 'help' ? rest[0] : undefined;
    if (topic !== undefined && !HELP[topic]) throw new UsageError(`unknown command ${JSON.stringify(topic)}`);
    console.log(HELP[topic ?? 'main']);
    return 0;
  }
  const run = Object.hasOwn(COMMANDS, command) ? COMMANDS[command] : undefined;
  if (!run) throw new UsageError(`unknown command ${JSON.stringify(command)} (see edge-session --help)`);
  return run(rest);
}

// Read the package version lazily for --version.
if (process.argv[2] === '--version') {
  const pkg = JSON.parse(readFileSync(new URL('./package.json', import.meta.url), 'utf8'));
  console.log(pkg.version);
  process.exit(0);
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error) => {
    if (error instanceof UsageError) {
      process.stderr.write(`edge-session: ${error.message}\nRun "edge-session --help" for usage.\n`);
      process.exitCode = 2;
    } else if (error instanceof Failure) {
      process.stderr.write(`edge-session: ${error.message}\n`);
      process.exitCode = 1;
    } else {
      process.stderr.write(`edge-session: unexpected error: ${error?.stack ?? error}\n`);
      process.exitCode = 1;
    }
  },
);
