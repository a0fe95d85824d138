// The figures of RFC 2544's back-to-back frames (26.4) as RFC 9004 asks them
// reported, from the repetitions lib/throughput/back-to-back.ts found: their
// mean and spread, the generator's burst rate, the implied buffer time and
// the buffer corrected for the frames the DUT forwarded during the burst.
// Pure.
import type { Repetition } from '../throughput/back-to-back.js';
import { mean, sd } from './stats.js';
import type { BackToBackResult } from './throughput.js';

/**
 * The figures of the repetitions. The burst rate is the generator's in each
 * repetition's longest lossless burst (sent over its seconds), over all of
 * them; `throughput` (the search's NDR, frames/s) corrects the buffer.
 */
export function backToBackResult(reps: readonly Repetition[], maxBurst: number, throughput: number | null): BackToBackResult {
  const bursts = reps.map((r) => r.frames);
  const longest = reps.flatMap((r) => r.bursts.filter((b) => b.frames === r.frames && b.seconds > 0));
  const sentIn = longest.reduce((a, b) => a + b.sent, 0);
  const secondsIn = longest.reduce((a, b) => a + b.seconds, 0);
  const burstRate = secondsIn > 0 ? sentIn / secondsIn : 0;
  const meanFrames = mean(bursts);
  const ms = (frames: number, rate: number) => (rate > 0 ? Math.round((frames / rate) * 1e6) / 1e3 : 0);
  // Frames the DUT forwarded while the burst lasted (meanFrames / burstRate seconds) at its throughput were never buffered.
  const corrected = throughput !== null && burstRate > 0 ? Math.max(0, meanFrames * (1 - throughput / burstRate)) : null;
  return {
    bursts,
    unbounded: bursts.filter((b) => b === maxBurst).length,
    maxBurst,
    trials: reps.reduce((a, r) => a + r.bursts.length, 0),
    meanFrames,
    sdFrames: sd(bursts),
    burstRate: Math.round(burstRate),
    throughput,
    impliedBufferMs: ms(meanFrames, burstRate),
    correctedFrames: corrected === null ? null : Math.round(corrected * 10) / 10,
    correctedBufferMs: corrected === null ? null : ms(corrected, burstRate),
    drainMs: corrected === null || !throughput ? null : ms(corrected, throughput),
  };
}
