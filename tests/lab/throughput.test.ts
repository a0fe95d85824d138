// The upgrade gate on the virtual lab: a throughput search as the baseline;
// healthy runs again compare as no regression (several times: not flaky on a
// shared, noisy box, with the virtual lab's threshold of 0.5), and the guest's
// forwarding rate-limited with nftables (to a fifth of the baseline) compares as a regression naming the drop. Short trials and a wide width keep
// it quick; the search itself is the same.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseDocument } from 'yaml';
import { loadRun, readHistory } from '../../lib/report/history.js';
import { labDown, labUp, type LabState } from '../../lib/vlab/lab.js';
import { dutlabRun } from '../helpers/cli.js';
import { guestForwardRule, labOf } from '../helpers/faults.js';
import { throughputOf } from '../../lib/suite/throughput/result.js';

const ROOT = new URL('../..', import.meta.url).pathname;
const ID = 'tput';
let lab: LabState;
let testbed: string;
const reports = mkdtempSync(join(tmpdir(), 'dutlab-tput-'));
beforeAll(async () => {
  lab = await labUp({ id: ID });
  testbed = join(lab.stateDir, 'quick.yaml');
  writeFileSync(testbed, quick(lab.testbedFile));
}, 120_000);
afterAll(async () => {
  await labDown({ id: ID });
  rmSync(reports, { recursive: true, force: true });
});

/** The lab's testbed with quick searches: short trials, a wide width. */
function quick(testbedFile: string): string {
  const doc = parseDocument(readFileSync(testbedFile, 'utf8'));
  const goal = { relativeWidth: 0.2, initialTrialS: 0.5, finalTrialS: 1, durationSumS: 2 };
  doc.setIn(['throughput', 'ndr'], goal);
  doc.setIn(['throughput', 'pdr'], goal);
  doc.setIn(['throughput', 'maxSearchS'], 60);
  return doc.toString();
}

const run = (extra: string[] = []) => dutlabRun(['--testbed', testbed, '--profile', 'virtual', '--suite', 'throughput', ...extra], reports);
const dutlab = (...args: string[]) => execa('node', ['bin/dutlab.js', ...args], { cwd: ROOT, reject: false });

describe('the upgrade gate on the virtual lab', () => {
  let baseline = '';

  it('measures NDR and PDR with bounds, the generator limit first, into the report and the history', async () => {
    const r = await run();
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/^dutlab: NDR \(loss 0\) at 64 B: 0\.\d{3}\.\.(0\.\d{3}|limited by the generator.*) Mfps, L1 [\d.]+ Mb\/s/m);
    expect(r.stderr).toMatch(/^dutlab: PDR \(loss 0\.005\) at 64 B: /m);
    expect(readFileSync(join(reports, r.summary.runId, 'report.html'), 'utf8')).toMatch(/<circle class="trial"/);
    baseline = r.summary.runId;
    const md = readFileSync(join(reports, baseline, 'summary.md'), 'utf8');
    expect(md).toMatch(/## Throughput \(NDR and PDR, MLRsearch\)\n\n\| frame \| goal \| lower bound Mfps \|/);
    expect(md).toMatch(/\| 64 B \| NDR \(loss 0\) \| 0\.\d{3} \|/);
    expect(r.summary.notes.join('\n')).toMatch(/calibration, guest bypassed: the generator offered 1000000 frames\/s, reached \d+/);
    const h = readHistory(reports).entries.find((e) => e.runId === baseline)!;
    expect(h.throughput.map((t) => t.goal)).toEqual(['NDR', 'PDR']);
    expect(h.throughput[0]!.lower).toBeGreaterThan(1000);
  }, 120_000);

  it('reads three healthy runs in a row as no regression', async () => {
    for (let i = 0; i < 3; i++) {
      const r = await run(['--baseline', baseline]);
      expect(r.exitCode, r.stderr).toBe(0);
      expect(r.stderr).toContain(`dutlab: no regression against ${baseline}`);
    }
  }, 240_000);

  it('fails the run (exit 1) on a guest rate-limited to a fifth of the baseline NDR, naming the throughput drop; compare says so too', async () => {
    // The limit follows the baseline measured on this machine, from where compare
    // judges it: the lower of its NDR and its lowest load that lost frames. A fixed
    // rate (it was 10 kfps) is no regression on a box slow enough to forward 20 kfps.
    const ndr = loadRun(baseline, reports)
      .run.suites.filter((x) => x.suite === 'throughput')
      .flatMap(throughputOf)[0]!
      .goals.find((g) => g.goal === 'NDR')!;
    const worst = Math.min(ndr.lowerBound ?? 0, ndr.spread.lowestExceed ?? Number.POSITIVE_INFINITY);
    const limitFps = Math.max(300, Math.floor(worst / 5));
    const limit = guestForwardRule(`limit rate over ${limitFps}/second burst 50 packets drop`)(labOf(ID));
    try {
      // Injected by the run's own hook, just before its first trial: the throughput suite runs it.
      const r = await run(['--baseline', baseline, '--hook-before-traffic', limit]);
      expect(r.exitCode, r.stderr).toBe(1);
      expect(r.stderr).toMatch(new RegExp(`dutlab: REGRESSION against ${baseline}: `));
      const text = readFileSync(join(reports, r.summary.runId, 'comparison.txt'), 'utf8');
      expect(text).toMatch(/REGRESSION \(\d+\):\n(.*\n)* {2}- NDR at 64-byte frames (dropped: .* kfps now|: no load forwarded within the goal now)/);
      const c = await dutlab('compare', baseline, r.summary.runId, '--reports', reports);
      expect(c.exitCode).toBe(1);
      expect(c.stdout).toContain(`baseline ${baseline} (virtual-lab-tput, virtual) -> candidate ${r.summary.runId}`);
    } finally {
      await execa('ip', ['netns', 'exec', labOf(ID).ns('guest'), 'nft', 'delete', 'table', 'ip', 'dutlab_fault']);
    }
  }, 120_000);

  it('searches on the real DPDK datapath too (the ovs-dpdk profile)', async () => {
    const dpdkLab = await labUp({ id: 'tputd', datapath: 'dpdk' });
    try {
      const quickFile = join(dpdkLab.stateDir, 'quick.yaml');
      writeFileSync(quickFile, quick(dpdkLab.testbedFile));
      const r = await dutlabRun(['--testbed', quickFile, '--profile', 'ovs-dpdk', '--suite', 'throughput'], reports);
      expect(r.exitCode, r.stderr).toBe(0);
      expect(r.summary.versions.dpdk).toMatch(/^DPDK 22\.11/);
      expect(r.stderr).toMatch(/^dutlab: NDR \(loss 0\) at 64 B: 0\.\d{3}\.\./m);
    } finally {
      await labDown({ id: 'tputd' });
    }
  }, 180_000);

  it('refuses what it cannot read: exit 2 naming it', async () => {
    const c = await dutlab('compare', baseline, 'no-such-run', '--reports', reports);
    expect(c.exitCode).toBe(2);
    expect(c.stderr).toMatch(/no-such-run: neither a run directory nor a run id in .*history\.jsonl/);
  });
});
