// Pictures a person reads at a glance: `dutlab trend` draws the history of
// every testbed and profile (NDR and PDR per run, their bounds as a band,
// each run's verdict, version changes marked on the axis, the jumpavg groups
// and their regressions and progressions), and each throughput run gets a
// report.html of its trials and bounds. Self-contained HTML with inline SVG:
// no script, no network, no CDN. Pure: data in, text out.
import type { ThroughputResult } from '../suite/throughput/result.js';
import type { HistoryEntry } from './history.js';
import { classify, type Group } from './jumpavg.js';

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const kfps = (x: number) => `${(x / 1000).toFixed(1)} kfps`;
const COLORS: Record<string, string> = { NDR: '#1f77b4', PDR: '#ff7f0e' };
const VERDICT_COLORS: Record<string, string> = { pass: '#2ca02c', fail: '#d62728', 'infra-error': '#7f7f7f', aborted: '#7f7f7f' };

interface Box {
  w: number;
  h: number;
  left: number;
  bottom: number;
}
const BOX: Box = { w: 760, h: 300, left: 70, bottom: 60 };

function scale(max: number, box: Box) {
  const top = max > 0 ? max * 1.1 : 1;
  return (v: number) => box.h - box.bottom - ((box.h - box.bottom - 10) * v) / top;
}

function yAxis(max: number, box: Box, y: (v: number) => number): string {
  const ticks = [0, 0.25, 0.5, 0.75, 1].map((f) => f * (max > 0 ? max * 1.1 : 1));
  return ticks
    .map(
      (t) =>
        `<line x1="${box.left}" x2="${box.w - 10}" y1="${y(t)}" y2="${y(t)}" stroke="#eee"/><text x="${box.left - 6}" y="${y(t) + 4}" text-anchor="end" font-size="11">${(t / 1000).toFixed(0)}k</text>`,
    )
    .join('');
}

/**
 * A series' values for jumpavg: each run's lower bound, a run the DUT failed
 * as zero, and a run that says nothing of the DUT (an infrastructure error,
 * an aborted run, no result for this series) left out.
 */
export function seriesValues(runs: readonly HistoryEntry[], goal: string, frame: number): Array<{ i: number; value: number }> {
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

/** The jumpavg groups of a series, with the runs (by index in `runs`) where each begins and ends. */
export function seriesGroups(runs: readonly HistoryEntry[], goal: string, frame: number): Array<Group & { first: number; last: number }> {
  const values = seriesValues(runs, goal, frame);
  return classify(values.map((v) => v.value)).map((g) => ({ ...g, first: values[g.from]!.i, last: values[g.to - 1]!.i }));
}

/** One chart: a testbed and profile's runs in order, NDR and PDR with their bounds, their jumpavg groups and anomalies. */
export function trendChart(title: string, runs: HistoryEntry[]): string {
  const goals = [...new Set(runs.flatMap((r) => r.throughput.map((t) => `${t.goal}@${t.frame}`)))];
  const values = runs.flatMap((r) => r.throughput.flatMap((t) => [t.lower ?? 0, t.upper ?? t.lower ?? 0]));
  const max = Math.max(0, ...values);
  const y = scale(max, BOX);
  const n = runs.length;
  const x = (i: number) => BOX.left + (BOX.w - BOX.left - 20) * (n === 1 ? 0.5 : i / (n - 1));
  const parts: string[] = [yAxis(max, BOX, y)];
  // Version changes: a dashed line where OVS, DPDK or a kernel differs from the run before, labelled with what changed.
  runs.forEach((r, i) => {
    if (i === 0) return;
    const changed = versionChanges(runs[i - 1]!, r);
    if (changed.length === 0) return;
    parts.push(
      `<g class="version-change"><line x1="${x(i)}" x2="${x(i)}" y1="10" y2="${BOX.h - BOX.bottom}" stroke="#999" stroke-dasharray="4 3"/><text x="${x(i) + 3}" y="20" font-size="10" fill="#555">${esc(changed.join(', '))}</text></g>`,
    );
  });
  for (const key of goals) {
    const [goal, frame] = key.split('@');
    const pts = runs.map((r, i) => ({ i, t: r.throughput.find((t) => t.goal === goal && String(t.frame) === frame) }));
    const color = COLORS[goal!] ?? '#9467bd';
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
    const groups = seriesGroups(runs, goal!, Number(frame));
    const begins = new Map(groups.filter((g) => g.anomaly !== 'normal').map((g) => [g.first, g]));
    for (const g of groups)
      parts.push(
        `<line class="group ${g.anomaly}" data-series="${esc(key)}" x1="${x(g.first) - 4}" x2="${x(g.last) + 4}" y1="${y(g.avg)}" y2="${y(g.avg)}" stroke="${color}" stroke-width="1" stroke-dasharray="2 2"><title>${esc(`${goal} ${frame} B: average ${kfps(g.avg)} over ${g.to - g.from} run(s)${g.anomaly === 'normal' ? '' : `, a ${g.anomaly}`}`)}</title></line>`,
      );
    pts.forEach((p) => {
      if (!p.t || p.t.lower === null) return;
      const anomaly = begins.get(p.i)?.anomaly;
      const tip = `${runs[p.i]!.runId}: ${goal} ${frame} B ${kfps(p.t.lower)}..${p.t.upper !== null ? kfps(p.t.upper) : 'generator limit'}${anomaly ? ` ${anomaly.toUpperCase()}` : ''}`;
      const fill = anomaly === 'regression' ? '#d62728' : anomaly === 'progression' ? '#2ca02c' : color;
      parts.push(
        `<circle class="point${anomaly ? ` ${anomaly}` : ''}" cx="${x(p.i)}" cy="${y(p.t.lower)}" r="${anomaly ? 7 : 4}" fill="${fill}"><title>${esc(tip)}</title></circle>`,
      );
    });
  }
  // Each run's verdict under the axis, and its id.
  runs.forEach((r, i) => {
    parts.push(
      `<rect class="verdict" data-verdict="${esc(r.verdict)}" x="${x(i) - 5}" y="${BOX.h - BOX.bottom + 8}" width="10" height="10" fill="${VERDICT_COLORS[r.verdict] ?? '#7f7f7f'}"><title>${esc(`${r.runId}: ${r.verdict}`)}</title></rect>`,
      `<text x="${x(i)}" y="${BOX.h - BOX.bottom + 32}" font-size="9" text-anchor="middle">${esc(r.runId.slice(4, 13))}</text>`,
    );
  });
  const legend = goals.map(
    (k, i) =>
      `<text x="${BOX.left + i * 130}" y="${BOX.h - 6}" font-size="11" fill="${COLORS[k.split('@')[0]!] ?? '#9467bd'}">${esc(k.replace('@', ' at '))} B (lower bound; band: bounds)</text>`,
  );
  return `<section><h2>${esc(title)}</h2><svg xmlns="http://www.w3.org/2000/svg" width="${BOX.w}" height="${BOX.h}" role="img" aria-label="${esc(title)}">${parts.join('')}${legend.join('')}</svg></section>`;
}

function page(title: string, body: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(title)}</title>
<style>body{font-family:sans-serif;margin:2em;color:#222}h1{font-size:1.4em}h2{font-size:1.1em;margin-top:1.5em}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 8px;font-size:13px}</style>
</head><body><h1>${esc(title)}</h1>
${body}
</body></html>
`;
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
  const charts = [...historyByLab(history)].map(([k, runs]) => trendChart(k, runs));
  return page('dutlab trend: NDR and PDR across runs', charts.length > 0 ? charts.join('\n') : '<p>No runs in the history yet.</p>');
}

/** One run's throughput: every trial (load against loss ratio) per frame size, the bounds marked. */
export function runReportHtml(runId: string, results: ThroughputResult[]): string {
  const sections = results.map((r) => {
    const max = Math.max(1, ...r.trials.map((t) => t.rate));
    const box = BOX;
    const x = (rate: number) => box.left + ((box.w - box.left - 20) * Math.log10(Math.max(1, rate))) / Math.log10(max * 1.2);
    const y = (loss: number) => box.h - box.bottom - (box.h - box.bottom - 10) * Math.min(1, loss);
    const dots = r.trials.map(
      (t) =>
        `<circle class="trial" cx="${x(t.rate)}" cy="${y(t.lossRatio)}" r="${t.durationS >= 2 ? 5 : 3}" fill="${t.generatorShort ? '#7f7f7f' : t.lossRatio > 0 ? '#d62728' : '#2ca02c'}"><title>${esc(`${kfps(t.rate)} for ${t.durationS} s: loss ${(t.lossRatio * 100).toFixed(3)} %`)}</title></circle>`,
    );
    const marks = r.goals.flatMap((g) =>
      [g.lowerBound, g.upperBound]
        .filter((v): v is number => v !== null)
        .map(
          (v, i) =>
            `<line class="bound" data-goal="${esc(g.goal)}" x1="${x(v)}" x2="${x(v)}" y1="10" y2="${box.h - box.bottom}" stroke="${COLORS[g.goal] ?? '#9467bd'}" stroke-dasharray="${i === 0 ? '' : '4 3'}"/>`,
        ),
    );
    const rows = r.goals
      .map(
        (g) =>
          `<tr><td>${esc(g.goal)}</td><td>${g.lowerBound !== null ? kfps(g.lowerBound) : 'none'}</td><td>${g.upperBound !== null ? kfps(g.upperBound) : g.limitedByGenerator ? 'limited by the generator' : '-'}</td></tr>`,
      )
      .join('');
    return `<section><h2>${r.frame}-byte frames: ${r.trials.length} trials (load, log scale, against loss ratio; lines: bounds)</h2><svg xmlns="http://www.w3.org/2000/svg" width="${box.w}" height="${box.h}">${dots.join('')}${marks.join('')}<line x1="${box.left}" x2="${box.w - 10}" y1="${box.h - box.bottom}" y2="${box.h - box.bottom}" stroke="#333"/></svg><table><tr><th>goal</th><th>lower bound</th><th>upper bound</th></tr>${rows}</table></section>`;
  });
  return page(`dutlab run ${runId}: throughput`, sections.join('\n'));
}
