// How a generator spaces its frames, as a token bucket sees it: the smallest
// bucket that a sequence of frames fits through at a given rate. A shaper
// sized below it drops frames of a load it should pass; the virtual lab's DUT
// of known capacity (lib/vlab/capacity.ts) is sized from it. Pure.

/**
 * The conformance burst of frames sent at `timesUs` (microseconds, in order)
 * against a bucket refilled at `rate` frames/s: the fewest tokens the bucket
 * must hold so that none of them is dropped. For every pair i <= j, the j-i+1
 * frames between them may use what the bucket held plus what it refilled in
 * between: B = max over i <= j of (j - i + 1) - rate * (t_j - t_i). One pass.
 */
export function burstFor(timesUs: readonly number[], rate: number): number {
  if (timesUs.length === 0) return 0;
  const perUs = rate / 1e6;
  let best = 1;
  // min over i <= j of (i - perUs * t_i), kept as j goes.
  let lowest = Number.POSITIVE_INFINITY;
  timesUs.forEach((t, j) => {
    lowest = Math.min(lowest, j - perUs * t);
    best = Math.max(best, j + 1 - perUs * t - lowest);
  });
  return best;
}
