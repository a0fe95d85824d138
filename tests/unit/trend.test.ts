// The trend page and a run's report.html as text: the series, the bounds, the
// verdicts, the version changes and the regressions are there to see.
import { describe, expect, it } from 'vitest';
import { runReportHtml, trendHtml } from '../../lib/report/trend.js';
import { HISTORY, SEARCH_64 } from '../helpers/history.js';

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
