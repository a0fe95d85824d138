// Which datapath figure moved: `compare` and `run --baseline` name the
// telemetry figures beyond their thresholds beside the NDR verdict, largest
// first; a figure either run does not offer is never compared.
import { describe, expect, it } from 'vitest';
import { compareRuns, comparisonText, incomparable, judgeAgainstBaseline } from '../../lib/report/compare.js';
import { DEFAULT_TELEMETRY_THRESHOLDS, movedMetrics } from '../../lib/report/telemetry-diff.js';
import type { TelemetryMetric } from '../../lib/results/telemetry.js';
import type { ThroughputResult } from '../../lib/results/throughput.js';
import { Throughput } from '../../lib/testbed/throughput-schema.js';
import { runRecord } from '../helpers/history.js';

const figure = (id: string, value: number | null, unit = '%', label = id, scope = 'core 1'): TelemetryMetric => ({
  id,
  scope,
  label,
  unit,
  value,
  ...(value === null ? { notOffered: 'this datapath has no PMD thread' } : {}),
});
const healthy = (): TelemetryMetric[] => [
  figure('pmd.rx_packets', 200_000, 'packets', 'packets received'),
  figure('pmd.cycles_per_packet.processing', 20_000, 'cycles/packet', 'processing cycles per packet'),
  figure('pmd.hits.emc', 99, '% of packets', 'exact-match cache hits'),
  figure('pmd.hits.megaflow', 1, '% of packets', 'megaflow (dpcls) hits'),
  figure('thread.cpu', 80, '%', 'share of a CPU', 'ovs-vswitchd thread pmd-c01/id:8'),
  figure('rxq.pmd_usage', 45, '%', "share of its PMD's cycles", 'core 1 port16 queue 0'),
];
const goal = (name: string, lower: number) => ({
  goal: name,
  lossRatio: 0,
  lowerBound: lower,
  upperBound: lower * 1.02,
  relativeWidth: 0.02,
  conditionalThroughput: lower,
  limitedByGenerator: false,
  spread: { highestPass: lower * 1.02, lowestExceed: lower * 1.02 },
  lowerBps: null,
});
const run = (runId: string, ndr: number, metrics: TelemetryMetric[] | null) => {
  const t: ThroughputResult = {
    frame: 64,
    calibration: null,
    generatorLimit: null,
    maxRate: 400_000,
    goals: [goal('NDR', ndr)],
    trials: [],
    ...(metrics
      ? { telemetry: { rate: ndr, goal: 'PDR' as const, durationS: 2, sent: 2 * ndr, received: 2 * ndr, perfMetrics: true, metrics, files: [] } }
      : {}),
  };
  return runRecord({ runId, throughput: [t], versions: { ovs: '3.1.0', dpdk: 'DPDK 22.11.11' } });
};
const with_ = (changes: Record<string, number | null>) => healthy().map((m) => (m.id in changes ? { ...m, value: changes[m.id]! } : m));
const thresholds = { throughput: 0.1, latency: 0.5 };

describe('the telemetry figures that moved', () => {
  it('names each figure beyond its threshold, largest first in units of its threshold: points for shares, a share for the rest', () => {
    const base = run('base', 50_000, healthy());
    const cand = run('cand', 44_000, with_({ 'pmd.cycles_per_packet.processing': 28_000, 'pmd.hits.emc': 61, 'pmd.hits.megaflow': 39 }));
    const moved = movedMetrics(base, cand);
    // EMC and megaflow moved 38 points against 10; cycles 40 % against 35 %.
    expect(moved.map((m) => m.text)).toEqual([
      'exact-match cache hits 99 % → 61 % on core 1 at 64 B',
      'megaflow (dpcls) hits 1 % → 39 % on core 1 at 64 B',
      'processing cycles per packet +40 % on core 1 at 64 B (20,000 → 28,000 cycles/packet)',
    ]);
    expect(moved[2]!.size).toBeCloseTo(0.4 / 0.35, 5);
    // Packets received follow the load, the queue shares OVS's window: never named.
    expect(movedMetrics(base, run('c', 50_000, with_({ 'pmd.rx_packets': 100, 'rxq.pmd_usage': 5 })))).toEqual([]);
  });

  it('names nothing within the thresholds, nothing either run does not offer, nothing where the baseline had no telemetry trial', () => {
    const base = run('base', 50_000, healthy());
    expect(movedMetrics(base, run('cand', 50_000, with_({ 'pmd.cycles_per_packet.processing': 21_900, 'pmd.hits.emc': 91 })))).toEqual([]);
    expect(movedMetrics(base, run('cand', 50_000, with_({ 'pmd.cycles_per_packet.processing': null })))).toEqual([]);
    expect(movedMetrics(run('old', 50_000, null), run('cand', 50_000, with_({ 'pmd.hits.emc': 10 })))).toEqual([]);
  });

  it("takes the testbed's thresholds: a lab noisier in cycles per packet names a 40 % rise no more", () => {
    const base = run('base', 50_000, healthy());
    const cand = run('cand', 50_000, with_({ 'pmd.cycles_per_packet.processing': 28_000 }));
    expect(movedMetrics(base, cand)).toHaveLength(1);
    expect(movedMetrics(base, cand, { ...DEFAULT_TELEMETRY_THRESHOLDS, 'pmd.cycles_per_packet.processing': 0.5 })).toEqual([]);
    expect(() => Throughput.parse({ telemetryThresholds: { 'pmd.cycles': 0.1 } })).toThrow(/pmd\.cycles/);
  });

  it("stands beside the verdict, never for it: a regression's message names the figures after NDR's drop; no regression stays none", () => {
    const base = run('base', 50_000, healthy());
    const cand = run('cand', 40_000, with_({ 'pmd.cycles_per_packet.processing': 28_000 }));
    const gate = judgeAgainstBaseline(base, cand, thresholds);
    expect(gate.case.message).toMatch(
      /^regression: NDR at 64-byte frames dropped: .*; processing cycles per packet \+40 % on core 1 at 64 B \(20,000 → 28,000 cycles\/packet\)$/,
    );
    expect(gate.text).toMatch(
      /datapath telemetry beyond its thresholds \(largest first; each run's telemetry trial\):\n {2}- processing cycles per packet \+40 %/,
    );
    // Moved figures without an NDR regression: named in the text, the gate passes.
    const same = run('same', 50_000, with_({ 'pmd.hits.emc': 61 }));
    const c = compareRuns(base, same, thresholds);
    expect(c.regressions).toEqual([]);
    expect(comparisonText(base, same, c)).toMatch(/no regression\n\ndatapath telemetry beyond its thresholds .*\n {2}- exact-match cache hits 99 % → 61 %/);
    expect(judgeAgainstBaseline(base, same, thresholds).case.status).toBe('passed');
  });

  it("compares a fixed load's trial only with one at the same load: beside a search's, or another load's, its figures differ by the load", () => {
    const fixed = (runId: string, rate: number, metrics: TelemetryMetric[]) =>
      runRecord({
        runId,
        throughput: [
          {
            frame: 64,
            calibration: null,
            generatorLimit: null,
            maxRate: rate,
            goals: [],
            trials: [],
            fixedLoad: rate,
            telemetry: { rate, goal: 'fixed load', durationS: 2, sent: 2 * rate, received: 2 * rate, perfMetrics: true, metrics, files: [] },
          },
        ],
      });
    const base = fixed('base', 20_000, healthy());
    const emcOff = with_({ 'pmd.hits.emc': 0, 'pmd.hits.megaflow': 100 });
    expect(movedMetrics(base, fixed('same', 20_000, emcOff)).map((m) => m.id)).toEqual(['pmd.hits.emc', 'pmd.hits.megaflow']);
    expect(incomparable(base, fixed('same', 20_000, emcOff))).toEqual([]);
    // Another load, or a search: the figures are not compared, and compare refuses the pair, saying why.
    expect(movedMetrics(base, fixed('other', 40_000, emcOff))).toEqual([]);
    expect(incomparable(base, fixed('other', 40_000, emcOff))).toEqual([
      'throughput: a fixed load of 20000 frames/s in the baseline, a fixed load of 40000 frames/s now',
    ]);
    const searched = run('searched', 20_000, emcOff);
    expect(movedMetrics(base, searched)).toEqual([]);
    expect(incomparable(searched, base)).toEqual(['throughput: a search in the baseline, a fixed load of 20000 frames/s now']);
  });
});
