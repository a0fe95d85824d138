// JUnit XML as CI systems read it: one testsuite per suite and group, properties for what was tested;
// a blocked testcase is a skipped one whose message says why ("blocked: ...").
import type { CaseOutcome } from '../results/run.js';

const esc = (s: string) =>
  s
    .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f]/g, '')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;');

export function junitXml(name: string, properties: Record<string, string>, cases: CaseOutcome[]): string {
  const groupOf = (c: CaseOutcome) => (c.suite ? `${c.suite}.${c.group}` : c.group);
  const groups = [...new Set(cases.map(groupOf))];
  const secs = (ms: number) => (ms / 1000).toFixed(3);
  const props = Object.entries(properties)
    .map(([k, v]) => `      <property name="${esc(k)}" value="${esc(v)}"/>`)
    .join('\n');
  const suites = groups.map((g) => {
    const cs = cases.filter((c) => groupOf(c) === g);
    const body = cs
      .map((c) => {
        const open = `    <testcase classname="${esc(`${name}.${g}`)}" name="${esc(c.name)}" time="${secs(c.durationMs)}"`;
        if (c.status === 'passed') return `${open}/>`;
        if (c.status === 'skipped' || c.status === 'blocked') return `${open}>\n      <skipped message="${esc(c.message ?? 'skipped')}"/>\n    </testcase>`;
        const type = c.kind === 'dut' ? 'DutFailure' : 'InfrastructureError';
        return `${open}>\n      <failure message="${esc(c.message ?? 'failed')}" type="${type}">${esc(`${c.id}: ${c.message ?? ''}`)}</failure>\n    </testcase>`;
      })
      .join('\n');
    const count = (s: 'passed' | 'failed' | 'skipped') => cs.filter((c) => (c.status === 'blocked' ? 'skipped' : c.status) === s).length;
    const time = secs(cs.reduce((a, c) => a + c.durationMs, 0));
    return `  <testsuite name="${esc(`${name}.${g}`)}" tests="${cs.length}" failures="${count('failed')}" errors="0" skipped="${count('skipped')}" time="${time}">\n    <properties>\n${props}\n    </properties>\n${body}\n  </testsuite>`;
  });
  const total = (s: 'passed' | 'failed' | 'skipped') => cases.filter((c) => (c.status === 'blocked' ? 'skipped' : c.status) === s).length;
  return `<?xml version="1.0" encoding="UTF-8"?>\n<testsuites name="${esc(name)}" tests="${cases.length}" failures="${total('failed')}" errors="0" skipped="${total('skipped')}">\n${suites.join('\n')}\n</testsuites>\n`;
}
