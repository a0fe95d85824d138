// The trend page and a run's report.html opened in headless Chromium (Debian's
// package, installed by .ci/run) in a network namespace of its own, so that it
// can reach nothing: the charts render, with the expected series, and the
// browser reports no error on the page.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, describe, expect, it } from 'vitest';
import { HISTORY_FILE } from '../../lib/report/history.js';
import { runReportHtml } from '../../lib/report/trend.js';
import { HISTORY, SEARCH_64 } from '../helpers/history.js';

const ROOT = new URL('../..', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'dutlab-trend-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The page's DOM after load, and what the browser logged; at a common window width (1280 px). */
async function render(file: string): Promise<{ dom: string; log: string }> {
  const profile = join(dir, `profile-${Date.now()}-${Math.random().toString(36).slice(2)}`);
  const r = await execa(
    'unshare',
    [
      '--net',
      'chromium',
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      `--user-data-dir=${profile}`,
      '--enable-logging=stderr',
      '--v=0',
      '--window-size=1280,1000',
      '--dump-dom',
      `file://${file}`,
    ],
    { reject: false, timeout: 60_000 },
  );
  expect(r.exitCode, r.stderr).toBe(0);
  return { dom: r.stdout, log: r.stderr };
}

interface Box {
  l: number;
  r: number;
  t: number;
  b: number;
}
interface Layout {
  svg: Box;
  texts: Array<Box & { text: string }>;
}

/**
 * Where the browser drew each chart and each text in it: the page with a
 * script added (to a copy; the page itself has none) that writes every
 * <svg>'s and every <text>'s box into the DOM, read back from --dump-dom.
 */
async function layoutOf(page: string): Promise<Layout[]> {
  const measure = `<script>
const box = (e) => { const r = e.getBoundingClientRect(); return { l: r.left, r: r.right, t: r.top, b: r.bottom }; };
const out = [...document.querySelectorAll('svg')].map((svg) => ({ svg: box(svg), texts: [...svg.querySelectorAll('text')].map((t) => ({ text: t.textContent, ...box(t) })) }));
const pre = document.createElement('pre'); pre.id = 'layout'; pre.textContent = JSON.stringify(out); document.body.append(pre);
</script>`;
  const copy = join(dir, `measured-${Date.now()}.html`);
  writeFileSync(copy, readFileSync(page, 'utf8').replace('</body>', `${measure}</body>`));
  const { dom } = await render(copy);
  const json = /<pre id="layout">(.*?)<\/pre>/s.exec(dom)?.[1];
  expect(json, 'the measuring script wrote nothing').toBeDefined();
  return JSON.parse(
    json!
      .replace(/&quot;/g, '"')
      .replace(/&lt;/g, '<')
      .replace(/&gt;/g, '>')
      .replace(/&amp;/g, '&'),
  ) as Layout[];
}

/** What is wrong with a chart's text: outside the chart, or over another text. */
function textProblems(charts: Layout[]): string[] {
  const problems: string[] = [];
  for (const [n, c] of charts.entries()) {
    for (const t of c.texts)
      if (t.l < c.svg.l - 0.5 || t.r > c.svg.r + 0.5 || t.t < c.svg.t - 0.5 || t.b > c.svg.b + 0.5)
        problems.push(`chart ${n}: "${t.text}" lies outside the chart`);
    for (let i = 0; i < c.texts.length; i++)
      for (let j = i + 1; j < c.texts.length; j++) {
        const [a, b] = [c.texts[i]!, c.texts[j]!];
        const w = Math.min(a.r, b.r) - Math.max(a.l, b.l);
        const h = Math.min(a.b, b.b) - Math.max(a.t, b.t);
        if (w > 1 && h > 1) problems.push(`chart ${n}: "${a.text}" overlaps "${b.text}"`);
      }
  }
  return problems;
}

const pageErrors = (log: string) => log.split('\n').filter((l) => /CONSOLE|Uncaught|SyntaxError|ReferenceError/.test(l));

describe('the pictures in a browser', () => {
  it('renders the trend page of a history: both series, the bands, the verdicts, version changes and the regression, no error', async () => {
    writeFileSync(join(dir, HISTORY_FILE), HISTORY.map((e) => JSON.stringify(e)).join('\n'));
    const out = join(dir, 'trend.html');
    const t = await execa('node', ['bin/dutlab.js', 'trend', '--reports', dir, '--out', out], { cwd: ROOT, reject: false });
    expect(t.exitCode, t.stderr).toBe(0);
    expect(t.stderr).toContain('trend of 3 run(s)');
    const { dom, log } = await render(out);
    expect(pageErrors(log)).toEqual([]);
    expect(dom).toMatch(/<svg[^>]*aria-label="virtual-lab-dpdk \/ ovs-dpdk"/);
    expect(dom.match(/<polyline class="series" data-series="(NDR|PDR)@64"/g)).toHaveLength(2);
    expect(dom.match(/class="point regression"/g)).toHaveLength(2);
    expect(dom.match(/<g class="version-change">/g)).toHaveLength(2);
  }, 120_000);

  it("renders a run's report.html: a point per trial and the bounds", async () => {
    const file = join(dir, 'report.html');
    writeFileSync(file, runReportHtml('r1', [SEARCH_64]));
    const { dom, log } = await render(file);
    expect(pageErrors(log)).toEqual([]);
    expect(dom.match(/<circle class="trial"/g)).toHaveLength(4);
    expect(dom.match(/<line class="bound" data-goal="NDR"/g)).toHaveLength(2);
  }, 120_000);
});

describe('pictures a person can read', () => {
  it("draws every text of the trend page and of a run's report.html inside its chart, none over another: axes with values and units, legends, bounds labelled", async () => {
    // A long history (thirty nightlies, two version changes, a step down) and a search whose NDR and PDR bounds coincide.
    const long: typeof HISTORY = Array.from({ length: 30 }, (_, i) => {
      const e = structuredClone(HISTORY[i < 12 ? 0 : i < 24 ? 1 : 2]!);
      const day = String(i + 1).padStart(2, '0');
      return { ...e, runId: `202611${day}-010000-00${day}`, startedAt: `2026-11-${day}T01:00:00Z` };
    });
    writeFileSync(join(dir, HISTORY_FILE), long.map((e) => JSON.stringify(e)).join('\n'));
    const trend = join(dir, 'trend-long.html');
    const t = await execa('node', ['bin/dutlab.js', 'trend', '--reports', dir, '--out', trend], { cwd: ROOT, reject: false });
    expect(t.exitCode, t.stderr).toBe(0);
    const report = join(dir, 'report-coinciding.html');
    const pdr = { ...SEARCH_64.goals[0]!, goal: 'PDR', lossRatio: 0.005 };
    writeFileSync(report, runReportHtml('r1', [{ ...SEARCH_64, goals: [...SEARCH_64.goals, pdr] }]));
    for (const page of [trend, report]) {
      const charts = await layoutOf(page);
      expect(charts.length, page).toBeGreaterThan(0);
      expect(textProblems(charts), page).toEqual([]);
      const words = charts.flatMap((c) => c.texts.map((x) => x.text)).join(' | ');
      // Values and units on both axes, a legend.
      expect(words).toMatch(page === trend ? /lower bound, kframes\/s.*runs in the order they started/ : /loss ratio.*load, kframes\/s \(log scale\)/);
      expect(words).toMatch(page === trend ? /NDR at 64 B: lower bound.*a regression begins/ : /no loss.*lost frames.*NDR lower bound/);
      if (page === report) expect(words).toMatch(/NDR lower bound 40\.0 kfps.*NDR upper bound 42\.0 kfps.*PDR lower bound 40\.0 kfps/);
    }
  }, 120_000);

  it('tells a layout with text outside its chart or over another text', () => {
    const svg = { l: 0, r: 100, t: 0, b: 100 };
    expect(
      textProblems([
        {
          svg,
          texts: [
            { text: 'a', l: 10, r: 40, t: 10, b: 20 },
            { text: 'b', l: 30, r: 60, t: 12, b: 22 },
            { text: 'c', l: 90, r: 120, t: 50, b: 60 },
          ],
        },
      ]),
    ).toEqual(['chart 0: "c" lies outside the chart', 'chart 0: "a" overlaps "b"']);
  });
});
