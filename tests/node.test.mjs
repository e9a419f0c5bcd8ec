// The package scenarios in Node 20, against MemoryStore.
import { test } from 'node:test';
import { SessionManager, MemoryStore, SessionConfigError } from '../pkg/node.js';
import { scenarios } from './js/scenarios.mjs';

const ctx = { SessionManager, MemoryStore, SessionConfigError, freshStore: () => new MemoryStore() };

for (const [name, run] of Object.entries(scenarios)) {
  test(`node: ${name}`, () => run(ctx));
}

test('node: MemoryStore follows KV rules', async () => {
  let t = 0;
  const store = new MemoryStore({ now: () => t });
  await store.put('a', '1', { expirationTtl: 60, metadata: { m: 1 } });
  await assertRejects(() => store.put('b', '1', { expirationTtl: 59 }));
  const page = await store.list({ prefix: 'a' });
  if (page.keys[0].metadata.m !== 1 || !page.list_complete) throw new Error('list metadata');
  t = 60_000;
  if ((await store.get('a')) !== null) throw new Error('entry outlived its TTL');
});

async function assertRejects(fn) {
  try {
    await fn();
  } catch {
    return;
  }
  throw new Error('expected a rejection');
}
