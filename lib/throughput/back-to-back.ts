// RFC 2544's back-to-back frames (26.4), as RFC 9004 updates it: the longest
// burst at the generator's utmost rate the DUT forwards without loss, found by
// halving between 1 and a longest burst, repeated, and their mean; the buffer
// time it implies, and that corrected for the frames the DUT forwarded during
// the burst at its measured throughput (lib/results/back-to-back.ts). Pure:
// the bursts come from a `send` function, so that the search is tested on
// simulated DUTs without a lab.
import { CaptureError, GeneratorShortError } from '../errors.js';

/** One burst as the generator sent it and what came back. */
export interface Burst {
  frames: number;
  sent: number;
  received: number;
  /** How long it lasted leaving the generator (s), as captured there. */
  seconds: number;
  /** Frames of it the capture of what left holds. */
  captured: number;
}

export type SendBurst = (frames: number) => Promise<Burst>;

/** One repetition's answer: the longest burst without loss (0: a burst of one lost), and the bursts that found it. */
export interface Repetition {
  frames: number;
  bursts: Burst[];
}

/** A burst the generator did not send whole says nothing of the DUT. */
async function lossless(send: SendBurst, frames: number, bursts: Burst[]): Promise<boolean> {
  const b = await send(frames);
  if (b.sent < frames) throw new GeneratorShortError(`back-to-back: the generator sent ${b.sent} of a burst of ${frames} frames`);
  // Its rate is read from the capture of what left: one that missed frames would make the burst look faster.
  if (b.captured < b.sent) throw new CaptureError(`back-to-back: the capture of a burst leaving the generator holds ${b.captured} of its ${b.sent} frames`);
  bursts.push(b);
  return b.received >= b.sent;
}

/**
 * The longest lossless burst in [1, maxBurst], to one frame. The first
 * repetition (no `near`) tries maxBurst, then halves; a later one starts at
 * the last answer and steps away from it by doubling until it brackets the
 * answer, then halves: the same answer in far fewer bursts where the DUT
 * repeats itself.
 */
export async function longestBurst(send: SendBurst, maxBurst: number, near?: number): Promise<Repetition> {
  const bursts: Burst[] = [];
  // lo passes (0: nothing known to), hi fails (maxBurst + 1: nothing known to).
  let lo = 0;
  let hi = maxBurst + 1;
  if (near === undefined || near < 1 || near > maxBurst) {
    if (await lossless(send, maxBurst, bursts)) return { frames: maxBurst, bursts };
    hi = maxBurst;
  } else if (await lossless(send, near, bursts)) {
    lo = near;
    for (let step = 1; hi === maxBurst + 1; step *= 2) {
      const x = Math.min(maxBurst, lo + step);
      if (await lossless(send, x, bursts)) lo = x;
      else hi = x;
      if (lo === maxBurst) return { frames: maxBurst, bursts };
    }
  } else {
    hi = near;
    for (let step = 1; lo === 0 && hi > 1; step *= 2) {
      const x = Math.max(1, hi - step);
      if (await lossless(send, x, bursts)) lo = x;
      else hi = x;
    }
  }
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    if (await lossless(send, mid, bursts)) lo = mid;
    else hi = mid;
  }
  return { frames: lo, bursts };
}

/** `repeats` repetitions, each starting from the last one's answer. */
export async function backToBackSearch(send: SendBurst, maxBurst: number, repeats: number): Promise<Repetition[]> {
  const out: Repetition[] = [];
  for (let i = 0; i < repeats; i++) out.push(await longestBurst(send, maxBurst, out.at(-1)?.frames));
  return out;
}
