// The timing loop shared by every runtime: size each case's loop to about `targetMs`, then run
// `reps` rounds over all cases (in a rotated order, so no case always goes first) and keep µs per
// call for each rep. `run(name, n)` returns the wall time in ms of n calls as seen by the caller;
// `baseline()` the same for an empty request (workerd), subtracted per round.
import { median } from './stats.mjs';

export async function measureAll(names, { run, baseline = async () => 0, reps, targetMs }) {
  const n = {};
  const base = async () => median([await baseline(), await baseline(), await baseline()]);
  for (const name of names) {
    // Calibration doubles as warm-up: grow the loop until it clearly outlasts the empty request
    // (targetMs/5 beyond it), size it to targetMs, then resize it from runs of that loop until
    // it settles (the first runs are slower while the JIT and wasm tier-up warm up).
    const empty = await base();
    let k = 1;
    let ms = (await run(name, k)) - empty;
    while (ms < targetMs / 5 && k < 1 << 24) {
      k *= 4;
      ms = (await run(name, k)) - empty;
    }
    let sized = Math.max(1, Math.round((k * targetMs) / ms));
    for (let tries = 0; tries < 4; tries++) {
      const check = Math.max((await run(name, sized)) - (await base()), targetMs / 4);
      const next = Math.max(1, Math.round((sized * targetMs) / check));
      const settled = next > sized * 0.8 && next < sized * 1.25;
      sized = next;
      if (settled) break;
    }
    n[name] = sized;
  }
  const us = Object.fromEntries(names.map((name) => [name, []]));
  const baselines = [];
  for (let rep = 0; rep < reps; rep++) {
    const empty = await base();
    baselines.push(empty);
    for (let k = 0; k < names.length; k++) {
      const name = names[(k + rep) % names.length];
      const ms = await run(name, n[name]);
      us[name].push(((ms - empty) * 1000) / n[name]);
    }
  }
  return { n, us, baselineMs: baselines };
}
