// The packaged `edge-session` command (pkg/cli.js) against the demo under `wrangler dev`, run as an
// operator runs it: a child `node pkg/cli.js ...` process, its exit code, stdout and stderr. Users
// log in through the demo's HTTP API; what the CLI revokes is then checked with their cookies.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import { ROOT, login, me, newKeyRing, sleep, startServer } from './server.mjs';

// adminHandler refuses tokens shorter than 32 characters; this one has 44 and starts with '-', as
// one base64url token in 64 does: the CLI must take it as the value of --token.
const ADMIN_TOKEN = `-${randomBytes(32).toString('base64url')}`;
// The key ring is given explicitly (startServer would pick a fresh one) so `inspect --keys` can verify.
const SESSION_KEYS = newKeyRing();
const CLI = path.join(ROOT, 'pkg', 'cli.js');

const HOOK_TIMEOUT = 120_000;
const SUITE_TIMEOUT = 120_000;
const CLI_TIMEOUT_MS = 30_000;

let server;
let url;

before(async () => {
  server = await startServer({ vars: { ADMIN_TOKEN, SESSION_KEYS } });
  url = server.url;
}, { timeout: HOOK_TIMEOUT });

after(async () => {
  await server?.stop();
}, { timeout: HOOK_TIMEOUT });


/** Runs `node pkg/cli.js ...args`; resolves with { code, stdout, stderr } whatever the exit code. */
function cli(...args) {
  return new Promise((resolve, reject) => {
    const env = { ...process.env, NO_COLOR: '1' };
    delete env.EDGE_SESSION_TOKEN; // only the --token given here counts
    execFile(process.execPath, [CLI, ...args], { cwd: ROOT, env, timeout: CLI_TIMEOUT_MS }, (error, stdout, stderr) => {
      if (error && typeof error.code !== 'number') return reject(error); // killed, or could not start
      resolve({ code: error ? error.code : 0, stdout, stderr });
    });
  });
}

/** Like cli(), for a command that must succeed and print JSON: the parsed stdout. */
async function cliJson(...args) {
  const r = await cli(...args);
  assert.equal(r.code, 0, `exit ${r.code}: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

const admin = (command, ...rest) => [command, '--url', url, '--token', ADMIN_TOKEN, ...rest];

describe('edge-session CLI against the demo', { timeout: SUITE_TIMEOUT }, () => {
  let alice;
  let bob;

  before(async () => {
    alice = await login(url, 'alice');
    bob = await login(url, 'bob');
    assert.equal(alice.res.status, 200);
    assert.equal(bob.res.status, 200);
  });

  test('status over http://127.0.0.1 exits 0 and shows the isolate\'s revocation counts', async () => {
    const view = await cliJson(...admin('status'));
    assert.equal(view.cookieName, '__Host-session');
    assert.deepEqual(view.keyIds, ['k1']);
    assert.deepEqual(view.revocations, { sessions: 0, users: 0, issuedBefore: 0, strict: false });
    assert.ok(!JSON.stringify(view).includes(ADMIN_TOKEN));
  });

  test('a plain-http URL other than localhost is refused before any request (exit 2)', async () => {
    const r = await cli('status', '--url', 'http://example.com', '--token', ADMIN_TOKEN);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--url must be https/);
    assert.equal(r.stdout, '');
  });

  test('sessions --user alice lists alice\'s session handle', async () => {
    const listing = await cliJson(...admin('sessions', '--user', 'alice'));
    assert.equal(listing.userId, 'alice');
    assert.deepEqual(listing.sessions.map((s) => s.handle), [alice.body.handle]);
    assert.ok(!JSON.stringify(listing).includes(alice.cookie.split('=')[1]), 'the cookie is not listed');
  });

  test('revoke --handle ends that session: /api/me answers 401 revoked', async () => {
    const other = await login(url, 'alice'); // a second session of alice's, which must survive
    const out = await cliJson(...admin('revoke', '--handle', alice.body.handle));
    assert.deepEqual(out, { ok: true, scope: 'session', handle: alice.body.handle, revoked: 1 });
    const r = await me(url, alice.cookie);
    assert.equal(r.res.status, 401);
    assert.equal(r.body.reason, 'revoked');
    assert.equal((await me(url, other.cookie)).res.status, 200);
    const listing = await cliJson(...admin('sessions', '--user', 'alice'));
    assert.deepEqual(listing.sessions.map((s) => s.handle), [other.body.handle]);
  });

  test('revoke --handle H (space-separated) for an unknown handle exits 1 with HTTP 404', async () => {
    const r = await cli(...admin('revoke', '--handle', `x${'A'.repeat(42)}`));
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /HTTP 404 \(not_found\)/);
    // The `=` form carries a handle starting with '-' as well.
    const dash = await cli(...admin('revoke', `--handle=-${'A'.repeat(42)}`));
    assert.equal(dash.code, 1, dash.stderr);
    assert.match(dash.stderr, /HTTP 404 \(not_found\)/);
  });

  // Handles are base64url, so one in 64 starts with '-': `--handle -...` must take it as the value
  // (node's parseArgs alone refuses it as ambiguous).
  test('revoke --handle H accepts a handle starting with "-"', async () => {
    const r = await cli(...admin('revoke', '--handle', `-${'A'.repeat(42)}`));
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /HTTP 404 \(not_found\)/);
  });

  test('revoke --user bob refuses bob\'s cookie', async () => {
    assert.equal((await me(url, bob.cookie)).res.status, 200);
    const out = await cliJson(...admin('revoke', '--user', 'bob'));
    assert.equal(out.ok, true);
    assert.equal(out.scope, 'user');
    assert.equal(out.userId, 'bob');
    assert.equal(out.revoked, 1);
    const r = await me(url, bob.cookie);
    assert.equal(r.res.status, 401);
    assert.equal(r.body.reason, 'revoked');
  });

  test('revoke --before now refuses every older session; a login after it works', async () => {
    const older = await login(url, 'carol');
    assert.equal((await me(url, older.cookie)).res.status, 200);
    await sleep(20); // the CLI's "now" is strictly after carol's createdAt
    const out = await cliJson(...admin('revoke', '--before', 'now'));
    assert.equal(out.ok, true);
    const r = await me(url, older.cookie);
    assert.equal(r.res.status, 401);
    assert.equal(r.body.reason, 'revoked');
    await sleep(20);
    const fresh = await login(url, 'carol');
    assert.equal(fresh.res.status, 200);
    assert.equal((await me(url, fresh.cookie)).res.status, 200);
  });

  test('status then shows the revocations held by the isolate', async () => {
    const { revocations } = await cliJson(...admin('status'));
    assert.ok(revocations.sessions >= 1, JSON.stringify(revocations));
    assert.ok(revocations.users >= 1, JSON.stringify(revocations));
    assert.ok(revocations.issuedBefore > 0 && revocations.issuedBefore <= Date.now(), JSON.stringify(revocations));
  });

  test('a wrong token exits 1 with the HTTP status in the message', async () => {
    const wrong = `w${randomBytes(32).toString('base64url')}`;
    const r = await cli('status', '--url', url, '--token', wrong);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /HTTP 401 \(unauthorized\)/);
    assert.ok(!r.stderr.includes(wrong) && !r.stdout.includes(wrong), 'the token is not echoed');
  });

  test('inspect <Set-Cookie line> --keys verifies alice\'s cookie', async () => {
    const line = alice.res.headers.getSetCookie()[0];
    const report = await cliJson('inspect', line, '--keys', SESSION_KEYS, '--json');
    assert.equal(report.found, 'set_cookie');
    assert.equal(report.envelope.userId, 'alice');
    assert.equal(report.envelope.handle, alice.body.handle);
    assert.equal(report.verified.valid, true);
    assert.equal(report.verified.keyId, 'k1');
    const text = await cli('inspect', line, '--keys', SESSION_KEYS);
    assert.equal(text.code, 0);
    assert.match(text.stdout, /signature\s+valid/);
    assert.ok(!text.stdout.includes(SESSION_KEYS.split(':')[1]), 'the secret is not printed');
  });

  test('inspect of a tampered copy says bad_signature and exits 1', async () => {
    const line = alice.res.headers.getSetCookie()[0];
    const semi = line.indexOf(';');
    // Change one character well inside the value (not the last one, whose low bits may be padding).
    const at = semi - 10;
    const tampered = line.slice(0, at) + (line[at] === 'A' ? 'B' : 'A') + line.slice(at + 1);
    assert.notEqual(tampered, line);
    const r = await cli('inspect', tampered, '--keys', SESSION_KEYS, '--json');
    assert.equal(r.code, 1);
    const report = JSON.parse(r.stdout);
    assert.equal(report.verified.valid, false);
    assert.equal(report.verified.reason, 'bad_signature');
    const text = await cli('inspect', tampered, '--keys', SESSION_KEYS);
    assert.equal(text.code, 1);
    assert.match(text.stdout + text.stderr, /bad_signature/);
  });
});
