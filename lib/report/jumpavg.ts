// Anomalies across nightlies, as FD.io CSIT finds them (its jumpavg): a
// series of results is split into groups by minimum description length (each
// group a population of its own normal distribution, the split that encodes
// the whole series in the fewest bits wins), and a group whose average is
// below the one before it is a regression, above it a progression. A slow
// slide that no pair of neighbouring runs shows still ends in a group of its
// own once the runs that show it outweigh the bits a new group costs.
// Pure: numbers in, groups out.

export type Anomaly = 'normal' | 'regression' | 'progression';

export interface Group {
  /** Index of its first and one past its last value in the series. */
  from: number;
  to: number;
  avg: number;
  stdev: number;
  anomaly: Anomaly;
}

interface Stats {
  n: number;
  sum: number;
  sumSq: number;
}

const avgOf = (s: Stats) => (s.n > 0 ? s.sum / s.n : 0);
/** The population's standard deviation, as CSIT's AvgStdevStats has it. */
const stdevOf = (s: Stats) => (s.n > 0 ? Math.sqrt(Math.max(0, s.sumSq / s.n - avgOf(s) ** 2)) : 0);

/** ln Γ(x) for x > 0 (Lanczos, g = 7): the bit count of the sphere the samples lie on needs it. */
function lnGamma(x: number): number {
  const c = [
    0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059, 12.507343278686905, -0.13857109526572012,
    9.9843695780195716e-6, 1.5056327351493116e-7,
  ];
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - lnGamma(1 - x);
  const z = x - 1;
  let a = c[0]!;
  const t = z + 7.5;
  for (let i = 1; i < 9; i++) a += c[i]! / (z + i);
  return 0.5 * Math.log(2 * Math.PI) + (z + 0.5) * Math.log(t) - t + Math.log(a);
}

/**
 * The bits a group of values costs, given the series' largest value and the
 * previous group's average (none for the first): its length, its average
 * (uniform up to the maximum for the first group; near the previous average
 * cheaper than far from it for the others), its deviation, and its values on
 * the sphere that average and deviation leave them. In units of `unit`.
 */
export function groupBits(s: Stats, maxValue: number, unit: number, prevAvg: number | null): number {
  if (s.n < 1) return 0;
  const max = maxValue / unit;
  const avg = avgOf(s) / unit;
  let bits = Math.log2(s.n * (s.n + 1));
  if (prevAvg === null) bits += Math.log2(max + 1);
  else {
    const prev = prevAvg / unit;
    const norm = prev * prev - (prev - 1) * max + (max * max) / 2;
    bits -= Math.log2((Math.abs(avg - prev) + 1) / norm);
  }
  if (s.n < 2) return bits;
  const stdev = stdevOf(s) / unit;
  bits += Math.log2(max + 1);
  const sphereLn =
    Math.log(2) + Math.log(Math.PI) * ((s.n - 1) / 2) - lnGamma((s.n - 1) / 2) + Math.log(stdev + 1) * (s.n - 2) + Math.log(s.n) * ((s.n - 2) / 2);
  return bits + sphereLn / Math.log(2);
}

interface Partition {
  bits: number;
  /** Where each group starts. */
  starts: number[];
  lastAvg: number | null;
}

/**
 * The series split into the groups that encode it in the fewest bits, each
 * marked against the group before it. `unit` is the values' resolution (a
 * frame per second for a rate). O(n²): a history of nightlies, not a trace.
 */
export function classify(values: readonly number[], unit = 1): Group[] {
  if (values.length === 0) return [];
  const maxValue = Math.max(unit, ...values);
  // best[i]: the cheapest partition of the first i values (CSIT's "closed before").
  const best: Partition[] = [{ bits: 0, starts: [], lastAvg: null }];
  for (let end = 1; end <= values.length; end++) {
    let record: Partition | null = null;
    const s: Stats = { n: 0, sum: 0, sumSq: 0 };
    // The last group runs from `start` to `end`; grown backwards, one value at a time.
    for (let start = end - 1; start >= 0; start--) {
      const v = values[start]!;
      s.n++;
      s.sum += v;
      s.sumSq += v * v;
      const before = best[start]!;
      const bits = before.bits + groupBits(s, maxValue, unit, before.lastAvg);
      if (record === null || bits < record.bits) record = { bits, starts: [...before.starts, start], lastAvg: avgOf(s) };
    }
    best.push(record!);
  }
  const starts = best[values.length]!.starts;
  const groups: Group[] = starts.map((from, i) => {
    const to = starts[i + 1] ?? values.length;
    const slice = values.slice(from, to);
    const s = slice.reduce<Stats>((a, v) => ({ n: a.n + 1, sum: a.sum + v, sumSq: a.sumSq + v * v }), { n: 0, sum: 0, sumSq: 0 });
    return { from, to, avg: avgOf(s), stdev: stdevOf(s), anomaly: 'normal' as Anomaly };
  });
  for (let i = 1; i < groups.length; i++)
    groups[i]!.anomaly = groups[i]!.avg < groups[i - 1]!.avg ? 'regression' : groups[i]!.avg > groups[i - 1]!.avg ? 'progression' : 'normal';
  return groups;
}
