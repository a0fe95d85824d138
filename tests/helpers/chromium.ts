// A page opened in headless Chromium (Debian's package, installed by .ci/run)
// in a network namespace of its own, so that it can reach nothing: its DOM
// after load, what the browser logged, and where it drew each chart's text.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { expect } from 'vitest';

/** The page's DOM after load, and what the browser logged; at a common window width (1280 px). */
export async function renderPage(file: string, dir: string): Promise<{ dom: string; log: string }> {
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
export interface Layout {
  svg: Box;
  texts: Array<Box & { text: string }>;
}

/**
 * Where the browser drew each chart and each text in it: the page with a
 * script added (to a copy; the page itself has none) that writes every
 * <svg>'s and every <text>'s box into the DOM, read back from --dump-dom.
 */
export async function pageLayout(page: string, dir: string): Promise<Layout[]> {
  const measure = `<script>
const box = (e) => { const r = e.getBoundingClientRect(); return { l: r.left, r: r.right, t: r.top, b: r.bottom }; };
const out = [...document.querySelectorAll('svg')].map((svg) => ({ svg: box(svg), texts: [...svg.querySelectorAll('text')].map((t) => ({ text: t.textContent, ...box(t) })) }));
const pre = document.createElement('pre'); pre.id = 'layout'; pre.textContent = JSON.stringify(out); document.body.append(pre);
</script>`;
  const copy = join(dir, `measured-${Date.now()}.html`);
  writeFileSync(copy, readFileSync(page, 'utf8').replace('</body>', `${measure}</body>`));
  const { dom } = await renderPage(copy, dir);
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
export function textProblems(charts: Layout[]): string[] {
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

export const pageErrors = (log: string) => log.split('\n').filter((l) => /CONSOLE|Uncaught|SyntaxError|ReferenceError/.test(l));
