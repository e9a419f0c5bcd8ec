// The npm package's browser entry (pkg/browser.js: fetch + instantiate the wasm at import) in
// headless Chromium: the same scenarios as tests/node.test.mjs and tests/workerd.test.mjs, run
// in the page against MemoryStore.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import path from 'node:path';
import { after, before, test } from 'node:test';

import { chromium } from 'playwright-core';

import { CHROMIUM, CHROMIUM_ARGS, ROOT } from './server.mjs';

const TYPES = { '.js': 'text/javascript', '.mjs': 'text/javascript', '.wasm': 'application/wasm', '.html': 'text/html' };
const PAGE = `<!doctype html><meta charset="utf-8"><title>edge-session in the browser</title>
<script type="module">
  import { SessionManager, MemoryStore, SessionConfigError, SessionStoreError } from '/pkg/browser.js';
  import * as shared from '/tests/js/scenarios.mjs';
  shared.useRequestFactory((headers) => ({ headers }));
  const ctx = { SessionManager, MemoryStore, SessionConfigError, SessionStoreError, freshStore: () => new MemoryStore() };
  const runAll = async (set) => {
    const out = {};
    for (const [name, run] of Object.entries(set ?? {})) {
      try { await run(ctx); out[name] = 'ok'; } catch (error) { out[name] = String(error && error.stack || error); }
    }
    return out;
  };
  window.results = { scenarios: await runAll(shared.scenarios), knownIssues: await runAll(shared.knownIssues) };
</script>`;

let server;
let browser;
let origin;

before(async () => {
  // Serves only the page, pkg/ and the shared scenarios, from this checkout, on loopback.
  server = createServer(async (req, res) => {
    const url = new URL(req.url, 'http://localhost');
    if (url.pathname === '/') {
      res.writeHead(200, { 'content-type': 'text/html' }).end(PAGE);
      return;
    }
    const allowed = url.pathname.startsWith('/pkg/') || /^\/tests\/js\/[\w.-]+\.mjs$/.test(url.pathname);
    const file = path.join(ROOT, path.normalize(url.pathname));
    if (!allowed || !file.startsWith(ROOT)) {
      res.writeHead(404).end();
      return;
    }
    try {
      const body = await readFile(file);
      res.writeHead(200, { 'content-type': TYPES[path.extname(file)] ?? 'application/octet-stream' }).end(body);
    } catch {
      res.writeHead(404).end();
    }
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  origin = `http://127.0.0.1:${server.address().port}`;
  browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true });
}, { timeout: 60_000 });

after(async () => {
  await browser?.close();
  await new Promise((resolve) => (server ? server.close(resolve) : resolve()));
});

test('browser entry: every package scenario passes in Chromium', { timeout: 120_000 }, async (t) => {
  const page = await browser.newPage();
  const errors = [];
  page.on('pageerror', (err) => errors.push(err.message));
  await page.goto(origin);
  await page.waitForFunction(() => window.results !== undefined, null, { timeout: 90_000 });
  const { scenarios, knownIssues } = await page.evaluate(() => window.results);
  assert.deepEqual(errors, []);
  assert.ok(Object.keys(scenarios).length >= 10, 'scenarios ran');
  for (const [name, outcome] of Object.entries(scenarios)) {
    await t.test(`browser: ${name}`, () => assert.equal(outcome, 'ok', outcome));
  }
  // Known gaps in the core (tests/js/scenarios.mjs knownIssues): reported as to-do, as in Node.
  for (const [name, outcome] of Object.entries(knownIssues)) {
    await t.test(`browser: ${name}`, { todo: 'known core gap, see tests/js/scenarios.mjs knownIssues' }, () =>
      assert.equal(outcome, 'ok', outcome));
  }
});
