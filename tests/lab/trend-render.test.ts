// The trend page and a run's report.html opened in headless Chromium (Debian's
// package, installed by .ci/run) in a network namespace of its own, so that it
// can reach nothing: the charts render, with the expected series, and the
// browser reports no error on the page.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, describe, expect, it } from 'vitest';
import { HISTORY_FILE } from '../../lib/store/file.js';
import { runReportHtml } from '../../lib/report/run-page.js';
import { soakReportHtml } from '../../lib/report/soak-charts.js';
import type { SoakMeasured } from '../../lib/results/soak.js';
import { HISTORY, SEARCH_64, SEARCH_64_LATENCY } from '../helpers/history.js';
import { pageErrors, pageLayout, renderPage, textProblems } from '../helpers/chromium.js';

const ROOT = new URL('../..', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'dutlab-trend-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const render = (file: string) => renderPage(file, dir);
const layoutOf = (page: string) => pageLayout(page, dir);

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
    // Latency across the runs: p50 and p99 at 50 % of PDR, a point per run each.
    expect(dom.match(/<polyline class="latency-series" data-series="p(50|99) at 64 B"/g)).toHaveLength(2);
    expect(dom.match(/<circle class="latency-point"/g)).toHaveLength(6);
    // The telemetry trial across the runs: cycles per packet, the EMC's and the megaflow cache's shares; the rise in cycles.
    expect(dom.match(/<polyline class="telemetry-series"/g)).toHaveLength(3);
    expect(dom.match(/class="telemetry-point rise worse"/g)).toHaveLength(1);
  }, 120_000);

  it("renders a run's report.html: a point per trial and the bounds, the latency's percentile curves", async () => {
    const file = join(dir, 'report.html');
    writeFileSync(file, runReportHtml('r1', [SEARCH_64_LATENCY]));
    const { dom, log } = await render(file);
    expect(pageErrors(log)).toEqual([]);
    expect(dom.match(/<circle class="trial"/g)).toHaveLength(4);
    expect(dom.match(/<line class="bound" data-goal="NDR"/g)).toHaveLength(2);
    // The generator alone and the four loads.
    expect(dom.match(/<polyline class="percentile-curve"/g)).toHaveLength(5);
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
    writeFileSync(report, runReportHtml('r1', [{ ...SEARCH_64_LATENCY, goals: [...SEARCH_64.goals, pdr] }]));
    for (const page of [trend, report]) {
      const charts = await layoutOf(page);
      expect(charts.length, page).toBeGreaterThan(0);
      expect(textProblems(charts), page).toEqual([]);
      const words = charts.flatMap((c) => c.texts.map((x) => x.text)).join(' | ');
      // Values and units on both axes, a legend.
      expect(words).toMatch(page === trend ? /lower bound, kframes\/s.*runs in the order they started/ : /loss ratio.*load, kframes\/s \(log scale\)/);
      expect(words).toMatch(page === trend ? /NDR at 64 B: lower bound.*a regression begins/ : /no loss.*lost frames.*NDR lower bound/);
      if (page === report) expect(words).toMatch(/NDR lower bound 40\.0 kfps.*NDR upper bound 42\.0 kfps.*PDR lower bound 40\.0 kfps/);
      // The latency: its axes with units, a legend naming each curve.
      expect(words).toMatch(
        page === trend
          ? /latency at 50 % of PDR \(log\).*runs in the order they started.*p50 at 64 B.*p99 at 64 B/
          : /µs.*one-way latency \(log scale\).*p99\.9.*the generator alone \(guest bypassed\).*90 % of PDR/,
      );
      // The telemetry charts: their axes with units, a legend naming each series and what a marked point means.
      if (page === trend)
        expect(words).toMatch(
          /cycles per packet \(processing\).*runs in the order they started.*processing cycles per packet on core 1 at 64 B.*a rise begins \(worse\).*% of the packets.*exact-match cache hits on core 1 at 64 B.*megaflow \(dpcls\) hits on core 1 at 64 B.*a change begins/,
        );
    }
  }, 120_000);

  it("draws a soak's report.html: the frames lost per interval, the latency per window, each watched process's memory and the PMDs' busy share, every text inside its chart", async () => {
    // 90 s sampled every second: six intervals with loss, four processes, one of them growing by 1 MB a second.
    const lost = Array.from({ length: 90 }, (_, i) => ([7, 22, 37, 52, 67, 82].includes(i) ? 200 : 0));
    const names = ['ovs-vswitchd', 'qemu', 'steady', 'grower'];
    const soak: SoakMeasured = {
      kind: 'soak',
      rate: 2000,
      durationS: 90,
      intervalS: 1,
      frames: 180_000,
      samples: Array.from({ length: 90 }, (_, t) => ({
        t,
        hugepagesFree: 100,
        processes: Object.fromEntries(names.map((n, i) => [n, { rssKb: n === 'grower' ? 10_240 + 1024 * t : 40_000 * (i + 1), fds: 20 }])),
        // One PMD busy 30 % of each second (60 % from 45 s on), 2000 packets a second.
        pmd: { processing: 1e9 * (0.3 * t + 0.3 * Math.max(0, t - 45)), idle: 1e9 * (0.7 * t - 0.3 * Math.max(0, t - 45)), packets: 2000 * t },
      })),
      lostPerInterval: lost,
      growth: names.map((n) => ({
        name: n,
        fitted: 85,
        firstKb: 1,
        lastKb: 2,
        slopeMbPerHour: 0,
        lowMbPerHour: 0,
        highMbPerHour: 0,
        boundMbPerHour: 500,
        flagged: n === 'grower',
        text: n,
      })),
      maxLossEvents: 0,
      maxGrowthMbPerHour: 500,
      // Nine windows of 10 s; the fourth's p99 above the bound (a queue of 20 ms).
      windowS: 10,
      maxP99Us: 5000,
      latencyWindows: Array.from({ length: 9 }, (_, i) => ({ fromS: i * 10, n: 20_000, p50Us: 400, p99Us: i === 3 ? 20_000 : 900, maxUs: 25_000 })),
    };
    const page = join(dir, 'report-soak.html');
    writeFileSync(page, soakReportHtml('r2', soak));
    const { dom, log } = await render(page);
    expect(pageErrors(log)).toEqual([]);
    expect(dom.match(/<rect class="loss-bar"/g)).toHaveLength(6);
    expect(dom.match(/<polyline class="memory-series"/g)).toHaveLength(4);
    expect(dom.match(/<polyline class="latency-series"/g)).toHaveLength(2);
    expect(dom.match(/<line class="latency-bound"/g)).toHaveLength(1);
    expect(dom.match(/<polyline class="pmd-series"/g)).toHaveLength(1);
    const charts = await layoutOf(page);
    expect(charts).toHaveLength(4);
    expect(textProblems(charts)).toEqual([]);
    const words = charts.flatMap((c) => c.texts.map((x) => x.text)).join(' | ');
    expect(words).toMatch(/frames lost.*seconds into the soak.*frames lost in an interval of 1 s/);
    expect(words).toMatch(/resident memory, MB.*seconds into the soak.*ovs-vswitchd.*grower \(grows\)/);
    expect(words).toMatch(/PMD busy, %.*seconds into the soak.*the PMD threads' busy share in each interval of 1 s/);
    expect(words).toMatch(/one-way latency, ms.*seconds into the soak.*p50 in each window of 10 s.*p99 in each window of 10 s.*bound on p99: 5 ms/);
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
