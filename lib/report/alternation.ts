// dutlab gate's throughput verdict: the NDRs of two builds measured
// alternately on one lab (A, B, A, B ...: FD.io CSIT's per-patch way, so that
// the lab's drift falls on both groups alike), compared as two groups. A drop
// of B's mean below A's is a regression when it is larger than both the
// testbed's threshold and what the groups' own spread could make of nothing
// (Welch's one-sided 95 % bound on the difference of the means): that larger
// of the two is the gate's sensitivity on this lab, stated with the verdict.
// The gate's two testcases of its own are made here too: the throughput
// groups', and the functional one (B failing what A passed). Pure.
import type { CaseOutcome, SuiteResult } from '../results/run.js';
import { mean, sd, t95 } from '../results/stats.js';
import { throughputOf } from '../results/throughput.js';
import type { FrameKey } from '../testbed/frame-mix.js';

export const GATE_THROUGHPUT_ID = 'gate.throughput';
export const GATE_FUNCTIONAL_ID = 'gate.functional';

/** One frame size's groups: each round's NDR (frames/s; 0 where no load passed), A's and B's. */
export interface Groups {
  frame: FrameKey;
  a: number[];
  b: number[];
}

export interface GroupComparison extends Groups {
  meanA: number;
  meanB: number;
  /** (meanB - meanA) / meanA: negative is a drop. */
  change: number;
  /** The sample standard deviation of each group, null with one round. */
  sdA: number | null;
  sdB: number | null;
  /** The smallest drop (a share of A's mean) the gate calls a regression here: the threshold, or the spread's bound where larger. */
  sensitivity: number;
  /** What set the sensitivity. */
  sensitivityBy: 'threshold' | 'spread';
  regression: boolean;
  /** One line for the report. */
  text: string;
}

/** Welch's bound on meanB - meanA from the groups' spread (frames/s), or null where a group has one round. */
function spreadBound(a: number[], b: number[]): number | null {
  const [sa, sb] = [sd(a), sd(b)];
  if (sa === null || sb === null) return null;
  const [va, vb] = [(sa * sa) / a.length, (sb * sb) / b.length];
  const se = Math.sqrt(va + vb);
  if (se === 0) return 0;
  const df = (va + vb) ** 2 / (va ** 2 / (a.length - 1) + vb ** 2 / (b.length - 1));
  return t95(df) * se;
}

const pct = (x: number) => `${(x * 100).toFixed(1)} %`;
const rate = (x: number) => `${Math.round(x)}`;

/** The groups compared: the verdict, and the sensitivity it had. */
export function compareGroups(g: Groups, threshold: number): GroupComparison {
  if (g.a.length === 0 || g.b.length === 0) throw new Error(`${g.frame}: a group without a measurement cannot be compared`);
  const [meanA, meanB] = [mean(g.a), mean(g.b)];
  const change = meanA === 0 ? 0 : (meanB - meanA) / meanA;
  const bound = spreadBound(g.a, g.b);
  const bySpread = bound === null || meanA === 0 ? 0 : bound / meanA;
  const sensitivity = Math.max(threshold, bySpread);
  const sensitivityBy = bySpread > threshold ? 'spread' : 'threshold';
  const regression = meanA > 0 && -change > sensitivity;
  const spreadText =
    bound === null ? 'one round each: no spread measured, the threshold alone' : `the groups' spread bounds a difference from nothing at ${pct(bySpread)}`;
  const text =
    `${g.frame}: NDR ${rate(meanA)} frames/s on A (${g.a.map(rate).join(', ')}) and ${rate(meanB)} on B (${g.b.map(rate).join(', ')}): ` +
    `${change >= 0 ? '+' : ''}${pct(change)}; the gate catches a drop of ${pct(sensitivity)} or more here (${spreadText}; threshold ${pct(threshold)})` +
    `${regression ? ': REGRESSION' : ''}`;
  return { ...g, meanA, meanB, change, sdA: sd(g.a), sdB: sd(g.b), sensitivity, sensitivityBy, regression, text };
}

/** Each round's NDR (its lower bound; 0 where no load passed) by frame size and group; null where a round measured none. */
function groupsOf(rounds: Array<{ group: 'A' | 'B'; suites: SuiteResult[] }>): Map<string, { a: number[]; b: number[] }> | null {
  const by = new Map<string, { a: number[]; b: number[] }>();
  for (const { group, suites } of rounds) {
    const searches = suites.flatMap(throughputOf);
    if (searches.length === 0) return null;
    for (const s of searches) {
      const ndr = s.goals.find((g) => g.goal === 'NDR')?.lowerBound ?? 0;
      const g = by.get(String(s.frame)) ?? { a: [], b: [] };
      (group === 'A' ? g.a : g.b).push(ndr);
      by.set(String(s.frame), g);
    }
  }
  return by;
}

/** B's failures that A passed (the upgrade broke them), and those A failed too (not the upgrade's). */
export function functionalCase(a: CaseOutcome[], b: CaseOutcome[]): CaseOutcome {
  const at = { id: GATE_FUNCTIONAL_ID, name: 'Functional: B passes what A passes', suite: 'gate', group: 'gate', durationMs: 0 };
  const bare = (c: CaseOutcome) => c.id.replace(/^[^:]+:/, '');
  const passedOnA = new Set(a.filter((c) => c.status === 'passed').map(bare));
  const failedOnB = b.filter((c) => c.status === 'failed' && c.kind === 'dut');
  const broken = failedOnB.filter((c) => passedOnA.has(bare(c)));
  if (broken.length > 0)
    return {
      ...at,
      status: 'failed',
      kind: 'dut',
      message: `regression: B fails what A passed: ${broken.map((c) => `${bare(c)} (${c.message ?? 'failed'})`).join('; ')}`,
    };
  if (failedOnB.length > 0)
    return { ...at, status: 'passed', message: `B fails ${failedOnB.map(bare).join(', ')}, as A did: not the upgrade's (each is a failure of its own)` };
  return { ...at, status: 'passed' };
}

/** The groups compared at each frame size, as the gate's testcase; not compared where a round measured nothing. */
export function throughputCase(
  rounds: Array<{ group: 'A' | 'B'; suites: SuiteResult[] }>,
  threshold: number,
): { case: CaseOutcome; groups: GroupComparison[] } {
  const at = { id: GATE_THROUGHPUT_ID, name: 'Throughput: B against A, alternated', suite: 'gate', group: 'gate', durationMs: 0 };
  const by = groupsOf(rounds);
  if (!by || by.size === 0)
    return {
      case: { ...at, status: 'skipped', message: 'not compared: a round of the alternation measured no throughput (its own cases say why)' },
      groups: [],
    };
  const groups = [...by.entries()].map(([frame, g]) => compareGroups({ frame: frame as GroupComparison['frame'], ...g }, threshold));
  const worse = groups.filter((g) => g.regression);
  if (worse.length > 0) return { case: { ...at, status: 'failed', kind: 'dut', message: `regression: ${worse.map((g) => g.text).join('; ')}` }, groups };
  return { case: { ...at, status: 'passed', message: groups.map((g) => g.text).join('; ') }, groups };
}
