// IMIX and weighted mixes in the throughput suite: the testbed's
// throughput.frameSizes takes what traffic.frameSize takes (a size, imix, a
// weighted list), each a search keyed by its size or its mix's name; the
// rates in bits and the line rate at the mix's mean size; TRex's streams a
// stream per size at its share; the history and compare read the names.
import { afterAll, describe, expect, it } from 'vitest';
import { parseTestbed } from '../../lib/testbed/load.js';
import { byFrame, frameKey, frameKeyOf, framesPhrase, frameText, meanFrame, smallestFrame, weightsOf } from '../../lib/testbed/frame-mix.js';
import { lineRate, searchCeiling } from '../../lib/testbed/sizing.js';
import { IMIX } from '../../lib/testbed/traffic-schema.js';
import { sizePattern, streamFromTestbed } from '../../lib/traffic/stream.js';
import { writeStreamPcap } from '../../lib/traffic/pcap.js';
import { loadStreamId, smallestOf, trialMix } from '../../lib/traffic/trex/trial.js';
import { HistoryLineSchema } from '../../lib/results/schema.js';
import { MINIMAL_TESTBED as MINIMAL, testbedProblems } from '../helpers/fixtures.js';
import { TempDir } from '../helpers/pcaps.js';

const tmp = new TempDir();
afterAll(() => tmp.remove());

const withSizes = (sizes: string, more = '') => `${MINIMAL}throughput:\n  frameSizes: ${sizes}\n${more}`;

describe('a frame size or mix as the throughput suite keys it', () => {
  it('is the size, imix for the field’s 64/570/1518 at 7:4:1, or a name its sizes and weights read back from', () => {
    expect(frameKey(64)).toBe(64);
    expect(frameKey([{ size: 1518, weight: 5 }])).toBe(1518);
    expect(frameKey(IMIX)).toBe('imix');
    const mine = frameKey([
      { size: 64, weight: 3 },
      { size: 1518, weight: 1 },
    ]);
    expect(mine).toBe('mix-64x3-1518x1');
    expect(weightsOf(mine)).toEqual([
      { size: 64, weight: 3 },
      { size: 1518, weight: 1 },
    ]);
    expect(weightsOf('imix')).toEqual(IMIX);
    expect(() => weightsOf('jumbo')).toThrow('not a frame size or mix: jumbo');
    expect(frameKeyOf('64')).toBe(64);
    expect(frameKeyOf('imix')).toBe('imix');
  });

  it('has a mean size (IMIX: (7x64 + 4x570 + 1518) / 12 = 353.83 B) and a smallest size, and reads in words', () => {
    expect(meanFrame('imix')).toBeCloseTo(353.83, 2);
    expect(meanFrame(64)).toBe(64);
    expect(smallestFrame('mix-1518x1-128x2')).toBe(128);
    expect([frameText(64), frameText('imix'), frameText('mix-64x3-1518x1')]).toEqual(['64 B', 'IMIX', 'mix 64x3 1518x1']);
    expect([framesPhrase(64), framesPhrase('imix'), framesPhrase('mix-64x3-1518x1')]).toEqual([
      '64-byte frames',
      'IMIX (64/570/1518 B at 7:4:1)',
      'the mix of 64/1518 B at 3:1',
    ]);
    expect([1518, 'mix-64x3-1518x1', 64, 'imix'].sort(byFrame)).toEqual([64, 1518, 'imix', 'mix-64x3-1518x1']);
  });
});

describe('throughput.frameSizes in the testbed', () => {
  it('takes sizes, imix and weighted lists, a search each; the line rate at a mix is at its mean size', () => {
    const tb = parseTestbed(withSizes('[64, imix, [{ size: 64, weight: 3 }, { size: 1518, weight: 1 }]]', '  linkSpeedGbps: 10\n'));
    expect(tb.throughput.frameSizes.map(frameKey)).toEqual([64, 'imix', 'mix-64x3-1518x1']);
    // 10 Gb/s of IMIX: 10e9 / ((353.83 + 20) x 8) = 3.34 Mframes/s (TRex's imix.py and CSIT's figure).
    expect(searchCeiling(tb, 'imix')).toBe(lineRate(10, meanFrame('imix')));
    expect(searchCeiling(tb, 'imix')).toBe(3_343_736);
    expect(searchCeiling(tb, 64)).toBe(14_880_952);
  });

  it('refuses a mix searched twice, a weight of zero, and what is neither a size nor a mix, naming the entry', () => {
    expect(testbedProblems(withSizes('[imix, 64, [{ size: 64, weight: 7 }, { size: 570, weight: 4 }, { size: 1518, weight: 1 }]]'), 'bad.yaml')).toEqual([
      { path: 'throughput.frameSizes.2', message: 'IMIX is already searched (throughput.frameSizes.0)' },
    ]);
    expect(testbedProblems(withSizes('[64, [{ size: 64, weight: 0 }]]'), 'bad.yaml')).toEqual([
      { path: 'throughput.frameSizes.1.0.weight', message: 'a weight above 0: a size sent 0 times is not in the mix' },
    ]);
    expect(testbedProblems(withSizes('[64, imx]'), 'bad.yaml')).toEqual([
      { path: 'throughput.frameSizes.1', message: 'expected a frame size from 64 to 1518, imix, or a list of {size, weight}' },
    ]);
  });
});

describe("a mix's trial on TRex", () => {
  it('is a stream per size at its share of the rate, from the trial pcap; the latency stream of the smallest size', async () => {
    const tb = parseTestbed(withSizes('[imix]'));
    const file = tmp.file('imix-trial.pcap', '');
    writeStreamPcap(file, streamFromTestbed(tb, 1, { count: 1008, sizes: sizePattern(IMIX) }));
    const mix = await trialMix(file);
    // Frames in the pcap lack their 4-byte FCS.
    expect(mix.map((p) => [p.frame.length, p.share])).toEqual([
      [60, 7 / 12],
      [566, 4 / 12],
      [1514, 1 / 12],
    ]);
    expect(smallestOf(mix).length).toBe(60);
    expect(mix.map((_, i) => loadStreamId(i))).toEqual([1, 11, 21]);
  });
});

describe("a mix's results as the history keeps them", () => {
  const line = (frame: unknown) => ({
    runId: 'r1',
    startedAt: '2026-12-07T00:00:00.000Z',
    testbed: 'lab',
    profile: 'virtual',
    suites: ['throughput'],
    versions: {},
    verdict: 'pass',
    throughput: [{ frame, goal: 'NDR', lower: 1000, upper: 1100, limitedByGenerator: false }],
  });

  it('reads a size or a mix’s name, and refuses anything else naming the field', () => {
    for (const frame of [64, 'imix', 'mix-64x3-1518x1']) expect(HistoryLineSchema.safeParse(line(frame)).success, String(frame)).toBe(true);
    const bad = HistoryLineSchema.safeParse(line('jumbo'));
    expect(bad.success).toBe(false);
    expect(bad.error!.issues[0]!.path).toEqual(['throughput', 0, 'frame']);
  });
});
