// Latency as pictures: each run's percentile curves (HdrHistogram's way:
// latency against the percentile, the tail stretched on a log scale of
// 1 / (1 - p)), one per load and the generator's own; and across the history
// p50 and p99 at the gate's load (50 % of each run's PDR). Self-contained
// SVG, no script. Pure: data in, text out.
import { percentilesOfHdrh } from '../results/latency.js';
import { loadName } from '../results/throughput.js';
import type { ThroughputResult } from '../results/throughput.js';
import { GATE_LATENCY_LOAD } from './compare.js';
import type { HistoryEntry } from '../results/history.js';
import { byFrame, framesPhrase, frameText } from '../testbed/frame-mix.js';
import { bottomAxis, esc, type Frame, leftAxis, legend, type LegendItem, logTicks, mark, plotBottom, plotLeft, plotRight, plotTop } from './charts.js';

const PERCENTILES = [0, 50, 75, 90, 95, 99, 99.5, 99.9, 99.95, 99.99];
/** Where a percentile sits on the x axis: log10(1 / (1 - p)), 0 at p0, 4 at p99.99. */
const tail = (p: number) => Math.log10(1 / (1 - Math.min(p, 99.99) / 100));
const LOAD_COLORS = ['#1f77b4', '#2ca02c', '#ff7f0e', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#17becf'];
const GENERATOR_COLOR = '#7f7f7f';
const PCT: Frame = { w: 800, h: 360, left: 70, right: 30, top: 20, bottom: 96 };

const usLabel = (v: number) => (v >= 1000 ? `${Number((v / 1000).toPrecision(3))} ms` : `${Number(v.toPrecision(3))} µs`);

/** A log axis of µs from lo to hi: its scale and ticks for the plot's height. */
function usAxis(f: Frame, lo: number, hi: number) {
  const [a, b] = [Math.max(1, lo / 1.3), hi * 1.3];
  const span = Math.log10(b / a);
  const y = (v: number) => plotBottom(f) - ((plotBottom(f) - plotTop(f)) * Math.log10(Math.max(a, v) / a)) / span;
  const ticks = logTicks(a, b, (plotBottom(f) - plotTop(f)) / span, 22).map((v) => ({ value: v, label: usLabel(v) }));
  return { y, ticks };
}

/** One frame size's percentile curves: a line per load and one for the generator alone; a load whose figures are not valid is left out and said. */
export function latencyPercentileChart(r: ThroughputResult): string {
  const l = r.latency;
  if (!l) return '';
  const curves = [
    ...(r.calibration?.latency ? [{ name: 'the generator alone (guest bypassed)', color: GENERATOR_COLOR, result: r.calibration.latency }] : []),
    ...l.loads.map((at, i) => ({ name: loadName(at.load), color: LOAD_COLORS[i % LOAD_COLORS.length]!, result: at.latency })),
  ];
  const drawn = curves
    .filter((c) => !c.result.invalid && c.result.hdrh)
    .map((c) => ({ ...c, points: percentilesOfHdrh(c.result.hdrh!, PERCENTILES) }))
    .filter((c) => c.points.length > 0);
  const values = drawn.flatMap((c) => c.points.map((p) => p.us)).filter((v) => v > 0);
  const f = PCT;
  const { y, ticks } = usAxis(f, values.length ? Math.min(...values) : 10, values.length ? Math.max(...values) : 1000);
  const x = (p: number) => plotLeft(f) + ((plotRight(f) - plotLeft(f)) * tail(p)) / 4;
  const xTicks = [0, 90, 99, 99.9, 99.99].map(
    (p) =>
      `<line x1="${x(p)}" x2="${x(p)}" y1="${plotTop(f)}" y2="${plotBottom(f)}" stroke="#eee"/><text class="tick" x="${x(p)}" y="${plotBottom(f) + 16}" font-size="11" text-anchor="middle">p${p}</text>`,
  );
  const lines = drawn.map(
    (c) =>
      `<polyline class="percentile-curve" data-load="${esc(c.name)}" points="${c.points.map((p) => `${x(p.percentile)},${y(p.us)}`).join(' ')}" fill="none" stroke="${c.color}" stroke-width="2"><title>${esc(`${c.name}: ${c.points.map((p) => `p${p.percentile} ${usLabel(p.us)}`).join(', ')}`)}</title></polyline>`,
  );
  const items: LegendItem[] = drawn.map((c) => ({ mark: mark.line(c.color), text: c.name }));
  const svg = [
    leftAxis(f, ticks, y, 'one-way latency (log scale)'),
    ...xTicks,
    bottomAxis(f, 'percentile (the tail stretched: log of 1 / (1 - p))', 34),
    ...lines,
    legend(items, plotLeft(f), plotBottom(f) + 58, f.w - 10),
  ];
  const left = curves.filter((c) => c.result.invalid).map((c) => `<p class="invalid">${esc(`${c.name}: not valid, not drawn (${c.result.invalid})`)}</p>`);
  return `<section class="latency"><h2>${esc(framesPhrase(r.frame))}: one-way latency by percentile</h2><svg xmlns="http://www.w3.org/2000/svg" width="${f.w}" height="${f.h}" role="img" aria-label="${esc(framesPhrase(r.frame))}: latency by percentile">${svg.join('')}</svg>${left.join('')}</section>`;
}

const TREND: Frame = { w: 800, h: 320, left: 70, right: 50, top: 20, bottom: 80 };

/** Across a lab's runs: p50 and p99 at the gate's load, per frame size; runs without a valid figure there leave a gap. */
export function latencyTrendChart(title: string, runs: readonly HistoryEntry[]): string {
  const at = (r: HistoryEntry) => (r.latency ?? []).filter((l) => l.of === 'dut' && l.load === GATE_LATENCY_LOAD && !l.invalid);
  const frames = [...new Set(runs.flatMap((r) => at(r).map((l) => l.frame)))].sort(byFrame);
  if (frames.length === 0) return '';
  const values = runs.flatMap((r) => at(r).flatMap((l) => [l.p50Us, l.p99Us])).filter((v): v is number => v !== null && v > 0);
  const f = TREND;
  const { y, ticks } = usAxis(f, Math.min(...values), Math.max(...values));
  const n = runs.length;
  const x = (i: number) => plotLeft(f) + 30 + (plotRight(f) - plotLeft(f) - 60) * (n === 1 ? 0.5 : i / (n - 1));
  const parts: string[] = [leftAxis(f, ticks, y, `latency at ${GATE_LATENCY_LOAD * 100} % of PDR (log)`)];
  const items: LegendItem[] = [];
  frames.forEach((frame, k) => {
    for (const [q, dash] of [
      ['p50Us', ''],
      ['p99Us', '4 3'],
    ] as const) {
      const color = LOAD_COLORS[k % LOAD_COLORS.length]!;
      const pts = runs.flatMap((r, i) => {
        const v = at(r).find((l) => l.frame === frame)?.[q];
        return v !== null && v !== undefined ? [{ i, v, r }] : [];
      });
      const name = `${q.slice(0, 3)} at ${frameText(frame)}`;
      parts.push(
        `<polyline class="latency-series" data-series="${esc(name)}" points="${pts.map((p) => `${x(p.i)},${y(p.v)}`).join(' ')}" fill="none" stroke="${color}" stroke-width="2"${dash ? ` stroke-dasharray="${dash}"` : ''}/>`,
        ...pts.map(
          (p) =>
            `<circle class="latency-point" cx="${x(p.i)}" cy="${y(p.v)}" r="3" fill="${color}"><title>${esc(`${p.r.runId}: ${name} ${usLabel(p.v)}`)}</title></circle>`,
        ),
      );
      items.push({ mark: mark.line(color, dash), text: name });
    }
  });
  parts.push(bottomAxis(f, 'runs in the order they started', 20), legend(items, plotLeft(f), plotBottom(f) + 44, f.w - 10));
  return `<section class="latency"><h2>${esc(title)}: latency</h2><svg xmlns="http://www.w3.org/2000/svg" width="${f.w}" height="${f.h}" role="img" aria-label="${esc(title)}: latency">${parts.join('')}</svg></section>`;
}
