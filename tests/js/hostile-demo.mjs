// The demo worker (www-demo/worker.js, unchanged) in workerd through Miniflare for
// tests/hostile.test.mjs, behind the counting wrapper tests/js/hostile-worker.mjs, with a local KV
// namespace and the RevocationHub Durable Object, as wrangler.toml declares them.
//
// The demo imports the package by name (`edge-session`, `edge-session/guard`), which wrangler
// resolves through wrangler.toml's [alias]; here two one-line modules of those names re-export
// pkg/workerd.js and pkg/guard.js, the same files the alias names. Every module is listed
// explicitly; workerd resolves a bare specifier like a relative one (`edge-session` imported by
// www-demo/worker.js is the module named www-demo/edge-session), so the two are named that way.
import { readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { Miniflare } from 'miniflare';
import { root } from './workerd.mjs';

/** The package modules `entries` (repo paths) import, transitively, relative imports only. */
function closure(entries) {
  const seen = new Set();
  const visit = (file) => {
    if (seen.has(file)) return;
    seen.add(file);
    if (!file.endsWith('.js') && !file.endsWith('.mjs')) return;
    const text = readFileSync(join(root, file), 'utf8');
    for (const [, spec] of text.matchAll(/^\s*(?:import|export)\b[^'"]*?from\s*['"](\.{1,2}\/[^'"]+)['"]/gm)) {
      visit(relative(root, join(root, dirname(file), spec)));
    }
    for (const [, spec] of text.matchAll(/^\s*import\s*['"](\.{1,2}\/[^'"]+)['"]/gm)) {
      visit(relative(root, join(root, dirname(file), spec)));
    }
  };
  for (const entry of entries) visit(entry);
  return [...seen];
}

function modules() {
  const files = closure(['tests/js/hostile-worker.mjs', 'www-demo/worker.js', 'pkg/workerd.js', 'pkg/guard.js']);
  const list = files.map((file) => ({
    type: file.endsWith('.wasm') ? 'CompiledWasm' : 'ESModule',
    path: join(root, file),
  }));
  // The entry module first: Miniflare takes the first as the worker's main module.
  list.sort((a, b) => Number(b.path.endsWith('hostile-worker.mjs')) - Number(a.path.endsWith('hostile-worker.mjs')));
  list.push(
    { type: 'ESModule', path: join(root, 'www-demo/edge-session'), contents: "export * from '../pkg/workerd.js';\n" },
    { type: 'ESModule', path: join(root, 'www-demo/edge-session/guard'), contents: "export * from '../../pkg/guard.js';\n" },
  );
  return list;
}

/**
 * Starts the demo with `vars` (wrangler.toml's [vars] plus SESSION_KEYS and ADMIN_TOKEN).
 * `stdio(text)` receives everything workerd prints.
 */
export async function startDemo(vars, stdio) {
  const mf = new Miniflare({
    host: '127.0.0.1',
    modules: modules(),
    modulesRoot: root,
    compatibilityDate: '2026-04-01',
    kvNamespaces: { SESSIONS: 'hostile-sessions' },
    durableObjects: { REVOCATIONS: { className: 'RevocationHub', useSQLite: true } },
    bindings: vars,
    handleRuntimeStdio(stdout, stderr) {
      stdout.on('data', (chunk) => stdio(String(chunk)));
      stderr.on('data', (chunk) => stdio(String(chunk)));
    },
  });
  await mf.ready;
  return mf;
}
