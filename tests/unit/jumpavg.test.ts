// jumpavg (lib/report/jumpavg.ts): the history split into groups by minimum
// description length, each marked against the one before it. Series of known
// steps must be split exactly there; pure noise must stay one group.
import { describe, expect, it } from 'vitest';
import { classify, groupBits } from '../../lib/report/jumpavg.js';

/** A seeded pseudo-random normal sample (Box-Muller over a linear congruential generator): the same noise every run. */
function noise(n: number, avg: number, stdev: number, seed = 7): number[] {
  let x = seed;
  const uniform = () => {
    x = (x * 1103515245 + 12345) % 2 ** 31;
    return (x + 1) / (2 ** 31 + 1);
  };
  return Array.from({ length: n }, () => avg + stdev * Math.sqrt(-2 * Math.log(uniform())) * Math.cos(2 * Math.PI * uniform()));
}

const shape = (values: number[]) => classify(values).map((g) => `${g.from}-${g.to} ${g.anomaly}`);

describe('jumpavg', () => {
  it('keeps pure noise one group, whatever its seed (no anomaly to report)', () => {
    for (const seed of [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]) expect(shape(noise(30, 40_000, 2_000, seed)), `seed ${seed}`).toEqual(['0-30 normal']);
  });

  it('splits a step down where it happened, a regression; a step up, a progression', () => {
    const down = [...noise(15, 40_000, 800, 3), ...noise(10, 34_000, 800, 4)];
    expect(shape(down)).toEqual(['0-15 normal', '15-25 regression']);
    const up = [...noise(12, 30_000, 600, 5), ...noise(12, 36_000, 600, 6)];
    expect(shape(up)).toEqual(['0-12 normal', '12-24 progression']);
    const g = classify(down);
    expect(g[0]!.avg).toBeCloseTo(40_000, -3);
    expect(g[1]!.avg).toBeCloseTo(34_000, -3);
  });

  it('sees a 10 % drop that the noise of a single pair hides, once enough runs show it', () => {
    // Neighbouring runs differ by up to ~9 % from noise alone; the drop is 10 % of the average.
    const series = [...noise(20, 50_000, 1_500, 11), ...noise(8, 45_000, 1_500, 12)];
    expect(shape(series)).toEqual(['0-20 normal', '20-28 regression']);
  });

  it('a run the DUT failed (zero) stands out as a group of its own between normal ones', () => {
    const series = [...noise(10, 40_000, 500, 21), 0, ...noise(5, 40_000, 500, 22)];
    expect(shape(series)).toEqual(['0-10 normal', '10-11 regression', '11-16 progression']);
  });

  it("prices a new group's average as CSIT does: far from the one before is likelier (that is why it is a new group) than near it", () => {
    const one = { n: 1, sum: 100, sumSq: 10_000 };
    expect(groupBits(one, 1000, 1, 900)).toBeLessThan(groupBits(one, 1000, 1, 100));
    expect(classify([])).toEqual([]);
    expect(shape([5])).toEqual(['0-1 normal']);
  });
});
