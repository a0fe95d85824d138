// A soak's memory verdict: a watched process's resident memory, sampled every
// interval, fitted by a line after its settling time (a step at start-up is
// not growth), and flagged only where the slope's lower 95 % bound is above
// the testbed's bound per hour: growth shown, not noise. Pure.
import type { Growth } from '../results/soak.js';

export type { Growth };
import { fitLine, t95 } from '../results/stats.js';

const PER_HOUR = 3600 / 1024; // kB/s to MB/h

/** The growth of one process's samples ([seconds into the soak, resident kB]). */
export function memoryGrowth(name: string, samples: ReadonlyArray<readonly [number, number]>, settleS: number, boundMbPerHour: number): Growth {
  const fitted = samples.filter(([t]) => t >= settleS);
  const line = fitLine(fitted);
  const base = { name, fitted: fitted.length, firstKb: fitted[0]?.[1] ?? null, lastKb: fitted.at(-1)?.[1] ?? null, boundMbPerHour };
  if (!line || line.se === null)
    return {
      ...base,
      slopeMbPerHour: null,
      lowMbPerHour: null,
      highMbPerHour: null,
      flagged: false,
      text: `${name}: not measured (${fitted.length} samples after ${settleS} s)`,
    };
  const slope = line.slope * PER_HOUR;
  const margin = t95(fitted.length - 2) * line.se * PER_HOUR;
  const [low, high] = [slope - margin, slope + margin];
  const flagged = low > boundMbPerHour;
  const r = (x: number) => (Math.abs(x) >= 10 ? x.toFixed(0) : x.toFixed(2));
  const text =
    `${name}: resident memory ${r(slope)} MB/h (95 %: ${r(low)} to ${r(high)}) over ${fitted.length} samples, ${base.firstKb} kB to ${base.lastKb} kB` +
    `${flagged ? `: GROWS beyond ${boundMbPerHour} MB/h` : ''}`;
  return { ...base, slopeMbPerHour: slope, lowMbPerHour: low, highMbPerHour: high, flagged, text };
}
