// `dutlab compare`: a candidate run against a baseline, as an upgrade gate
// reads it. Case by case (passed before, not now: a regression; a new skip or
// block is named), throughput by goal and frame size (a regression only when
// the best the candidate's trials showed is below the worst the baseline's
// showed by more than the threshold: two healthy runs on a noisy box overlap
// there), and the versions side by side. Pure: it reads the two runs' data, nothing of a lab.
import type { RunResult } from '../results/run.js';
import { throughputOf, type ThroughputResult } from '../suite/throughput/result.js';
import type { CaseOutcome } from '../results/run.js';
import { DutlabError } from '../errors.js';

/** What compare reads of a run: its data and its testcases (run.json and summary.json of a run directory). */
export interface RunRecord {
  run: RunResult;
  cases: CaseOutcome[];
  /** Its run directory, when it was read from one. */
  dir?: string;
}

export interface Comparison {
  regressions: string[];
  /** What changed without being a regression: new cases, new skips, improvements. */
  changes: string[];
  versions: Array<{ component: string; baseline: string; candidate: string; changed: boolean }>;
}

const caseKey = (c: CaseOutcome) => `${c.suite ?? ''} ${c.id}`;

function compareCases(base: CaseOutcome[], cand: CaseOutcome[]): Pick<Comparison, 'regressions' | 'changes'> {
  const regressions: string[] = [];
  const changes: string[] = [];
  for (const c of cand) {
    const b = base.find((x) => caseKey(x) === caseKey(c));
    const name = `${c.suite ? `${c.suite}: ` : ''}${c.name} (${c.id})`;
    if (!b) {
      changes.push(`new testcase ${name}: ${c.status}`);
      continue;
    }
    if (b.status === 'passed' && c.status === 'failed') regressions.push(`${name} passed in the baseline and fails now: ${c.message ?? ''}`);
    else if (b.status === 'passed' && (c.status === 'skipped' || c.status === 'blocked'))
      changes.push(`${name} passed in the baseline and is ${c.status} now: ${c.message ?? ''}`);
    else if (b.status === 'failed' && c.status === 'passed') changes.push(`${name} failed in the baseline and passes now`);
  }
  for (const b of base) if (!cand.some((c) => caseKey(c) === caseKey(b))) changes.push(`testcase ${b.suite ? `${b.suite}: ` : ''}${b.name} (${b.id}) is gone`);
  return { regressions, changes };
}

const fmt = (fps: number) => `${(fps / 1000).toFixed(1)} kfps`;

/** One goal at one frame size, baseline against candidate. */
function compareGoal(
  b: ThroughputResult['goals'][number],
  c: ThroughputResult['goals'][number],
  frame: number,
  threshold: number,
): { regression?: string; change?: string } {
  const what = `${c.goal} at ${frame}-byte frames`;
  if (b.lowerBound === null) return c.lowerBound !== null ? { change: `${what}: ${fmt(c.lowerBound)} now, none in the baseline` } : {};
  // A search its cap stopped before it decided a bound measured nothing: that says nothing of the DUT.
  if (c.lowerBound === null && c.stoppedBy) return { change: `${what}: not measured now (${c.stoppedBy}), ${fmt(b.lowerBound)} in the baseline` };
  if (c.lowerBound === null) return { regression: `${what}: no load forwarded within the goal now, ${fmt(b.lowerBound)} in the baseline` };
  // The candidate's best evidence against the baseline's worst: the highest load any of its trials
  // passed at, against the lowest the baseline's lower bound or any of its trials exceeded at. Two
  // healthy runs on a noisy box overlap there; a drop beyond the threshold below it is a regression.
  const candBest = Math.max(c.spread?.highestPass ?? 0, c.lowerBound, c.upperBound !== null && c.limitedByGenerator ? c.upperBound : 0);
  const baseWorst = Math.min(b.lowerBound, b.spread?.lowestExceed ?? Number.POSITIVE_INFINITY);
  const floor = baseWorst * (1 - threshold);
  if (candBest < floor)
    return {
      regression: `${what} dropped: ${fmt(c.lowerBound)}..${c.upperBound !== null ? fmt(c.upperBound) : 'limited by the generator'} now (no trial passed above ${fmt(candBest)}), ${fmt(b.lowerBound)}..${b.upperBound !== null ? fmt(b.upperBound) : 'limited by the generator'} in the baseline (no trial exceeded below ${fmt(baseWorst)}): ${(((baseWorst - candBest) / baseWorst) * 100).toFixed(0)} % below, threshold ${(threshold * 100).toFixed(0)} %`,
    };
  const baseBest = b.upperBound ?? Number.POSITIVE_INFINITY;
  if (c.lowerBound > baseBest * (1 + threshold)) return { change: `${what} improved: ${fmt(c.lowerBound)} now, at most ${fmt(baseBest)} in the baseline` };
  return {};
}

export function compareRuns(base: RunRecord, cand: RunRecord, threshold: number): Comparison {
  const { regressions, changes } = compareCases(base.cases, cand.cases);
  const tput = (r: RunRecord) => r.run.suites.flatMap(throughputOf);
  for (const c of tput(cand)) {
    const b = tput(base).find((x) => x.frame === c.frame);
    if (!b) {
      changes.push(`throughput at ${c.frame}-byte frames: measured now, not in the baseline`);
      continue;
    }
    for (const g of c.goals) {
      const bg = b.goals.find((x) => x.goal === g.goal);
      if (!bg) continue;
      const r = compareGoal(bg, g, c.frame, threshold);
      if (r.regression) regressions.push(r.regression);
      if (r.change) changes.push(r.change);
    }
  }
  for (const b of tput(base))
    if (!tput(cand).some((c) => c.frame === b.frame)) changes.push(`throughput at ${b.frame}-byte frames: in the baseline, not measured now`);
  const components = ['ovs', 'dpdk', 'hostKernel', 'guestKernel'] as const;
  const versions = components.map((k) => {
    const [bv, cv] = [base.run.versions[k] ?? 'unknown', cand.run.versions[k] ?? 'unknown'];
    return { component: k, baseline: bv, candidate: cv, changed: bv !== cv };
  });
  return { regressions, changes, versions };
}

export function comparisonText(base: RunRecord, cand: RunRecord, c: Comparison): string {
  const lines = [
    `baseline ${base.run.runId} (${base.run.testbedName}, ${base.run.profile}) -> candidate ${cand.run.runId} (${cand.run.testbedName}, ${cand.run.profile})`,
    '',
    'versions:',
    ...c.versions.map((v) => `  ${v.component.padEnd(12)} ${v.baseline}${v.changed ? `  ->  ${v.candidate}` : '  (same)'}`),
    '',
    c.regressions.length > 0 ? `REGRESSION (${c.regressions.length}):` : 'no regression',
    ...c.regressions.map((r) => `  - ${r}`),
  ];
  if (c.changes.length > 0) lines.push('', 'changes:', ...c.changes.map((r) => `  - ${r}`));
  return `${lines.join('\n')}\n`;
}

/** Two runs that measured different things: comparing them would say "no regression" of nothing. */
export class IncomparableRunsError extends DutlabError {}

/** What keeps two runs from being compared: another testbed, profile or set of frame sizes, or no suite in common. One line each. */
export function incomparable(base: RunRecord, cand: RunRecord): string[] {
  const diff: string[] = [];
  const [b, c] = [base.run, cand.run];
  if (b.testbedName !== c.testbedName) diff.push(`testbed: ${b.testbedName} in the baseline, ${c.testbedName} now`);
  if (b.profile !== c.profile) diff.push(`profile: ${b.profile} in the baseline, ${c.profile} now`);
  const frames = (r: RunRecord) => [...new Set(r.run.suites.flatMap((s) => throughputOf(s).map((t) => t.frame)))].sort((x, y) => x - y).join(', ');
  const [bf, cf] = [frames(base), frames(cand)];
  if (bf && cf && bf !== cf) diff.push(`frame sizes: ${bf} in the baseline, ${cf} now`);
  const suites = (r: RunRecord) => r.run.suites.map((s) => s.suite);
  if (!suites(cand).some((s) => suites(base).includes(s)))
    diff.push(`suites: ${suites(base).join(', ') || 'none'} in the baseline, ${suites(cand).join(', ') || 'none'} now: none in common`);
  return diff;
}

/** The gate's testcase of `run --baseline`: passed, failed as the DUT's (a regression), or failed as the lab's (nothing to compare). */
export interface GateOutcome {
  case: CaseOutcome;
  /** comparison.txt, and the summary's section. */
  text: string;
  regression: string | null;
}

export const GATE_CASE_ID = 'gate.baseline';

export function judgeAgainstBaseline(base: RunRecord, cand: RunRecord, threshold: number): GateOutcome {
  const name = `Against the baseline ${base.run.runId}`;
  const at = { id: GATE_CASE_ID, name, suite: 'gate', group: 'gate', durationMs: 0 };
  const diff = incomparable(base, cand);
  if (diff.length > 0) {
    const message = `cannot compare with the baseline ${base.run.runId}: ${diff.join('; ')}`;
    return { case: { ...at, status: 'failed', kind: 'infra', message }, text: `${message}\n`, regression: null };
  }
  const c = compareRuns(base, cand, threshold);
  const text = comparisonText(base, cand, c);
  const regression = c.regressions[0] ?? null;
  return regression
    ? { case: { ...at, status: 'failed', kind: 'dut', message: `regression: ${regression}` }, text, regression }
    : { case: { ...at, status: 'passed' }, text, regression: null };
}
