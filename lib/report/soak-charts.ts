// A soak's report.html: its per-interval series drawn as the trend page's are
// (axes with values and units, a legend that never overlaps): the frames lost
// in each interval of the stream, a bar per interval that lost any, the
// stream's p50 and p99 in each latency window, and the
// resident memory of each watched process, a line each, flagged ones marked.
// Pure: data in, SVG text out.
import { pmdIntervals, type SoakMeasured } from '../results/soak.js';
import {
  bottomAxis,
  esc,
  type Frame,
  htmlPage,
  leftAxis,
  legend,
  legendRows,
  type LegendItem,
  mark,
  niceTicks,
  plotBottom,
  plotLeft,
  plotRight,
  plotTop,
  SERIES_COLORS,
} from './charts.js';

const CHART = (legendRowsBelow: number): Frame => ({ w: 800, h: 300 + 18 * legendRowsBelow, left: 70, right: 30, top: 20, bottom: 60 + 18 * legendRowsBelow });

/** Seconds along the bottom: round ticks from 0 to the soak's length. */
function timeTicks(f: Frame, durationS: number, x: (t: number) => number): string {
  return niceTicks(durationS)
    .filter((t) => t <= durationS * 1.001)
    .map(
      (t) =>
        `<line x1="${x(t)}" x2="${x(t)}" y1="${plotTop(f)}" y2="${plotBottom(f)}" stroke="#eee"/><text class="tick" x="${x(t)}" y="${plotBottom(f) + 16}" font-size="11" text-anchor="middle">${t}</text>`,
    )
    .join('');
}

/** The x of a time (s into the soak, capped at its end) and the y of a value (0 at the bottom, `top` at the top). */
const timeX = (f: Frame, durationS: number) => (t: number) => plotLeft(f) + ((plotRight(f) - plotLeft(f)) * Math.min(t, durationS)) / durationS;
const valueY = (f: Frame, top: number) => (v: number) => plotBottom(f) - ((plotBottom(f) - plotTop(f)) * v) / top;

/** One soak chart: its value axis (ticks and label), seconds along the bottom, what it draws, the legend below it. */
function soakSvg(f: Frame, m: SoakMeasured, axis: { ticks: number[]; top: number; label: string }, body: string[], items: LegendItem[], aria: string): string {
  const svg = [
    leftAxis(
      f,
      axis.ticks.map((v) => ({ value: v, label: String(v) })),
      valueY(f, axis.top),
      axis.label,
    ),
    timeTicks(f, m.durationS, timeX(f, m.durationS)),
    bottomAxis(f, 'seconds into the soak', 34),
    ...body,
    legend(items, plotLeft(f), plotBottom(f) + 54, f.w - 10),
  ];
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${f.w}" height="${f.h}" role="img" aria-label="${aria}">${svg.join('')}</svg>`;
}

/** The frames lost in each interval, a bar per interval that lost any. */
function lossChart(m: SoakMeasured): string {
  const f = CHART(1);
  const per = m.lostPerInterval ?? [];
  const top = niceTicks(Math.max(1, ...per)).at(-1)!;
  const x = timeX(f, m.durationS);
  const y = valueY(f, top);
  const width = Math.max(1, x(m.intervalS) - x(0) - 1);
  const bars = per.flatMap((lost, i) =>
    lost > 0
      ? [
          `<rect class="loss-bar" x="${x(i * m.intervalS)}" y="${y(lost)}" width="${width}" height="${plotBottom(f) - y(lost)}" fill="#d62728"><title>${esc(`${lost} frames lost in ${i * m.intervalS} to ${(i + 1) * m.intervalS} s`)}</title></rect>`,
        ]
      : [],
  );
  const items: LegendItem[] = [
    { mark: mark.dot('#d62728'), text: `frames lost in an interval of ${m.intervalS} s (${m.gaps?.events ?? 0} loss events in all)` },
  ];
  return soakSvg(f, m, { ticks: niceTicks(top), top, label: 'frames lost' }, [...bars], items, 'frames lost per interval');
}

/** Each watched process's resident memory, a line each; a flagged one named so in the legend. */
function memoryChart(m: SoakMeasured): string {
  const names = [...new Set(m.samples.flatMap((s) => Object.keys(s.processes)))];
  const flagged = new Set((m.growth ?? []).filter((g) => g.flagged).map((g) => g.name));
  const items: LegendItem[] = names.map((n, i) => ({
    mark: mark.line(SERIES_COLORS[i % SERIES_COLORS.length]!),
    text: `${n}${flagged.has(n) ? ' (grows)' : ''}`,
  }));
  const f = CHART(legendRows(items, 70, 790));
  const mb = (kb: number) => kb / 1024;
  const all = m.samples.flatMap((s) => Object.values(s.processes).flatMap((p) => (p.rssKb === null ? [] : [mb(p.rssKb)])));
  const top = niceTicks(Math.max(1, ...all)).at(-1)!;
  const x = timeX(f, m.durationS);
  const y = valueY(f, top);
  const lines = names.map((n, i) => {
    const pts = m.samples.flatMap((s) => {
      const kb = s.processes[n]?.rssKb;
      return kb === null || kb === undefined ? [] : [`${x(s.t).toFixed(1)},${y(mb(kb)).toFixed(1)}`];
    });
    return `<polyline class="memory-series" data-series="${esc(n)}" points="${pts.join(' ')}" fill="none" stroke="${SERIES_COLORS[i % SERIES_COLORS.length]}" stroke-width="${flagged.has(n) ? 3 : 1.5}"/>`;
  });
  return soakSvg(f, m, { ticks: niceTicks(top), top, label: 'resident memory, MB' }, [...lines], items, 'resident memory of the watched processes');
}

/** The stream's p50 and p99 in each window, a point at each window's middle; the bound, where the testbed sets one. */
function latencyChart(m: SoakMeasured): string {
  const windows = (m.latencyWindows ?? []).filter((w) => w.p50Us !== null && w.p99Us !== null);
  const items: LegendItem[] = [
    { mark: mark.line(SERIES_COLORS[0]!), text: `p50 in each window of ${m.windowS} s` },
    { mark: mark.line(SERIES_COLORS[1]!), text: `p99 in each window of ${m.windowS} s` },
    ...(m.maxP99Us !== undefined ? [{ mark: mark.line('#999'), text: `bound on p99: ${m.maxP99Us / 1000} ms` }] : []),
  ];
  const f = CHART(legendRows(items, 70, 790));
  const ms = (us: number) => us / 1000;
  const top = niceTicks(Math.max(0.001, ...windows.map((w) => ms(w.p99Us!)), m.maxP99Us !== undefined ? ms(m.maxP99Us) : 0)).at(-1)!;
  const x = timeX(f, m.durationS);
  const y = valueY(f, top);
  const mid = (fromS: number) => fromS + Math.min(m.windowS!, m.durationS - fromS) / 2;
  const series = (key: 'p50Us' | 'p99Us', color: string) =>
    `<polyline class="latency-series" data-series="${key}" points="${windows.map((w) => `${x(mid(w.fromS)).toFixed(1)},${y(ms(w[key]!)).toFixed(1)}`).join(' ')}" fill="none" stroke="${color}" stroke-width="1.5"/>`;
  const bound =
    m.maxP99Us !== undefined
      ? `<line class="latency-bound" x1="${plotLeft(f)}" x2="${plotRight(f)}" y1="${y(ms(m.maxP99Us))}" y2="${y(ms(m.maxP99Us))}" stroke="#999" stroke-dasharray="4 3"/>`
      : '';
  return soakSvg(
    f,
    m,
    { ticks: niceTicks(top), top, label: 'one-way latency, ms' },
    [bound, series('p50Us', SERIES_COLORS[0]!), series('p99Us', SERIES_COLORS[1]!)],
    items,
    'one-way latency per window',
  );
}

/** The PMDs' busy share in each interval, where the datapath has PMD threads. */
function pmdChart(m: SoakMeasured): string {
  const per = pmdIntervals(m.samples).filter((p) => p.busyPct !== null);
  const items: LegendItem[] = [{ mark: mark.line(SERIES_COLORS[2]!), text: `the PMD threads' busy share in each interval of ${m.intervalS} s` }];
  const f = CHART(legendRows(items, 70, 790));
  const x = timeX(f, m.durationS);
  const top = 100;
  const y = valueY(f, top);
  const line = `<polyline class="pmd-series" points="${per.map((p) => `${x(p.t).toFixed(1)},${y(p.busyPct!).toFixed(1)}`).join(' ')}" fill="none" stroke="${SERIES_COLORS[2]}" stroke-width="1.5"/>`;
  return soakSvg(f, m, { ticks: [0, 25, 50, 75, 100], top, label: 'PMD busy, %' }, [line], items, "the PMD threads' busy share");
}

/** The soak's section of report.html. */
export function soakSection(m: SoakMeasured): string {
  const latency = m.latencyWindows?.length ? latencyChart(m) : '';
  const pmd = pmdIntervals(m.samples).some((p) => p.busyPct !== null) ? pmdChart(m) : '';
  return `<section><h2>Soak: ${m.rate} frames/s for ${m.durationS} s, sampled every ${m.intervalS} s</h2>${lossChart(m)}${latency}${memoryChart(m)}${pmd}</section>`;
}

/** A run's report.html when its only pictures are a soak's. */
export const soakReportHtml = (runId: string, m: SoakMeasured): string => htmlPage(`dutlab run ${runId}: soak`, soakSection(m));
