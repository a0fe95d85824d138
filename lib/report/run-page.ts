// A run's own page, report.html, written beside summary.md by every run with a
// throughput search: per frame size, every trial (load against loss ratio),
// the NDR and PDR bounds marked and labelled, and the latency percentiles.
// Pure: data in, text out.
import type { ThroughputResult } from '../results/throughput.js';
import {
  bottomAxis,
  colorOf,
  esc,
  type Frame,
  htmlPage,
  kfps,
  kLabel,
  labelAt,
  leftAxis,
  legend,
  type LegendItem,
  linearTicks,
  logTicks,
  mark,
  plotBottom,
  plotLeft,
  plotRight,
  plotTop,
} from './charts.js';
import { latencyPercentileChart } from './latency-charts.js';
import { framesPhrase } from '../testbed/frame-mix.js';

/** A run's trial chart: bound labels in rows above the plot, the axes' values and titles, a legend under it. */
const TRIALS: Frame = { w: 800, h: 380, left: 70, right: 30, top: 66, bottom: 96 };

/** One run's throughput: every trial (load against loss ratio) per frame size, the bounds marked and labelled. */
export function runReportHtml(runId: string, results: ThroughputResult[], more = ''): string {
  const f = TRIALS;
  const sections = results.map((r) => {
    const rates = r.trials.map((t) => t.rate).filter((v) => v > 0);
    const bounds = r.goals.flatMap((g) => [g.lowerBound, g.upperBound].filter((v): v is number => v !== null && v > 0));
    const all = [...rates, ...bounds];
    const lo = (all.length > 0 ? Math.min(...all) : 1000) / 1.5;
    const hi = (all.length > 0 ? Math.max(...all) : 1000) * 1.5;
    const span = Math.log10(hi / lo);
    const x = (rate: number) => plotLeft(f) + ((plotRight(f) - plotLeft(f)) * Math.log10(Math.max(lo, rate) / lo)) / span;
    const y = (loss: number) => plotBottom(f) - (plotBottom(f) - plotTop(f)) * Math.min(1, Math.max(0, loss));
    const xTicks = logTicks(lo, hi, (plotRight(f) - plotLeft(f)) / span).map(
      (v) =>
        `<line x1="${x(v)}" x2="${x(v)}" y1="${plotTop(f)}" y2="${plotBottom(f)}" stroke="#eee"/><text class="tick" x="${x(v)}" y="${plotBottom(f) + 16}" font-size="11" text-anchor="middle">${kLabel(v)}</text>`,
    );
    const dots = r.trials.map(
      (t) =>
        `<circle class="trial" cx="${x(t.rate)}" cy="${y(t.lossRatio)}" r="${t.durationS >= 2 ? 5 : 3}" fill="${t.generatorShort ? '#7f7f7f' : t.lossRatio > 0 ? '#d62728' : '#2ca02c'}"><title>${esc(`${kfps(t.rate)} for ${t.durationS} s: loss ${(t.lossRatio * 100).toFixed(3)} %`)}</title></circle>`,
    );
    // Each bound a line and, in a row of its own above the plot, its label: NDR and PDR bounds often coincide.
    let row = 0;
    const marks = r.goals.flatMap((g) => {
      const lines: Array<{ which: string; v: number; dash: string }> = [];
      if (g.lowerBound !== null) lines.push({ which: 'lower', v: g.lowerBound, dash: '' });
      if (g.upperBound !== null) lines.push({ which: 'upper', v: g.upperBound, dash: '4 3' });
      return lines.map(({ which, v, dash }) => {
        const ly = 12 + 13 * row++;
        return `<line class="bound" data-goal="${esc(g.goal)}" x1="${x(v)}" x2="${x(v)}" y1="${ly + 2}" y2="${plotBottom(f)}" stroke="${colorOf(g.goal)}" stroke-dasharray="${dash}"/>${labelAt(x(v), ly, `${g.goal} ${which} bound ${kfps(v)}`, f.w - 4, 10, `fill="${colorOf(g.goal)}"`)}`;
      });
    });
    const items: LegendItem[] = [
      { mark: mark.dot('#2ca02c'), text: 'no loss' },
      { mark: mark.dot('#d62728'), text: 'lost frames' },
      { mark: mark.dot('#7f7f7f'), text: 'the generator fell short' },
      { mark: mark.dot('#555', 3), text: 'short trial' },
      { mark: mark.dot('#555', 5), text: 'full-length trial' },
      ...r.goals.flatMap((g) => [
        { mark: mark.line(colorOf(g.goal)), text: `${g.goal} lower bound` },
        { mark: mark.line(colorOf(g.goal), '4 3'), text: `${g.goal} upper bound` },
      ]),
    ];
    const svg = [
      leftAxis(
        f,
        linearTicks(1, (v) => `${(v * 100).toFixed(0)} %`),
        y,
        'loss ratio',
      ),
      ...xTicks,
      bottomAxis(f, 'load, kframes/s (log scale)', 34),
      ...dots,
      ...marks,
      legend(items, plotLeft(f), plotBottom(f) + 58, f.w - 10),
    ];
    const rows = r.goals
      .map(
        (g) =>
          `<tr><td>${esc(g.goal)}</td><td>${g.lowerBound !== null ? kfps(g.lowerBound) : 'none'}</td><td>${g.upperBound !== null ? kfps(g.upperBound) : g.limitedByGenerator ? 'limited by the generator' : '-'}</td></tr>`,
      )
      .join('');
    return `<section><h2>${esc(framesPhrase(r.frame))}: ${r.trials.length} trials</h2><svg xmlns="http://www.w3.org/2000/svg" width="${f.w}" height="${f.h}" role="img" aria-label="${esc(framesPhrase(r.frame))}: load against loss ratio">${svg.join('')}</svg><table><tr><th>goal</th><th>lower bound</th><th>upper bound</th></tr>${rows}</table></section>${latencyPercentileChart(r)}`;
  });
  return htmlPage(`dutlab run ${runId}: throughput`, [...sections, more].filter(Boolean).join('\n'));
}
