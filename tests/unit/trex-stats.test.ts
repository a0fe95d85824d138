// TRex's latency statistics (get_pgid_stats, in trex-core's shape: flow_stats'
// tp/rp by port, latency's lat and er) read into dutlab's latency result.
import { describe, expect, it } from 'vitest';
import { ParseError } from '../../lib/errors.js';
import { percentileOf } from '../../lib/results/latency.js';
import { latencyFromTrex, trexBucketUpperUs, type TrexPgidStats } from '../../lib/traffic/trex/stats.js';

// As TRex answers for pg_id 7 sent on port 0 and received on port 1 (the keys are strings, as its JSON has them).
const STATS: TrexPgidStats = {
  flow_stats: { '7': { tp: { '0': 1000 }, rp: { '1': 997 } } },
  latency: {
    '7': {
      lat: {
        total_min: 12.5,
        average: 41.3,
        total_max: 2310,
        jit: 6,
        histogram: { '0': 3, '10': 90, '20': 600, '30': 250, '50': 40, '100': 10, '2000': 4 },
        hdrh: 'HISTFAAAA',
      },
      er: { drp: 3, ooo: 1 },
    },
  },
};

describe("TRex's latency statistics", () => {
  it('reads the buckets as TRex fills them: key K of a decade holds [K, K + its first key)', () => {
    expect([0, 10, 20, 90, 100, 200, 900, 1000, 2000].map(trexBucketUpperUs)).toEqual([10, 20, 30, 100, 200, 300, 1000, 2000, 3000]);
  });

  it('maps a pg_id into the latency result: counts by port, sequence errors, min/avg/max, jitter and percentiles off the histogram', () => {
    const l = latencyFromTrex(7, STATS, 0, 1);
    expect(l).toMatchObject({
      streamId: 7,
      sent: 1000,
      received: 997,
      lost: 3,
      reordered: 1,
      duplicated: 0,
      minUs: 12.5,
      avgUs: 41.3,
      maxUs: 2310,
      jitterUs: 6,
      hdrh: 'HISTFAAAA',
    });
    expect(l.histogram.map((b) => b.upToUs)).toEqual([10, 20, 30, 40, 60, 200, 3000]);
    // 997 samples: the 499th falls in 20-29 µs, the 898th in 30-39 µs, the 988th in 100-199 µs.
    expect([l.p50Us, l.p90Us, l.p99Us]).toEqual([30, 40, 200]);
  });

  it('says "none" of a stream that never came back, and names a pg_id TRex did not report', () => {
    const none = latencyFromTrex(7, { flow_stats: { '7': { tp: { '0': 50 } } }, latency: { '7': { lat: { histogram: {} }, er: { drp: 50 } } } }, 0, 1);
    expect(none).toMatchObject({ sent: 50, received: 0, lost: 50, minUs: 0, p50Us: null, p99Us: null });
    expect(() => latencyFromTrex(8, STATS, 0, 1)).toThrow(ParseError);
    expect(() => latencyFromTrex(8, STATS, 0, 1)).toThrow(/TRex's get_pgid_stats for pg_id 8/);
    const broken = { ...STATS, latency: { '7': { lat: { ...STATS.latency!['7']!.lat, average: Number.NaN } } } };
    expect(() => latencyFromTrex(7, broken, 0, 1)).toThrow(/a number in lat\.average/);
  });

  it('reads a percentile as the upper bound of its bucket', () => {
    expect(percentileOf([], 0.5)).toBeNull();
    expect(percentileOf([{ upToUs: 100, count: 1 }], 0.99)).toBe(100);
    expect(
      percentileOf(
        [
          { upToUs: 20, count: 50 },
          { upToUs: 10, count: 50 },
        ],
        0.5,
      ),
    ).toBe(10);
    expect(
      percentileOf(
        [
          { upToUs: 20, count: 50 },
          { upToUs: 10, count: 50 },
        ],
        0.51,
      ),
    ).toBe(20);
  });
});
