// The package scenarios (tests/js/scenarios.mjs) in whichever runtime loads this file, with the
// package imported by its name, so the runtime's own export conditions pick the entry. Used by
// tests/runtimes.test.mjs: Bun and Deno through runtime-cli.mjs, Vercel's Edge runtime through
// runtime-edge.mjs (bundled). The test copies these files and scenarios.mjs into a scratch project
// whose node_modules/edge-session links to pkg/.
import { SessionManager, MemoryStore, SessionConfigError, SessionStoreError } from 'edge-session';
import { knownIssues, scenarios } from './scenarios.mjs';

/**
 * Runs every scenario, and then every known issue, each on a fresh MemoryStore, one at a time.
 * `report` gets one plain object per line: `{ kind: 'scenario', set, name, ok, error? }` for each,
 * then `{ kind: 'summary', passed, failed, knownIssues: { passed, failed } }`.
 */
export async function runSuite(report) {
  const ctx = { SessionManager, MemoryStore, SessionConfigError, SessionStoreError, freshStore: () => new MemoryStore() };
  const counts = { scenarios: { passed: 0, failed: 0 }, knownIssues: { passed: 0, failed: 0 } };
  for (const [set, group] of [['scenarios', scenarios], ['knownIssues', knownIssues]]) {
    for (const [name, run] of Object.entries(group)) {
      try {
        await run(ctx);
        counts[set].passed += 1;
        report({ kind: 'scenario', set, name, ok: true });
      } catch (error) {
        counts[set].failed += 1;
        report({ kind: 'scenario', set, name, ok: false, error: String((error && error.stack) || error) });
      }
    }
  }
  report({ kind: 'summary', ...counts.scenarios, knownIssues: counts.knownIssues });
  return counts;
}
