// The fuzz corpora through the wasm build in workerd (Miniflare, real local KV), through the
// package's public API only: every stored value the decoders' fuzz targets hold (fuzz/seeds/
// stored_values/, plus the working corpus fuzz/corpus/stored_values/ when `make fuzz` has made
// one) is fed as each key a session's refresh reads (record, login tombstone, user, global and
// "other sessions" cutoffs), as index and last-seen metadata to a listing, to revokeSession,
// revokeUser and revokeOthers, and as a revocation hub page and hub entry; every Cookie header
// (fuzz/seeds/cookie_header/, and its working corpus), and every envelope of the envelope
// target's corpora as the session cookie, goes to validate at three times. The seed cookies are
// sealed with the fuzz targets' key ring, so they are authentic here.
//
// Each answer must be a decision (ok, or a reason code), never a throw: a trap that only happens
// in wasm (a panic is `RuntimeError: unreachable`) fails this test with the corpus file's name.
// At most WASM_CORPUS_MAX files (default 400) are taken from each working corpus.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Miniflare } from 'miniflare';
import { packageWorker, root } from './js/workerd.mjs';

// The fuzz crate's ring (fuzz/src/lib.rs): k1 current, k0 previous.
const KEYS = [
  ['k1', 'edge-session fuzz key, not real!'],
  ['k0', 'edge-session old fuzz key (k0)..'],
]
  .map(([id, secret]) => `${id}:${Buffer.from(secret).toString('base64url')}`)
  .join(',');
const T0 = 1_700_000_000_000;
const MAX = Number(process.env.WASM_CORPUS_MAX ?? 400);
const REASON = /^[a-z][a-z_]*$/;

/** The files of the seed folder and (capped) the working corpus of a fuzz target. */
function corpus(target, encoding) {
  const items = [];
  for (const [folder, cap] of [[join(root, 'fuzz/seeds', target), Infinity], [join(root, 'fuzz/corpus', target), MAX]]) {
    if (!existsSync(folder)) continue;
    const names = readdirSync(folder).sort().slice(0, cap);
    for (const name of names) items.push({ name: `${folder.slice(root.length)}/${name}`, text: readFileSync(join(folder, name), encoding) });
  }
  return items;
}

const persist = mkdtempSync(join(tmpdir(), 'edge-session-corpus-'));
let mf;

before(async () => {
  mf = new Miniflare(packageWorker('tests/js/wasm-corpus-worker.mjs', { kvNamespaces: ['KV'], kvPersist: persist }));
  await mf.ready;
});

after(async () => {
  await mf?.dispose();
  rmSync(persist, { recursive: true, force: true });
});

async function post(path, body) {
  const res = await mf.dispatchFetch(`http://corpus${path}`, { method: 'POST', body: JSON.stringify(body) });
  const answer = await res.json();
  assert.equal(res.status, 200, answer.error);
  return answer;
}

/** Every answer is a decision: no throw, `ok` true with a user, or false with a reason code. */
function checkDecisions(results, user) {
  const reasons = new Map();
  for (const r of results) {
    const where = `${r.name} as ${r.role} (${r.call})`;
    assert.equal(r.threw, undefined, `${where} threw: ${r.threw}\n${r.stack ?? ''}`);
    if (r.call === 'listSessions' || r.call === 'revokeSession' || r.call === 'revokeUser') continue;
    assert.equal(typeof r.ok, 'boolean', `${where}: ${JSON.stringify(r)}`);
    if (r.ok) assert.ok(user === undefined ? typeof r.userId === 'string' && r.userId !== '' : r.userId === user, where);
    else assert.match(r.reason, REASON, where);
    const key = r.ok ? 'ok' : r.reason;
    reasons.set(key, (reasons.get(key) ?? 0) + 1);
  }
  return reasons;
}

test('wasm in workerd: every corpus stored value gets a decision, never a trap', async () => {
  const values = corpus('stored_values', 'utf8');
  assert.ok(values.length >= 20, `the seed corpus is there (${values.length} values)`);
  const results = [];
  for (let i = 0; i < values.length; i += 50) {
    results.push(...(await post('/stored', { keys: KEYS, t0: T0, values: values.slice(i, i + 50) })));
  }
  const reasons = checkDecisions(results, 'alice');
  // The control (real values) refreshes; corpus values are refused for what they are.
  const control = results.filter((r) => r.name === '(control)');
  assert.ok(control.length > 0 && control.every((r) => r.ok === true), JSON.stringify(control));
  for (const reason of ['corrupt_record', 'corrupt_cutoff', 'record_version', 'revoked', 'rotated']) {
    assert.ok(reasons.has(reason), `some corpus value is refused as ${reason}: ${JSON.stringify([...reasons])}`);
  }
  // Another session's live record reaches the decoder and is told apart.
  const record = results.find((r) => r.name.endsWith('/stored_values/record') && r.role === 's' && r.call === 'validate');
  assert.equal(record?.reason, 'record_mismatch');
  console.log(`${values.length} stored values, ${results.length} calls:`, Object.fromEntries(reasons));
});

test('wasm in workerd: every corpus Cookie header gets a decision, never a trap', async () => {
  const headers = [];
  for (const item of corpus('cookie_header', 'latin1')) {
    headers.push(item);
    // Header bytes as a worker sees them (latin1) and, when different, as UTF-8 text.
    const utf8 = Buffer.from(item.text, 'latin1').toString('utf8');
    if (utf8 !== item.text) headers.push({ name: `${item.name} (utf8)`, text: utf8 });
  }
  // The envelope target's corpus, as the session cookie's value.
  for (const item of corpus('envelope', 'latin1')) headers.push({ name: item.name, text: `__Host-session=${item.text}` });
  assert.ok(headers.length >= 20, `the seed corpora are there (${headers.length} headers)`);
  const results = [];
  for (let i = 0; i < headers.length; i += 100) {
    results.push(...(await post('/cookies', { keys: KEYS, t0: T0, headers: headers.slice(i, i + 100) })));
  }
  const reasons = checkDecisions(results);
  // The seed cookies are authentic: some are valid on the fast path, then refused for what they are.
  assert.ok(reasons.get('ok') > 0, JSON.stringify([...reasons]));
  for (const reason of ['duplicate_cookie', 'malformed', 'missing', 'header_too_large', 'expired_absolute', 'bad_version', 'unknown_key', 'bad_signature']) {
    assert.ok(reasons.has(reason), `some header is refused as ${reason}: ${JSON.stringify([...reasons])}`);
  }
  console.log(`${headers.length} headers, ${results.length} calls:`, Object.fromEntries(reasons));
});
