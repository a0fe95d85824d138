// Pictures a person reads at a glance: `dutlab trend` draws the history of
// every testbed and profile (NDR and PDR per run, their bounds as a band,
// each run's verdict, version changes marked on the axis, the jumpavg groups
// and their regressions and progressions); a run's own page is run-page.ts.
// Self-contained HTML with inline SVG: no script, no network, no CDN. Pure:
// data in, text out.
import type { HistoryEntry } from '../results/history.js';
import {
  bottomAxis,
  colorOf,
  htmlPage,
  kfps,
  esc,
  type Frame,
  kLabel,
  labelAt,
  leftAxis,
  legend,
  type LegendItem,
  niceTicks,
  mark,
  plotBottom,
  plotLeft,
  plotRight,
  plotTop,
  textWidth,
} from './charts.js';
import { classify, type Group } from './jumpavg.js';
import { type FrameKey, frameKeyOf, frameText } from '../testbed/frame-mix.js';
import { latencyTrendChart } from './latency-charts.js';
import { telemetryTrendCharts } from './telemetry-charts.js';

const VERDICT_COLORS: Record<string, string> = { pass: '#2ca02c', fail: '#d62728', 'infra-error': '#7f7f7f', aborted: '#7f7f7f' };

/** The trend chart: the plot, then under it the verdicts, the runs' dates, the axis title and two rows of legend. */
const TREND: Frame = { w: 800, h: 380, left: 70, right: 50, top: 34, bottom: 124 };

/**
 * A series' values for jumpavg: each run's lower bound, a run the DUT failed
 * as zero, and a run that says nothing of the DUT (an infrastructure error,
 * an aborted run, no result for this series) left out.
 */
export function seriesValues(runs: readonly HistoryEntry[], goal: string, frame: FrameKey): Array<{ i: number; value: number }> {
  const out: Array<{ i: number; value: number }> = [];
  runs.forEach((r, i) => {
    if (r.verdict === 'fail') out.push({ i, value: 0 });
    else if (r.verdict === 'pass') {
      const t = r.throughput.find((x) => x.goal === goal && x.frame === frame);
      if (t && t.lower !== null) out.push({ i, value: t.lower });
    }
  });
  return out;
}

/** A series' key ("NDR@64", "PDR@imix") read back: its goal and its frame size or mix. */
export function seriesOf(key: string): { goal: string; frame: FrameKey } {
  const at = key.indexOf('@');
  return { goal: key.slice(0, at), frame: frameKeyOf(key.slice(at + 1)) };
}

/** The jumpavg groups of a series, with the runs (by index in `runs`) where each begins and ends. */
export function seriesGroups(runs: readonly HistoryEntry[], goal: string, frame: FrameKey): Array<Group & { first: number; last: number }> {
  const values = seriesValues(runs, goal, frame);
  return classify(values.map((v) => v.value)).map((g) => ({ ...g, first: values[g.from]!.i, last: values[g.to - 1]!.i }));
}

/** One chart: a testbed and profile's runs in order, NDR and PDR with their bounds, their jumpavg groups and anomalies. */
export function trendChart(title: string, runs: HistoryEntry[]): string {
  const goals = [...new Set(runs.flatMap((r) => r.throughput.map((t) => `${t.goal}@${t.frame}`)))];
  const values = runs.flatMap((r) => r.throughput.flatMap((t) => [t.lower ?? 0, t.upper ?? t.lower ?? 0]));
  const max = Math.max(0, ...values);
  const ticks = niceTicks(max > 0 ? max * 1.05 : 1000);
  const top = ticks.at(-1)!;
  const f = TREND;
  const y = (v: number) => plotBottom(f) - ((plotBottom(f) - plotTop(f)) * v) / top;
  const n = runs.length;
  // Runs keep 30 px from either end of the plot: their date labels stay inside the chart.
  const x = (i: number) => plotLeft(f) + 30 + (plotRight(f) - plotLeft(f) - 60) * (n === 1 ? 0.5 : i / (n - 1));
  const parts: string[] = [
    leftAxis(
      f,
      ticks.map((v) => ({ value: v, label: kLabel(v) })),
      y,
      'lower bound, kframes/s',
    ),
    ...versionChangeMarks(runs, x),
    ...goals.flatMap((key) => seriesMarks(runs, key, x, y)),
  ];
  // Each run's verdict under the axis, and its date and time (MMDD-HHMM of its id).
  runs.forEach((r, i) => {
    parts.push(
      `<rect class="verdict" data-verdict="${esc(r.verdict)}" x="${x(i) - 5}" y="${plotBottom(f) + 8}" width="10" height="10" fill="${VERDICT_COLORS[r.verdict] ?? '#7f7f7f'}"><title>${esc(`${r.runId}: ${r.verdict}`)}</title></rect>`,
    );
  });
  parts.push(...runLabels(runs, x, plotBottom(f) + 32));
  parts.push(bottomAxis(f, 'runs in the order they started (square: the verdict)', 52));
  parts.push(legend(trendLegend(goals), plotLeft(f), plotBottom(f) + 80, f.w - 10));
  return `<section><h2>${esc(title)}</h2><svg xmlns="http://www.w3.org/2000/svg" width="${f.w}" height="${f.h}" role="img" aria-label="${esc(title)}">${parts.join('')}</svg></section>`;
}

/** Version changes: a dashed line where OVS, DPDK or a kernel differs from the run before, labelled with what changed. */
function versionChangeMarks(runs: HistoryEntry[], x: (i: number) => number): string[] {
  const f = TREND;
  const marks: string[] = [];
  runs.forEach((r, i) => {
    if (i === 0) return;
    const changed = versionChanges(runs[i - 1]!, r);
    if (changed.length === 0) return;
    // Labels of neighbouring changes take turns between two rows.
    const row = (marks.length % 2) * 12;
    marks.push(
      `<g class="version-change"><line x1="${x(i)}" x2="${x(i)}" y1="${plotTop(f) - 4}" y2="${plotBottom(f)}" stroke="#999" stroke-dasharray="4 3"/>${labelAt(x(i), 12 + row, changed.join(', '), f.w - 4, 10, 'fill="#555"')}</g>`,
    );
  });
  return marks;
}

/** One series (a goal at a frame size): its band and line, its jumpavg groups, its points with the anomalies marked. */
function seriesMarks(runs: HistoryEntry[], key: string, x: (i: number) => number, y: (v: number) => number): string[] {
  const { goal, frame } = seriesOf(key);
  const name = `${goal} ${frameText(frame)}`;
  const pts = runs.map((r, i) => ({ i, t: r.throughput.find((t) => t.goal === goal && t.frame === frame) }));
  const color = colorOf(goal);
  const parts: string[] = [];
  const band = pts.filter((p) => p.t && p.t.lower !== null);
  if (band.length > 0) {
    const upper = band.map((p) => `${x(p.i)},${y(p.t!.upper ?? p.t!.lower!)}`);
    const lower = [...band].reverse().map((p) => `${x(p.i)},${y(p.t!.lower!)}`);
    parts.push(`<polygon class="band" points="${[...upper, ...lower].join(' ')}" fill="${color}" fill-opacity="0.15"/>`);
    parts.push(
      `<polyline class="series" data-series="${esc(key)}" points="${band.map((p) => `${x(p.i)},${y(p.t!.lower!)}`).join(' ')}" fill="none" stroke="${color}" stroke-width="2"/>`,
    );
  }
  // jumpavg's groups: each a segment at its average; the run where a regression or a progression begins, marked.
  const groups = seriesGroups(runs, goal, frame);
  const begins = new Map(groups.filter((g) => g.anomaly !== 'normal').map((g) => [g.first, g]));
  for (const g of groups)
    parts.push(
      `<line class="group ${g.anomaly}" data-series="${esc(key)}" x1="${x(g.first) - 4}" x2="${x(g.last) + 4}" y1="${y(g.avg)}" y2="${y(g.avg)}" stroke="${color}" stroke-width="1" stroke-dasharray="2 2"><title>${esc(`${name}: average ${kfps(g.avg)} over ${g.to - g.from} run(s)${g.anomaly === 'normal' ? '' : `, a ${g.anomaly}`}`)}</title></line>`,
    );
  pts.forEach((p) => {
    if (!p.t || p.t.lower === null) return;
    const anomaly = begins.get(p.i)?.anomaly;
    const tip = `${runs[p.i]!.runId}: ${name} ${kfps(p.t.lower)}..${p.t.upper !== null ? kfps(p.t.upper) : 'generator limit'}${anomaly ? ` ${anomaly.toUpperCase()}` : ''}`;
    const fill = anomaly === 'regression' ? '#d62728' : anomaly === 'progression' ? '#2ca02c' : color;
    parts.push(
      `<circle class="point${anomaly ? ` ${anomaly}` : ''}" cx="${x(p.i)}" cy="${y(p.t.lower)}" r="${anomaly ? 7 : 4}" fill="${fill}"><title>${esc(tip)}</title></circle>`,
    );
  });
  return parts;
}

function trendLegend(goals: string[]): LegendItem[] {
  return [
    ...goals.map(seriesOf).map(({ goal, frame }) => ({ mark: mark.line(colorOf(goal)), text: `${goal} at ${frameText(frame)}: lower bound` })),
    { mark: mark.band('#555'), text: 'band: lower to upper bound' },
    { mark: mark.line('#555', '2 2'), text: 'a jumpavg group: its average' },
    { mark: mark.dot('#d62728', 5), text: 'a regression begins' },
    { mark: mark.dot('#2ca02c', 5), text: 'a progression begins' },
    { mark: mark.square(VERDICT_COLORS.pass!), text: 'pass' },
    { mark: mark.square(VERDICT_COLORS.fail!), text: 'fail' },
    { mark: mark.square(VERDICT_COLORS['infra-error']!), text: 'lab error' },
  ];
}

/** Each run's date and time under the axis, as many as fit without touching: the first, the last, and every k-th between. */
function runLabels(runs: readonly HistoryEntry[], x: (i: number) => number, y: number): string[] {
  const label = (r: HistoryEntry) => r.runId.slice(4, 13);
  const width = Math.max(...runs.map((r) => textWidth(label(r), 9))) + 6;
  const gap = runs.length > 1 ? x(1) - x(0) : width;
  const every = Math.max(1, Math.ceil(width / gap));
  return runs
    .map((r, i) => ({ r, i }))
    .filter(({ i }) => i % every === 0 && (i === runs.length - 1 || runs.length - 1 - i >= every))
    .concat(runs.length > 1 && (runs.length - 1) % every !== 0 ? [{ r: runs[runs.length - 1]!, i: runs.length - 1 }] : [])
    .map(({ r, i }) => `<text class="run" x="${x(i)}" y="${y}" font-size="9" text-anchor="middle">${esc(label(r))}</text>`);
}

/** What changed in OVS, DPDK or a kernel from one run to the next: "dpdk: DPDK 23.11.1". */
export function versionChanges(prev: HistoryEntry, r: HistoryEntry): string[] {
  return (['ovs', 'dpdk', 'hostKernel', 'guestKernel'] as const)
    .filter((k) => (prev.versions[k] ?? '') !== (r.versions[k] ?? ''))
    .map((k) => `${k}: ${r.versions[k] ?? '?'}`);
}

/** The history by testbed and profile, each in the order its runs started. */
export function historyByLab(history: readonly HistoryEntry[]): Map<string, HistoryEntry[]> {
  const groups = new Map<string, HistoryEntry[]>();
  for (const e of history) groups.set(`${e.testbed} / ${e.profile}`, [...(groups.get(`${e.testbed} / ${e.profile}`) ?? []), e]);
  for (const runs of groups.values()) runs.sort((a, b) => a.startedAt.localeCompare(b.startedAt));
  return groups;
}

/** The history of every testbed and profile, a chart each. */
export function trendHtml(history: HistoryEntry[]): string {
  const charts = [...historyByLab(history)].map(([k, runs]) => trendChart(k, runs) + latencyTrendChart(k, runs) + telemetryTrendCharts(k, runs));
  return htmlPage(
    'dutlab trend: NDR, PDR, latency and datapath telemetry across runs',
    charts.length > 0 ? charts.join('\n') : '<p>No runs in the history yet.</p>',
  );
}
