// summary.json for machines and summary.md for the person who reads it first.
import type { RunData } from '../results/run.js';
import type { CaseResult, Verdict } from './verdict.js';

export interface Summary
  extends Pick<RunData, 'runId' | 'testbed' | 'testbedName' | 'profile' | 'startedAt' | 'finishedAt' | 'versions' | 'teardownProblems' | 'notes'> {
  verdict: Verdict;
  exitCode: number;
  reason: string;
  packets: { sent: number; received: number; lost: number; duplicated: number; reordered: number; mismatched: number; other: number } | null;
  counters: RunData['counters'] | null;
  cases: CaseResult[];
  problems: string[];
}

export function buildSummary(data: RunData, cases: CaseResult[], verdict: { verdict: Verdict; exitCode: number; reason: string }): Summary {
  const p = data.packets;
  return {
    ...verdict,
    runId: data.runId,
    testbed: data.testbed,
    testbedName: data.testbedName,
    profile: data.profile,
    startedAt: data.startedAt,
    ...(data.finishedAt ? { finishedAt: data.finishedAt } : {}),
    versions: data.versions,
    packets: p
      ? { sent: p.sent, received: p.received, lost: p.lost, duplicated: p.duplicated, reordered: p.reordered, mismatched: p.mismatched, other: p.other.total }
      : null,
    counters: data.counters ?? null,
    cases,
    problems: p?.problems ?? [],
    teardownProblems: data.teardownProblems,
    notes: data.notes,
  };
}

export function summaryMarkdown(s: Summary): string {
  const icon = { pass: 'PASS', fail: 'FAIL', 'infra-error': 'INFRA-ERROR', aborted: 'ABORTED' }[s.verdict];
  const lines = [
    `# ${icon}: dutlab run ${s.runId}`,
    '',
    `**${s.reason}**`,
    '',
    `Testbed \`${s.testbedName}\` (${s.testbed}), profile \`${s.profile}\`, exit code ${s.exitCode}.`,
    '',
  ];
  const failed = s.cases.filter((c) => c.status === 'failed');
  if (failed.length > 0) {
    lines.push('## What failed', '');
    for (const c of failed) lines.push(`- **${c.name}** (${c.kind === 'dut' ? 'DUT' : 'infrastructure'}): ${c.message ?? ''}`);
    lines.push('');
  }
  const skipped = s.cases.filter((c) => c.status === 'skipped');
  if (skipped.length > 0)
    lines.push(`${skipped.length} testcase(s) skipped because something they need failed (first: ${skipped[0]!.name}, ${skipped[0]!.message}).`, '');
  if (s.packets) {
    const p = s.packets;
    lines.push(
      '## Packets',
      '',
      '| sent | received | lost | duplicated | reordered | mismatched | other |',
      '|---|---|---|---|---|---|---|',
      `| ${p.sent} | ${p.received} | ${p.lost} | ${p.duplicated} | ${p.reordered} | ${p.mismatched} | ${p.other} |`,
      '',
    );
    if (s.problems.length > 0) lines.push(...s.problems.slice(0, 10).map((x) => `- ${x}`), '');
  }
  if (s.counters) {
    const c = s.counters;
    const row = (what: string, got: number | undefined, want: number) => `| ${what} | ${got ?? '-'} | ${want} | ${got === want ? 'ok' : 'DIFFERS'} |`;
    lines.push(
      '## Counters along the path (deltas over the run)',
      '',
      '| counter | counted | expected | |',
      '|---|---|---|---|',
      row('TG tx', c.tgTx, c.sent),
      row('phy ingress rx', c.hostPhyIngressRx, c.sent),
      row('ingress flow n_packets', c.flowIngress?.packets, c.sent),
      row('KNI ingress tx', c.hostKniIngressTx, c.sent),
      row('guest ingress vEth rx', c.guestIngressRx, c.sent),
      row('guest egress vEth tx', c.guestEgressTx, c.returned),
      row('KNI egress rx', c.hostKniEgressRx, c.returned),
      row('egress flow n_packets', c.flowEgress?.packets, c.returned),
      row('phy egress tx', c.hostPhyEgressTx, c.returned),
      row('TG rx', c.tgRx, c.returned),
      '',
    );
  }
  lines.push('## Steps and checks', '', '| testcase | status | seconds |', '|---|---|---|');
  for (const c of s.cases) lines.push(`| ${c.name} | ${c.status} | ${(c.durationMs / 1000).toFixed(2)} |`);
  lines.push('', '## Versions', '');
  for (const [k, v] of Object.entries(s.versions)) lines.push(`- ${k}: ${v}`);
  if (s.teardownProblems.length > 0) lines.push('', '## Teardown', '', ...s.teardownProblems.map((x) => `- ${x}`));
  if (s.notes.length > 0) lines.push('', '## Notes', '', ...s.notes.map((x) => `- ${x}`));
  lines.push('', 'Transcripts of every command: `transcripts/`; daemon logs: `logs/`; pcaps: `tx.pcap`, `rx.pcap`.', '');
  return lines.join('\n');
}
