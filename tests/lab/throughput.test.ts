// The upgrade gate on the virtual lab: a throughput search on the unshaped
// virtual DUT (short trials, a wide width: the report, the history, the DPDK
// datapath), and on a DUT of known capacity (lab up --capacity: a token bucket
// in the guest) with the nightly defaults, one pair of each kind at the 5 %
// threshold: the capacity unchanged (no regression) and cut by 10 % (a
// regression, the run failed). The repetitions that prove the rates (five
// searches at each of three capacities, ten unchanged pairs, five cut pairs)
// are npm run bench:throughput's.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseDocument } from 'yaml';
import { loadRun, readHistory } from '../../lib/store/file.js';
import { labDown, labUp, type LabState } from '../../lib/vlab/lab.js';
import { dutlabRun } from '../helpers/cli.js';
import { directionsAt, throughputOf } from '../../lib/results/throughput.js';
import { capacityRule } from '../../lib/vlab/capacity.js';
import { pageErrors, pageLayout, renderPage, textProblems } from '../helpers/chromium.js';

const ROOT = new URL('../..', import.meta.url).pathname;
const ID = 'tput';
let lab: LabState;
let testbed: string;
const reports = mkdtempSync(join(tmpdir(), 'dutlab-tput-'));
beforeAll(async () => {
  lab = await labUp({ id: ID });
  // A hundred flows (source ports), a rule each way for each (rules: flow): a megaflow per flow and direction.
  testbed = quickWith(lab, 'quick.yaml', { 'traffic.rules': 'flow', 'traffic.flows': { count: 100, srcPorts: 100 } });
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
  // The latency at the four loads, a second each.
  doc.setIn(['throughput', 'latency', 'durationS'], 1);
  return doc.toString();
}

/** The lab's testbed with quick searches and these settings (by dotted path: `traffic.rules`), written beside it as `name`. */
function quickWith(on: LabState, name: string, settings: Record<string, unknown>): string {
  const doc = parseDocument(quick(on.testbedFile));
  for (const [path, value] of Object.entries(settings)) doc.setIn(path.split('.'), value);
  const file = join(on.stateDir, name);
  writeFileSync(file, doc.toString());
  return file;
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
    // A warm-up before the measured trials: the datapath then held the 200 megaflows a rule per flow and direction
    // implies, and no measured trial paid for flow setup (each trial's upcalls read from pmd-stats-show before and after).
    const search = loadRun(baseline, reports).run.suites.flatMap(throughputOf)[0]!;
    expect(search.warmUp).toMatchObject({ durationS: 1, megaflows: 200, expectedMegaflows: 200, trialsOverAllowed: 0 });
    expect(search.warmUp!.warmUps).toBeGreaterThanOrEqual(1);
    expect(search.trials.map((t) => typeof t.upcalls)).toEqual(search.trials.map(() => 'number'));
    expect(md).toMatch(/- 64 B: \d+ warm-up\(s\) of 1 s, 200 megaflows after it \(the rules imply 200\); 0 measured trial\(s\) with more than 10 upcalls/);
    // The telemetry trial at the PDR: the netdev datapath on veth has no PMD thread, so each PMD figure is "not
    // offered" with why, never a zero; its threads' CPU shares and its memory are read all the same.
    const tele = r.summary.telemetry![0]!;
    expect(tele.rate).toBe(Math.round(search.goals.find((g) => g.goal === 'PDR')!.lowerBound!));
    const pmdFigures = tele.metrics.filter((m) => m.id.startsWith('pmd.'));
    expect(pmdFigures.length).toBeGreaterThan(10);
    for (const m of pmdFigures) expect(m).toMatchObject({ value: null, notOffered: expect.stringMatching(/no PMD thread/) });
    expect(tele.metrics.find((m) => m.id === 'process.rss')!.value).toBeGreaterThan(1);
    expect(tele.metrics.filter((m) => m.id === 'thread.cpu').length).toBeGreaterThan(2);
    expect(md).toMatch(
      /## Datapath telemetry at 64 B: a [\d.]+ s trial at the PDR \(\d+ frames\/s\)\n\n\| figure \| of \| value \| unit \|\n\|---\|---\|---\|---\|\n\| packets received \| PMD \| not offered \| packets \|/,
    );
    expect(md).toMatch(/^- not offered: this datapath has no PMD thread/m);
    const h = readHistory(reports).entries.find((e) => e.runId === baseline)!;
    expect(h.throughput.map((t) => t.goal)).toEqual(['NDR', 'PDR']);
    expect(h.throughput[0]!.lower).toBeGreaterThan(1000);
    // The latency after the search: the generator alone, then the stream alone and 10, 50, 90 % of the PDR.
    expect(r.stderr).toMatch(
      /^dutlab: latency at 64 B, p50\/p99 µs: stream alone \d+\/\d+, 10 % of PDR \d+\/\d+, 50 % of PDR \d+\/\d+, 90 % of PDR \d+\/\d+ \(the generator alone \d+\/\d+\)$/m,
    );
    expect(md).toMatch(
      /## Latency \(one-way, µs\)\n\n\| frame \| load \| load Mfps \| load loss \| n \| lost\/reord\/dup \| min \| mean \| p50 \| p90 \| p99 \| p99\.9 \| max \| jitter \| note \|/,
    );
    const latency = r.summary.latency!;
    expect(latency.map((l) => `${l.of}@${l.load}`)).toEqual(['generator@0', 'dut@0', 'dut@0.1', 'dut@0.5', 'dut@0.9']);
    const pdr = h.throughput.find((t) => t.goal === 'PDR')!.lower!;
    // The load's own loss at each share of the PDR (run.json): the unshaped DUT's capacity moves from one second to
    // the next, so 90 % of a PDR found a minute before may be more than it carries now (once 150 of 1000 latency
    // packets went with the load's loss). All but a few come back where the load came back whole.
    const loadLoss = new Map(
      loadRun(baseline, reports)
        .run.suites.flatMap(throughputOf)
        .flatMap((t) => t.latency?.loads ?? [])
        .map((at) => [at.load, at.lossRatio]),
    );
    for (const l of latency) {
      const at = `${l.of}@${l.load}`;
      expect(l.invalid, at).toBeUndefined();
      expect(l.sent).toBe(1000);
      expect(l.received + l.lost, at).toBe(l.sent);
      const lossless = l.of === 'generator' || loadLoss.get(l.load) === 0;
      expect(l.received, `${at}, the load's loss ${loadLoss.get(l.load)}`).toBeGreaterThan(lossless ? 900 : 0);
      expect(l.hdrh).toMatch(/^HISTF/);
      expect(l.rate).toBe(l.of === 'dut' ? Math.round(l.load * pdr) : 0);
    }
    expect(h.latency!.map((l) => l.p99Us)).toEqual(latency.map((l) => l.p99Us));
    // Per hop at the stream alone: one kernel clock in the namespace lab, the same packets at each point, so the hops' means add up to the end-to-end mean (within 1 µs of rounding and 2 %).
    const alone = latency[1]!;
    expect(alone.hops!.map((x) => `${x.from} -> ${x.to}`)).toEqual([
      'TG tx -> guest ingress vEth rx',
      'guest ingress vEth rx -> guest egress vEth tx',
      'guest egress vEth tx -> TG rx',
    ]);
    const sum = alone.hops!.reduce((a, x) => a + x.avgUs, 0);
    expect(Math.abs(sum - alone.avgUs)).toBeLessThanOrEqual(1 + alone.avgUs * 0.02);
    expect(md).toMatch(/## Latency per hop, the stream alone \(µs\)/);
    // report.html in a browser: a percentile curve for the generator and each load, every text inside its chart.
    const page = join(reports, baseline, 'report.html');
    const { dom, log } = await renderPage(page, reports);
    expect(pageErrors(log)).toEqual([]);
    expect(dom.match(/<polyline class="percentile-curve"/g)).toHaveLength(5);
    expect(textProblems(await pageLayout(page, reports))).toEqual([]);
  }, 180_000);

  it('searches on the real DPDK datapath too (the ovs-dpdk profile), five thousand flows both ways', async () => {
    const dpdkLab = await labUp({ id: 'tputd', datapath: 'dpdk' });
    try {
      // Five thousand flows (50 source addresses x 100 source ports) in both directions, a rule for each flow, each
      // way of each direction, in every trial's pcaps: 20,000 megaflows, what OVS's flow limit holds on this box
      // (it starts at 10,000 and moves with the revalidator's dump time: 40,000 were held on one run, 9,947 on another).
      const quickFile = quickWith(dpdkLab, 'quick.yaml', {
        'traffic.count': 10_000,
        'traffic.direction': 'both',
        'traffic.rules': 'flow',
        'traffic.flows': { count: 5_000, srcIps: 50, srcPorts: 100 },
      });
      const r = await dutlabRun(['--testbed', quickFile, '--profile', 'ovs-dpdk', '--suite', 'throughput'], reports);
      expect(r.exitCode, r.stderr).toBe(0);
      expect(r.summary.versions.dpdk).toMatch(/^DPDK 22\.11/);
      expect(r.stderr).toMatch(/^dutlab: NDR \(loss 0\) at 64 B: 0\.\d{3}\.\./m);
      expect(r.stderr).toMatch(
        /^dutlab: latency at 64 B, p50\/p99 µs: stream alone \d+\/\d+, 10 % of PDR \d+\/\d+, 50 % of PDR \d+\/\d+, 90 % of PDR \d+\/\d+ /m,
      );
      expect(r.summary.latency!.filter((l) => l.of === 'dut' && !l.invalid)).toHaveLength(4);
      // The PMD's datapath after the warm-up (again where its upcalls could not set up every flow at once): a megaflow
      // per flow and hop of each direction, no measured trial paying for flow setup, and past the exact-match cache's
      // 8,192 entries (20,000 flow-and-hop keys on the one PMD) the megaflow classifier serving more than the EMC.
      const search = loadRun(r.summary.runId, reports).run.suites.flatMap(throughputOf)[0]!;
      expect(search.warmUp).toMatchObject({ megaflows: 20_000, expectedMegaflows: 20_000, trialsOverAllowed: 0 });
      expect(search.trials.every((t) => typeof t.upcalls === 'number')).toBe(true);
      expect(search.warmUp!.lookups!.megaflow).toBeGreaterThan(search.warmUp!.lookups!.emc);
      // The telemetry trial at the PDR, a known answer: every frame that came back crossed the one PMD twice (the
      // phy port and the guest's), and none more than twice; the classifier served more than the EMC here too.
      const tele = r.summary.telemetry![0]!;
      const fig = (id: string) => tele.metrics.find((m) => m.id === id && m.scope === 'core 1')!.value!;
      expect(fig('pmd.rx_packets')).toBeGreaterThanOrEqual(2 * tele.received);
      expect(fig('pmd.rx_packets')).toBeLessThanOrEqual(2 * tele.sent);
      expect(fig('pmd.hits.megaflow')).toBeGreaterThan(fig('pmd.hits.emc'));
      expect(fig('pmd.cycles_per_packet.processing')).toBeGreaterThan(100);
      expect(tele.perfMetrics).toBe(true);
      expect(tele.metrics.find((m) => m.id === 'thread.cpu' && m.scope.startsWith('ovs-vswitchd thread pmd-c01'))!.value).toBeGreaterThan(5);
      expect(readHistory(reports).entries.find((e) => e.runId === r.summary.runId)!.telemetry![0]!.metrics).toEqual(tele.metrics);
      // Each direction counted apart in every trial, the totals their sums; at the NDR's lower bound a trial where
      // neither direction lost a frame (MLRsearch lets exceeding trials stand beside it, up to its exceed ratio).
      expect(search.direction).toBe('both');
      // The generator's limit measured each way too (the guest bypassed both ways).
      expect(r.summary.notes.join('\n')).toMatch(
        /calibration, guest bypassed: the generator offered \d+ frames\/s each way, reached \d+, forward \d+ of \d+, reverse \d+ of \d+ came back/,
      );
      for (const t of search.trials) {
        const d = t.directions!;
        expect([d.forward.sent > 0, d.reverse.sent > 0]).toEqual([true, true]);
        expect([d.forward.sent + d.reverse.sent, d.forward.received + d.reverse.received]).toEqual([t.sent, t.received]);
      }
      const ndr = search.goals.find((g) => g.goal === 'NDR')!;
      const whole = search.trials.filter((t) => t.rate === ndr.lowerBound && t.directions!.forward.lossRatio === 0 && t.directions!.reverse.lossRatio === 0);
      expect(whole.length).toBeGreaterThan(0);
      const at = directionsAt(search, ndr.lowerBound!)!;
      expect(at.forward.received + at.forward.lost).toBe(at.forward.sent);
      const md = readFileSync(join(reports, r.summary.runId, 'summary.md'), 'utf8');
      expect(md).toMatch(
        new RegExp(
          `- 64 B: both directions, each at the rate shown \\(the aggregate is twice it; the conditional throughput counts both directions' frames\\); at the NDR's lower bound forward ${at.forward.received}/${at.forward.sent} returned, ${at.forward.lost} lost, reverse ${at.reverse.received}/${at.reverse.sent} returned, ${at.reverse.lost} lost`,
        ),
      );
    } finally {
      await labDown({ id: 'tputd' });
    }
  }, 180_000);

  it('ten thousand flows both ways on the DPDK datapath (port rules): every flow back in each direction, the search per direction', async () => {
    const dpdkLab = await labUp({ id: 'tputf', datapath: 'dpdk' });
    try {
      // NFVbench's default profile: 10,000 flows (100 source addresses x 100 source ports) each way. `port` rules
      // (in_port only) imply a megaflow per hop of each direction whatever the flow count; per-flow rules would ask
      // 40,000, past the flow limit OVS's revalidator keeps on this box (the five-thousand-flow case above holds those).
      const file = quickWith(dpdkLab, 'flows.yaml', {
        'traffic.count': 20_000,
        'traffic.direction': 'both',
        'traffic.rules': 'port',
        'traffic.flows': { count: 10_000, srcIps: 100, srcPorts: 100 },
        'throughput.latency.loads': [],
      });
      const r = await dutlabRun(['--testbed', file, '--profile', 'ovs-dpdk', '--suite', 'pvp', '--suite', 'throughput'], reports);
      expect(r.exitCode, r.stderr).toBe(0);
      // The PVP suite's packet check, each direction judged apart, flow by flow.
      const md = readFileSync(join(reports, r.summary.runId, 'summary.md'), 'utf8');
      for (const heading of ['Packets', 'Packets \\(reverse\\)'])
        expect(md).toMatch(new RegExp(`## pvp: ${heading}\\n\\n.*\\n.*\\n\\| 20000 \\| 20000 \\| 0 \\| 0 \\| 0 \\| 0 \\| 0 \\| 10000/10000 \\| 0 \\|\\n`));
      // The search: the warm-up leaves the megaflows port rules imply (one per hop of each direction); no measured
      // trial paid for flow setup; both directions counted in every trial.
      const search = loadRun(r.summary.runId, reports).run.suites.flatMap(throughputOf)[0]!;
      expect(search.direction).toBe('both');
      expect(search.warmUp).toMatchObject({ megaflows: 4, expectedMegaflows: 4, trialsOverAllowed: 0 });
      for (const t of search.trials) expect([t.directions!.forward.sent > 0, t.directions!.reverse.sent > 0]).toEqual([true, true]);
      expect(md).toMatch(/- 64 B: 1 warm-up\(s\) of \d+ s, 4 megaflows after it \(the rules imply 4\); 0 measured trial\(s\) with more than \d+ upcalls/);
      // At the NDR's lower bound a trial where neither direction lost a frame (exceeding trials may stand beside it,
      // up to MLRsearch's exceed ratio), and the report's per-direction sums of them all.
      const ndr = search.goals.find((g) => g.goal === 'NDR')!;
      const lossless = search.trials.filter((t) => t.rate === ndr.lowerBound && t.directions!.forward.lossRatio === 0 && t.directions!.reverse.lossRatio === 0);
      expect(lossless.length).toBeGreaterThan(0);
      const at = directionsAt(search, ndr.lowerBound!)!;
      expect(md).toContain(
        `at the NDR's lower bound forward ${at.forward.received}/${at.forward.sent} returned, ${at.forward.lost} lost, reverse ${at.reverse.received}/${at.reverse.sent} returned, ${at.reverse.lost} lost`,
      );
    } finally {
      await labDown({ id: 'tputf' });
    }
  }, 180_000);

  it('refuses what it cannot read: exit 2 naming it', async () => {
    const c = await dutlab('compare', baseline, 'no-such-run', '--reports', reports);
    expect(c.exitCode).toBe(2);
    expect(c.stderr).toMatch(/no-such-run: neither a run directory nor a run id in .*history\.jsonl/);
  });
});

describe('the gate on a DUT of known capacity (lab up --capacity 5000, threshold 5 %)', () => {
  const CAPACITY = 5000;
  let shaped: LabState;
  let base = '';
  let shapedFile = '';
  const runShaped = (extra: string[] = []) => dutlabRun(['--testbed', shapedFile, '--profile', 'virtual', '--suite', 'throughput', ...extra], reports);
  beforeAll(async () => {
    shaped = await labUp({ id: 'tputc', capacity: CAPACITY });
    // The latency at the gate's load alone (50 % of the PDR), its stream a fiftieth of it. These pairs prove
    // throughput's threshold; p99 of a hundred packets is nearly their maximum, too loose a figure for a gate.
    const doc = parseDocument(readFileSync(shaped.testbedFile, 'utf8'));
    doc.setIn(['throughput', 'latency'], { loads: [0.5], rate: 100, durationS: 1, regressionThreshold: 20 });
    shapedFile = join(shaped.stateDir, 'gate.yaml');
    writeFileSync(shapedFile, doc.toString());
  }, 120_000);
  afterAll(async () => {
    await labDown({ id: 'tputc' });
  });

  it('finds the capacity: the NDR bounds hold it or miss it by less than the asked width (5 %)', async () => {
    expect(shaped.capacity).toMatchObject({ fps: CAPACITY, burst: expect.any(Number) });
    expect(readFileSync(shaped.testbedFile, 'utf8')).toMatch(/regressionThreshold: 0\.05/);
    const r = await runShaped();
    expect(r.exitCode, r.stderr).toBe(0);
    base = r.summary.runId;
    const ndr = loadRun(base, reports)
      .run.suites.flatMap(throughputOf)[0]!
      .goals.find((g) => g.goal === 'NDR')!;
    expect(ndr.lowerBound!).toBeGreaterThan(CAPACITY * 0.95 * 0.95);
    expect(ndr.lowerBound!).toBeLessThan(CAPACITY * 1.05);
    expect(ndr.upperBound ?? Number.POSITIVE_INFINITY).toBeGreaterThan(CAPACITY * 0.95);
  }, 150_000);

  it('an unchanged capacity is no regression; the capacity cut by 10 % is one, and the run fails (exit 1) naming it', async () => {
    const same = await runShaped(['--baseline', base]);
    expect(same.exitCode, same.stderr).toBe(0);
    expect(same.stderr).toContain(`dutlab: no regression against ${base}`);
    // The gate reads latency too: p99 at 50 % of each run's PDR, side by side.
    expect(readFileSync(join(reports, same.summary.runId, 'comparison.txt'), 'utf8')).toMatch(
      /\nlatency p99 at 50 % of PDR:\n {2}64 B {9}\d+ µs {2}-> {2}\d+ µs\n/,
    );
    // The bucket's rate cut by a tenth, by the run's own hook before its first trial.
    const cut = `ip netns exec ${shaped.namespaces.guest} ${capacityRule('1.1.1.1', CAPACITY * 0.9, shaped.capacity!.burst)}`;
    const r = await runShaped(['--baseline', base, '--hook-before-traffic', cut]);
    expect(r.exitCode, r.stderr).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`dutlab: REGRESSION against ${base}: `));
    const text = readFileSync(join(reports, r.summary.runId, 'comparison.txt'), 'utf8');
    expect(text).toMatch(/REGRESSION \(\d+\):\n(.*\n)* {2}- NDR at 64-byte frames dropped: /);
  }, 240_000);
});
