// What the workerd tests share: how a test worker that imports the built package (pkg/workerd.js
// and its .wasm) is declared to Miniflare. Imported by the Node side only.
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = fileURLToPath(new URL('../..', import.meta.url));

/** Miniflare options for one ES-module worker at `script` (relative to the repo) plus `more`. */
export function packageWorker(script, more = {}) {
  return {
    modules: true,
    scriptPath: join(root, script),
    modulesRoot: root,
    modulesRules: [
      { type: 'ESModule', include: ['**/*.js', '**/*.mjs'] },
      { type: 'CompiledWasm', include: ['**/*.wasm'] },
    ],
    compatibilityDate: '2026-04-01',
    ...more,
  };
}
