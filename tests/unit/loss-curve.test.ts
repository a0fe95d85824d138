// RFC 2544's frame loss rate around the NDR (issue 44), without a lab: the
// trials at the testbed's shares of the NDR, a load above the generator's
// ceiling not offered (and said), a trial the generator fell short in kept
// with no loss ratio (not the DUT's), the table; the testbed's refusals;
// `compare` reading the curves and the soaks.
import { describe, expect, it } from 'vitest';
import { compareBeyondNdr } from '../../lib/report/compare-beyond.js';
import type { RunRecord } from '../../lib/results/run.js';
import { lossCurve, lossCurveTable } from '../../lib/suite/throughput/loss-curve.js';
import type { MeasuringTrafficGenerator, Trial } from '../../lib/traffic/tg.js';
import { MINIMAL_TESTBED as MINIMAL, testbedProblems } from '../helpers/fixtures.js';

/** A generator in front of a DUT that drops above `capacity`, short of frames above `short`. */
function generator(capacity: number, short: number): MeasuringTrafficGenerator & { asked: Trial[] } {
  const asked: Trial[] = [];
  return {
    asked,
    measure: async (t: Trial) => {
      asked.push(t);
      const sent = Math.round(Math.min(t.rate, short) * t.durationS);
      const received = Math.round(Math.min(t.rate, short, capacity) * t.durationS);
      return {
        offered: t.rate * t.durationS,
        sent,
        received,
        lossRatio: (sent - received) / sent,
        generatorShort: t.rate > short,
        achievedRate: sent / t.durationS,
      };
    },
  } as unknown as MeasuringTrafficGenerator & { asked: Trial[] };
}

describe('the loss curve', () => {
  it('offers each share of the NDR for the stated time, and reads what a DUT of known capacity drops', async () => {
    const tg = generator(5000, 1e9);
    const notes: string[] = [];
    const points = await lossCurve(tg, 64, 5000, { loads: [0.5, 1.5, 2], durationS: 2 }, 1e6, (l) => notes.push(l));
    expect(tg.asked.map((t) => [t.rate, t.durationS])).toEqual([
      [2500, 2],
      [7500, 2],
      [10000, 2],
    ]);
    expect(points.map((p) => p.lossRatio)).toEqual([0, 5000 / 15000, 0.5]);
    expect(notes).toEqual([]);
  });

  it('does not offer a load above the ceiling, and keeps a trial the generator fell short in without a ratio', async () => {
    const notes: string[] = [];
    const points = await lossCurve(generator(5000, 8000), 64, 5000, { loads: [1.8, 3], durationS: 1 }, 12000, (l) => notes.push(l));
    expect(points).toEqual([{ share: 1.8, rate: 9000, sent: 8000, received: 5000, lossRatio: null, generatorShort: true }]);
    expect(notes).toEqual(["loss curve: 3 x the NDR (15000 frames/s) is above the generator's ceiling of 12000 frames/s: not offered"]);
    expect(lossCurveTable([{ frame: 64, lossCurve: points }])!.rows).toEqual([
      ['64', '1.8 x NDR', '9000', '8000', '5000', 'not measured (the generator fell short)', 'not measured', 'not measured'],
    ]);
    expect(lossCurveTable([{ frame: 64 }])).toBeNull();
  });

  it('rides the latency stream on each load where asked: its p50 and p99 beside the loss ratio; none returned is not measured, never a guess', async () => {
    const tg = generator(5000, 1e9);
    const measure = tg.measure.bind(tg);
    const latency = {
      streamId: 7,
      sent: 200,
      received: 190,
      lost: 10,
      reordered: 0,
      duplicated: 0,
      minUs: 50,
      avgUs: 80,
      maxUs: 900,
      jitterUs: 5,
      p50Us: 70,
      p90Us: 120,
      p99Us: 400,
      histogram: [],
    };
    let asked: Trial['latency'];
    tg.measure = async (t: Trial) => {
      asked = t.latency;
      return { ...(await measure(t)), ...(t.rate > 6000 ? {} : { latency }) };
    };
    const points = await lossCurve(tg, 64, 5000, { loads: [0.5, 2], durationS: 1, latency: true }, 1e6, () => undefined, { streamId: 7, rate: 100 });
    expect(asked).toEqual({ streamId: 7, rate: 100 });
    expect(points.map((p) => p.latency)).toEqual([
      { received: 190, lost: 10, p50Us: 70, p99Us: 400, maxUs: 900 },
      { received: 0, lost: 0, p50Us: null, p99Us: null, maxUs: null, invalid: 'the generator returned no latency for the trial' },
    ]);
    expect(lossCurveTable([{ frame: 64, lossCurve: points }])!.rows.map((r) => r.slice(6))).toEqual([
      ['70', '400'],
      ['not measured (the generator returned no latency for the trial)', 'not measured (the generator returned no latency for the trial)'],
    ]);
    // Not asked (throughput.lossCurve.latency false): no stream, no figure.
    const plain = await lossCurve(generator(5000, 1e9), 64, 5000, { loads: [0.5], durationS: 1, latency: false }, 1e6, () => undefined, {
      streamId: 7,
      rate: 100,
    });
    expect(plain[0]!.latency).toBeUndefined();
  });

  it('is refused with loads that do not rise, or none', () => {
    expect(testbedProblems(`${MINIMAL}throughput: { lossCurve: { loads: [1, 0.5] } }\n`)).toEqual([
      { path: 'throughput.lossCurve.loads', message: 'rising, each once' },
    ]);
    expect(testbedProblems(`${MINIMAL}throughput: { lossCurve: { loads: [] } }\n`)[0]!.path).toBe('throughput.lossCurve.loads');
  });
});

describe('compare beyond NDR', () => {
  const record = (measured: object[]): RunRecord =>
    ({
      run: { runId: 'r', testbedName: 't', profile: 'virtual', versions: {}, suites: measured.map((m) => ({ suite: 's', measured: m, cases: [] })) },
      cases: [],
    }) as unknown as RunRecord;
  const curve = (ratios: Array<number | null>) => ({
    kind: 'throughput',
    results: [
      {
        frame: 64,
        goals: [],
        trials: [],
        lossCurve: ratios.map((r, i) => ({ share: [0.5, 2][i], rate: 1, sent: 1, received: 1, lossRatio: r, generatorShort: r === null })),
      },
    ],
  });
  const soak = (events: number, flagged: boolean) => ({
    kind: 'soak',
    durationS: 60,
    gaps: { events },
    growth: [{ name: 'ovs-vswitchd', slopeMbPerHour: flagged ? 400 : 1, flagged, boundMbPerHour: 50 }],
  });

  it("names a loss ratio risen beyond the threshold at a share of the NDR; a short generator's point is not compared", () => {
    const c = compareBeyondNdr(record([curve([0, 0.5])]), record([curve([0, 0.7])]), 0.1, 0.5);
    expect(c.regressions).toEqual(['loss ratio at 2 x the NDR at 64-byte frames rose: 0.700 now, 0.500 in the baseline (threshold 0.1)']);
    expect(compareBeyondNdr(record([curve([0, 0.5])]), record([curve([0, 0.55])]), 0.1, 0.5).regressions).toEqual([]);
    expect(compareBeyondNdr(record([curve([0, 0.5])]), record([curve([null, 0.5])]), 0.1, 0.5).changes).toEqual([
      'loss ratio at 0.5 x the NDR at 64-byte frames: not compared (the generator fell short in one of them)',
    ]);
  });

  it("names a soak whose worst latency window's p99 rose beyond the latency threshold; one whose latency was not read is not compared", () => {
    const windows = (p99: number, invalid?: string) => ({
      ...soak(0, false),
      latencyWindows: [10, p99, 20].map((x, i) => ({ fromS: i * 10, n: 100, p50Us: 5, p99Us: x, maxUs: x })),
      ...(invalid ? { latencyInvalid: invalid } : {}),
    });
    expect(compareBeyondNdr(record([windows(400)]), record([windows(700)]), 0.1, 0.5).regressions).toEqual([
      "soak: the worst window's p99 rose: 700 µs now, 400 µs in the baseline (threshold 50 %)",
    ]);
    expect(compareBeyondNdr(record([windows(400)]), record([windows(590)]), 0.1, 0.5).regressions).toEqual([]);
    expect(compareBeyondNdr(record([windows(400)]), record([windows(9000, 'a capture missed frames')]), 0.1, 0.5).regressions).toEqual([]);
  });

  it("names a soak's process that grows now and did not, and its loss events side by side", () => {
    const c = compareBeyondNdr(record([soak(0, false)]), record([soak(3, true)]), 0.1, 0.5);
    expect(c.regressions).toEqual(["soak: ovs-vswitchd's memory grows now: 400.0 MB/h, 1.0 MB/h in the baseline (bound 50 MB/h)"]);
    expect(c.changes).toEqual(['soak: 3 loss events over 60 s now, 0 over 60 s in the baseline']);
    expect(compareBeyondNdr(record([]), record([soak(0, false)]), 0.1, 0.5).changes).toEqual(['soak: measured now, not in the baseline']);
  });
});
