// Time-based behaviour with short settings (ENVELOPE_TTL_S=1, IDLE_TIMEOUT_S=3,
// ABSOLUTE_TIMEOUT_S=6): envelope refresh, idle and absolute expiry, in fetch and on the page.
// This server runs without ADMIN_TOKEN, so it also checks that the admin routes are then absent.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { chromium } from 'playwright-core';

import { CHROMIUM, CHROMIUM_ARGS, cookieFrom, isClearing, login, me, sleep, sleepUntil, startServer } from './server.mjs';

const ENVELOPE_S = 1;
const IDLE_S = 3;
const ABSOLUTE_S = 6;

// Bounds so that a hung server or page fails the run instead of stalling it.
const HOOK_TIMEOUT = 120_000;
const TEST_TIMEOUT = 60_000;

let server;
let url;

before(async () => {
  server = await startServer({
    vars: {
      ENVELOPE_TTL_S: String(ENVELOPE_S),
      IDLE_TIMEOUT_S: String(IDLE_S),
      ABSOLUTE_TIMEOUT_S: String(ABSOLUTE_S),
      ADMIN_TOKEN: '',
    },
  });
  url = server.url;
}, { timeout: HOOK_TIMEOUT });

after(async () => {
  await server?.stop();
}, { timeout: HOOK_TIMEOUT });


test('admin routes answer 404 when ADMIN_TOKEN is empty', { timeout: TEST_TIMEOUT }, async () => {
  for (const headers of [{}, { authorization: 'Bearer ' }, { authorization: 'Bearer anything' }]) {
    const res = await fetch(`${url}/admin/revoke`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify({ userId: 'x' }),
    });
    assert.equal(res.status, 404);
    assert.equal(res.headers.get('cache-control'), 'no-store');
    assert.equal((await res.json()).error, 'not_found');
  }
});

test('the settings from --var are in force', { timeout: TEST_TIMEOUT }, async () => {
  const { res, body } = await login(url, 'vars');
  assert.equal(res.status, 200);
  // Allow for deadlines kept at a coarser (e.g. whole-second) resolution.
  const near = (actual, expected, what) =>
    assert.ok(Math.abs(actual - expected) <= 1000, `${what}: ${actual} is not within 1 s of ${expected}`);
  near(body.envelopeExpiresAt - body.issuedAt, ENVELOPE_S * 1000, 'envelope lifetime');
  near(body.idleExpiresAt - body.issuedAt, IDLE_S * 1000, 'idle timeout');
  near(body.absoluteExpiresAt - body.createdAt, ABSOLUTE_S * 1000, 'absolute lifetime');
});

test('an authentic but expired envelope of a live session is refreshed with a new cookie', { timeout: TEST_TIMEOUT }, async () => {
  const first = await login(url, 'fresh');
  assert.equal(first.res.status, 200);
  await sleepUntil(first.body.envelopeExpiresAt + 300);
  const { res, body } = await me(url, first.cookie);
  assert.equal(res.status, 200);
  assert.equal(body.userId, 'fresh');
  assert.equal(body.handle, first.body.handle, 'same session');
  assert.equal(body.createdAt, first.body.createdAt);
  assert.equal(body.absoluteExpiresAt, first.body.absoluteExpiresAt);
  assert.ok(body.envelopeExpiresAt > first.body.envelopeExpiresAt);
  assert.ok(body.idleExpiresAt > first.body.idleExpiresAt, 'the idle deadline slides');
  const set = res.headers.getSetCookie();
  assert.equal(set.length, 1, 'a refreshed cookie');
  assert.ok(!isClearing(set[0]));
  const cookie = cookieFrom(res);
  assert.notEqual(cookie, first.cookie);
  assert.equal((await me(url, cookie)).res.status, 200);
});

test('a session idle for longer than IDLE_TIMEOUT_S is rejected as expired_idle', { timeout: TEST_TIMEOUT }, async () => {
  const first = await login(url, 'idler');
  await sleepUntil(first.body.idleExpiresAt + 300);
  const { res, body } = await me(url, first.cookie);
  assert.equal(res.status, 401);
  assert.deepEqual(body, { error: 'unauthenticated', reason: 'expired_idle' });
  const set = res.headers.getSetCookie();
  assert.equal(set.length, 1);
  assert.ok(isClearing(set[0]));
});

test('an active session still ends at ABSOLUTE_TIMEOUT_S (expired_absolute)', { timeout: TEST_TIMEOUT }, async () => {
  const first = await login(url, 'marathon');
  let cookie = first.cookie;
  const deadline = first.body.absoluteExpiresAt;
  // Keep the session busy: a request every ~0.7 s refreshes the envelope and the idle deadline.
  while (Date.now() < deadline - 400) {
    const { res, body } = await me(url, cookie);
    assert.equal(res.status, 200, `still alive ${deadline - Date.now()} ms before the absolute deadline`);
    assert.ok(body.idleExpiresAt <= deadline, 'idle deadline never passes the absolute one');
    cookie = cookieFrom(res) ?? cookie;
    await sleep(700);
  }
  await sleepUntil(deadline + 300);
  const { res, body } = await me(url, cookie);
  assert.equal(res.status, 401);
  assert.equal(body.reason, 'expired_absolute');
});

test('the page shows the idle countdown run out and the expired_idle rejection', { timeout: TEST_TIMEOUT }, async () => {
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true });
  try {
    const context = await browser.newContext();
    context.setDefaultTimeout(15_000);
    const page = await context.newPage();
    await page.goto(url);
    await page.getByLabel('Username').fill('sleepy');
    await page.getByLabel('Password').fill('demo');
    await page.getByTestId('login-button').click();
    await page.getByTestId('session-user').filter({ hasText: 'sleepy' }).waitFor();
    // The live countdown reaches "expired" without any request being made.
    await page.waitForFunction(() => document.getElementById('idle-countdown').textContent === 'expired', null, {
      timeout: (IDLE_S + 5) * 1000,
    });
    await sleep(300);
    await page.getByTestId('btn-me').click();
    await page.waitForFunction(() => /Rejected/.test(document.getElementById('status').textContent));
    assert.equal(await page.getByTestId('status').textContent(), 'Rejected: expired_idle');
    assert.equal(await page.getByTestId('login-card').isVisible(), true);
    assert.equal((await context.cookies(url)).length, 0, 'the rejected cookie was cleared');
  } finally {
    await browser.close();
  }
});
