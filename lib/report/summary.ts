// summary.json for machines and summary.md for the person who reads it first:
// the verdict and why, what failed, what was blocked and what skipped, each
// suite's own tables, the testcases, versions, teardown and notes.
import type { LossEvents } from '../results/pvp.js';
import type { MatrixRow, RunResult, Table } from '../results/run.js';
import type { CaseOutcome } from '../results/run.js';
import type { Verdict } from './verdict.js';
import { pvpMeasured, type CountersRecord, type PvpMeasured } from '../results/pvp.js';
import { soakSummary } from '../results/soak.js';
import { upgradeSummary, type GateMeasured } from '../results/upgrade.js';
import {
  latencyOf,
  rfc2544Of,
  telemetryOf,
  trialsOf,
  type HistoryLatency,
  type HistoryRfc2544,
  type HistoryTelemetry,
  type HistoryTrial,
} from '../results/history.js';

const withoutSample = ({ sample, ...rest }: LossEvents) => rest;

export interface Summary
  extends Pick<RunResult, 'runId' | 'testbed' | 'testbedName' | 'profile' | 'startedAt' | 'finishedAt' | 'versions' | 'teardownProblems' | 'notes'> {
  verdict: Verdict;
  exitCode: number;
  reason: string;
  suites: Array<{ name: string; title: string; blocked?: string; tables: Table[] }>;
  /** What the run's suites, profile and steps require, against the lab. */
  matrix: MatrixRow[];
  /** The PVP suite's return packets and counters, where a suite of the run measured them. */
  packets: {
    sent: number;
    received: number;
    lost: number;
    duplicated: number;
    reordered: number;
    mismatched: number;
    other: number;
    /** With many flows: how many, how many came back whole, how many not at all. */
    flows?: { count: number; complete: number; missing: number };
    /** The loss events: how many, the longest and the frame-loss reset time, in frames and ms at the stream's rate. */
    gaps?: Omit<LossEvents, 'sample'>;
  } | null;
  counters: CountersRecord | null;
  /** Every trial of the run's throughput searches (load, duration, frames offered, sent, received, loss, generator short). */
  trials?: HistoryTrial[];
  /** One-way latency per frame size and load of the PDR, and the generator's own: the figures, the hops, the HDR histogram (base64). */
  latency?: HistoryLatency[];
  /** Each search's telemetry trial: its load and its figures, each with its unit, or "not offered" and why (value null). */
  telemetry?: HistoryTelemetry[];
  /** RFC 2544's loss curve, back-to-back frames and system recovery, per frame size, where the throughput suite measured them. */
  rfc2544?: HistoryRfc2544[];
  /** Where packets went missing: the lab's own drop counters that grew over the stream, and those it could not read. */
  drops?: NonNullable<PvpMeasured['drops']>;
  /** The restart under a steady stream (`--suite restart`, the gate's upgrade step): its builds and its downtime. */
  restart?: Record<string, unknown>;
  /** dutlab gate's groups compared: each frame size's NDRs on A and B, the change, the sensitivity, the verdict. */
  gate?: Omit<GateMeasured, 'kind'>;
  /** The soak: its load, its loss events (each: the first frame lost, frames, when and how long), each watched process's growth. */
  soak?: Record<string, unknown>;
  cases: CaseOutcome[];
  problems: string[];
}

export function buildSummary(data: RunResult, cases: CaseOutcome[], verdict: { verdict: Verdict; exitCode: number; reason: string }): Summary {
  const pvp = data.suites.map(pvpMeasured);
  const p = pvp.find((m) => m?.packets)?.packets;
  const drops = pvp.find((m) => m?.drops)?.drops;
  const trials = trialsOf(data);
  const latency = latencyOf(data);
  const telemetry = telemetryOf(data);
  const rfc2544 = rfc2544Of(data);
  return {
    ...verdict,
    runId: data.runId,
    testbed: data.testbed,
    testbedName: data.testbedName,
    profile: data.profile,
    startedAt: data.startedAt,
    ...(data.finishedAt ? { finishedAt: data.finishedAt } : {}),
    versions: data.versions,
    suites: data.suites.map((s) => ({ name: s.suite, title: s.title, ...(s.blocked ? { blocked: s.blocked } : {}), tables: s.tables })),
    matrix: uniqueRows(data.suites.flatMap((s) => s.matrix ?? [])),
    packets: p
      ? {
          sent: p.sent,
          received: p.received,
          lost: p.lost,
          duplicated: p.duplicated,
          reordered: p.reordered,
          mismatched: p.mismatched,
          other: p.other.total,
          ...(p.flows ? { flows: { count: p.flows.count, complete: p.flows.complete, missing: p.flows.missing } } : {}),
          ...(p.gaps ? { gaps: withoutSample(p.gaps) } : {}),
        }
      : null,
    counters: pvp.find((m) => m?.counters)?.counters ?? null,
    ...(drops ? { drops } : {}),
    ...upgradeSummary(data.suites),
    ...soakSummary(data.suites),
    ...(trials.length > 0 ? { trials } : {}),
    ...(latency.length > 0 ? { latency } : {}),
    ...(telemetry.length > 0 ? { telemetry } : {}),
    ...(rfc2544.length > 0 ? { rfc2544 } : {}),
    cases,
    problems: p?.problems ?? [],
    teardownProblems: data.teardownProblems,
    notes: data.notes,
  };
}

const uniqueRows = (rows: MatrixRow[]) => rows.filter((r, i) => rows.findIndex((x) => JSON.stringify(x) === JSON.stringify(r)) === i);

export function tableMarkdown(t: Table, heading = '##'): string[] {
  return [
    `${heading} ${t.title}`,
    '',
    `| ${t.columns.join(' | ')} |`,
    `|${t.columns.map(() => '---').join('|')}|`,
    ...t.rows.map((r) => `| ${r.join(' | ')} |`),
    '',
    ...(t.notes?.length ? [...t.notes.map((n) => `- ${n}`), ''] : []),
  ];
}

export function summaryMarkdown(s: Summary): string {
  const icon = { pass: 'PASS', fail: 'FAIL', 'infra-error': 'INFRA-ERROR', aborted: 'ABORTED' }[s.verdict];
  const names = s.suites.map((x) => x.name).join(', ') || 'none';
  const lines = [
    `# ${icon}: dutlab ${s.suites.some((x) => x.name === 'gate') ? 'gate' : 'run'} ${s.runId}`,
    '',
    `**${s.reason}**`,
    '',
    `Testbed \`${s.testbedName}\` (${s.testbed}), profile \`${s.profile}\`, suites ${names}, exit code ${s.exitCode}.`,
    '',
  ];
  const failed = s.cases.filter((c) => c.status === 'failed');
  if (failed.length > 0) {
    lines.push('## What failed', '');
    for (const c of failed) lines.push(`- **${c.name}** (${c.kind === 'dut' ? 'DUT' : 'infrastructure'}): ${c.message ?? ''}`);
    lines.push('');
  }
  // Blocked is not failed: the lab cannot offer what these need (a feature, a version).
  const blocked = s.cases.filter((c) => c.status === 'blocked');
  if (blocked.length > 0) {
    lines.push('## Blocked: what this lab cannot run', '');
    const reasons = [...new Set(blocked.map((c) => c.message ?? 'blocked'))];
    for (const r of reasons) lines.push(`- ${blocked.filter((c) => (c.message ?? 'blocked') === r).length} testcase(s): ${r}`);
    lines.push('');
  }
  const skipped = s.cases.filter((c) => c.status === 'skipped');
  if (skipped.length > 0)
    lines.push(`${skipped.length} testcase(s) skipped because something they need failed (first: ${skipped[0]!.name}, ${skipped[0]!.message}).`, '');
  const many = s.suites.length > 1;
  for (const suite of s.suites) for (const t of suite.tables) lines.push(...tableMarkdown(many ? { ...t, title: `${suite.name}: ${t.title}` } : t));
  if (s.matrix.length > 0)
    lines.push(
      ...tableMarkdown({
        title: 'Capabilities: what the run requires, what this lab has',
        columns: ['requirement', 'needed by', 'this lab', ''],
        rows: s.matrix.map((m) => [m.requirement, m.neededBy, m.lab, m.met === null ? 'not judged (version unknown)' : m.met ? 'ok' : 'BLOCKED']),
      }),
    );
  lines.push('## Steps and checks', '', `| ${many ? 'suite | ' : ''}testcase | status | seconds |`, `|${many ? '---|' : ''}---|---|---|`);
  for (const c of s.cases) lines.push(`| ${many ? `${c.suite ?? ''} | ` : ''}${c.name} | ${c.status} | ${(c.durationMs / 1000).toFixed(2)} |`);
  lines.push('', '## Versions', '');
  for (const [k, v] of Object.entries(s.versions)) lines.push(`- ${k}: ${v}`);
  if (s.teardownProblems.length > 0) lines.push('', '## Teardown', '', ...s.teardownProblems.map((x) => `- ${x}`));
  if (s.notes.length > 0) lines.push('', '## Notes', '', ...s.notes.map((x) => `- ${x}`));
  lines.push('', "Each suite's files are in its own directory: `<suite>/transcripts/` (every command), `<suite>/logs/` (daemons), the pcaps.", '');
  return lines.join('\n');
}
