// `make test-js`: `node --test` over the given test files, with one exception made for Node 20.
//
// Node 20's V8 (11.3) now and then aborts a whole process in its deoptimizer ("Fatal error in ,
// line 0 / unreachable code", `Deoptimizer::DoComputeBuiltinContinuation`; ARCHITECTURE.md,
// "Store calls start from plain loops"; Node 22 no longer does). Under the fault matrix, which
// runs thousands of store failures through the package in one process, it has hit a test file
// in a few runs out of a hundred. A file whose process died of exactly that (SIGTRAP, with V8's
// fatal-error trace in its output) is run once more, on its own, and the retry is reported.
// Every other failure fails the run at once, and so does a second abort.
//
//   node tests/js/run-node-tests.mjs <test files...>
import { spawn } from 'node:child_process';

const V8_ABORT = /Fatal error in , line 0[\s\S]*?unreachable code[\s\S]*?DoComputeBuiltinContinuation/;

/** Runs `node --test` (TAP reporter) over `files`, echoing its output; resolves with it. */
function nodeTest(files) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--test', '--test-reporter=tap', ...files], { stdio: ['ignore', 'pipe', 'inherit'] });
    let output = '';
    child.stdout.on('data', (chunk) => {
      process.stdout.write(chunk);
      output += chunk;
    });
    child.once('error', reject);
    child.once('close', (code, signal) => resolve({ ok: code === 0, output, code: code ?? signal }));
  });
}

/**
 * The files that failed at the top level, each with whether its process died of V8's abort: its
 * `not ok` entry says SIGTRAP and the output it printed before that entry holds the trace.
 */
function failedFiles(output) {
  const failed = [];
  const entry = /^not ok \d+ - (.+)\n((?:  .*\n)*)/gm;
  let from = 0;
  for (const match of output.matchAll(entry)) {
    const [, file, details] = match;
    failed.push({ file, aborted: /signal: 'SIGTRAP'/.test(details) && V8_ABORT.test(output.slice(from, match.index)) });
    from = match.index + match[0].length;
  }
  return failed;
}

const files = process.argv.slice(2);
const first = await nodeTest(files);
if (first.ok) process.exit(0);

const failed = failedFiles(first.output);
const aborted = failed.filter((f) => f.aborted).map((f) => f.file);
if (failed.length === 0 || aborted.length !== failed.length) {
  console.error(`run-node-tests: ${failed.length - aborted.length} test file(s) failed (exit ${first.code})`);
  process.exit(1);
}
console.error(`\nrun-node-tests: Node ${process.version}'s V8 aborted in its deoptimizer while running ${aborted.join(', ')}; running ${aborted.length === 1 ? 'it' : 'them'} once more\n`);
const retry = await nodeTest(aborted);
if (!retry.ok) {
  console.error('run-node-tests: the retry failed too');
  process.exit(1);
}
console.error(`run-node-tests: the retry passed (${aborted.length} file(s)); every other file passed the first time`);
