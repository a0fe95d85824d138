// Made-up runs for the report's tests: three nightly runs of a DPDK lab (a DPDK update at each, NDR halved
// at the last), one search, and a run as `compare` reads it.
import type { RunRecord } from '../../lib/results/run.js';
import type { HistoryEntry } from '../../lib/results/history.js';
import type { CaseOutcome } from '../../lib/results/run.js';
import type { RunResult } from '../../lib/results/run.js';
import type { ThroughputMeasured, ThroughputResult } from '../../lib/results/throughput.js';
import { latencyOfPackets, type LatencyResult } from '../../lib/results/latency.js';

/** A latency stream of 1000 packets whose delays (µs) spread from `base` to a tail of `tail` in the last 1 %. */
export function madeUpLatency(base: number, tail: number): LatencyResult {
  const sent = Array.from({ length: 1000 }, (_, seq) => ({ seq, us: 1_000_000 + seq * 1000 }));
  const delay = (seq: number) => (seq >= 990 ? tail : base + (seq % 100) * (base / 100));
  return latencyOfPackets(
    7,
    sent,
    sent.map((p) => ({ seq: p.seq, us: p.us + delay(p.seq) })),
  );
}

/** The latency after the search: the generator alone, the stream alone and 10, 50, 90 % of a 48 kfps PDR. */
const LATENCY_LOADS = [0, 0.1, 0.5, 0.9];

export const HISTORY: HistoryEntry[] = [
  ['20261120-010000-0001', 'pass', 'DPDK 22.11.10', 50_000, 52_000],
  ['20261121-010000-0002', 'pass', 'DPDK 22.11.11', 49_000, 51_000],
  ['20261122-010000-0003', 'pass', 'DPDK 23.11.1', 20_000, 21_000],
].map(([runId, verdict, dpdk, lower, upper]) => ({
  runId: runId as string,
  startedAt: `2026-11-${(runId as string).slice(6, 8)}T01:00:00Z`,
  testbed: 'virtual-lab-dpdk',
  profile: 'ovs-dpdk',
  suites: ['throughput'],
  versions: { ovs: 'ovs-vsctl (Open vSwitch) 3.1.0', dpdk: dpdk as string },
  verdict: verdict as string,
  throughput: [
    { frame: 64, goal: 'NDR', lower: lower as number, upper: upper as number, limitedByGenerator: false },
    { frame: 64, goal: 'PDR', lower: (lower as number) * 1.2, upper: (upper as number) * 1.2, limitedByGenerator: false },
  ],
  // p50 and p99 at 50 % of PDR: 30/300 µs, then twice that at the DPDK update that halved the NDR.
  latency: LATENCY_LOADS.map((load) => {
    const { histogram, streamId, ...figures } = madeUpLatency(load === 0.5 && lower === 20_000 ? 60 : 30, lower === 20_000 ? 600 : 300);
    return { frame: 64, of: 'dut' as const, load, rate: load * (lower as number) * 1.2, ...figures };
  }),
  // The telemetry trial at the PDR: about 20,500 processing cycles a packet and 99 % EMC hits, then twice as many
  // cycles and the EMC at 40 % at the DPDK update that halved the NDR.
  telemetry: [madeUpTelemetry((lower as number) * 1.2, lower === 20_000 ? 41_000 : 20_000 + (lower as number) / 100, lower === 20_000 ? 40 : 99)],
}));

/** A telemetry trial at the PDR of one PMD (core 1): its cycles per packet and its EMC and megaflow shares. */
export function madeUpTelemetry(rate: number, cycles: number, emc: number): NonNullable<HistoryEntry['telemetry']>[number] {
  const figure = (id: string, label: string, unit: string, value: number) => ({ id, scope: 'core 1', label, unit, value });
  return {
    frame: 64,
    rate,
    goal: 'PDR',
    durationS: 2,
    sent: rate * 2,
    received: rate * 2,
    perfMetrics: true,
    metrics: [
      figure('pmd.cycles_per_packet.processing', 'processing cycles per packet', 'cycles/packet', cycles),
      figure('pmd.hits.emc', 'exact-match cache hits', '% of packets', emc),
      figure('pmd.hits.megaflow', 'megaflow (dpcls) hits', '% of packets', 100 - emc),
    ],
  };
}

/** One search at 64-byte frames: NDR 40..42 kfps, four trials from 100 kfps down. */
export const SEARCH_64: ThroughputResult = {
  frame: 64,
  calibration: null,
  generatorLimit: null,
  maxRate: 100_000,
  goals: [
    {
      goal: 'NDR',
      lossRatio: 0,
      lowerBound: 40_000,
      upperBound: 42_000,
      relativeWidth: 0.05,
      conditionalThroughput: 40_000,
      limitedByGenerator: false,
      spread: { highestPass: 40_000, lowestExceed: 42_000 },
      lowerBps: null,
    },
  ],
  trials: [100_000, 50_000, 42_000, 40_000].map((rate, i) => ({
    rate,
    durationS: i < 2 ? 1 : 2,
    offered: rate,
    sent: rate,
    received: rate > 40_000 ? rate * 0.9 : rate,
    lossRatio: rate > 40_000 ? 0.1 : 0,
    generatorShort: false,
  })),
};

/** SEARCH_64 with the latency measured after it, and the generator's own in its calibration. */
export const SEARCH_64_LATENCY: ThroughputResult = {
  ...SEARCH_64,
  calibration: { achievedRate: 100_000, received: 100_000, sent: 100_000, durationS: 1, latency: madeUpLatency(15, 80) },
  latency: {
    rate: 1000,
    durationS: 2,
    pdr: 48_000,
    loads: LATENCY_LOADS.map((load) => ({
      load,
      rate: load * 48_000,
      lossRatio: 0,
      generatorShort: false,
      latency: madeUpLatency(30 * (1 + load), 300 * (1 + 2 * load)),
    })),
  },
};

/** A run as `compare` reads it: one suite (throughput by default) with these searches, and these testcases. */
export function runRecord(o: {
  runId: string;
  testbedName?: string;
  profile?: string;
  suite?: string;
  throughput?: ThroughputResult[];
  cases?: CaseOutcome[];
  versions?: RunResult['versions'];
}): RunRecord {
  const who = { runId: o.runId, testbed: '/x.yaml', testbedName: o.testbedName ?? 'lab', profile: o.profile ?? 'ovs-dpdk' };
  const run: RunResult = {
    ...who,
    startedAt: '2026-11-23T00:00:00Z',
    versions: o.versions ?? {},
    suites: [
      {
        ...who,
        suite: o.suite ?? 'throughput',
        title: '',
        startedAt: '',
        versions: {},
        cases: [],
        tables: [],
        teardownProblems: [],
        notes: [],
        ...(o.throughput ? { measured: { kind: 'throughput', results: o.throughput } as ThroughputMeasured } : {}),
      },
    ],
    notes: [],
    teardownProblems: [],
  };
  return { run, cases: o.cases ?? [] };
}
