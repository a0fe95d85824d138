// TRex's latency statistics (get_pgid_stats, in trex-core's shape: flow_stats'
// tp/rp by port, latency's lat and er) read into dutlab's latency result.
import { describe, expect, it } from 'vitest';
import { ParseError } from '../../lib/errors.js';
import { percentileOf } from '../../lib/results/latency.js';
import { pgIdOf } from '../../lib/traffic/trex/streams.js';
import { generatorHealth, latencyFromTrex, TREX_BUSY_CPU, trexBucketUpperUs, type TrexPgidStats } from '../../lib/traffic/trex/stats.js';

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

describe("TRex's figures read by TRex's rules", () => {
  it('counts the tail TRex never calls a gap: lost is sent - received, whatever er.drp says', () => {
    const tail = { ...STATS, latency: { '7': { ...STATS.latency!['7']!, er: { drp: 0 } } } };
    expect(latencyFromTrex(7, tail, 0, 1).lost).toBe(3);
  });

  it('names the average as TRex\'s filtered one, and a period TRex never folded "not measured"', () => {
    expect(latencyFromTrex(7, STATS, 0, 1)).toMatchObject({ avgIs: 'trex-filtered' });
    expect(latencyFromTrex(7, STATS, 0, 1).invalid).toBeUndefined();
    const unfolded = (lat: object) =>
      latencyFromTrex(7, { ...STATS, latency: { '7': { lat: { ...STATS.latency!['7']!.lat, ...lat }, er: {} } } }, 0, 1).invalid;
    expect(unfolded({ total_max: 0, average: 0 })).toMatch(
      /^not measured: TRex folded no latency period of the stream \(total_max 0\); a latency trial needs at least 1 s/,
    );
    expect(unfolded({ total_min: 2147483647 })).toMatch(/^not measured: TRex's total_min 2147483647 is out of range \(total_max 2310\)/);
  });

  it("puts a trial where TRex's errors grew or its CPU ran out on the generator, naming which", () => {
    const h = (o: number, i: number, cpu: number) => ({ 0: { oerrors: o, ierrors: 0 }, 1: { oerrors: 0, ierrors: i }, cpu });
    const ports = { transmit: 0, receive: 1 };
    expect(generatorHealth(h(0, 0, 10), h(0, 0, 50), ports)).toBeNull();
    expect(generatorHealth(h(1, 2, 10), h(4, 2, 10), ports)).toBe("the generator fell behind or erred: TRex port 0's oerrors grew by 3");
    expect(generatorHealth(h(0, 0, 10), h(0, 7, TREX_BUSY_CPU), ports)).toBe(
      `the generator fell behind or erred: TRex port 1's ierrors grew by 7, TRex's CPU at ${TREX_BUSY_CPU} %`,
    );
  });

  it("gives each run's latency stream a pg_id of its own, the suite's id kept in the low bits", () => {
    const a = pgIdOf('20261206-190808-6279', 7);
    expect(pgIdOf('20261206-190808-6279', 7)).toBe(a);
    expect(pgIdOf('20261206-190808-6280', 7)).not.toBe(a);
    expect(a % 16).toBe(7);
    expect(a).toBeLessThan(2 ** 21);
  });
});
