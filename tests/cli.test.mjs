// The edge-session command (pkg/cli.js): keys, inspect, and the HTTP client of the admin routes
// (against a local recording server: the routes themselves are tested with the demo).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
import { fileURLToPath } from 'node:url';
import { SessionManager, MemoryStore } from '../pkg/node.js';

const CLI = fileURLToPath(new URL('../pkg/cli.js', import.meta.url));
const TOKEN = 'test-admin-token-0123456789abcdefghijkl';

function run(args, { input, env } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      env: { ...process.env, EDGE_SESSION_TOKEN: '', ...env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(input ?? '');
  });
}

const RING_LINE = /^[A-Za-z0-9_-]{1,16}:[A-Za-z0-9_-]{43}(,[A-Za-z0-9_-]{1,16}:[A-Za-z0-9_-]{43})*$/;

async function keygen(id) {
  const r = await run(['keygen', ...(id ? ['--id', id] : [])]);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout.trim();
}

async function login(keys, cookie) {
  const m = new SessionManager({ store: new MemoryStore(), keys, ...(cookie ? { cookie } : {}) });
  const r = await m.create(new Request('https://example.com/'), 'alice@example.com', { data: { role: 'admin' } });
  assert.equal(r.ok, true);
  return { manager: m, setCookie: r.setCookie, value: r.setCookie.split(';')[0].split('=')[1], session: r.session };
}

async function inspectJson(args) {
  const r = await run(['inspect', ...args, '--json']);
  return { ...r, report: JSON.parse(r.stdout) };
}

test('keygen prints ID:<base64url of 32 bytes> and the wrangler step; the key signs sessions the package accepts', async () => {
  const r = await run(['keygen']);
  assert.equal(r.code, 0);
  const line = r.stdout.trim();
  assert.match(line, /^k1:[A-Za-z0-9_-]{43}$/);
  assert.equal(Buffer.from(line.slice(3), 'base64url').length, 32);
  assert.equal(r.stdout.split('\n').filter(Boolean).length, 1, 'stdout is the key alone (pipeable)');
  assert.match(r.stderr, /wrangler secret put SESSION_KEYS/);
  assert.notEqual(await keygen(), line, 'random each time');
  assert.match(await keygen('prod_2025'), /^prod_2025:[A-Za-z0-9_-]{43}$/);

  const { manager, setCookie } = await login(line);
  const v = await manager.validate(new Request('https://example.com/', { headers: { cookie: setCookie.split(';')[0] } }));
  assert.equal(v.ok, true);
  assert.equal(v.session.userId, 'alice@example.com');
});

test('inspect: a package cookie verifies; tampered, renamed and unknown-key cookies say why not', async () => {
  const keys = await keygen();
  const { setCookie, value, session } = await login(keys);
  const secret = keys.split(':')[1];

  // Every input form, verified.
  for (const input of [value, setCookie, `Set-Cookie: ${setCookie}`, `theme=dark; __Host-session=${value}; x=y`]) {
    const { code, report } = await inspectJson([input, '--keys', keys]);
    assert.equal(code, 0);
    assert.equal(report.verified.valid, true);
    assert.equal(report.verified.keyId, 'k1');
    assert.equal(report.envelope.userId, 'alice@example.com');
    assert.equal(report.envelope.data, '{"role":"admin"}');
    assert.equal(report.envelope.handle, session.handle);
    assert.equal(report.envelope.generation, 0);
    assert.equal(report.envelope.createdAt, session.createdAt);
    assert.equal(report.iso.createdAt, new Date(session.createdAt).toISOString());
  }

  // Human output: fields, ISO dates, "valid"; never the secret nor the raw session ID.
  const human = await run(['inspect', setCookie, '--keys', keys]);
  assert.equal(human.code, 0, human.stderr);
  assert.match(human.stdout, /signature\s+valid \(key k1/);
  assert.match(human.stdout, /user\s+alice@example\.com/);
  assert.match(human.stdout, /\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z/);
  assert.match(human.stdout, new RegExp(`handle\\s+${session.handle}`));
  const rawId = Buffer.from(value, 'base64url').subarray(4, 36).toString('base64url');
  for (const out of [human.stdout, human.stderr, JSON.stringify((await inspectJson([value, '--keys', keys])).report)]) {
    assert.ok(!out.includes(secret), 'secret printed');
    assert.ok(!out.includes(rawId), 'raw session ID printed');
  }

  // Tamper with one byte of the user id: bad_signature, exit 1.
  const raw = Buffer.from(value, 'base64url');
  raw[raw.length - 40] ^= 0x01;
  const tampered = await inspectJson([raw.toString('base64url'), '--keys', keys]);
  assert.equal(tampered.code, 1);
  assert.equal(tampered.report.verified.valid, false);
  assert.equal(tampered.report.verified.reason, 'bad_signature');
  const tamperedHuman = await run(['inspect', raw.toString('base64url'), '--keys', keys]);
  assert.equal(tamperedHuman.code, 1);
  assert.match(tamperedHuman.stdout, /INVALID: bad_signature/);
  assert.match(tamperedHuman.stderr, /bad_signature/);

  // Right keys, wrong cookie name: bad_signature (the name is bound into the signature).
  const renamed = await inspectJson([value, '--keys', keys, '--cookie-name', '__Host-other']);
  assert.equal(renamed.code, 1);
  assert.equal(renamed.report.verified.reason, 'bad_signature');

  // The key removed from the ring (emergency rotation): unknown_key.
  const other = (await keygen('k2'));
  const unknown = await inspectJson([value, '--keys', other]);
  assert.equal(unknown.code, 1);
  assert.equal(unknown.report.verified.reason, 'unknown_key');
  assert.deepEqual(unknown.report.verified.ring, ['k2']);
  const unknownHuman = await run(['inspect', value, '--keys', other]);
  assert.match(unknownHuman.stdout, /INVALID: unknown_key \(key k1 is not in the ring \(k2\)\)/);

  // A previous key still verifies.
  const both = await inspectJson([value, '--keys', `${other},${keys}`]);
  assert.equal(both.report.verified.valid, true);

  // Not an envelope / version 1.
  const junk = await inspectJson(['!!!', '--keys', keys]);
  assert.equal(junk.code, 1);
  assert.equal(junk.report.verified.reason, 'malformed');
  const v1 = Buffer.from(value, 'base64url');
  v1[0] = 1;
  const old = await inspectJson([v1.toString('base64url'), '--keys', keys]);
  assert.equal(old.report.verified.reason, 'bad_version');
  assert.equal(old.report.problem.version, 1);

  // Without keys: decoded and labelled unverified; exit 0.
  const plain = await run(['inspect', value]);
  assert.equal(plain.code, 0);
  assert.match(plain.stdout, /not checked/);

  // From stdin, and keys from the environment.
  const piped = await run(['inspect', '-', '--keys', 'env:MY_KEYS', '--json'], { input: `${setCookie}\n`, env: { MY_KEYS: keys } });
  assert.equal(piped.code, 0, piped.stderr);
  assert.equal(JSON.parse(piped.stdout).verified.valid, true);
});

test('inspect with a custom cookie name', async () => {
  const keys = await keygen();
  const { value } = await login(keys, { name: 'sid', hostPrefix: false, secure: false });
  assert.equal((await inspectJson([value, '--keys', keys, '--cookie-name', 'sid'])).report.verified.valid, true);
  assert.equal((await inspectJson([`sid=${value}`, '--keys', keys, '--cookie-name', 'sid'])).report.verified.valid, true);
  assert.equal((await inspectJson([value, '--keys', keys])).report.verified.reason, 'bad_signature');
});

test('keys next: step 1 adds the new key behind, step 2 promotes it, the drop time is stated; each ring is accepted', async () => {
  const current = await keygen();
  const r = await run(['keys', 'next', current]);
  assert.equal(r.code, 0, r.stderr);
  const rings = r.stdout.split('\n').filter((l) => RING_LINE.test(l));
  assert.equal(rings.length, 3, r.stdout);
  const [step1, step2, step3] = rings;
  const ids = (ring) => ring.split(',').map((e) => e.split(':')[0]);
  assert.deepEqual(ids(step1), ['k1', 'k2']);
  assert.deepEqual(ids(step2), ['k2', 'k1']);
  assert.deepEqual(ids(step3), ['k2']);
  assert.ok(step1.startsWith(`${current},`), 'the current key stays first and unchanged at step 1');
  const fresh = step2.split(',')[0];
  assert.equal(Buffer.from(fresh.split(':')[1], 'base64url').length, 32);
  assert.equal(step3, fresh);
  assert.match(r.stdout, /1800 s \+ 5 s = 30 min 5 s/);
  assert.match(r.stdout, /not before \d{4}-\d{2}-\d{2}T/);
  assert.match(r.stdout, /wrangler secret put SESSION_KEYS/);

  // A session made before the rotation survives step 1 and step 2 and is re-signed with k2;
  // a session made at step 2 is signed by k2 and verifies at step 3.
  const old = await login(current);
  for (const ring of [step1, step2]) {
    const report = (await inspectJson([old.value, '--keys', ring])).report;
    assert.equal(report.verified.valid, true);
  }
  const store = new MemoryStore();
  const m1 = new SessionManager({ store, keys: current });
  const made = await m1.create(new Request('https://example.com/'), 'bob');
  const m2 = new SessionManager({ store, keys: step2, now: () => Date.now() + 120_000 });
  const cookie = made.setCookie.split(';')[0];
  const v = await m2.validate(new Request('https://example.com/', { headers: { cookie } }));
  assert.equal(v.ok, true);
  assert.ok(v.setCookie, 're-signed at step 2');
  const report = (await inspectJson([v.setCookie, '--keys', step3])).report;
  assert.equal(report.verified.keyId, 'k2');

  // Options: --id, --idle, --skew; an older key is kept; stdin.
  const custom = await run(['keys', 'next', '-', '--id', 'blue', '--idle', '600', '--skew', '10'], { input: step2 });
  assert.equal(custom.code, 0, custom.stderr);
  const [c1, c2] = custom.stdout.split('\n').filter((l) => RING_LINE.test(l));
  assert.deepEqual(ids(c1), ['k2', 'blue', 'k1']);
  assert.deepEqual(ids(c2), ['blue', 'k2', 'k1']);
  assert.match(custom.stdout, /600 s \+ 10 s = 10 min 10 s/);
  const numbered = await run(['keys', 'next', step2]);
  assert.deepEqual(ids(numbered.stdout.split('\n').filter((l) => RING_LINE.test(l))[1]), ['k3', 'k2', 'k1']);
});

test('bad usage exits 2 with a message on stderr; --help exits 0', async () => {
  const key = await keygen();
  const cases = [
    [],
    ['nope'],
    ['keygen', '--id', 'has space'],
    ['keygen', '--bogus'],
    ['keys'],
    ['keys', 'prev', key],
    ['keys', 'next'],
    ['keys', 'next', 'k1:short'],
    ['keys', 'next', key, '--id', 'k1'],
    ['keys', 'next', key, '--idle', 'soon'],
    ['inspect'],
    ['inspect', 'x', '--keys', 'k1:c2hvcnQ'],
    ['inspect', 'x', '--keys', 'env:EDGE_SESSION_NOT_SET'],
    ['inspect', 'x', '--cookie-name', 'bad name'],
    ['revoke', '--token', TOKEN, '--user', 'u'],
    ['revoke', '--url', 'http://127.0.0.1:1', '--user', 'u'],
    ['revoke', '--url', 'http://example.com', '--token', TOKEN, '--user', 'u'],
    ['revoke', '--url', 'not a url', '--token', TOKEN, '--user', 'u'],
    ['revoke', '--url', 'http://127.0.0.1:1', '--token', TOKEN],
    ['revoke', '--url', 'http://127.0.0.1:1', '--token', TOKEN, '--user', 'u', '--handle', 'h'.repeat(43)],
    ['revoke', '--url', 'http://127.0.0.1:1', '--token', TOKEN, '--handle', 'short'],
    ['revoke', '--url', 'http://127.0.0.1:1', '--token', TOKEN, '--before', 'yesterday'],
    ['revoke', '--url', 'http://127.0.0.1:1', '--token', TOKEN, '--before', '1700000000'],
    ['sessions', '--url', 'http://127.0.0.1:1', '--token', TOKEN],
    ['status', '--url', 'http://127.0.0.1:1'],
    ['status', '--url', 'http://127.0.0.1:1', '--token', TOKEN, 'extra'],
  ];
  for (const args of cases) {
    const r = await run(args);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, /\S/, `${args.join(' ')}: a message`);
    assert.equal(r.stdout, '', `${args.join(' ')}: nothing on stdout`);
    assert.ok(!r.stderr.includes(key.split(':')[1]), 'no secret in the message');
  }
  for (const args of [['--help'], ['help', 'inspect'], ...['keygen', 'keys', 'inspect', 'revoke', 'sessions', 'status'].map((c) => [c, '--help']), ['keys', 'next', '--help']]) {
    const r = await run(args);
    assert.equal(r.code, 0, args.join(' '));
    assert.match(r.stdout, /Usage: edge-session/);
  }
});

// A tiny admin server that records what the client sends.
let server;
let base;
const seen = [];
let reply = () => ({ status: 200, body: { ok: true } });

before(async () => {
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      seen.push({ method: req.method, url: req.url, authorization: req.headers.authorization, contentType: req.headers['content-type'], body });
      const { status, body: out } = reply(req);
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(out));
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${server.address().port}`;
});

after(() => new Promise((resolve) => server.close(resolve)));

async function last(args, opts) {
  seen.length = 0;
  const r = await run(args, opts);
  return { ...r, request: seen.at(-1), count: seen.length };
}

test('revoke: POST /admin/revoke with the Bearer token and exactly one target', async () => {
  reply = () => ({ status: 200, body: { ok: true, scope: 'user', userId: 'alice', revoked: 2 } });
  const u = await last(['revoke', '--url', base, '--token', TOKEN, '--user', 'alice@example.com']);
  assert.equal(u.code, 0, u.stderr);
  assert.equal(u.count, 1);
  assert.deepEqual(
    { method: u.request.method, url: u.request.url, authorization: u.request.authorization, contentType: u.request.contentType },
    { method: 'POST', url: '/admin/revoke', authorization: `Bearer ${TOKEN}`, contentType: 'application/json' },
  );
  assert.deepEqual(JSON.parse(u.request.body), { userId: 'alice@example.com' });
  assert.deepEqual(JSON.parse(u.stdout), { ok: true, scope: 'user', userId: 'alice', revoked: 2 });
  assert.ok(!u.stdout.includes(TOKEN) && !u.stderr.includes(TOKEN), 'token never printed');

  const handle = 'A'.repeat(42) + 'Q';
  const h = await last(['revoke', '--url', `${base}/`, '--token', TOKEN, '--handle', handle]);
  assert.equal(h.code, 0);
  assert.deepEqual(JSON.parse(h.request.body), { handle });

  const ms = await last(['revoke', '--url', base, '--token', TOKEN, '--before', '1700000000000']);
  assert.deepEqual(JSON.parse(ms.request.body), { issuedBefore: 1700000000000 });
  const isoDate = await last(['revoke', '--url', base, '--token', TOKEN, '--before', '2023-11-14T22:13:20Z']);
  assert.deepEqual(JSON.parse(isoDate.request.body), { issuedBefore: 1700000000000 });
  const t0 = Date.now();
  const now = await last(['revoke', '--url', base, '--before', 'now'], { env: { EDGE_SESSION_TOKEN: TOKEN } });
  assert.equal(now.request.authorization, `Bearer ${TOKEN}`, 'token from EDGE_SESSION_TOKEN');
  const at = JSON.parse(now.request.body).issuedBefore;
  assert.ok(Number.isInteger(at) && at >= t0 && at <= Date.now());

  // A base URL with a path prefix keeps it.
  const prefixed = await last(['revoke', '--url', `${base}/tenant`, '--token', TOKEN, '--user', 'u']);
  assert.equal(prefixed.request.url, '/tenant/admin/revoke');
});

test('sessions and status: GET with the Bearer token; HTTP errors exit 1', async () => {
  reply = (req) => ({ status: 200, body: req.url.startsWith('/admin/status') ? { ok: true, keyIds: ['k1'] } : [{ handle: 'h' }] });
  const s = await last(['sessions', '--url', base, '--token', TOKEN, '--user', 'alice@example.com & co']);
  assert.equal(s.code, 0, s.stderr);
  assert.equal(s.request.method, 'GET');
  assert.equal(s.request.url, '/admin/sessions?userId=alice%40example.com+%26+co');
  assert.equal(new URL(s.request.url, base).searchParams.get('userId'), 'alice@example.com & co');
  assert.equal(s.request.authorization, `Bearer ${TOKEN}`);
  assert.equal(s.request.body, '');
  assert.deepEqual(JSON.parse(s.stdout), [{ handle: 'h' }]);

  const st = await last(['status', '--url', base, '--token', TOKEN]);
  assert.equal(st.code, 0);
  assert.deepEqual({ method: st.request.method, url: st.request.url, authorization: st.request.authorization }, { method: 'GET', url: '/admin/status', authorization: `Bearer ${TOKEN}` });
  assert.deepEqual(JSON.parse(st.stdout), { ok: true, keyIds: ['k1'] });

  reply = () => ({ status: 401, body: { error: 'unauthorized' } });
  const denied = await last(['status', '--url', base, '--token', 'wrong-token']);
  assert.equal(denied.code, 1);
  assert.match(denied.stderr, /HTTP 401 \(unauthorized\)/);

  reply = () => ({ status: 404, body: { error: 'not_found' } });
  const missing = await last(['revoke', '--url', base, '--token', TOKEN, '--handle', 'B'.repeat(42) + 'A']);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /HTTP 404/);

  reply = () => ({ status: 503, body: { error: 'unavailable', reason: 'store_unavailable' } });
  const down = await last(['sessions', '--url', base, '--token', TOKEN, '--user', 'u']);
  assert.equal(down.code, 1);
  assert.match(down.stderr, /HTTP 503 \(unavailable: store_unavailable\)/);

  // Nothing listening: a clear failure, exit 1.
  const closed = createServer();
  await new Promise((resolve) => closed.listen(0, '127.0.0.1', resolve));
  const port = closed.address().port;
  await new Promise((resolve) => closed.close(resolve));
  const refused = await run(['status', '--url', `http://127.0.0.1:${port}`, '--token', TOKEN]);
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /failed/);
});
