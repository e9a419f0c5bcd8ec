// The demo page in headless Chromium: login form, cookie attributes as the browser stores them,
// protected call, rotation, session data, logout, two devices, and a screenshot for the README.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';

import { chromium } from 'playwright-core';

import { CHROMIUM, CHROMIUM_ARGS, ROOT, login, me, startServer } from './server.mjs';

const SCREENSHOT = path.join(ROOT, 'target', 'demo-screenshot.png');
const UI_TIMEOUT = 15_000;

// Bounds so that a hung server or page fails the run instead of stalling it.
const HOOK_TIMEOUT = 120_000;
const TEST_TIMEOUT = 60_000;

let server;
let browser;
const problems = []; // console errors, page errors, CSP violations, failed requests

before(async () => {
  [server, browser] = await Promise.all([
    startServer(),
    chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true }),
  ]);
}, { timeout: HOOK_TIMEOUT });

after(async () => {
  await browser?.close();
  await server?.stop();
}, { timeout: HOOK_TIMEOUT });

async function newDevice(options = {}) {
  const context = await browser.newContext({ viewport: { width: 1100, height: 900 }, ...options });
  context.setDefaultTimeout(UI_TIMEOUT);
  const page = await context.newPage();
  page.on('console', (msg) => {
    // 400s and 401s the page provokes on purpose are logged by Chromium as failed resource loads.
    if (msg.type() === 'error' && !/status of 40[0134]/.test(msg.text())) problems.push(`console: ${msg.text()}`);
  });
  page.on('pageerror', (err) => problems.push(`pageerror: ${err.message}`));
  await page.goto(server.url);
  await waitForStatus(page, /Not logged in|Welcome back/);
  return { context, page };
}

const status = (page) => page.getByTestId('status');

async function waitForStatus(page, re) {
  await page.waitForFunction(
    ([source, flags]) => new RegExp(source, flags).test(document.getElementById('status').textContent),
    [re.source, re.flags],
    { timeout: UI_TIMEOUT },
  );
  return status(page).textContent();
}

async function loginThroughForm(page, username, password = 'demo') {
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Password').fill(password);
  await page.getByTestId('login-button').click();
  await waitForStatus(page, new RegExp(`Logged in as ${username}\\.`));
}

async function sessionCookie(context) {
  const cookies = await context.cookies(server.url);
  return cookies.find((c) => c.name === '__Host-session');
}

test('logging in through the form sets a secure, HttpOnly, host-only cookie the page cannot read', { timeout: TEST_TIMEOUT }, async () => {
  const { context, page } = await newDevice();
  assert.equal(await page.getByTestId('login-card').isVisible(), true);
  assert.equal(await page.getByTestId('session-card').isVisible(), false);

  await loginThroughForm(page, 'alice');
  assert.equal(await page.getByTestId('session-user').textContent(), 'alice');
  assert.equal(await page.getByTestId('session-card').isVisible(), true);
  assert.equal(await page.getByTestId('login-card').isVisible(), false);

  const cookies = await context.cookies(server.url);
  assert.equal(cookies.length, 1, 'exactly one cookie');
  const [c] = cookies;
  assert.equal(c.name, '__Host-session');
  assert.equal(c.httpOnly, true);
  assert.equal(c.secure, true);
  assert.equal(c.sameSite, 'Lax');
  assert.equal(c.path, '/');
  assert.equal(c.domain, '127.0.0.1', 'host-only, no Domain attribute');
  assert.ok(c.value.length > 40);
  assert.equal(await page.evaluate(() => document.cookie), '', 'invisible to document.cookie');

  // The countdowns are live.
  const idle = page.getByTestId('idle-countdown');
  const first = await idle.textContent();
  assert.match(first, /^in \d+m \d\ds$/);
  await page.waitForFunction((t) => document.getElementById('idle-countdown').textContent !== t, first, { timeout: 5000 });
  assert.match(await page.getByTestId('absolute-countdown').textContent(), /^in \d+h \d\dm \d\ds$/);
  assert.match(await page.getByTestId('envelope-countdown').textContent(), /^in \d+s$|^in 1m 00s$/);

  // A reload keeps the session (the page asks /api/me).
  await page.reload();
  await waitForStatus(page, /Welcome back, alice\./);

  // Screenshot of the logged-in page with the devices table open.
  await page.getByTestId('btn-sessions').click();
  await waitForStatus(page, /You have 1 active session\./);
  assert.equal(await page.getByTestId('session-row-current').count(), 1);
  await page.getByTestId('btn-me').click();
  await waitForStatus(page, /Protected API says: you are alice\./);
  fs.mkdirSync(path.dirname(SCREENSHOT), { recursive: true });
  await page.screenshot({ path: SCREENSHOT, fullPage: true });
  assert.ok(fs.statSync(SCREENSHOT).size > 10_000);
  await context.close();
});

test('protected call, rotation and logout; a replayed cookie is refused with its reason shown', { timeout: TEST_TIMEOUT }, async () => {
  const { context, page } = await newDevice();
  await loginThroughForm(page, 'bob');

  await page.getByTestId('btn-me').click();
  assert.match(await waitForStatus(page, /Protected API says/), /you are bob\./);

  const before = await sessionCookie(context);
  const handleBefore = await page.getByTestId('handle').getAttribute('title');
  await page.getByTestId('btn-rotate').click();
  await waitForStatus(page, /rotated/);
  const rotated = await sessionCookie(context);
  assert.ok(rotated, 'still has a cookie');
  assert.notEqual(rotated.value, before.value, 'rotation changes the cookie');
  assert.equal(rotated.httpOnly && rotated.secure && rotated.sameSite === 'Lax', true);
  assert.equal(await page.getByTestId('generation').textContent(), '1');
  assert.notEqual(await page.getByTestId('handle').getAttribute('title'), handleBefore);

  // The pre-rotation cookie no longer works.
  const replay = await fetch(`${server.url}/api/me`, { headers: { cookie: `${before.name}=${before.value}` } });
  assert.equal(replay.status, 401);
  await replay.arrayBuffer();

  await page.getByTestId('btn-me').click();
  await waitForStatus(page, /Protected API says: you are bob\./);

  await page.getByTestId('btn-logout').click();
  await waitForStatus(page, /Logged out/);
  assert.equal(await page.getByTestId('login-card').isVisible(), true);
  assert.equal(await sessionCookie(context), undefined, 'the clearing cookie removed it');

  await page.getByTestId('btn-me').click();
  assert.equal(await waitForStatus(page, /Rejected/), 'Rejected: missing (not logged in).');

  // Put the logged-out cookie back (as a thief would): the server refuses it and says why.
  await context.addCookies([rotated]);
  await page.getByTestId('btn-me').click();
  assert.equal(await waitForStatus(page, /Rejected: (?!missing)/), 'Rejected: revoked');
  assert.equal(await sessionCookie(context), undefined, 'the refused cookie was cleared');
  await context.close();
});

test('session data: shown after login, changed through the form by rotation; the old cookie is refused', { timeout: TEST_TIMEOUT }, async () => {
  const { context, page } = await newDevice();
  await loginThroughForm(page, 'dana');
  const shownData = async () => JSON.parse(await page.getByTestId('session-data').textContent());
  const theme = () => page.evaluate(() => document.documentElement.dataset.theme);
  assert.deepEqual(await shownData(), { role: 'member', theme: 'light' });
  assert.equal(await page.getByTestId('theme').inputValue(), 'light');
  assert.equal(await theme(), 'light', 'the page follows the session theme');

  const before = await sessionCookie(context);
  const handleBefore = await page.getByTestId('handle').getAttribute('title');
  await page.getByLabel('Theme').selectOption('dark');
  await page.getByLabel('Note').fill('hello from e2e');
  await page.getByTestId('btn-save-data').click();
  const saved = await waitForStatus(page, /Preferences saved/);
  const handleAfter = await page.getByTestId('handle').getAttribute('title');
  assert.notEqual(handleAfter, handleBefore, 'saving rotated the session');
  assert.ok(saved.includes(handleBefore.slice(0, 12)) && saved.includes(handleAfter.slice(0, 12)), saved);
  assert.deepEqual(await shownData(), { role: 'member', theme: 'dark', note: 'hello from e2e' });
  assert.equal(await page.getByTestId('generation').textContent(), '1');
  assert.equal(await theme(), 'dark');
  const after = await sessionCookie(context);
  assert.notEqual(after.value, before.value, 'a new cookie');
  assert.equal(after.httpOnly && after.secure && after.sameSite === 'Lax', true);

  // The pre-update cookie is refused (it names the retired session ID).
  const replay = await fetch(`${server.url}/api/me`, { headers: { cookie: `${before.name}=${before.value}` } });
  assert.equal(replay.status, 401);
  assert.equal((await replay.json()).reason, 'rotated');

  // Too much data: refused with the package's reason, nothing changes, still logged in.
  await page.getByLabel('Note').fill('x'.repeat(1100));
  await page.getByTestId('btn-save-data').click();
  assert.match(await waitForStatus(page, /Preferences not saved/), /invalid_data/);
  assert.equal(await page.getByTestId('handle').getAttribute('title'), handleAfter);
  assert.equal((await sessionCookie(context)).value, after.value);

  // The data lives in the session: a reload shows it again.
  await page.reload();
  await waitForStatus(page, /Welcome back, dana\./);
  assert.deepEqual(await shownData(), { role: 'member', theme: 'dark', note: 'hello from e2e' });
  assert.equal(await page.getByTestId('note').inputValue(), 'hello from e2e');
  assert.equal(await theme(), 'dark');

  await page.getByTestId('btn-logout').click();
  await waitForStatus(page, /Logged out/);
  assert.equal(await theme(), undefined, 'logged out: the system preference again');
  await context.close();
});

test('two devices: one lists both sessions and revokes the other, which is then logged out', { timeout: TEST_TIMEOUT }, async () => {
  const laptop = await newDevice({ userAgent: 'E2E Laptop (demo)' });
  const phone = await newDevice({ userAgent: 'E2E Phone (demo)' });
  await loginThroughForm(laptop.page, 'carol');
  await loginThroughForm(phone.page, 'carol');

  await laptop.page.getByTestId('btn-sessions').click();
  await waitForStatus(laptop.page, /You have 2 active sessions\./);
  const current = laptop.page.getByTestId('session-row-current');
  assert.equal(await current.count(), 1);
  assert.match(await current.textContent(), /E2E Laptop \(demo\).*This device/);
  const others = laptop.page.getByTestId('session-row');
  assert.equal(await others.count(), 1);
  assert.match(await others.textContent(), /E2E Phone \(demo\)/);
  assert.equal(await current.getByTestId('revoke-session').count(), 0, 'no Revoke button on the current row');

  await others.getByRole('button', { name: /Revoke/ }).click();
  await waitForStatus(laptop.page, /Session revoked/);
  await laptop.page.waitForFunction(() => document.querySelectorAll('#sessions-body tr').length === 1);
  assert.equal(await laptop.page.getByTestId('session-row-current').count(), 1);

  // The phone is logged out on its very next request.
  await phone.page.getByTestId('btn-me').click();
  assert.equal(await waitForStatus(phone.page, /Rejected/), 'Rejected: revoked');
  assert.equal(await phone.page.getByTestId('login-card').isVisible(), true);
  const status = await phone.page.evaluate(async () => (await fetch('/api/me')).status);
  assert.equal(status, 401);

  // The laptop is still fine.
  await laptop.page.getByTestId('btn-me').click();
  await waitForStatus(laptop.page, /Protected API says: you are carol\./);
  await laptop.context.close();
  await phone.context.close();
});

test('"Log out other sessions": the list shrinks to this device and the other browser is logged out', { timeout: TEST_TIMEOUT }, async () => {
  const laptop = await newDevice({ userAgent: 'E2E Laptop (others)' });
  const phone = await newDevice({ userAgent: 'E2E Phone (others)' });
  await loginThroughForm(laptop.page, 'erin');
  await loginThroughForm(phone.page, 'erin');
  const script = await login(server.url, 'erin', 'demo', { 'user-agent': 'E2E script (others)' });
  assert.equal(script.res.status, 200);

  await laptop.page.getByTestId('btn-sessions').click();
  await waitForStatus(laptop.page, /You have 3 active sessions\./);
  assert.equal(await laptop.page.getByTestId('session-row').count(), 2);
  const button = laptop.page.getByRole('button', { name: 'Log out other sessions' });
  assert.equal(await button.isVisible(), true);
  assert.match(await button.getAttribute('aria-describedby'), /\S/, 'the button is described by its hint');

  await button.click();
  assert.equal(
    await waitForStatus(laptop.page, /Logged out \d+ other session/),
    'Logged out 2 other sessions. Only this device is still logged in.',
  );
  const rows = laptop.page.locator('#sessions-body tr');
  assert.equal(await rows.count(), 1, 'the list was refreshed');
  assert.equal(await laptop.page.getByTestId('session-row-current').count(), 1);
  assert.match(await rows.first().textContent(), /E2E Laptop \(others\).*This device/);
  assert.equal(await button.isEnabled(), true);

  // The phone is logged out on its very next request, and so is the script's session.
  await phone.page.getByTestId('btn-me').click();
  assert.equal(await waitForStatus(phone.page, /Rejected/), 'Rejected: revoked');
  assert.equal(await phone.page.getByTestId('login-card').isVisible(), true);
  assert.equal(await sessionCookie(phone.context), undefined, 'the refused cookie was cleared');
  assert.equal((await me(server.url, script.cookie)).body.reason, 'revoked');

  // The laptop is still logged in; with nobody else left the count is 0.
  await laptop.page.getByTestId('btn-me').click();
  await waitForStatus(laptop.page, /Protected API says: you are erin\./);
  await button.click();
  await waitForStatus(laptop.page, /^Logged out 0 other sessions\./);
  assert.equal(await rows.count(), 1);
  await laptop.context.close();
  await phone.context.close();
});

test('the page raised no script errors or CSP violations', { timeout: TEST_TIMEOUT }, () => {
  assert.deepEqual(problems, []);
});
