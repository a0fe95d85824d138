// `dutlab trend --check`: for every testbed, profile and series (NDR and PDR
// per frame size), is the newest jumpavg group a regression? A nightly that
// runs it fails on a slow slide that no single `compare` of two runs sees,
// and says where the slide began and what changed there. Pure.
import type { HistoryEntry } from '../results/history.js';
import { historyByLab, seriesGroups, seriesOf, versionChanges } from './trend.js';
import { frameText } from '../testbed/frame-mix.js';

const kfps = (x: number) => `${(x / 1000).toFixed(1)} kfps`;

export interface SeriesVerdict {
  /** "virtual-lab-dpdk / ovs-dpdk: NDR 64 B" */
  series: string;
  regression: boolean;
  /** One line a person reads. */
  text: string;
}

/** Each series' newest group: a regression (since which run, from what to what, and what changed there) or not. */
export function newestAnomalies(history: readonly HistoryEntry[]): SeriesVerdict[] {
  const out: SeriesVerdict[] = [];
  for (const [lab, runs] of historyByLab(history)) {
    const keys = [...new Set(runs.flatMap((r) => r.throughput.map((t) => `${t.goal}@${t.frame}`)))];
    for (const key of keys) {
      const { goal, frame } = seriesOf(key);
      const series = `${lab}: ${goal} ${frameText(frame)}`;
      const groups = seriesGroups(runs, goal, frame);
      const last = groups.at(-1);
      if (!last) continue;
      const prev = groups.at(-2);
      const n = last.to - last.from;
      if (last.anomaly !== 'regression' || !prev) {
        out.push({
          series,
          regression: false,
          text: `${series}: ${kfps(last.avg)} over the last ${n} run(s)${last.anomaly === 'progression' ? ', a progression' : ''}: no regression`,
        });
        continue;
      }
      const began = runs[last.first]!;
      const changed = last.first > 0 ? versionChanges(runs[last.first - 1]!, began) : [];
      out.push({
        series,
        regression: true,
        text:
          `${series}: REGRESSION since run ${began.runId}: ${kfps(last.avg)} over ${n} run(s), down from ${kfps(prev.avg)} ` +
          `(${((1 - last.avg / prev.avg) * 100).toFixed(1)} % less); ${changed.length > 0 ? `changed there: ${changed.join(', ')}` : 'no version changed there'}`,
      });
    }
  }
  return out;
}
