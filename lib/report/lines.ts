// The terminal's lines of what a run measured, printed by `dutlab run` after
// its verdict: each throughput goal's bounds, the latency at each load. Pure.
import { loadName, type ThroughputResult } from '../results/throughput.js';
import { frameText } from '../testbed/frame-mix.js';

/** Frames/s in millions, as the tables and lines write them. */
export const mfps = (x: number) => `${(x / 1e6).toFixed(3)}`;
/** Bits/s in millions. */
export const mbps = (x: number) => `${(x / 1e6).toFixed(1)}`;
/** Microseconds to a tenth; "-" for a figure not measured. */
export const usText = (x: number | null | undefined) => (x === null || x === undefined ? '-' : String(Math.round(x * 10) / 10));

/** Each goal's answer as the terminal shows it after a run: "NDR (loss 0) at 64 B: 0.041..0.043 Mfps, L1 27.9 Mb/s". */
export function throughputLines(results: ThroughputResult[]): string[] {
  return results.flatMap((r) =>
    r.goals.map((g) => {
      const lower = g.lowerBound !== null ? mfps(g.lowerBound) : 'none';
      const upper = g.upperBound !== null ? mfps(g.upperBound) : g.limitedByGenerator ? `limited by the generator (${mfps(r.maxRate)})` : '-';
      const note = [g.limitedByGenerator ? `${g.goal} >= ${mfps(g.lowerBound ?? 0)} Mfps, limited by the generator` : '', g.stoppedBy ?? '']
        .filter(Boolean)
        .join('; ');
      return `${g.goal} (loss ${g.lossRatio}) at ${frameText(r.frame)}: ${lower}..${upper} Mfps, L1 ${g.lowerBps ? mbps(g.lowerBps.l1) : '-'} Mb/s${note ? ` (${note})` : ''}`;
    }),
  );
}

/** The terminal's line per frame size: "latency at 64 B, p50/p99 µs: stream alone 31/52, 10 % of PDR 33/60, ...". */
export function latencyLines(results: readonly ThroughputResult[]): string[] {
  return results
    .filter((r) => r.latency)
    .map((r) => {
      const at = r.latency!.loads.map(
        (l) => `${loadName(l.load)} ${l.latency.invalid ? 'not valid' : `${usText(l.latency.p50Us)}/${usText(l.latency.p99Us)}`}`,
      );
      const gen = r.calibration?.latency;
      return `latency at ${frameText(r.frame)}, p50/p99 µs: ${at.join(', ')}${gen ? ` (the generator alone ${usText(gen.p50Us)}/${usText(gen.p99Us)})` : ''}`;
    });
}
