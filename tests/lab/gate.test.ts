// The upgrade gated on one lab (issue 43): Debian's two DPDK 22.11 point
// releases side by side on the virtual DPDK lab of known capacity (the guest
// forwards at most CAPACITY frames/s: a steady NDR). The restart under a
// steady stream reads its downtime from the sequence numbers, each daemon
// read back as the build it claims; a bound below what it measured fails it
// as the DUT's. `dutlab gate` runs the whole upgrade as one run: the PVP
// suite on each build, the upgrade step, the throughput search alternated
// twice, one verdict with the sensitivity it had.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseDocument } from 'yaml';
import type { RunResult } from '../../lib/results/run.js';
import { restartOf } from '../../lib/results/upgrade.js';
import { labDown, labUp, type LabState } from '../../lib/vlab/lab.js';
import type { Summary } from '../../lib/report/summary.js';
import type { SuiteResult } from '../../lib/results/run.js';
import { waitUntil } from '../../lib/wait.js';
import { CLEAN, labState } from '../helpers/abort.js';
import { dutlabRun, failedCases } from '../helpers/cli.js';

const ID = 'gate';
const CAPACITY = 10_000;
const reports = mkdtempSync(join(tmpdir(), 'dutlab-gate-'));
let lab: LabState;
let testbed: string;

beforeAll(async () => {
  lab = await labUp({ id: ID, datapath: 'dpdk', builds: true, capacity: CAPACITY });
  // Quick searches (the shaped DUT is steady), no latency or telemetry trial: the gate's verdict is the NDR's.
  const doc = parseDocument(readFileSync(lab.testbedFile, 'utf8'));
  const goal = { relativeWidth: 0.05, initialTrialS: 0.5, finalTrialS: 1, durationSumS: 2 };
  doc.setIn(['throughput', 'ndr'], goal);
  doc.setIn(['throughput', 'pdr'], goal);
  doc.setIn(['throughput', 'maxSearchS'], 30);
  doc.setIn(['throughput', 'maxRate'], 2 * CAPACITY);
  doc.setIn(['throughput', 'calibrate'], 'none');
  doc.setIn(['throughput', 'telemetry'], false);
  doc.setIn(['throughput', 'latency', 'loads'], []);
  doc.setIn(['restart'], doc.createNode({ rate: 2000, streamS: 12, startAfterS: 2 }));
  testbed = join(lab.stateDir, 'gate.yaml');
  writeFileSync(testbed, doc.toString());
}, 300_000);
afterAll(async () => {
  await labDown({ id: ID });
  rmSync(reports, { recursive: true, force: true });
});

const runJson = (runId: string) => JSON.parse(readFileSync(join(reports, runId, 'run.json'), 'utf8')) as RunResult;

describe('the upgrade on the virtual DPDK lab', () => {
  it("restarts under a steady stream from one build to the other, both read back; a downtime above the bound is the DUT's, with its measure", async () => {
    const [installed, other] = lab.builds!;
    const doc = parseDocument(readFileSync(testbed, 'utf8'));
    doc.setIn(['restart', 'to'], installed!.name);
    doc.setIn(['restart', 'stop'], 'kill');
    // One frame's interval at 2000 frames/s is 0.5 ms: a bound of 1 ms is one a restart cannot meet.
    doc.setIn(['restart', 'maxDowntimeMs'], 1);
    const file = join(lab.stateDir, 'restart.yaml');
    writeFileSync(file, doc.toString());
    const r = await dutlabRun(['--testbed', file, '--profile', 'ovs-dpdk', '--suite', 'restart', '--build', other!.name], reports);
    expect(r.exitCode, r.stderr).toBe(1);
    expect(Object.keys(failedCases(r.summary))).toEqual(['check.downtime']);
    expect(r.summary.cases.find((c) => c.id === 'check.downtime')!.kind).toBe('dut');
    const m = restartOf(runJson(r.summary.runId).suites[0]!)!;
    process.stderr.write(`restart ${other!.name} -> ${installed!.name} (kill): ${JSON.stringify(m.gaps)}; phases ${JSON.stringify(m.phases)}\n`);
    expect(failedCases(r.summary)['check.downtime']).toMatch(
      /^downtime: frame-loss reset time [\d.]+ ms \(RFC 6201: \d+ lost \/ 2000 frames\/s\).*: above restart\.maxDowntimeMs 1 ms$/,
    );
    // The stream stopped once the restart began and came back: the loss lies within the restart's steps.
    const g = m.gaps!;
    expect(g.lost).toBeGreaterThan(0);
    expect(m.notRecovered).toBeUndefined();
    const took = m.phases.reduce((a, p) => a + p.ms, 0);
    expect(g.longest!.lengthMs).toBeLessThanOrEqual(took + 1000);
    // Each daemon was what its build claims: the one stopped, and the one started.
    for (const b of [other!, installed!])
      expect(r.summary.notes.join('\n')).toMatch(new RegExp(`ovs-vswitchd is build ${b.name}: it reports DPDK ${b.dpdkVersion.replace(/\./g, '\\.')}`));
    expect(readFileSync(join(reports, r.summary.runId, 'summary.md'), 'utf8')).toContain('Restart under the stream');
  }, 300_000);

  it('gates the upgrade as one run: PVP on each build, the upgrade step, the search alternated twice, one verdict with its sensitivity', async () => {
    const [installed, other] = lab.builds!;
    const r = await dutlabRun(
      ['--testbed', testbed, '--profile', 'ovs-dpdk', '--suite', 'pvp', '--from', other!.name, '--to', installed!.name, '--k', '2'],
      reports,
      {
        command: 'gate',
        timeoutMs: 600_000,
      },
    );
    expect(r.exitCode, r.stderr).toBe(0);
    const ids = r.summary.cases.map((c) => c.id);
    for (const id of [
      'A:check.packets',
      'upgrade:check.downtime',
      'B:check.packets',
      'round1-A:throughput.ndr-pdr-64',
      'round2-B:throughput.ndr-pdr-64',
      'gate.functional',
      'gate.throughput',
    ])
      expect(
        ids.some((x) => x.startsWith(id)),
        `${id} in ${ids.join(', ')}`,
      ).toBe(true);
    const verdict = r.summary.cases.find((c) => c.id === 'gate.throughput')!;
    expect(verdict.message).toMatch(
      /^64: NDR \d+ frames\/s on A \(\d+, \d+\) and \d+ on B \(\d+, \d+\): [+-][\d.]+ %; the gate catches a drop of [\d.]+ % or more here/,
    );
    expect(r.stderr).toMatch(/upgrade downtime: (frame-loss reset time|no frame lost)/);
    const md = readFileSync(join(reports, r.summary.runId, 'summary.md'), 'utf8');
    expect(md).toContain(`Gate: ${other!.name} -> ${installed!.name}`);
    // One run in the history and one JUnit, whose testcases are A's, B's and the comparison's.
    const history = readFileSync(join(reports, 'history.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { runId: string });
    expect(history.filter((h) => h.runId === r.summary.runId)).toHaveLength(1);
    const junit = readFileSync(join(reports, r.summary.runId, 'junit.xml'), 'utf8');
    expect(junit).toMatch(/<testcase [^>]*name="\[A \(/);
    expect(junit).toContain('name="Throughput: B against A, alternated"');
  }, 660_000);

  it('interrupted during the upgrade: the part torn down, no other started, the last part and its builds named; the lab clean, the next run takes it', async () => {
    const [installed, other] = lab.builds!;
    const into = mkdtempSync(join(reports, 'interrupted-'));
    const child = execa(
      'node',
      [
        'bin/dutlab.js',
        'gate',
        '--quiet',
        '--reports',
        into,
        '--testbed',
        testbed,
        '--profile',
        'ovs-dpdk',
        '--suite',
        'pvp',
        '--from',
        other!.name,
        '--to',
        installed!.name,
        '--k',
        '1',
      ],
      { cwd: new URL('../..', import.meta.url).pathname, reject: false, detached: true },
    );
    // Once the upgrade's stream is about to flow: the restart begins 2 s into it.
    const progress = () => join(into, 'latest', 'upgrade', 'restart', 'progress.json');
    await waitUntil(
      'the upgrade part to prepare its stream',
      () => {
        try {
          return (JSON.parse(readFileSync(progress(), 'utf8')) as SuiteResult).cases.some((c) => c.id === 'restart.prepare' && c.status === 'passed');
        } catch {
          return false;
        }
      },
      { timeoutMs: 120_000, intervalMs: 100 },
    );
    await new Promise((r) => setTimeout(r, 3000));
    child.kill('SIGINT');
    const r = await child;
    expect(r.exitCode, r.stderr).toBe(2);
    const summary = JSON.parse(readFileSync(join(into, 'latest', 'summary.json'), 'utf8')) as Summary;
    expect(summary.verdict).toBe('aborted');
    expect(summary.reason).toBe(`interrupted by SIGINT; the last part to run: upgrade on build ${other!.name}, restarted to ${installed!.name}`);
    // No part after the upgrade began; the upgrade's own teardown ran.
    expect(summary.suites.map((s) => s.name)).toEqual(['A/pvp', 'upgrade/restart', 'gate']);
    expect(await labState(lab)).toEqual(CLEAN);
    expect(existsSync(join(lab.stateDir, 'ovs', 'ovs-vswitchd.pid'))).toBe(false);
    const next = await dutlabRun(['--testbed', testbed, '--profile', 'ovs-dpdk', '--build', installed!.name], reports);
    expect(next.exitCode, next.stderr).toBe(0);
  }, 300_000);
});
