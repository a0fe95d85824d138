// The little statistics dutlab's verdicts rest on, in one place: the mean, the
// sample standard deviation and Student's one-sided 95 % quantile (the gate's
// groups, a soak's fitted memory slope). Pure.

export const mean = (xs: readonly number[]): number => xs.reduce((a, x) => a + x, 0) / xs.length;

/** The sample standard deviation; null with fewer than two values. */
export function sd(xs: readonly number[]): number | null {
  if (xs.length < 2) return null;
  const m = mean(xs);
  return Math.sqrt(xs.reduce((a, x) => a + (x - m) ** 2, 0) / (xs.length - 1));
}

/** Student's t, one-sided 95 %, by degrees of freedom (1 to 30; the normal's beyond). */
const T95 = [
  6.314, 2.92, 2.353, 2.132, 2.015, 1.943, 1.895, 1.86, 1.833, 1.812, 1.796, 1.782, 1.771, 1.761, 1.753, 1.746, 1.74, 1.734, 1.729, 1.725, 1.721, 1.717, 1.714,
  1.711, 1.708, 1.706, 1.703, 1.701, 1.699, 1.697,
];
export function t95(df: number): number {
  if (!(df >= 1)) return T95[0]!;
  return df > 30 ? 1.645 : T95[Math.floor(df) - 1]!;
}

/** The least-squares line through (x, y): its slope, and the slope's standard error (null with fewer than three points). */
export function fitLine(points: ReadonlyArray<readonly [number, number]>): { slope: number; intercept: number; se: number | null } | null {
  const n = points.length;
  if (n < 2) return null;
  const mx = mean(points.map((p) => p[0]));
  const my = mean(points.map((p) => p[1]));
  const sxx = points.reduce((a, [x]) => a + (x - mx) ** 2, 0);
  if (sxx === 0) return null;
  const slope = points.reduce((a, [x, y]) => a + (x - mx) * (y - my), 0) / sxx;
  const intercept = my - slope * mx;
  if (n < 3) return { slope, intercept, se: null };
  const ssr = points.reduce((a, [x, y]) => a + (y - (intercept + slope * x)) ** 2, 0);
  return { slope, intercept, se: Math.sqrt(ssr / (n - 2) / sxx) };
}
