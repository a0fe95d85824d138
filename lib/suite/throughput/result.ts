// What the throughput suite measured, as run.json keeps it and `compare`,
// `run --baseline`, the history and the trend read it; and the table and the
// terminal lines made from it. Pure.
import type { Measured, SuiteResult, Table } from '../../results/run.js';
import type { GoalResult, Measurement } from '../../throughput/search.js';

/** The throughput search at one frame size. */
export interface ThroughputResult {
  /** Bytes on the wire, FCS included. */
  frame: number;
  /** What the generator reached with the DUT bypassed (frames/s), if calibrated. */
  calibration: { achievedRate: number; received: number; sent: number; durationS: number } | null;
  /** The most the generator could offer during the search, if a trial showed it falling short. */
  generatorLimit: number | null;
  /** The load the search started from: the testbed's maximum, or the calibrated limit. */
  maxRate: number;
  goals: Array<GoalResult & { lowerBps: { l2: number; l1: number } | null }>;
  trials: Measurement[];
}

export interface ThroughputMeasured extends Measured {
  kind: 'throughput';
  /** One search per frame size. */
  results: ThroughputResult[];
}

/** The throughput searches in a suite's record, if it has any. */
export const throughputOf = (s: SuiteResult): ThroughputResult[] => (s.measured?.kind === 'throughput' ? (s.measured as ThroughputMeasured).results : []);

const mfps = (x: number) => `${(x / 1e6).toFixed(3)}`;
const mbps = (x: number) => `${(x / 1e6).toFixed(1)}`;

/** NDR and PDR per frame size, for summary.md. */
export function throughputTable(results: ThroughputResult[]): Table {
  return {
    title: 'Throughput (NDR and PDR, MLRsearch)',
    columns: ['frame', 'goal', 'lower bound Mfps', 'upper bound Mfps', 'width', 'L2 Mb/s', 'L1 Mb/s', 'conditional Mfps', 'trials', 'note'],
    rows: results.flatMap((r) =>
      r.goals.map((g) => [
        `${r.frame} B`,
        `${g.goal} (loss ${g.lossRatio})`,
        g.lowerBound !== null ? mfps(g.lowerBound) : 'none',
        g.upperBound !== null ? mfps(g.upperBound) : g.limitedByGenerator ? `limited by the generator (${mfps(r.maxRate)})` : '-',
        g.relativeWidth !== null ? `${(g.relativeWidth * 100).toFixed(1)} %` : '-',
        g.lowerBps ? mbps(g.lowerBps.l2) : '-',
        g.lowerBps ? mbps(g.lowerBps.l1) : '-',
        g.conditionalThroughput !== null ? mfps(g.conditionalThroughput) : '-',
        String(r.trials.length),
        [g.limitedByGenerator ? `${g.goal} >= ${mfps(g.lowerBound ?? 0)} Mfps, limited by the generator` : '', g.stoppedBy ?? ''].filter(Boolean).join('; '),
      ]),
    ),
  };
}

/** Each goal's answer as the terminal shows it after a run: "NDR (loss 0) at 64 B: 0.041..0.043 Mfps, L1 27.9 Mb/s". */
export function throughputLines(results: ThroughputResult[]): string[] {
  return results.flatMap((r) =>
    r.goals.map((g) => {
      const lower = g.lowerBound !== null ? mfps(g.lowerBound) : 'none';
      const upper = g.upperBound !== null ? mfps(g.upperBound) : g.limitedByGenerator ? `limited by the generator (${mfps(r.maxRate)})` : '-';
      const note = [g.limitedByGenerator ? `${g.goal} >= ${mfps(g.lowerBound ?? 0)} Mfps, limited by the generator` : '', g.stoppedBy ?? '']
        .filter(Boolean)
        .join('; ');
      return `${g.goal} (loss ${g.lossRatio}) at ${r.frame} B: ${lower}..${upper} Mfps, L1 ${g.lowerBps ? mbps(g.lowerBps.l1) : '-'} Mb/s${note ? ` (${note})` : ''}`;
    }),
  );
}
