// A DUT of known capacity: the bucket a generator's frames fit through
// (lib/traffic/spacing.ts), and the rule that makes it (lib/vlab/capacity.ts),
// refused where a value could reach nft's command line unchecked.
import { describe, expect, it } from 'vitest';
import { burstFor } from '../../lib/traffic/spacing.js';
import { capacityRule } from '../../lib/vlab/capacity.js';

describe("a generator's burst against a bucket", () => {
  it('is one frame for frames evenly spaced at the rate, or slower', () => {
    const even = Array.from({ length: 1000 }, (_, i) => i * 200); // 5000 frames/s
    expect(burstFor(even, 5000)).toBeCloseTo(1, 6);
    expect(burstFor(even, 10_000)).toBeCloseTo(1, 6);
  });

  it('is the size of the bunches where frames leave in bunches: eight at once every 1.6 ms, at 5000 frames/s', () => {
    const bunched = Array.from({ length: 800 }, (_, i) => Math.floor(i / 8) * 1600 + (i % 8));
    expect(burstFor(bunched, 5000)).toBeCloseTo(8, 1);
  });

  it('grows when the generator sends faster than the bucket refills: a second at 6000 frames/s into 5000 leaves 1000 over', () => {
    const fast = Array.from({ length: 6000 }, (_, i) => (i * 1e6) / 6000);
    expect(burstFor(fast, 5000)).toBeCloseTo(1000, -1);
    expect(burstFor([], 5000)).toBe(0);
  });
});

describe("the guest's capacity rule", () => {
  it('limits the stream from its source in a table of its own, flushed first so that a new rate replaces the old one', () => {
    expect(capacityRule('1.1.1.1', 4500, 35)).toBe(
      "nft 'add table ip dutlab_capacity; add chain ip dutlab_capacity forward { type filter hook forward priority 0; }; flush chain ip dutlab_capacity forward; add rule ip dutlab_capacity forward ip saddr 1.1.1.1 limit rate over 4500/second burst 35 packets counter drop'",
    );
  });

  it('refuses what is not an address or a whole rate', () => {
    expect(() => capacityRule('1.1.1.1; reboot', 5000, 35)).toThrow(/is not an IPv4 address/);
    expect(() => capacityRule('1.1.1.1', 4500.5, 35)).toThrow(/whole numbers above 0/);
    expect(() => capacityRule('1.1.1.1', 5000, 0)).toThrow(/whole numbers above 0/);
  });
});
