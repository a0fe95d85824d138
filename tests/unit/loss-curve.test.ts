// RFC 2544's frame loss rate around the NDR (issue 44), without a lab: the
// trials at the testbed's shares of the NDR, a load above the generator's
// ceiling not offered (and said), a trial the generator fell short in kept
// with no loss ratio (not the DUT's), the table; the testbed's refusals.
import { describe, expect, it } from 'vitest';
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
      ['64', '1.8 x NDR', '9000', '8000', '5000', 'not measured (the generator fell short)'],
    ]);
    expect(lossCurveTable([{ frame: 64 }])).toBeNull();
  });

  it('is refused with loads that do not rise, or none', () => {
    expect(testbedProblems(`${MINIMAL}throughput: { lossCurve: { loads: [1, 0.5] } }\n`)).toEqual([
      { path: 'throughput.lossCurve.loads', message: 'rising, each once' },
    ]);
    expect(testbedProblems(`${MINIMAL}throughput: { lossCurve: { loads: [] } }\n`)[0]!.path).toBe('throughput.lossCurve.loads');
  });
});
