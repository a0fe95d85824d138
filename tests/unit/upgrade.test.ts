// The upgrade gate's parts that need no lab (issue 43): the restart as an
// operator's `ovs-ctl restart` does it, step by step; the testbed's restart
// and gate sections and their refusals; a build that is a known regression
// (its ingress port policed) told from the build it polices; the two groups
// of an alternation compared, with the sensitivity they give, on groups whose
// answer is known.
import { describe, expect, it } from 'vitest';
import { profileByName } from '../../lib/profiles/index.js';
import { profileFor } from '../../lib/profiles/profile.js';
import { hostAddPorts } from '../../lib/profiles/steps/switch.js';
import { restartRestoreFlows, restartSaveFlows, restartSequence, restartStop, STILL_RUNNING_EXIT } from '../../lib/profiles/steps/restart.js';
import { compareGroups, functionalCase, throughputCase } from '../../lib/report/alternation.js';
import { t95 } from '../../lib/results/stats.js';
import type { CaseOutcome, SuiteResult } from '../../lib/results/run.js';
import { downtimeLine, upgradeSummary, type RestartMeasured } from '../../lib/results/upgrade.js';
import { parseTestbed } from '../../lib/testbed/load.js';
import type { Testbed } from '../../lib/testbed/schema.js';
import { topologyOf } from '../../lib/testbed/topology.js';
import { lossEvents } from '../../lib/verify/gaps.js';
import { MINIMAL_TESTBED as MINIMAL, testbedProblems } from '../helpers/fixtures.js';

const DPDK_PORTS = `phyPorts:
  - { name: port16, ofport: 16, dpdkPort: 1, tgPort: tg0, dpdkDevargs: net_af_packet0 }
  - { name: port17, ofport: 17, dpdkPort: 2, tgPort: tg1, dpdkDevargs: net_af_packet1 }
vmPorts:
  - { name: port32, ofport: 32, kind: tap, guestIf: vEth_port32, mac: '00:4B:4E:49:30:00', cidr: 2.2.2.1/24 }
  - { name: port33, ofport: 33, kind: tap, guestIf: vEth_port33, mac: '00:4B:4E:49:30:01', cidr: 3.3.3.1/24 }
`;
const BUILDS = (extra = '') => `ovsDpdk:
  build: old
  builds:
    old: { dpdkVersion: 22.11.7, libDir: /b/lib, pmdDir: /b/pmds }
    new: { dpdkVersion: 22.11.11 }
${extra}`;
const profile = profileByName('ovs-dpdk');
const lines = (step: { commands: (c: never) => Array<{ line: string }> }, tb: Testbed) =>
  step.commands({ tb, topology: topologyOf(tb), profile: profileFor(profile, tb), value: () => '' } as never).map((c) => c.line);

describe('the restart, as ovs-ctl restart does it', () => {
  it('saves the rules as ovs-save does, sets flow-restore-wait, stops by ovs-appctl exit, and waits for the pid to go', () => {
    const tb = parseTestbed(`${MINIMAL}${DPDK_PORTS}${BUILDS()}`);
    const save = lines(restartSaveFlows, tb)[0]!;
    expect(save).toContain('dump-flows --no-names --no-stats br0');
    expect(save).toContain('s/\\(idle\\|hard\\)_age=[^,]*,//g');
    const stop = lines(restartStop, tb);
    expect(stop[0]).toBe('ovs-vsctl --no-wait set Open_vSwitch . other_config:flow-restore-wait=true');
    expect(stop[1]).toContain(`ovs-appctl -t ${tb.paths.ovsRunDir}/ovs-vswitchd.ctl exit`);
    expect(stop[1]).toContain(`exit ${STILL_RUNNING_EXIT}`);
    // The start step waits for the new daemon's word, not the old one's.
    expect(stop[2]).toBe('ovs-vsctl --no-wait set Open_vSwitch . dpdk_initialized=false');
  });

  it('kills with SIGKILL and keeps no flow-restore-wait where the testbed says so', () => {
    const tb = parseTestbed(`${MINIMAL}${DPDK_PORTS}${BUILDS()}restart: { stop: kill, flowRestoreWait: false }\n`);
    const stop = lines(restartStop, tb);
    expect(stop).toHaveLength(2);
    expect(stop[0]).toContain('kill -9 "$pid"');
    expect(lines(restartRestoreFlows, tb).some((l) => l.includes('flow-restore-wait'))).toBe(false);
  });

  it("restores the rules in one bundle, then the new build's policing (none), then removes flow-restore-wait", () => {
    const tb = parseTestbed(`${MINIMAL}${DPDK_PORTS}${BUILDS()}`);
    expect(lines(restartRestoreFlows, tb)).toEqual([
      expect.stringMatching(/replace-flows br0 \S+restart-flows\.dump --bundle$/),
      'ovs-vsctl --no-wait set Interface port16 ingress_policing_rate=0 ingress_policing_burst=0',
      'ovs-vsctl --no-wait remove Open_vSwitch . other_config flow-restore-wait',
    ]);
  });

  it('runs again what a new daemon undid: tap ports moved and addressed again; a VM keeps its side; profiles without DPDK ports cannot restart', () => {
    const ids = (p: string, tb?: Testbed) => restartSequence(tb ? profileFor(profileByName(p), tb) : profileByName(p))?.map((s) => s.id) ?? null;
    expect(ids('ovs-dpdk')).toEqual([
      'restart.save-flows',
      'restart.stop-vswitchd',
      'host.start-vswitchd-dpdk',
      'restart.restore-flows',
      'host.wait-ports',
      'host.move-taps',
      'host.confirm-ports',
      'guest.interfaces',
      'guest.forwarding',
      'guest.route-arp',
      'guest.check-interfaces',
    ]);
    expect(ids('virtual')).toBeNull();
    expect(ids('legacy-kni')).toBeNull();
  });
});

describe('the restart and gate sections', () => {
  it('refuses a restart to a build that is not there, a bound finer than the stream resolves, a restart outside the stream, k of 0', () => {
    expect(testbedProblems(`${MINIMAL}${DPDK_PORTS}${BUILDS()}restart: { to: newest }\n`)).toEqual([
      { path: 'restart.to', message: 'newest is not one of ovsDpdk.builds (old, new)' },
    ]);
    expect(testbedProblems(`${MINIMAL}${DPDK_PORTS}${BUILDS()}restart: { rate: 1000, maxDowntimeMs: 0.5 }\n`)).toEqual([
      {
        path: 'restart.maxDowntimeMs',
        message: "0.5 ms is below the measurement's resolution (one frame at 1000 frames/s: 1 ms): raise it, or the rate",
      },
    ]);
    expect(testbedProblems(`${MINIMAL}restart: { streamS: 5, startAfterS: 6 }\n`).map((p) => p.path)).toEqual(['restart.startAfterS']);
    expect(testbedProblems(`${MINIMAL}gate: { k: 0 }\n`)).toEqual([{ path: 'gate.k', message: 'k of at least 1: each build measured once at least' }]);
    expect(parseTestbed(MINIMAL).gate.k).toBe(3);
  });

  it('takes a policed build as another build (a known regression), and polices only the ingress port with it', () => {
    const text = `${MINIMAL}${DPDK_PORTS}ovsDpdk:\n  build: slow\n  builds:\n    new: { dpdkVersion: 22.11.11 }\n    slow: { dpdkVersion: 22.11.11, policeIngressKbps: 5000 }\n`;
    const tb = parseTestbed(text);
    const add = lines(hostAddPorts, tb);
    expect(add[0]).toMatch(/set Interface port16 .* ingress_policing_rate=5000 ingress_policing_burst=50$/);
    expect(add[1]).not.toContain('policing');
    expect(lines(hostAddPorts, { ...tb, ovsDpdk: { ...tb.ovsDpdk, build: 'new' } }).some((l) => l.includes('policing'))).toBe(false);
  });
});

describe('the alternated groups compared', () => {
  it('finds a drop of known size, with the threshold as the sensitivity where the groups do not spread', () => {
    const c = compareGroups({ frame: 64, a: [20000, 20000, 20000], b: [10000, 10000, 10000] }, 0.1);
    expect(c.change).toBe(-0.5);
    expect(c.sensitivity).toBe(0.1);
    expect(c.sensitivityBy).toBe('threshold');
    expect(c.regression).toBe(true);
    expect(c.text).toMatch(/^64: NDR 20000 frames\/s on A \(20000, 20000, 20000\) and 10000 on B .*-50\.0 %.*REGRESSION$/);
  });

  it("passes A against itself, and does not call a drop within the groups' spread a regression: the spread sets the sensitivity", () => {
    expect(compareGroups({ frame: 64, a: [100, 100], b: [100, 100] }, 0.1).regression).toBe(false);
    // A drop of 15 % of means whose groups each spread by 20 %: Welch's bound (t 2.92 at 2 degrees of freedom) is far above it.
    const c = compareGroups({ frame: 64, a: [120, 80], b: [100, 70] }, 0.1);
    expect(c.change).toBeCloseTo(-0.15, 10);
    expect(c.sensitivityBy).toBe('spread');
    expect(c.sensitivity).toBeGreaterThan(0.5);
    expect(c.regression).toBe(false);
  });

  it('says a group of one round measured no spread, and judges on the threshold alone', () => {
    const c = compareGroups({ frame: 'imix', a: [1000], b: [850] }, 0.1);
    expect(c.sdA).toBeNull();
    expect(c.regression).toBe(true);
    expect(c.text).toContain('one round each: no spread measured, the threshold alone');
  });

  it("uses Student's one-sided 95 % quantile, the normal's beyond 30 degrees of freedom", () => {
    expect(t95(1)).toBe(6.314);
    expect(t95(2.6)).toBe(2.92);
    expect(t95(100)).toBe(1.645);
    expect(() => compareGroups({ frame: 64, a: [], b: [1] }, 0.1)).toThrow(/a group without a measurement/);
  });
});

describe('the downtime in words', () => {
  const m = (seen: number[]): RestartMeasured => {
    const marks = new Uint8Array(seen.length);
    seen.forEach((s, i) => (marks[i] = s));
    return {
      kind: 'restart',
      from: 'a',
      to: 'b',
      stop: 'graceful',
      flowRestoreWait: true,
      rate: 1000,
      frames: seen.length,
      phases: [],
      maxDowntimeMs: 5,
      gaps: lossEvents(marks, 1000),
    };
  };
  it('says the reset time, the longest gap and the resolution; nothing lost is said as such', () => {
    expect(downtimeLine(m([1, 1, 0, 0, 0, 1, 0, 1]))).toBe(
      'frame-loss reset time 4 ms (RFC 6201: 4 lost / 1000 frames/s), the longest gap 3 ms (3 frames), 2 loss events; resolution 1 ms',
    );
    expect(downtimeLine(m([1, 1, 1]))).toBe('no frame lost (resolution 1 ms)');
  });
});

describe('summary.json of a restart', () => {
  it('keeps the builds, how it stopped, and the downtime in figures; a restart that never came back says so', () => {
    const marks = new Uint8Array(10).fill(1);
    marks.fill(0, 6);
    const measured: RestartMeasured = {
      kind: 'restart',
      from: 'a',
      to: 'b',
      stop: 'kill',
      flowRestoreWait: false,
      rate: 1000,
      frames: 10,
      phases: [],
      maxDowntimeMs: 50,
      gaps: lossEvents(marks, 1000),
      notRecovered: true,
    };
    const suite = { suite: 'restart', measured } as unknown as SuiteResult;
    expect(upgradeSummary([suite])).toEqual({
      restart: {
        from: 'a',
        to: 'b',
        stop: 'kill',
        flowRestoreWait: false,
        rate: 1000,
        maxDowntimeMs: 50,
        lost: 4,
        events: 1,
        resetTimeMs: 4,
        longestGapMs: 4,
        resolutionMs: 1,
        notRecovered: true,
      },
    });
    expect(upgradeSummary([])).toEqual({});
  });
});

describe("the gate's own testcases", () => {
  const c = (id: string, status: CaseOutcome['status'], kind?: CaseOutcome['kind']): CaseOutcome => ({
    id,
    name: id,
    group: 'checks',
    status,
    durationMs: 0,
    ...(kind ? { kind } : {}),
    ...(status === 'failed' ? { message: `${id} broke` } : {}),
  });

  it("names what B fails that A passed as the regression; what both fail is not the upgrade's", () => {
    const a = [c('A:check.packets', 'passed'), c('A:check.counters', 'failed', 'dut')];
    const b = [c('B:check.packets', 'failed', 'dut'), c('B:check.counters', 'failed', 'dut')];
    expect(functionalCase(a, b)).toMatchObject({
      id: 'gate.functional',
      status: 'failed',
      kind: 'dut',
      message: 'regression: B fails what A passed: check.packets (B:check.packets broke)',
    });
    expect(functionalCase(a, [c('B:check.packets', 'passed'), c('B:check.counters', 'failed', 'dut')])).toMatchObject({
      status: 'passed',
      message: "B fails check.counters, as A did: not the upgrade's (each is a failure of its own)",
    });
    // The lab's failures on B are not the upgrade's regression: they make the gate the lab's (their own cases say so).
    expect(functionalCase(a, [c('B:check.packets', 'failed', 'infra')]).status).toBe('passed');
  });

  it('compares the rounds by group, and does not compare where a round measured nothing', () => {
    const search = (ndr: number | null) =>
      ({
        suite: 'throughput',
        measured: { kind: 'throughput', results: [{ frame: 64, goals: [{ goal: 'NDR', lowerBound: ndr }], trials: [] }] },
      }) as unknown as SuiteResult;
    const rounds = [
      { group: 'A' as const, suites: [search(10000)] },
      { group: 'B' as const, suites: [search(null)] },
    ];
    const t = throughputCase(rounds, 0.05);
    // No load passed on B: an NDR of 0, a drop of all of it.
    expect(t.case).toMatchObject({ id: 'gate.throughput', status: 'failed', kind: 'dut' });
    expect(t.groups[0]).toMatchObject({ a: [10000], b: [0], change: -1, regression: true });
    const none = throughputCase(
      [
        { group: 'A', suites: [search(10000)] },
        { group: 'B', suites: [] },
      ],
      0.05,
    );
    expect(none.case).toMatchObject({ status: 'skipped', message: 'not compared: a round of the alternation measured no throughput (its own cases say why)' });
  });
});
