// Medians, spreads and ratios: every figure is the median of its reps, shown with the reps' range,
// and every comparison is a ratio taken rep by rep inside one run.

export function median(values) {
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/** { median, min, max, reps } of a list of measurements. */
export function summary(values) {
  return { median: median(values), min: Math.min(...values), max: Math.max(...values), reps: values.length };
}

/** Rep-by-rep ratios a[i] / b[i], summarised. */
export function ratio(a, b) {
  return summary(a.map((x, i) => x / b[i]));
}

/** A number with `digits` significant digits (at least the integer part). */
export function fmt(x, digits = 3) {
  if (!Number.isFinite(x)) return String(x);
  const magnitude = Math.floor(Math.log10(Math.abs(x) || 1));
  return x.toFixed(Math.max(0, digits - 1 - magnitude));
}

/** "median (min–max)". */
export function fmtSummary(s, digits = 3) {
  return `${fmt(s.median, digits)} (${fmt(s.min, digits)}–${fmt(s.max, digits)})`;
}

/** A time ratio as a speed comparison: "2.1× faster" or "1.3× slower", with the reps' range. */
export function fmtSpeed(r) {
  const speed = 1 / r.median;
  const [lo, hi] = [1 / r.max, 1 / r.min];
  return speed >= 1
    ? `${fmt(speed)}× faster (${fmt(lo)}–${fmt(hi)})`
    : `${fmt(1 / speed)}× slower (${fmt(r.min)}–${fmt(r.max)})`;
}
