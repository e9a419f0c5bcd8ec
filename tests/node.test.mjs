// The package scenarios in Node 20, against MemoryStore.
import { test } from 'node:test';
import { SessionManager, MemoryStore, SessionConfigError, SessionStoreError } from '../pkg/node.js';
import { knownIssues, scenarios } from './js/scenarios.mjs';

const ctx = { SessionManager, MemoryStore, SessionConfigError, SessionStoreError, freshStore: () => new MemoryStore() };

for (const [name, run] of Object.entries(scenarios)) {
  test(`node: ${name}`, () => run(ctx));
}

// Known gaps in the core: reported as to-do (they fail today without failing the run).
for (const [name, run] of Object.entries(knownIssues)) {
  test(`node: ${name}`, { todo: 'known core gap, see tests/js/scenarios.mjs knownIssues' }, () => run(ctx));
}

test('node: MemoryStore follows KV rules', async () => {
  let t = 0;
  const store = new MemoryStore({ now: () => t });
  await store.put('a', '1', { expirationTtl: 60, metadata: { m: 1 } });
  await assertRejects(() => store.put('b', '1', { expirationTtl: 59 }));
  const page = await store.list({ prefix: 'a' });
  if (page.keys[0].metadata.m !== 1 || !page.list_complete) throw new Error('list metadata');
  if (page.keys[0].expiration !== 60) throw new Error('list expiration in seconds');
  if ((await store.get('missing')) !== null) throw new Error('absent key reads null');
  t = 60_000;
  if ((await store.get('a')) !== null) throw new Error('entry outlived its TTL');
  if ((await store.list({ prefix: 'a' })).keys.length !== 0) throw new Error('expired entry listed');
});

test('node: MemoryStore lists in pages, in key order, with a cursor', async () => {
  const store = new MemoryStore();
  for (const k of ['p:c', 'p:a', 'p:b', 'q:a']) await store.put(k, k);
  const first = await store.list({ prefix: 'p:', limit: 2 });
  if (first.list_complete || first.keys.map((k) => k.name).join() !== 'p:a,p:b') throw new Error('first page');
  const second = await store.list({ prefix: 'p:', limit: 2, cursor: first.cursor });
  if (!second.list_complete || second.keys.map((k) => k.name).join() !== 'p:c') throw new Error('second page');
  await store.delete('p:a');
  if ((await store.get('p:a')) !== null) throw new Error('delete');
});

async function assertRejects(fn) {
  try {
    await fn();
  } catch {
    return;
  }
  throw new Error('expected a rejection');
}

// The module draws session IDs and lineages from the host's `crypto.getRandomValues`, imported
// directly (it builds without std, so without getrandom's JS glue). If the host's CSPRNG throws,
// a login fails closed: a `random_failed` SessionConfigError, nothing written, no cookie; and
// logins work again once it answers.
test('node: a login fails closed when crypto.getRandomValues throws', async () => {
  const store = new MemoryStore();
  const manager = new SessionManager({ store, keys: 'k1:sRLUy3HHmFHB9pR7bauAKvrK9KlIEpodHOXnVPhi4eg' });
  const real = globalThis.crypto.getRandomValues;
  let calls = 0;
  globalThis.crypto.getRandomValues = () => {
    calls += 1;
    throw new Error('no entropy');
  };
  let error;
  try {
    await manager.create(null, 'rng-user');
  } catch (e) {
    error = e;
  } finally {
    globalThis.crypto.getRandomValues = real;
  }
  if (calls === 0) throw new Error('the login never asked the host for randomness');
  if (!(error instanceof SessionConfigError) || error.reason !== 'random_failed') {
    throw new Error(`expected a random_failed SessionConfigError, got ${error}`);
  }
  if ((await store.list({ prefix: '' })).keys.length !== 0) throw new Error('a failed login wrote to the store');
  const created = await manager.create(null, 'rng-user');
  if (!created.setCookie || (await store.list({ prefix: '' })).keys.length === 0) throw new Error('login after recovery');
});
