// `dutlab compare`: a candidate run against a baseline, as an upgrade gate
// reads it. Case by case (passed before, not now: a regression; a new skip or
// block is named), throughput by goal and frame size (a regression only when
// the best the candidate's trials showed is below the worst the baseline's
// showed by more than the threshold: two healthy runs on a noisy box overlap
// there), and the versions side by side. Pure: it reads the two runs' data, nothing of a lab.
import type { CaseOutcome, RunRecord } from '../results/run.js';
import { throughputOf, type ThroughputResult } from '../results/throughput.js';
import { DutlabError } from '../errors.js';
import { compareBeyondNdr } from './compare-beyond.js';
import { verdictOf } from './verdict.js';
import { type MovedMetric, movedMetrics, type TelemetryThresholds } from './telemetry-diff.js';
import { byFrame, type FrameKey, framesPhrase, frameText } from '../testbed/frame-mix.js';

export interface Comparison {
  regressions: string[];
  /** What changed without being a regression: new cases, new skips, improvements. */
  changes: string[];
  versions: Array<{ component: string; baseline: string; candidate: string; changed: boolean }>;
  /** p99 at the gate's load per frame size, side by side (null: not measured, or not valid). */
  latency: Array<{ frame: FrameKey; baseline: number | null; candidate: number | null }>;
  /** The telemetry figures that moved beyond their thresholds, largest first: why the number moved. */
  moved: MovedMetric[];
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
  frame: FrameKey,
  threshold: number,
): { regression?: string; change?: string } {
  const what = `${c.goal} at ${framesPhrase(frame)}`;
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

/** How far a figure may move before it is a regression: throughput's drop, latency's rise (p99 at 50 % of each run's PDR), as shares of the baseline's. */
export interface Thresholds {
  throughput: number;
  latency: number;
  /** The telemetry figures' thresholds by id (the testbed's throughput.telemetryThresholds; the schema's defaults without one). */
  telemetry?: TelemetryThresholds;
}

/** The load the latency gate reads: half of each run's own PDR (docs/gate.md says why). */
export const GATE_LATENCY_LOAD = 0.5;

const us = (x: number) => `${Math.round(x)} µs`;

/** Each frame size's latency at the gate's load, in a run. */
const atGate = (r: RunRecord) =>
  r.run.suites.flatMap(throughputOf).flatMap((t) => (t.latency?.loads ?? []).filter((l) => l.load === GATE_LATENCY_LOAD).map((l) => ({ frame: t.frame, l })));

/**
 * p99 at the gate's load, frame by frame: both runs' side by side, and a rise
 * beyond the threshold a regression; invalid or missing figures are named,
 * never compared.
 */
function compareLatency(base: RunRecord, cand: RunRecord, threshold: number): Pick<Comparison, 'regressions' | 'changes' | 'latency'> {
  const regressions: string[] = [];
  const changes: string[] = [];
  const [inBase, inCand] = [atGate(base), atGate(cand)];
  for (const { frame, l } of inCand) {
    const what = `latency p99 at ${GATE_LATENCY_LOAD * 100} % of PDR at ${framesPhrase(frame)}`;
    const b = inBase.find((x) => x.frame === frame)?.l;
    if (!b) {
      changes.push(`${what}: measured now, not in the baseline`);
      continue;
    }
    const [bp, cp] = [b.latency.p99Us, l.latency.p99Us];
    if (l.latency.invalid || b.latency.invalid || bp === null || cp === null) {
      const why = l.latency.invalid ? `now: ${l.latency.invalid}` : b.latency.invalid ? `in the baseline: ${b.latency.invalid}` : 'no latency packet came back';
      changes.push(`${what}: not compared (${why})`);
      continue;
    }
    if (cp > bp * (1 + threshold))
      regressions.push(
        `${what} rose: ${us(cp)} now, ${us(bp)} in the baseline: ${(((cp - bp) / bp) * 100).toFixed(0)} % above, threshold ${(threshold * 100).toFixed(0)} %`,
      );
    else if (cp < bp / (1 + threshold)) changes.push(`${what} fell: ${us(cp)} now, ${us(bp)} in the baseline`);
  }
  const p99 = (x: (typeof inBase)[number] | undefined) => (x && !x.l.latency.invalid ? x.l.latency.p99Us : null);
  const frames = [...new Set([...inBase, ...inCand].map((x) => x.frame))].sort(byFrame);
  const latency = frames.map((frame) => ({
    frame,
    baseline: p99(inBase.find((x) => x.frame === frame)),
    candidate: p99(inCand.find((x) => x.frame === frame)),
  }));
  return { regressions, changes, latency };
}

export function compareRuns(base: RunRecord, cand: RunRecord, thresholds: Thresholds): Comparison {
  const threshold = thresholds.throughput;
  const { regressions, changes } = compareCases(base.cases, cand.cases);
  const latency = compareLatency(base, cand, thresholds.latency);
  regressions.push(...latency.regressions);
  changes.push(...latency.changes);
  const tput = (r: RunRecord) => r.run.suites.flatMap(throughputOf);
  for (const c of tput(cand)) {
    const b = tput(base).find((x) => x.frame === c.frame);
    if (!b) {
      changes.push(`throughput at ${framesPhrase(c.frame)}: measured now, not in the baseline`);
      continue;
    }
    // A rate each way is not a rate one way: runs of different directions are not compared.
    if ((b.direction ?? 'one-way') !== (c.direction ?? 'one-way')) {
      changes.push(
        `throughput at ${framesPhrase(c.frame)}: not compared (the baseline sent ${b.direction ?? 'one-way'}, the candidate ${c.direction ?? 'one-way'})`,
      );
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
    if (!tput(cand).some((c) => c.frame === b.frame)) changes.push(`throughput at ${framesPhrase(b.frame)}: in the baseline, not measured now`);
  const beyond = compareBeyondNdr(base, cand, threshold, thresholds.latency);
  regressions.push(...beyond.regressions);
  changes.push(...beyond.changes);
  // The generator's version where either run has one (a linux TG's tools have none to compare).
  const tg = base.run.versions.tg || cand.run.versions.tg ? (['tg'] as const) : [];
  const components = ['ovs', 'dpdk', 'hostKernel', 'guestKernel', ...tg] as const;
  const versions = components.map((k) => {
    const [bv, cv] = [base.run.versions[k] ?? 'unknown', cand.run.versions[k] ?? 'unknown'];
    return { component: k, baseline: bv, candidate: cv, changed: bv !== cv };
  });
  return { regressions, changes, versions, latency: latency.latency, moved: movedMetrics(base, cand, thresholds.telemetry) };
}

/** The figures that moved, as the gate's verdict names them beside the regression: the largest few. */
export const MOVED_NAMED = 3;

export function comparisonText(base: RunRecord, cand: RunRecord, c: Comparison): string {
  const lines = [
    `baseline ${base.run.runId} (${base.run.testbedName}, ${base.run.profile}) -> candidate ${cand.run.runId} (${cand.run.testbedName}, ${cand.run.profile})`,
    '',
    'versions:',
    ...c.versions.map((v) => `  ${v.component.padEnd(12)} ${v.baseline}${v.changed ? `  ->  ${v.candidate}` : '  (same)'}`),
    '',
    ...(c.latency.length
      ? [
          `latency p99 at ${GATE_LATENCY_LOAD * 100} % of PDR:`,
          ...c.latency.map(
            (l) =>
              `  ${frameText(l.frame).padEnd(12)} ${l.baseline !== null ? us(l.baseline) : 'not measured'}  ->  ${l.candidate !== null ? us(l.candidate) : 'not measured'}`,
          ),
          '',
        ]
      : []),
    c.regressions.length > 0 ? `REGRESSION (${c.regressions.length}):` : 'no regression',
    ...c.regressions.map((r) => `  - ${r}`),
    ...(c.moved.length
      ? ['', "datapath telemetry beyond its thresholds (largest first; each run's telemetry trial):", ...c.moved.map((m) => `  - ${m.text}`)]
      : []),
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
  const frames = (r: RunRecord) => [...new Set(r.run.suites.flatMap((s) => throughputOf(s).map((t) => t.frame)))].sort(byFrame).join(', ');
  const [bf, cf] = [frames(base), frames(cand)];
  if (bf && cf && bf !== cf) diff.push(`frame sizes: ${bf} in the baseline, ${cf} now`);
  // A fixed load's telemetry trial is not a search: neither its figures nor its (absent) bounds compare with one's.
  const how = (r: RunRecord) =>
    [
      ...new Set(r.run.suites.flatMap((s) => throughputOf(s).map((t) => (t.fixedLoad !== undefined ? `a fixed load of ${t.fixedLoad} frames/s` : 'a search')))),
    ].join(', ');
  const [bh, ch] = [how(base), how(cand)];
  if (bh && ch && bh !== ch) diff.push(`throughput: ${bh} in the baseline, ${ch} now`);
  const suites = (r: RunRecord) => r.run.suites.map((s) => s.suite);
  if (!suites(cand).some((s) => suites(base).includes(s)))
    diff.push(`suites: ${suites(base).join(', ') || 'none'} in the baseline, ${suites(cand).join(', ') || 'none'} now: none in common`);
  return diff;
}

/** `dutlab compare`'s refusal (exit 2): a run that could not be measured, or two that measured different things. */
export function assertComparable(base: RunRecord, cand: RunRecord): void {
  const unmeasured = unmeasuredPair(base, cand);
  if (unmeasured) throw new IncomparableRunsError(`${base.run.runId} -> ${cand.run.runId}: ${unmeasured}`);
  const diff = incomparable(base, cand);
  if (diff.length > 0) throw new IncomparableRunsError(`cannot compare ${base.run.runId} with ${cand.run.runId}: ${diff.join('; ')}`);
}

/** The gate's testcase of `run --baseline`: passed, failed as the DUT's (a regression), or failed as the lab's (nothing to compare). */
export interface GateOutcome {
  case: CaseOutcome;
  /** comparison.txt, and the summary's section. */
  text: string;
  regression: string | null;
}

export const GATE_CASE_ID = 'gate.baseline';

/**
 * Why a run measured nothing to compare (it failed on the infrastructure, or
 * was aborted), or null. Such a run is *not compared*, never a regression: its
 * failed `lab.preflight` says the lab was not ready, not that the DUT broke.
 */
export function notMeasured(r: RunRecord): string | null {
  const cases = r.cases.filter((c) => c.id !== GATE_CASE_ID);
  const aborted = r.run.aborted ?? r.run.suites.find((s) => s.aborted)?.aborted;
  if (aborted) return `aborted: ${aborted}`;
  // A record without its cases (an old history's) says nothing of how it ended but its verdict.
  if (cases.length === 0) return r.verdict === 'infra-error' || r.verdict === 'aborted' ? `its verdict was ${r.verdict}` : null;
  const v = verdictOf(cases);
  return v.verdict === 'infra-error' ? v.reason : null;
}

/** "not compared (the candidate could not be measured: ...)", for whichever of the two could not be; null when both were. */
export function unmeasuredPair(base: RunRecord, cand: RunRecord): string | null {
  const [b, c] = [notMeasured(base), notMeasured(cand)];
  if (c) return `not compared (the candidate could not be measured: ${c})`;
  return b ? `not compared (the baseline ${base.run.runId} could not be measured: ${b})` : null;
}

export function judgeAgainstBaseline(base: RunRecord, cand: RunRecord, thresholds: Thresholds): GateOutcome {
  const name = `Against the baseline ${base.run.runId}`;
  const at = { id: GATE_CASE_ID, name, suite: 'gate', group: 'gate', durationMs: 0 };
  const unmeasured = unmeasuredPair(base, cand);
  if (unmeasured) return { case: { ...at, status: 'skipped', message: unmeasured }, text: `${unmeasured}\n`, regression: null };
  const diff = incomparable(base, cand);
  if (diff.length > 0) {
    const message = `cannot compare with the baseline ${base.run.runId}: ${diff.join('; ')}`;
    return { case: { ...at, status: 'failed', kind: 'infra', message }, text: `${message}\n`, regression: null };
  }
  const c = compareRuns(base, cand, thresholds);
  const text = comparisonText(base, cand, c);
  // Why it moved, beside what moved: the figures that moved most, on the verdict's line.
  const why = c.moved.length
    ? `; ${c.moved
        .slice(0, MOVED_NAMED)
        .map((m) => m.text)
        .join('; ')}`
    : '';
  const regression = c.regressions[0] ? `${c.regressions[0]}${why}` : null;
  return regression
    ? { case: { ...at, status: 'failed', kind: 'dut', message: `regression: ${regression}` }, text, regression }
    : { case: { ...at, status: 'passed' }, text, regression: null };
}

/** The gate's testcase when there is no baseline to judge against (`--baseline last-pass` before any run passed): skipped, saying why. */
export function notCompared(reason: string): GateOutcome {
  return {
    case: {
      id: GATE_CASE_ID,
      name: 'Against the baseline',
      suite: 'gate',
      group: 'gate',
      durationMs: 0,
      status: 'skipped',
      message: `not compared: ${reason}`,
    },
    text: `not compared: ${reason}\n`,
    regression: null,
  };
}
