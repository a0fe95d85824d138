// The pieces the report's SVG charts are drawn with: a plot area, axes with
// values and units, a legend laid out so that its entries never overlap, and
// text placed so that it stays inside the chart. Pure: numbers in, SVG text out.

export const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** A chart's size and the margins around its plot area (room for the axes' values, titles and the legend). */
export interface Frame {
  w: number;
  h: number;
  left: number;
  right: number;
  top: number;
  bottom: number;
}

export const plotLeft = (f: Frame) => f.left;
export const plotRight = (f: Frame) => f.w - f.right;
export const plotTop = (f: Frame) => f.top;
export const plotBottom = (f: Frame) => f.h - f.bottom;

/**
 * How wide a text is drawn, at most: sans-serif glyphs average about 0.55 em,
 * capitals and digits up to 0.65; this errs wide, so that what is laid out by
 * it does not overlap.
 */
export const textWidth = (s: string, fontSize: number) => s.length * fontSize * 0.64;

/** A value in kframes/s for an axis: "0.5", "12", "2.25". */
export function kLabel(fps: number): string {
  const k = fps / 1000;
  return k >= 100 || Number.isInteger(k) ? k.toFixed(0) : k >= 10 ? k.toFixed(1).replace(/\.0$/, '') : String(Number(k.toPrecision(3)));
}

/** A value axis on the left: grid lines, values, and its title written upwards. */
export function leftAxis(f: Frame, ticks: Array<{ value: number; label: string }>, y: (v: number) => number, title: string): string {
  const lines = ticks.map(
    (t) =>
      `<line x1="${plotLeft(f)}" x2="${plotRight(f)}" y1="${y(t.value)}" y2="${y(t.value)}" stroke="#eee"/><text class="tick" x="${plotLeft(f) - 6}" y="${y(t.value) + 4}" text-anchor="end" font-size="11">${esc(t.label)}</text>`,
  );
  const mid = (plotTop(f) + plotBottom(f)) / 2;
  return `${lines.join('')}<line x1="${plotLeft(f)}" x2="${plotLeft(f)}" y1="${plotTop(f)}" y2="${plotBottom(f)}" stroke="#333"/><text class="axis-title" x="16" y="${mid}" font-size="11" text-anchor="middle" transform="rotate(-90 16 ${mid})">${esc(title)}</text>`;
}

/** The axis along the bottom of the plot, with its title centred under what is drawn below it (`below` px). */
export function bottomAxis(f: Frame, title: string, below: number): string {
  const mid = (plotLeft(f) + plotRight(f)) / 2;
  return `<line x1="${plotLeft(f)}" x2="${plotRight(f)}" y1="${plotBottom(f)}" y2="${plotBottom(f)}" stroke="#333"/><text class="axis-title" x="${mid}" y="${plotBottom(f) + below}" font-size="11" text-anchor="middle">${esc(title)}</text>`;
}

/** Five even values from 0 to `top`, labelled by `label`. */
export const linearTicks = (top: number, label: (v: number) => string) => [0, 0.25, 0.5, 0.75, 1].map((q) => ({ value: q * top, label: label(q * top) }));

/** Round values from 0 up to at least `max`, four or five of them: steps of 1, 2, 2.5 or 5 times a power of ten. */
export function niceTicks(max: number): number[] {
  const raw = max / 4;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].find((m) => m * mag >= raw)! * mag;
  return Array.from({ length: Math.ceil(max / step) + 1 }, (_, i) => i * step);
}

/** The values of a log axis (1 to 9, or 1-2-5, or the powers of ten, as room allows) from `lo` to `hi`, thinned so that neighbours are at least `minPx` apart at `pxPerDecade`. */
export function logTicks(lo: number, hi: number, pxPerDecade: number, minPx = 34): number[] {
  const out: number[] = [];
  for (let e = Math.floor(Math.log10(lo)); e <= Math.ceil(Math.log10(hi)); e++)
    for (const m of pxPerDecade >= minPx * 12
      ? [1, 2, 3, 4, 5, 6, 7, 8, 9]
      : pxPerDecade >= minPx * 4
        ? [1, 2, 5]
        : pxPerDecade >= minPx
          ? [1]
          : e % 2 === 0
            ? [1]
            : []) {
      const v = m * 10 ** e;
      if (v >= lo && v <= hi) out.push(v);
    }
  return out;
}

export interface LegendItem {
  /** An SVG mark drawn in a 20 x 12 box at (0, 0): a line, a dot, a band. */
  mark: string;
  text: string;
}

/** Where each legend entry goes, in rows from (x, y), wrapped before `maxX`. */
function legendPlaces(items: LegendItem[], x: number, y: number, maxX: number, fontSize: number): Array<{ cx: number; cy: number }> {
  let [cx, cy] = [x, y];
  return items.map((it) => {
    const w = 26 + textWidth(it.text, fontSize) + 18;
    if (cx > x && cx + w > maxX) [cx, cy] = [x, cy + fontSize + 7];
    const at = { cx, cy };
    cx += w;
    return at;
  });
}

/** Legend entries in rows from (x, y), wrapped before `maxX`: none overlaps another. */
export function legend(items: LegendItem[], x: number, y: number, maxX: number, fontSize = 11): string {
  const places = legendPlaces(items, x, y, maxX, fontSize);
  const parts = items.map(
    (it, i) =>
      `<g class="legend-item" transform="translate(${places[i]!.cx} ${places[i]!.cy - 9})">${it.mark}<text x="26" y="10" font-size="${fontSize}">${esc(it.text)}</text></g>`,
  );
  return `<g class="legend">${parts.join('')}</g>`;
}

/** How many rows a legend takes between x and maxX: a chart with many series makes room for them. */
export function legendRows(items: LegendItem[], x: number, maxX: number, fontSize = 11): number {
  return new Set(legendPlaces(items, x, 0, maxX, fontSize).map((p) => p.cy)).size;
}

/** The series' colours, in order, as every chart draws them (the category-10 palette). */
export const SERIES_COLORS = ['#1f77b4', '#ff7f0e', '#2ca02c', '#9467bd', '#8c564b', '#e377c2', '#17becf', '#bcbd22'];

/** Legend marks. */
export const mark = {
  line: (color: string, dash = '') => `<line x1="0" x2="20" y1="6" y2="6" stroke="${color}" stroke-width="2"${dash ? ` stroke-dasharray="${dash}"` : ''}/>`,
  dot: (color: string, r = 4) => `<circle cx="10" cy="6" r="${r}" fill="${color}"/>`,
  band: (color: string) => `<rect x="0" y="1" width="20" height="10" fill="${color}" fill-opacity="0.15"/>`,
  square: (color: string) => `<rect x="5" y="1" width="10" height="10" fill="${color}"/>`,
};

/** A label at x that stays inside [left, right]: anchored at its start, or at its end where it would run past the right edge. */
export function labelAt(x: number, y: number, text: string, right: number, fontSize: number, attrs = ''): string {
  const fitsRight = x + 3 + textWidth(text, fontSize) <= right;
  return `<text x="${fitsRight ? x + 3 : x - 3}" y="${y}" font-size="${fontSize}" text-anchor="${fitsRight ? 'start' : 'end'}"${attrs ? ` ${attrs}` : ''}>${esc(text)}</text>`;
}

/** Frames per second as the pages write them. */
export const kfps = (x: number) => `${(x / 1000).toFixed(1)} kfps`;

const GOAL_COLORS: Record<string, string> = { NDR: '#1f77b4', PDR: '#ff7f0e' };
/** A search goal's colour on every page: NDR blue, PDR orange, any other purple. */
export const colorOf = (goal: string) => GOAL_COLORS[goal] ?? '#9467bd';

/** A self-contained page: its title, its charts and tables. */
export function htmlPage(title: string, body: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(title)}</title>
<style>body{font-family:sans-serif;margin:2em;color:#222}h1{font-size:1.4em}h2{font-size:1.1em;margin-top:1.5em}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 8px;font-size:13px}</style>
</head><body><h1>${esc(title)}</h1>
${body}
</body></html>
`;
}
