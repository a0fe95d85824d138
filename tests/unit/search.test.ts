// The throughput search on simulated DUTs with known loss curves: the bounds
// it returns must bracket the true NDR and PDR within the asked width, through
// expansion, bisection, noise, the generator's limit and the caps.
import { describe, expect, it } from 'vitest';
import { noNdr } from '../../lib/suite/throughput/cases.js';
import { DEFAULT_GOALS, bitsPerSecond, searchThroughput, type Measurement, type SearchConfig } from '../../lib/throughput/search.js';

/** A deterministic random source, so that a noisy DUT fails the same way every time. */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 2 ** 32;
  };
}

interface Dut {
  /** Up to this, no loss. */
  lossless: number;
  /** Above `lossless` and up to this, this loss ratio; above it, whatever does not fit. */
  capacity: number;
  lightLoss: number;
  /** The generator cannot offer more than this. */
  generator?: number;
  /** A trial below `lossless` loses a frame with this probability. */
  glitch?: number;
  seed?: number;
}

/** A simulated DUT and generator, and a clock that trials advance (plus a second of overhead each). */
function simulated(d: Dut) {
  const random = rng(d.seed ?? 7);
  let clock = 0;
  const trials: Measurement[] = [];
  const measure = async (rate: number, durationS: number): Promise<Measurement> => {
    clock += durationS + 1;
    const offered = Math.round(rate * durationS);
    const sent = d.generator !== undefined && rate > d.generator ? Math.round(d.generator * durationS) : offered;
    const r = sent / durationS;
    let lost = r <= d.lossless ? 0 : r <= d.capacity ? Math.ceil(sent * d.lightLoss) : Math.round(sent - d.capacity * durationS * (1 - d.lightLoss));
    if (r <= d.lossless && d.glitch && random() < d.glitch) lost = 1;
    const m = { rate, durationS, offered, sent, received: sent - lost, lossRatio: lost / sent, generatorShort: sent < offered * 0.99 };
    trials.push(m);
    return m;
  };
  return { measure, now: () => clock, trials };
}

const config = (over: Partial<SearchConfig> = {}): SearchConfig => ({
  goals: DEFAULT_GOALS,
  minRate: 1000,
  maxRate: 1_000_000,
  maxTrials: 100,
  maxSearchS: 600,
  ...over,
});

/** The truth for the default goals: NDR is `lossless`; PDR the highest rate whose loss is at most 0.5 %. */
const truePdr = (d: Dut) => (d.lightLoss <= 0.005 ? (d.capacity / (1 - 0.005)) * (1 - d.lightLoss) : d.lossless);

describe('the throughput search (MLRsearch) on simulated DUTs', () => {
  it('brackets NDR and PDR within the asked width, expanding down from the maximum and bisecting', async () => {
    const dut: Dut = { lossless: 40_000, capacity: 50_000, lightLoss: 0.001 };
    const sim = simulated(dut);
    const r = await searchThroughput(config(), sim.measure, sim.now);
    const [ndr, pdr] = r.goals;
    expect(ndr!.lowerBound!).toBeLessThanOrEqual(40_000);
    expect(ndr!.upperBound!).toBeGreaterThan(40_000);
    expect(ndr!.relativeWidth!).toBeLessThanOrEqual(0.05);
    expect(pdr!.lowerBound!).toBeLessThanOrEqual(truePdr(dut));
    expect(pdr!.upperBound!).toBeGreaterThan(truePdr(dut));
    expect(pdr!.relativeWidth!).toBeLessThanOrEqual(0.05);
    expect(ndr!.limitedByGenerator).toBe(false);
    // Expansion: the first trial is at the maximum, the next toward the rate the DUT forwarded there.
    expect(r.trials[0]!.rate).toBe(1_000_000);
    expect(r.trials[1]!.rate).toBeLessThan(100_000);
    // The bounds reported were decided by full-length trials adding up to the duration sum.
    const at = (rate: number) => r.trials.filter((t) => t.rate === rate && t.durationS === 2);
    expect(at(ndr!.lowerBound!).reduce((a, t) => a + t.durationS, 0)).toBeGreaterThanOrEqual(3);
    expect(ndr!.conditionalThroughput).toBe(ndr!.lowerBound);
    expect(r.trials.length).toBeLessThanOrEqual(100);
  });

  it('is not thrown by a rare glitch below NDR: one exceeding trial of three does not make a load an upper bound', async () => {
    for (const seed of [1, 2, 3, 4, 5]) {
      const dut: Dut = { lossless: 60_000, capacity: 60_000, lightLoss: 0, glitch: 0.05, seed };
      const sim = simulated(dut);
      const [ndr] = (await searchThroughput(config({ goals: [DEFAULT_GOALS[0]!] }), sim.measure, sim.now)).goals;
      expect(ndr!.lowerBound!, `seed ${seed}`).toBeLessThanOrEqual(60_000);
      // A glitch can only make the search cautious, within two widths.
      expect(ndr!.upperBound!, `seed ${seed}`).toBeGreaterThan(60_000 * (1 - 0.05) ** 2);
      expect(ndr!.relativeWidth!).toBeLessThanOrEqual(0.05);
      // What the trials showed, glitches included: a load below NDR exceeded, one above it passed.
      expect(ndr!.spread.highestPass!).toBeGreaterThanOrEqual(ndr!.lowerBound!);
    }
    const sim = simulated({ lossless: 60_000, capacity: 60_000, lightLoss: 0, glitch: 0.05, seed: 3 });
    await searchThroughput(config({ goals: [DEFAULT_GOALS[0]!] }), sim.measure, sim.now);
    expect(sim.trials.some((t) => t.rate <= 60_000 && t.lossRatio > 0)).toBe(true);
  });

  it('says when the generator is the limit: the lower bound is as much as it could offer, with no upper bound', async () => {
    const sim = simulated({ lossless: 400_000, capacity: 400_000, lightLoss: 0, generator: 120_000 });
    const r = await searchThroughput(config(), sim.measure, sim.now);
    expect(r.generatorLimit).toBe(117_600);
    for (const g of r.goals) {
      expect(g.lowerBound).toBe(117_600);
      expect(g.upperBound).toBeNull();
      expect(g.limitedByGenerator).toBe(true);
    }
  });

  it('finds no lower bound when even the minimum load exceeds the goal', async () => {
    const sim = simulated({ lossless: 0, capacity: 500, lightLoss: 0.02 });
    const [ndr] = (await searchThroughput(config({ goals: [DEFAULT_GOALS[0]!] }), sim.measure, sim.now)).goals;
    expect(ndr!.lowerBound).toBeNull();
    expect(ndr!.upperBound).toBe(1000);
  });

  it('stops at its caps, keeping only what was decided', async () => {
    const dut: Dut = { lossless: 40_000, capacity: 50_000, lightLoss: 0.001 };
    let sim = simulated(dut);
    let r = await searchThroughput(config({ maxTrials: 6 }), sim.measure, sim.now);
    expect(r.trials).toHaveLength(6);
    expect(r.goals[0]!.stoppedBy).toBe('stopped by the cap of 6 trials');
    expect(r.goals).toHaveLength(1);
    sim = simulated(dut);
    r = await searchThroughput(config({ maxSearchS: 20 }), sim.measure, sim.now);
    // No trial starts that would run past the cap (its own overhead, a second here, is not known in advance).
    expect(sim.now()).toBeLessThanOrEqual(20 + 1);
    expect(r.goals[0]!.stoppedBy).toBe('stopped by the cap of 20 s on the search');
  });

  it("names a search its cap stopped before any load passed by what its trials showed, never as the minimum load's loss", async () => {
    // A DUT that loses a frame in a thousand at every load, a cap of 8 s: the search gets to a few trials near the top.
    const dut: Dut = { lossless: 0, capacity: 10_000_000, lightLoss: 0.001 };
    const sim = simulated(dut);
    const [ndr] = (await searchThroughput(config({ goals: [DEFAULT_GOALS[0]!], maxSearchS: 8 }), sim.measure, sim.now)).goals;
    expect(ndr!.lowerBound).toBeNull();
    expect(ndr!.stoppedBy).toBe('stopped by the cap of 8 s on the search');
    const lowest = Math.min(...sim.trials.map((t) => t.rate));
    expect(lowest).toBeGreaterThan(1000);
    expect(noNdr(64, ndr!, 1000)).toBe(
      `at 64-byte frames every load tried, down to ${lowest} frames/s, lost frames; the search was stopped by the cap of 8 s on the search before it tried one down to 1000 frames/s (NDR not bounded)`,
    );
    // Uncapped, down to the minimum: the minimum is named.
    const all = simulated(dut);
    const [down] = (await searchThroughput(config({ goals: [DEFAULT_GOALS[0]!] }), all.measure, all.now)).goals;
    expect(noNdr(64, down!, 1000)).toBe('at 64-byte frames no load down to 1000 frames/s was forwarded without loss (NDR below the minimum load)');
  });

  it('stops as soon as the bounds are narrow enough: a wider goal takes fewer trials', async () => {
    const dut: Dut = { lossless: 40_000, capacity: 40_000, lightLoss: 0 };
    const narrow = simulated(dut);
    const wide = simulated(dut);
    const n = await searchThroughput(config({ goals: [{ ...DEFAULT_GOALS[0]!, relativeWidth: 0.005 }] }), narrow.measure, narrow.now);
    const w = await searchThroughput(config({ goals: [{ ...DEFAULT_GOALS[0]!, relativeWidth: 0.2 }] }), wide.measure, wide.now);
    expect(n.goals[0]!.relativeWidth!).toBeLessThanOrEqual(0.005);
    expect(w.goals[0]!.relativeWidth!).toBeLessThanOrEqual(0.2);
    expect(w.trials.length).toBeLessThan(n.trials.length);
  });

  it('reports bits per second at L2 and at L1 (20 bytes more a frame)', () => {
    expect(bitsPerSecond(1_000_000, 64)).toEqual({ l2: 512_000_000, l1: 672_000_000 });
  });
});
