// The trend page and a run's report.html opened in headless Chromium (Debian's
// package, installed by .ci/run) in a network namespace of its own, so that it
// can reach nothing: the charts render, with the expected series, and the
// browser reports no error on the page.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
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

/** The page's DOM after load, and what the browser logged. */
async function render(file: string): Promise<{ dom: string; log: string }> {
  const profile = join(dir, `profile-${Date.now()}`);
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
      '--dump-dom',
      `file://${file}`,
    ],
    { reject: false, timeout: 60_000 },
  );
  expect(r.exitCode, r.stderr).toBe(0);
  return { dom: r.stdout, log: r.stderr };
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
