// Why the number moved, across the history: the telemetry trial's figures a
// gate reads first (processing cycles per packet, the lookup stages' hit
// shares), a series per PMD and frame size, grouped by jumpavg as NDR is. A
// series keeps to one kind of trial: a search's (at each run's PDR) or one
// fixed load's; figures at other loads are other series. For cycles per
// packet a rise is the worse change; for a hit share neither is (the EMC's
// falling is the megaflow's rising): only where a group begins is marked.
// Self-contained SVG, no script. Pure: data in, text out.
import type { HistoryEntry, HistoryTelemetry } from '../results/history.js';
import { byFrame, type FrameKey, frameText } from '../testbed/frame-mix.js';
import {
  bottomAxis,
  esc,
  type Frame,
  leftAxis,
  legend,
  type LegendItem,
  legendRows,
  linearTicks,
  mark,
  niceTicks,
  plotBottom,
  plotLeft,
  plotRight,
  plotTop,
  SERIES_COLORS,
} from './charts.js';
import { classify, type Group } from './jumpavg.js';

/** The plot's frame; its height grows by a row for each row of legend past the first. */
const CHART: Frame = { w: 800, h: 300, left: 70, right: 50, top: 20, bottom: 76 };
const LEGEND_ROW = 18;

/** One chart of the telemetry trend: which figures, on what axis, and which way is worse. */
interface FigureChart {
  heading: string;
  ids: string[];
  axis: string;
  /** Values are percentages: the axis runs 0 to 100. */
  percent: boolean;
  /** A group whose average rose is worse (cycles per packet); absent: no direction is worse. */
  riseIsWorse: boolean;
  /** The values' resolution for jumpavg. */
  unit: number;
}

const CHARTS: FigureChart[] = [
  {
    heading: 'processing cycles per packet',
    ids: ['pmd.cycles_per_packet.processing'],
    axis: 'cycles per packet (processing)',
    percent: false,
    riseIsWorse: true,
    unit: 1,
  },
  { heading: 'lookup hit shares', ids: ['pmd.hits.emc', 'pmd.hits.megaflow'], axis: '% of the packets', percent: true, riseIsWorse: false, unit: 0.1 },
];

/** A series' key: the figure, what it is about, the frame size, and the kind of trial. */
export interface TelemetrySeries {
  id: string;
  scope: string;
  frame: FrameKey;
  /** `at the PDR` (each run's search), or `at N frames/s` (a fixed load). */
  trial: string;
  label: string;
}

const trialKind = (t: HistoryTelemetry) => (t.goal === 'fixed load' ? `at ${t.rate} frames/s` : 'at the PDR');
const seriesKey = (s: Omit<TelemetrySeries, 'label'>) => `${s.id}|${s.scope}|${s.frame}|${s.trial}`;

/** Every series of these figures the runs offer, in a stable order. */
export function telemetrySeries(runs: readonly HistoryEntry[], ids: readonly string[]): TelemetrySeries[] {
  const found = new Map<string, TelemetrySeries>();
  for (const r of runs)
    for (const t of r.telemetry ?? [])
      for (const m of t.metrics)
        if (ids.includes(m.id) && m.value !== null) {
          const s = { id: m.id, scope: m.scope, frame: t.frame, trial: trialKind(t), label: m.label };
          found.set(seriesKey(s), s);
        }
  return [...found.values()].sort(
    (a, b) => ids.indexOf(a.id) - ids.indexOf(b.id) || byFrame(a.frame, b.frame) || a.scope.localeCompare(b.scope) || a.trial.localeCompare(b.trial),
  );
}

/** A series' values, run by run (by index in `runs`): a run without the figure, or that failed on the lab, leaves a gap. */
export function telemetryValues(runs: readonly HistoryEntry[], s: TelemetrySeries): Array<{ i: number; value: number }> {
  return runs.flatMap((r, i) => {
    if (r.verdict !== 'pass' && r.verdict !== 'fail') return [];
    const t = (r.telemetry ?? []).find((x) => x.frame === s.frame && trialKind(x) === s.trial);
    const v = t?.metrics.find((m) => m.id === s.id && m.scope === s.scope)?.value;
    return v !== null && v !== undefined ? [{ i, value: v }] : [];
  });
}

/** The jumpavg groups of a series, with the runs where each begins and ends, and whether its change is the worse way. */
export function telemetryGroups(
  runs: readonly HistoryEntry[],
  s: TelemetrySeries,
  unit = 1,
  riseIsWorse = false,
): Array<Group & { first: number; last: number; change: 'none' | 'rise' | 'fall'; worse: boolean }> {
  const values = telemetryValues(runs, s);
  return classify(
    values.map((v) => v.value),
    unit,
  ).map((g) => {
    // jumpavg calls a lower average a regression, as of a rate; here it is a fall, worse only where a rise is not.
    const change = g.anomaly === 'progression' ? 'rise' : g.anomaly === 'regression' ? 'fall' : 'none';
    return { ...g, first: values[g.from]!.i, last: values[g.to - 1]!.i, change, worse: riseIsWorse && change === 'rise' };
  });
}

const number = (v: number, percent: boolean) => (percent ? `${Number(v.toFixed(1))} %` : Math.round(v).toLocaleString('en-US'));

/** A series' name in the legend and the tooltips. */
const seriesName = (s: TelemetrySeries) => `${s.label} on ${s.scope} at ${frameText(s.frame)}${s.trial === 'at the PDR' ? '' : `, ${s.trial}`}`;

function figureChart(title: string, runs: readonly HistoryEntry[], c: FigureChart): string {
  const series = telemetrySeries(runs, c.ids);
  if (series.length === 0) return '';
  const color = (k: number) => SERIES_COLORS[k % SERIES_COLORS.length]!;
  const items: LegendItem[] = [
    ...series.map((s, k) => ({ mark: mark.line(color(k)), text: seriesName(s) })),
    { mark: mark.line('#555', '2 2'), text: 'a jumpavg group: its average' },
    c.riseIsWorse ? { mark: mark.dot('#d62728', 5), text: 'a rise begins (worse)' } : { mark: mark.dot('#555', 5), text: 'a change begins' },
  ];
  const extra = (legendRows(items, CHART.left, CHART.w - 10) - 1) * LEGEND_ROW;
  const f: Frame = { ...CHART, h: CHART.h + extra, bottom: CHART.bottom + extra };
  const all = series.flatMap((s) => telemetryValues(runs, s).map((v) => v.value));
  const top = c.percent ? 100 : niceTicks(Math.max(1, ...all) * 1.05).at(-1)!;
  const ticks = c.percent ? linearTicks(100, (v) => `${v} %`) : niceTicks(top).map((v) => ({ value: v, label: number(v, false) }));
  const y = (v: number) => plotBottom(f) - ((plotBottom(f) - plotTop(f)) * v) / top;
  const n = runs.length;
  const x = (i: number) => plotLeft(f) + 30 + (plotRight(f) - plotLeft(f) - 60) * (n === 1 ? 0.5 : i / (n - 1));
  const parts = [leftAxis(f, ticks, y, c.axis), ...series.flatMap((s, k) => seriesMarks(runs, s, c, color(k), x, y))];
  parts.push(bottomAxis(f, 'runs in the order they started', 20), legend(items, plotLeft(f), plotBottom(f) + 44, f.w - 10));
  const label = `${title}: ${c.heading}`;
  return `<section class="telemetry"><h2>${esc(label)}</h2><svg xmlns="http://www.w3.org/2000/svg" width="${f.w}" height="${f.h}" role="img" aria-label="${esc(label)}">${parts.join('')}</svg></section>`;
}

/** One series: its line, its jumpavg groups at their averages, its points with where a group begins marked. */
function seriesMarks(
  runs: readonly HistoryEntry[],
  s: TelemetrySeries,
  c: FigureChart,
  color: string,
  x: (i: number) => number,
  y: (v: number) => number,
): string[] {
  const name = seriesName(s);
  const pts = telemetryValues(runs, s);
  const groups = telemetryGroups(runs, s, c.unit, c.riseIsWorse);
  const begins = new Map(groups.filter((g) => g.change !== 'none').map((g) => [g.first, g]));
  return [
    `<polyline class="telemetry-series" data-series="${esc(seriesKey(s))}" points="${pts.map((p) => `${x(p.i)},${y(p.value)}`).join(' ')}" fill="none" stroke="${color}" stroke-width="2"/>`,
    ...groups.map(
      (g) =>
        `<line class="group" x1="${x(g.first) - 4}" x2="${x(g.last) + 4}" y1="${y(g.avg)}" y2="${y(g.avg)}" stroke="${color}" stroke-dasharray="2 2"><title>${esc(`${name}: average ${number(g.avg, c.percent)} over ${g.to - g.from} run(s)${g.change === 'none' ? '' : `, a ${g.change}`}`)}</title></line>`,
    ),
    ...pts.map((p) => {
      const g = begins.get(p.i);
      const cls = g ? ` ${g.change}${g.worse ? ' worse' : ''}` : '';
      const tip = `${runs[p.i]!.runId}: ${name} ${number(p.value, c.percent)}${g ? `, a ${g.change} begins` : ''}`;
      return `<circle class="telemetry-point${cls}" cx="${x(p.i)}" cy="${y(p.value)}" r="${g ? 6 : 3}" fill="${g?.worse ? '#d62728' : color}"><title>${esc(tip)}</title></circle>`;
    }),
  ];
}

/** A lab's telemetry across its runs: cycles per packet, then the lookup shares; nothing where no run has a telemetry trial. */
export function telemetryTrendCharts(title: string, runs: readonly HistoryEntry[]): string {
  return CHARTS.map((c) => figureChart(title, runs, c)).join('');
}
