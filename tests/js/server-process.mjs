// A local server for the tests and the bench (`wrangler dev`, mostly): a command run in a process
// group of its own on a free loopback port, polled over HTTP until it answers, and stopped as a
// whole group, so whatever it started (wrangler's workerd) goes with it.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Resolves after `ms` milliseconds. */
export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// For the waits in stop(): a timer left pending once the group has exited must not hold the
// process up.
const pause = (ms) => new Promise((resolve) => setTimeout(resolve, ms).unref());

/** A free TCP port on 127.0.0.1: bind port 0, read the port the kernel picked, release it. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/**
 * Runs `command args` in its own process group, under `timeout`: a watchdog that outlives this
 * process, so even if nobody calls stop() the group gets SIGTERM after `lifetimeMs` and SIGKILL
 * `killAfterMs` later. If this process exits first, the group gets SIGKILL.
 * @returns {{ child: import('node:child_process').ChildProcess, output: () => string,
 *   running: () => boolean, kill: (signal: string) => void, stop: () => Promise<void> }}
 *   output: stdout and stderr as they came (only the tail once past a million characters);
 *   stop: SIGTERM, then SIGKILL to whatever is left after 5 s; a second call waits for the first.
 */
export function spawnGroup(command, args, { cwd, env, lifetimeMs, killAfterMs }) {
  const watchdog = [`--kill-after=${Math.ceil(killAfterMs / 1000)}`, String(Math.ceil(lifetimeMs / 1000))];
  const child = spawn('timeout', [...watchdog, command, ...args], { cwd, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });

  let output = '';
  const collect = (chunk) => {
    output += chunk;
    // A failure message needs the end of it; a long-lived server must not grow it without bound.
    if (output.length > 1_000_000) output = output.slice(-500_000);
  };
  child.stdout.on('data', collect);
  child.stderr.on('data', collect);

  let running = true;
  const exited = new Promise((resolve) => child.once('exit', () => resolve((running = false))));
  const kill = (signal) => {
    try {
      if (running) process.kill(-child.pid, signal);
    } catch {
      // gone already
    }
  };
  const onProcessExit = () => kill('SIGKILL');
  process.once('exit', onProcessExit);

  let stopping;
  const stop = () => (stopping ??= (async () => {
    kill('SIGTERM');
    await Promise.race([exited, pause(5000)]);
    kill('SIGKILL'); // workerd and anything else still in the group
    await Promise.race([exited, pause(2000)]);
    process.removeListener('exit', onProcessExit);
  })());

  return { child, output: () => output, running: () => running, kill, stop };
}

/**
 * Polls `url` (2 s per try, every `intervalMs`) until `ready(res)` holds. Resolves with nothing
 * then, or with why it gave up, for the caller's error message: `exited` as soon as `group` has
 * exited, `failOn[1]` as soon as its output matches `failOn[0]`, `timedOut` after `deadlineMs`.
 */
export async function waitForHttp(url, { group, deadlineMs, intervalMs = 250, ready = (res) => res.ok, failOn, exited, timedOut }) {
  const deadline = Date.now() + deadlineMs;
  for (;;) {
    if (!group.running()) return exited;
    if (failOn && failOn[0].test(group.output())) return failOn[1];
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
      const ok = await ready(res);
      if (!res.bodyUsed) await res.arrayBuffer(); // frees the connection
      if (ok) return undefined;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) return timedOut;
    await sleep(intervalMs);
  }
}

/**
 * `wrangler dev` of the repository's wrangler.toml (the demo) on a free loopback port, with its
 * own state folder, `vars` as `--var`s and `extraArgs` after them, stopping by itself after
 * `lifetimeMs`; resolves once /health answers 200. `{ url, port, pid, output, stop }`; `stop()`
 * also removes the state folder.
 */
export async function startWranglerDev({ root, vars = {}, extraArgs = [], lifetimeMs, stateName = 'edge-session-demo-' }) {
  const wrangler = join(root, 'node_modules', '.bin', 'wrangler');
  if (!existsSync(wrangler)) throw new Error(`${wrangler} is missing: run \`make setup-node\``);
  const port = await freePort();
  const persist = mkdtempSync(join(tmpdir(), stateName));
  // --log-level warn: no access-log line per request; the worker's console.error still shows.
  const args = ['dev', '--ip', '127.0.0.1', '--port', String(port), '--persist-to', persist, '--log-level', 'warn'];
  for (const [name, value] of Object.entries(vars)) args.push('--var', `${name}:${value}`);
  args.push(...extraArgs);
  const server = spawnGroup(wrangler, args, {
    cwd: root,
    env: { ...process.env, WRANGLER_SEND_METRICS: 'false', CLOUDFLARE_CF_FETCH_ENABLED: 'false', WRANGLER_LOG_PATH: join(persist, 'logs'), NO_COLOR: '1', BROWSER: 'none' },
    lifetimeMs,
    killAfterMs: 10_000,
  });
  const stop = async () => {
    await server.stop();
    rmSync(persist, { recursive: true, force: true });
  };
  const url = `http://127.0.0.1:${port}`;
  const failure = await waitForHttp(`${url}/health`, {
    group: server,
    deadlineMs: 90_000,
    ready: (res) => res.status === 200,
    exited: 'wrangler dev exited',
    timedOut: 'wrangler dev did not answer /health in 90 s',
  });
  if (failure) {
    await stop();
    throw new Error(`${failure}:\n${server.output()}`);
  }
  return { url, port, pid: server.child.pid, output: server.output, stop };
}
