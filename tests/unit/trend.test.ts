// The trend page and a run's report.html as text: the series, the bounds, the
// verdicts, the version changes and the regressions are there to see.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { newestAnomalies } from '../../lib/report/anomalies.js';
import { appendHistory, HISTORY_FILE, readHistory } from '../../lib/store/file.js';
import { historyEntry, type HistoryEntry } from '../../lib/results/history.js';
import { buildSummary } from '../../lib/report/summary.js';
import { runReportHtml } from '../../lib/report/run-page.js';
import { seriesValues, trendHtml } from '../../lib/report/trend.js';
import { dutlabInProcess } from '../helpers/in-process.js';
import { HISTORY, madeUpTelemetry, runRecord, SEARCH_64 } from '../helpers/history.js';
import { telemetryGroups, telemetrySeries, telemetryTrendCharts, telemetryValues } from '../../lib/report/telemetry-charts.js';

describe('the trend page', () => {
  const html = trendHtml(HISTORY);

  it('is one self-contained page: no script, nothing fetched', () => {
    expect(html).toMatch(/^<!doctype html>/);
    expect(html).not.toMatch(/<script|<link|src=|href=/);
  });

  it("draws NDR and PDR per run with their bounds, each run's verdict, the DPDK changes, and the drop highlighted", () => {
    expect(html).toContain('<h2>virtual-lab-dpdk / ovs-dpdk</h2>');
    expect(html.match(/<polyline class="series" data-series="(NDR|PDR)@64"/g)).toHaveLength(2);
    expect(html.match(/<polygon class="band"/g)).toHaveLength(2);
    expect(html.match(/<rect class="verdict" data-verdict="pass"/g)).toHaveLength(3);
    expect(html.match(/<g class="version-change">/g)).toHaveLength(2);
    expect(html).toContain('dpdk: DPDK 23.11.1');
    expect(html.match(/class="point regression"/g)).toHaveLength(2);
    expect(html).toContain('<title>20261122-010000-0003: NDR 64 B 20.0 kfps..21.0 kfps REGRESSION</title>');
  });

  it('says so when there is nothing to draw', () => {
    expect(trendHtml([])).toContain('<p>No runs in the history yet.</p>');
  });

  it("draws the telemetry trial's cycles per packet and lookup shares per run, jumpavg's groups, a rise in cycles marked as worse", () => {
    expect(html).toContain('<h2>virtual-lab-dpdk / ovs-dpdk: processing cycles per packet</h2>');
    expect(html).toContain('<h2>virtual-lab-dpdk / ovs-dpdk: lookup hit shares</h2>');
    expect(html.match(/<polyline class="telemetry-series" data-series="[^"]*"/g)).toEqual([
      '<polyline class="telemetry-series" data-series="pmd.cycles_per_packet.processing|core 1|64|at the PDR"',
      '<polyline class="telemetry-series" data-series="pmd.hits.emc|core 1|64|at the PDR"',
      '<polyline class="telemetry-series" data-series="pmd.hits.megaflow|core 1|64|at the PDR"',
    ]);
    // The DPDK update's 41,000 cycles against 20,500 and 20,490: a rise, and the worse way for cycles.
    expect(html.match(/class="telemetry-point rise worse"/g)).toHaveLength(1);
    expect(html).toContain('<title>20261122-010000-0003: processing cycles per packet on core 1 at 64 B 41,000, a rise begins</title>');
    // The EMC fell and the megaflow cache rose as much: changes, neither the worse way.
    expect(html.match(/class="telemetry-point (fall|rise)"/g)).toEqual(['class="telemetry-point fall"', 'class="telemetry-point rise"']);
  });

  it('keeps a fixed load apart from the PDR, and a figure a run did not offer out of its series; nothing where no run has a telemetry trial', () => {
    const [a, b, c] = HISTORY;
    const fixed = { ...madeUpTelemetry(20_000, 21_000, 99), goal: 'fixed load' as const };
    const notOffered = madeUpTelemetry(60_000, 0, 99);
    notOffered.metrics[0] = { ...notOffered.metrics[0]!, value: null, notOffered: 'no PMD thread' };
    const runs = [a!, { ...b!, telemetry: [fixed] }, { ...c!, telemetry: [notOffered] }];
    const series = telemetrySeries(runs, ['pmd.cycles_per_packet.processing']);
    expect(series.map((s) => s.trial)).toEqual(['at 20000 frames/s', 'at the PDR']);
    expect(telemetryValues(runs, series[1]!)).toEqual([{ i: 0, value: 20_500 }]);
    expect(telemetryValues(runs, series[0]!)).toEqual([{ i: 1, value: 21_000 }]);
    expect(
      telemetryTrendCharts(
        'lab',
        runs.map(({ telemetry, ...r }) => r),
      ),
    ).toBe('');
  });

  it('groups a series as jumpavg groups NDR: a step is one change, noise around one level none', () => {
    const at = (cycles: number[]) => cycles.map((v, i) => ({ ...HISTORY[0]!, runId: `r${i}`, telemetry: [madeUpTelemetry(60_000, v, 99)] }));
    const s = telemetrySeries(at([1]), ['pmd.cycles_per_packet.processing'])[0]!;
    const step = telemetryGroups(at([20_000, 20_300, 19_800, 20_100, 26_000, 26_200, 25_900]), s, 1, true);
    expect(step.map((g) => [g.first, g.last, g.change, g.worse])).toEqual([
      [0, 3, 'none', false],
      [4, 6, 'rise', true],
    ]);
    expect(telemetryGroups(at([20_000, 20_300, 19_800, 20_100, 20_200, 19_900]), s, 1, true)).toHaveLength(1);
    // Fewer cycles: a fall, not the worse way.
    expect(telemetryGroups(at([26_000, 26_200, 25_900, 20_000, 20_300, 19_800]), s, 1, true).map((g) => [g.change, g.worse])).toEqual([
      ['none', false],
      ['fall', false],
    ]);
  });
});

describe("a run's report.html", () => {
  it('draws every trial (green: passed, red: lost frames, grey: the generator fell short) and the bounds', () => {
    const html = runReportHtml('r1', [SEARCH_64]);
    expect(html.match(/<circle class="trial"/g)).toHaveLength(4);
    expect(html).toContain('fill="#d62728"><title>100.0 kfps for 1 s: loss 10.000 %</title>');
    expect(html.match(/<line class="bound" data-goal="NDR"/g)).toHaveLength(2);
    expect(html).toContain('<tr><td>NDR</td><td>40.0 kfps</td><td>42.0 kfps</td></tr>');
  });
});

describe('anomalies across nightlies (jumpavg), and `dutlab trend --check`', () => {
  /** Nightlies of one lab: NDR and PDR from a seeded noise around `ndr`, a DPDK update where the level changes. */
  function nightlies(levels: Array<{ runs: number; ndr: number; dpdk: string }>, spread = 0.04): HistoryEntry[] {
    let x = 42;
    const jitter = () => {
      x = (x * 1103515245 + 12345) % 2 ** 31;
      return 1 + spread * (2 * (x / 2 ** 31) - 1);
    };
    let day = 0;
    return levels.flatMap((l) =>
      Array.from({ length: l.runs }, () => {
        day++;
        const ndr = Math.round(l.ndr * jitter());
        const runId = `202611${String(day).padStart(2, '0')}-010000-${String(day).padStart(4, '0')}`;
        return {
          runId,
          startedAt: `2026-11-${String(day).padStart(2, '0')}T01:00:00Z`,
          testbed: 'lab-a',
          profile: 'ovs-dpdk',
          suites: ['throughput'],
          versions: { ovs: 'ovs-vsctl (Open vSwitch) 3.1.0', dpdk: l.dpdk },
          verdict: 'pass',
          throughput: [{ frame: 64, goal: 'NDR', lower: ndr, upper: Math.round(ndr * 1.02), limitedByGenerator: false }],
        };
      }),
    );
  }

  it('names a slow slide no pair of neighbouring runs shows: where it began and what changed there', () => {
    // A 10 % drop inside a ±4 % noise: neighbouring runs differ by up to 8 % anyway.
    const h = nightlies([
      { runs: 18, ndr: 40_000, dpdk: 'DPDK 22.11.10' },
      { runs: 8, ndr: 36_000, dpdk: 'DPDK 23.11.1' },
    ]);
    const v = newestAnomalies(h);
    expect(v).toHaveLength(1);
    expect(v[0]!.regression).toBe(true);
    expect(v[0]!.text).toMatch(
      /^lab-a \/ ovs-dpdk: NDR 64 B: REGRESSION since run 20261119-010000-0019: 3\d\.\d kfps over 8 run\(s\), down from 4\d\.\d kfps \(\d+\.\d % less\); changed there: dpdk: DPDK 23\.11\.1$/,
    );
  });

  it('a noisy flat history, or one that went back up, is no regression', () => {
    expect(newestAnomalies(nightlies([{ runs: 30, ndr: 40_000, dpdk: 'DPDK 22.11.10' }])).map((v) => v.text)).toEqual([
      expect.stringMatching(/^lab-a \/ ovs-dpdk: NDR 64 B: 4\d\.\d kfps over the last 30 run\(s\): no regression$/),
    ]);
    const recovered = nightlies([
      { runs: 10, ndr: 40_000, dpdk: 'DPDK 22.11.10' },
      { runs: 6, ndr: 30_000, dpdk: 'DPDK 23.11.0' },
      { runs: 6, ndr: 40_000, dpdk: 'DPDK 23.11.1' },
    ]);
    expect(newestAnomalies(recovered)[0]).toMatchObject({ regression: false, text: expect.stringMatching(/a progression: no regression$/) });
  });

  it('counts a run the DUT failed as zero, and leaves out what says nothing of the DUT', () => {
    const h = nightlies([{ runs: 10, ndr: 40_000, dpdk: 'DPDK 22.11.10' }]);
    const broken = h.map((e, i) => (i === 9 ? { ...e, verdict: 'fail', throughput: [] } : i === 5 ? { ...e, verdict: 'infra-error', throughput: [] } : e));
    expect(seriesValues(broken, 'NDR', 64).map((v) => v.i)).toEqual([0, 1, 2, 3, 4, 6, 7, 8, 9]);
    expect(seriesValues(broken, 'NDR', 64).at(-1)!.value).toBe(0);
    expect(newestAnomalies(broken)[0]).toMatchObject({ regression: true, text: expect.stringMatching(/since run 20261110-010000-0010: 0\.0 kfps over 1 run/) });
  });

  it('`dutlab trend --check` exits 1 on a history with a step down, 0 on a noisy flat one, and draws the groups', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dutlab-trend-'));
    try {
      const write = (h: HistoryEntry[]) => writeFileSync(join(dir, HISTORY_FILE), `${h.map((e) => JSON.stringify(e)).join('\n')}\n`);
      write(
        nightlies([
          { runs: 18, ndr: 40_000, dpdk: 'DPDK 22.11.10' },
          { runs: 8, ndr: 36_000, dpdk: 'DPDK 23.11.1' },
        ]),
      );
      const down = await dutlabInProcess('trend', '--check', '--reports', dir);
      expect(down.exitCode, down.stderr).toBe(1);
      expect(down.stdout).toMatch(/REGRESSION since run 20261119-010000-0019/);
      const page = readFileSync(join(dir, 'trend.html'), 'utf8');
      expect(page.match(/<line class="group (normal|regression)"/g)).toEqual(['<line class="group normal"', '<line class="group regression"']);
      expect(page.match(/class="point regression"/g)).toHaveLength(1);
      write(nightlies([{ runs: 26, ndr: 40_000, dpdk: 'DPDK 22.11.10' }]));
      const flat = await dutlabInProcess('trend', '--check', '--reports', dir);
      expect(flat.exitCode, flat.stderr).toBe(0);
      expect(flat.stdout).toMatch(/no regression\n$/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('trials in the history and in summary.json (issue 27)', () => {
  it('keeps every trial of a run through history.ts: load, duration, frames offered, sent and received, loss, generator short; read back as written', () => {
    const run = runRecord({ runId: 'run-t', throughput: [SEARCH_64] }).run;
    const entry = historyEntry(run, 'pass');
    expect(entry.trials).toEqual(
      SEARCH_64.trials.map((t) => ({
        frame: 64,
        rate: t.rate,
        durationS: t.durationS,
        offered: t.offered,
        sent: t.sent,
        received: t.received,
        lossRatio: t.lossRatio,
        generatorShort: false,
      })),
    );
    const dir = mkdtempSync(join(tmpdir(), 'dutlab-trials-'));
    try {
      appendHistory(dir, entry);
      expect(readHistory(dir).entries[0]!.trials).toEqual(entry.trials);
      // A line whose trial is of the wrong shape is skipped and named, not read as a run without trials.
      writeFileSync(join(dir, HISTORY_FILE), `${JSON.stringify({ ...entry, trials: [{ ...entry.trials![0], sent: 'many' }] })}\n`);
      expect(readHistory(dir).skipped[0]).toMatch(/history\.jsonl:1: skipped: trials\.0\.sent: expected number, got string/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    const summary = buildSummary(run, [], { verdict: 'pass', exitCode: 0, reason: '' });
    expect(summary.trials).toEqual(entry.trials);
    expect(buildSummary(runRecord({ runId: 'run-pvp' }).run, [], { verdict: 'pass', exitCode: 0, reason: '' })).not.toHaveProperty('trials');
  });
});
