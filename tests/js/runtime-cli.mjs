// Bun and Deno: `bun runtime-cli.mjs` / `deno run ... runtime-cli.mjs` in the scratch project of
// tests/runtimes.test.mjs. Prints JSON lines on stdout: which runtime, its version and the file
// 'edge-session' resolved to, then runtime-suite.mjs's report. Exits 1 when a scenario failed.
import { runSuite } from './runtime-suite.mjs';

const runtime =
  typeof globalThis.Bun !== 'undefined'
    ? { name: 'bun', version: globalThis.Bun.version }
    : typeof globalThis.Deno !== 'undefined'
      ? { name: 'deno', version: globalThis.Deno.version.deno }
      : { name: 'node', version: globalThis.process?.versions?.node };
const line = (object) => console.log(JSON.stringify(object));

line({ kind: 'runtime', ...runtime, entry: import.meta.resolve('edge-session') });
const counts = await runSuite(line);
if (counts.scenarios.failed > 0) {
  if (typeof globalThis.Deno !== 'undefined') globalThis.Deno.exitCode = 1;
  else globalThis.process.exitCode = 1;
}
