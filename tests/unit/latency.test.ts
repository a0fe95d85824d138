// Latency from the packets as they were seen (pure), its tables, the gate on
// p99 at 50 % of PDR, the charts, and a queue whose delay is known before.
import { describe, expect, it } from 'vitest';
import { compareRuns, comparisonText } from '../../lib/report/compare.js';
import type { RunRecord } from '../../lib/results/run.js';
import { latencyOf } from '../../lib/results/history.js';
import { latencyPercentileChart, latencyTrendChart } from '../../lib/report/latency-charts.js';
import { hdrhOfBuckets, latencyOfPackets, percentilesOfHdrh, type SeenPacket } from '../../lib/results/latency.js';
import { HistoryLineSchema } from '../../lib/results/schema.js';
import { latencyLines } from '../../lib/report/lines.js';
import { latencyTables } from '../../lib/suite/throughput/result.js';
import type { ThroughputResult } from '../../lib/results/throughput.js';
import { fullQueueDelayUs, queueCommand } from '../../lib/vlab/queue.js';
import { runRecord } from '../helpers/history.js';

/** n packets sent 1 ms apart, each received `delay(seq)` µs later. */
const stream = (n: number, delay: (seq: number) => number): { sent: SeenPacket[]; received: SeenPacket[] } => {
  const sent = Array.from({ length: n }, (_, seq) => ({ seq, us: 1_000_000 + seq * 1000 }));
  return { sent, received: sent.map((p) => ({ seq: p.seq, us: p.us + delay(p.seq) })).sort((a, b) => a.us - b.us) };
};

describe('latency from the packets seen', () => {
  it('reads n, min, mean, the percentiles, max and jitter from delays of known size', () => {
    // 1..1000 µs, one each: p50 500, p90 900, p99 990, p99.9 999 (HdrHistogram's three digits).
    const { sent, received } = stream(1000, (seq) => seq + 1);
    const l = latencyOfPackets(7, sent, received);
    expect(l).toMatchObject({ sent: 1000, received: 1000, lost: 0, reordered: 0, duplicated: 0, minUs: 1, maxUs: 1000, avgUs: 500.5, jitterUs: 1 });
    expect([l.p50Us, l.p90Us, l.p99Us, l.p999Us]).toEqual([500, 900, 990, 999]);
    expect(l.invalid).toBeUndefined();
    expect(percentilesOfHdrh(l.hdrh!, [50, 99])).toEqual([
      { percentile: 50, us: 500 },
      { percentile: 99, us: 990 },
    ]);
  });

  it('counts what never came back, what came back after a later one, and twice; the figures are of the rest', () => {
    const { sent, received } = stream(10, () => 50);
    const got = received.filter((p) => p.seq !== 3);
    // seq 5 arrives after seq 6; seq 8 twice.
    const [i5, i6] = [got.findIndex((p) => p.seq === 5), got.findIndex((p) => p.seq === 6)];
    [got[i5], got[i6]] = [got[i6]!, got[i5]!];
    got.push({ seq: 8, us: got.at(-1)!.us + 10 });
    const l = latencyOfPackets(7, sent, got);
    expect(l).toMatchObject({ sent: 10, received: 9, lost: 1, reordered: 1, duplicated: 1, minUs: 50, maxUs: 50, p99Us: 50 });
  });

  it('jitter is the mean change of delay from one packet to the next (RFC 3393), never the spread of delays', () => {
    const { sent, received } = stream(5, (seq) => [10, 30, 10, 30, 10][seq]!);
    expect(latencyOfPackets(7, sent, received).jitterUs).toBe(20);
  });

  it('marks the figures not valid where a packet arrived that was never seen leaving, or before it left (two clocks)', () => {
    const { sent, received } = stream(5, () => 20);
    expect(latencyOfPackets(7, sent.slice(1), received).invalid).toMatch(/1 packets arrived that were not seen leaving/);
    const early = received.map((p) => (p.seq === 2 ? { ...p, us: p.us - 100 } : p));
    expect(latencyOfPackets(7, sent, early).invalid).toMatch(/1 packets arrived before they left: the two points do not share a clock/);
  });

  it('has no figures of an empty stream, and says nothing came back', () => {
    const l = latencyOfPackets(7, stream(3, () => 1).sent, []);
    expect(l).toMatchObject({ sent: 3, received: 0, lost: 3, p50Us: null, p99Us: null, minUs: 0 });
  });

  it("makes an HDR histogram of a generator's buckets, each at its upper bound", () => {
    const h = hdrhOfBuckets([
      { upToUs: 20, count: 90 },
      { upToUs: 200, count: 10 },
    ]);
    expect(percentilesOfHdrh(h, [50, 95]).map((p) => p.us)).toEqual([20, 200]);
  });
});

describe('a queue of known size', () => {
  it('computes the wait of the full queue from its settings, and the tc command that makes it', () => {
    const q = { iface: 'vEth_port33', fps: 5000, frame: 64, queueFrames: 100 };
    expect(fullQueueDelayUs(q)).toBe(20_000);
    // 5000 frames/s of 60 counted bytes: 2.4 Mbit/s; 100 frames of 60 bytes: 6000 bytes.
    expect(queueCommand(q)).toBe('tc qdisc replace dev vEth_port33 root tbf rate 2400000bit burst 120 limit 6000');
    expect(() => queueCommand({ ...q, fps: 0 })).toThrow(/fps 0 is not a whole number above 0/);
    // A bucket of ten frames (what a burst gets through at once beside the queue).
    expect(queueCommand({ ...q, burstFrames: 10 })).toBe('tc qdisc replace dev vEth_port33 root tbf rate 2400000bit burst 600 limit 6000');
    expect(() => queueCommand({ ...q, burstFrames: 1 })).toThrow('queue: a bucket of 1 frames; at least 2');
    expect(() => queueCommand({ ...q, iface: 'x; reboot' })).not.toThrow();
    expect(queueCommand({ ...q, iface: 'x; reboot' })).toContain("dev 'x; reboot' root");
  });
});

/** A latency result of a given p99 (and p50 a third of it). */
const fig = (p99: number, invalid?: string) => {
  const { sent, received } = stream(100, (seq) => (seq < 98 ? Math.round(p99 / 3) : p99));
  const l = latencyOfPackets(7, sent, received);
  return invalid ? { ...l, invalid } : l;
};
const withLatency = (p99At50: number, invalid?: string): ThroughputResult => ({
  frame: 64,
  calibration: { achievedRate: 300_000, received: 300_000, sent: 300_000, durationS: 1, latency: fig(60) },
  generatorLimit: null,
  maxRate: 300_000,
  goals: [],
  trials: [],
  latency: {
    rate: 1000,
    durationS: 2,
    pdr: 100_000,
    loads: [0, 0.1, 0.5, 0.9].map((load) => ({
      load,
      rate: load * 100_000,
      lossRatio: 0,
      generatorShort: false,
      latency: load === 0.5 ? fig(p99At50, invalid) : fig(100),
      ...(load === 0 ? { hops: [{ from: 'TG tx', to: 'guest ingress vEth rx', latency: fig(40) }] } : {}),
    })),
  },
});
const rec = (id: string, t: ThroughputResult): RunRecord => runRecord({ runId: id, cases: [], versions: {}, throughput: [t] });

describe('latency in the gate and the report', () => {
  it('flags p99 at 50 % of PDR beyond the threshold as a regression, and only there', () => {
    const base = rec('base', withLatency(300));
    const cmp = (p99: number, invalid?: string) => compareRuns(base, rec('cand', withLatency(p99, invalid)), { throughput: 0.1, latency: 0.5 });
    expect(cmp(440).regressions).toEqual([]);
    expect(cmp(600).regressions).toEqual([
      'latency p99 at 50 % of PDR at 64-byte frames rose: 600 µs now, 300 µs in the baseline: 100 % above, threshold 50 %',
    ]);
    expect(comparisonText(base, rec('cand', withLatency(600)), cmp(600))).toMatch(
      /\n\nlatency p99 at 50 % of PDR:\n {2}64 B {9}300 µs {2}-> {2}600 µs\n\nREGRESSION \(1\):/,
    );
    expect(cmp(100).changes).toContain('latency p99 at 50 % of PDR at 64-byte frames fell: 100 µs now, 300 µs in the baseline');
    const invalid = cmp(900, 'a capture of the latency stream was incomplete (dropped 3 of 100)');
    expect(invalid.regressions).toEqual([]);
    expect(invalid.changes.join('\n')).toMatch(/not compared \(now: a capture of the latency stream was incomplete/);
  });

  it('tabulates each load, the generator alone and the hops; a load not valid shows no figure and says why', () => {
    const [table, hops] = latencyTables([withLatency(300, 'a capture dropped packets')]);
    expect(table!.rows.map((r) => r[1])).toEqual(['the generator alone (guest bypassed)', 'stream alone', '10 % of PDR', '50 % of PDR', '90 % of PDR']);
    const at50 = table!.rows[3]!;
    expect(at50.slice(6, 10)).toEqual(['-', '-', '-', '-']);
    expect(at50.at(-1)).toBe('NOT VALID: a capture dropped packets');
    expect(table!.rows[4]![10]).toBe('100');
    expect(hops!.rows).toEqual([['64 B', 'TG tx', 'guest ingress vEth rx', '100', '0/0/0', '13', '13.5', '13', '13', '40', '40', '40', '0.3']]);
    expect(latencyLines([withLatency(300)])[0]).toBe(
      'latency at 64 B, p50/p99 µs: stream alone 33/100, 10 % of PDR 33/100, 50 % of PDR 100/300, 90 % of PDR 33/100 (the generator alone 20/60)',
    );
  });

  it("names TRex's average as TRex's filtered one, never a mean", () => {
    const t = withLatency(300);
    expect(latencyTables([t])[0]!.columns).toContain('mean');
    for (const at of t.latency!.loads) at.latency.avgIs = 'trex-filtered';
    const [table] = latencyTables([t]);
    expect(table!.columns).not.toContain('mean');
    expect(table!.columns).toContain("TRex's filtered avg");
    expect(table!.notes!.join('\n')).toContain("TRex's own `average`, a low-pass filter of the means of its 0.5 s periods, not the mean of the samples");
  });

  it('keeps each load and the generator in the history, with the HDR histogram, as the schema reads them', () => {
    const entries = latencyOf({ suites: rec('r', withLatency(300)).run.suites });
    expect(entries.map((e) => `${e.of}@${e.load}`)).toEqual(['generator@0', 'dut@0', 'dut@0.1', 'dut@0.5', 'dut@0.9']);
    expect(entries[3]).toMatchObject({ frame: 64, rate: 50_000, p99Us: 300 });
    expect(entries[3]!.hdrh).toMatch(/^HISTF/);
    expect(entries[1]!.hops![0]).not.toHaveProperty('hdrh');
    const line = { runId: 'r', startedAt: 'x', testbed: 't', profile: 'virtual', suites: [], versions: {}, verdict: 'pass', throughput: [], latency: entries };
    expect(HistoryLineSchema.safeParse(line).success).toBe(true);
    expect(HistoryLineSchema.safeParse({ ...line, latency: [{ ...entries[0], load: 2 }] }).success).toBe(false);
  });

  it("draws a percentile curve per valid load and the generator's, and says which it left out", () => {
    const svg = latencyPercentileChart(withLatency(300, 'a capture dropped packets'));
    expect(svg.match(/class="percentile-curve"/g)).toHaveLength(4);
    expect(svg).toMatch(/50 % of PDR: not valid, not drawn \(a capture dropped packets\)/);
    const runs = ['a', 'b', 'c'].map((id, i) => ({
      runId: id,
      startedAt: String(i),
      testbed: 't',
      profile: 'virtual',
      suites: [],
      versions: {},
      verdict: 'pass',
      throughput: [],
      latency: latencyOf({ suites: rec(id, withLatency(300 * (i + 1))).run.suites }),
    }));
    const trend = latencyTrendChart('t / virtual', runs);
    expect(trend.match(/class="latency-point"/g)).toHaveLength(6);
    expect(trend).toMatch(/c: p99 at 64 B 900 µs/);
  });
});
