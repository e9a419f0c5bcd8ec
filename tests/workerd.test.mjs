// The package scenarios inside workerd (Cloudflare's runtime, from the miniflare package), with
// the package's workerd entry (wasm imported as a module + initSync) and a real local KV.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Miniflare } from 'miniflare';
import { scenarios } from './js/scenarios.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const persist = mkdtempSync(join(tmpdir(), 'edge-session-kv-'));
let mf;

before(async () => {
  mf = new Miniflare({
    modules: true,
    scriptPath: join(root, 'tests/js/worker.mjs'),
    modulesRoot: root,
    modulesRules: [
      { type: 'ESModule', include: ['**/*.js', '**/*.mjs'] },
      { type: 'CompiledWasm', include: ['**/*.wasm'] },
    ],
    compatibilityDate: '2026-04-01',
    kvNamespaces: ['KV'],
    kvPersist: persist,
  });
  await mf.ready;
});

after(async () => {
  await mf?.dispose();
  rmSync(persist, { recursive: true, force: true });
});

test('workerd: the worker sees every scenario', async () => {
  const res = await mf.dispatchFetch('http://test/names');
  assert.deepEqual(await res.json(), Object.keys(scenarios));
});

for (const name of Object.keys(scenarios)) {
  test(`workerd: ${name}`, async () => {
    const res = await mf.dispatchFetch(`http://test/run?name=${encodeURIComponent(name)}`);
    const body = await res.json();
    assert.equal(body.ok, true, body.error);
  });
}

test('workerd: the real KV holds hashes, never session IDs or envelopes', async () => {
  const kv = await mf.getKVNamespace('KV');
  const { keys } = await kv.list();
  assert.ok(keys.length > 0, 'scenarios left records behind');
  for (const { name } of keys) {
    assert.match(name, /^(s:[A-Za-z0-9_-]{43}|u:[A-Za-z0-9_-]{43}:[A-Za-z0-9_-]{43}|r:issued_before)$/);
  }
});
