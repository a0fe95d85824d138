// `dutlab compare` on made-up runs: what is a regression, what is only a change.
import { describe, expect, it } from 'vitest';
import { compareRuns, comparisonText } from '../../lib/report/compare.js';
import type { RunRecord } from '../../lib/results/run.js';
import type { CaseOutcome } from '../../lib/results/run.js';
import type { ThroughputResult } from '../../lib/results/throughput.js';
import { runRecord } from '../helpers/history.js';

const goal = (
  name: string,
  lower: number | null,
  upper: number | null,
  spread: { highestPass: number | null; lowestExceed: number | null },
  limited = false,
) => ({
  goal: name,
  lossRatio: name === 'NDR' ? 0 : 0.005,
  lowerBound: lower,
  upperBound: upper,
  relativeWidth: lower && upper ? (upper - lower) / upper : null,
  conditionalThroughput: lower,
  limitedByGenerator: limited,
  spread,
  lowerBps: null,
});
const tput = (goals: ThroughputResult['goals']): ThroughputResult => ({
  frame: 64,
  calibration: null,
  generatorLimit: null,
  maxRate: 400_000,
  goals,
  trials: [],
});
const record = (runId: string, t: ThroughputResult | null, cases: CaseOutcome[] = [], dpdk = 'DPDK 22.11.11'): RunRecord =>
  runRecord({ runId, cases, versions: { ovs: '3.1.0', dpdk, hostKernel: '6.1', guestKernel: '6.1' }, ...(t ? { throughput: [t] } : {}) });
const c = (id: string, status: CaseOutcome['status'], message?: string): CaseOutcome => ({
  id,
  name: id,
  suite: 'pvp',
  group: 'checks',
  status,
  durationMs: 0,
  ...(message ? { message } : {}),
});

describe('compare', () => {
  const base = record('base', tput([goal('NDR', 48_000, 50_000, { highestPass: 52_000, lowestExceed: 40_000 })]));

  it('reads two healthy runs that overlap in what their trials showed as no regression, even with bounds apart', () => {
    const cand = record('cand', tput([goal('NDR', 41_000, 43_000, { highestPass: 45_000, lowestExceed: 39_000 })]));
    expect(compareRuns(base, cand, { throughput: 0.1, latency: 0.5 }).regressions).toEqual([]);
  });

  it("calls a drop below the baseline's worst evidence beyond the threshold a regression, with the figures", () => {
    const cand = record('cand', tput([goal('NDR', 9_000, 11_000, { highestPass: 9_500, lowestExceed: 9_800 })]));
    expect(compareRuns(base, cand, { throughput: 0.1, latency: 0.5 }).regressions).toEqual([
      'NDR at 64-byte frames dropped: 9.0 kfps..11.0 kfps now (no trial passed above 9.5 kfps), 48.0 kfps..50.0 kfps in the baseline (no trial exceeded below 40.0 kfps): 76 % below, threshold 10 %',
    ]);
    // Within the threshold of the baseline's worst: not a regression.
    const near = record('near', tput([goal('NDR', 36_000, 37_000, { highestPass: 36_500, lowestExceed: 36_800 })]));
    expect(compareRuns(base, near, { throughput: 0.1, latency: 0.5 }).regressions).toEqual([]);
  });

  it('does not compare a search both ways with one one way: a rate each way is not a rate one way', () => {
    const cand = record('cand', { ...tput([goal('NDR', 9_000, 11_000, { highestPass: 9_500, lowestExceed: 9_800 })]), direction: 'both' });
    const r = compareRuns(base, cand, { throughput: 0.1, latency: 0.5 });
    expect(r.regressions).toEqual([]);
    expect(r.changes).toContain('throughput at 64-byte frames: not compared (the baseline sent one-way, the candidate both)');
  });

  it('does not call a search its cap stopped before any bound a regression: it measured nothing', () => {
    const capped = record(
      'capped',
      tput([{ ...goal('NDR', null, null, { highestPass: 45_000, lowestExceed: 30_000 }), stoppedBy: 'stopped by the cap of 40 s on the search' }]),
    );
    const r = compareRuns(base, capped, { throughput: 0.1, latency: 0.5 });
    expect(r.regressions).toEqual([]);
    expect(r.changes).toEqual(['NDR at 64-byte frames: not measured now (stopped by the cap of 40 s on the search), 48.0 kfps in the baseline']);
    const none = record('none', tput([goal('NDR', null, 1000, { highestPass: null, lowestExceed: 1000 })]));
    expect(compareRuns(base, none, { throughput: 0.1, latency: 0.5 }).regressions).toEqual([
      'NDR at 64-byte frames: no load forwarded within the goal now, 48.0 kfps in the baseline',
    ]);
  });

  it('treats a generator-limited baseline as a lower bound only', () => {
    const limited = record('lim', tput([goal('NDR', 100_000, null, { highestPass: 100_000, lowestExceed: null }, true)]));
    expect(
      compareRuns(limited, record('same', tput([goal('NDR', 100_000, null, { highestPass: 100_000, lowestExceed: null }, true)])), {
        throughput: 0.1,
        latency: 0.5,
      }).regressions,
    ).toEqual([]);
    expect(
      compareRuns(limited, record('low', tput([goal('NDR', 60_000, 62_000, { highestPass: 61_000, lowestExceed: 62_000 })])), { throughput: 0.1, latency: 0.5 })
        .regressions,
    ).toHaveLength(1);
  });

  it('compares the cases: passed then failed is a regression, a new skip or block is named, and says what versions changed', () => {
    const b = record('b', null, [c('check.packets', 'passed'), c('check.arp', 'passed'), c('check.flows', 'passed')]);
    const n = record(
      'n',
      null,
      [c('check.packets', 'failed', 'return packets: 1000 lost'), c('check.arp', 'blocked', 'blocked: this lab has no vm'), c('check.new', 'passed')],
      'DPDK 23.11.1',
    );
    const r = compareRuns(b, n, { throughput: 0.1, latency: 0.5 });
    expect(r.regressions).toEqual(['pvp: check.packets (check.packets) passed in the baseline and fails now: return packets: 1000 lost']);
    expect(r.changes).toEqual([
      'pvp: check.arp (check.arp) passed in the baseline and is blocked now: blocked: this lab has no vm',
      'new testcase pvp: check.new (check.new): passed',
      'testcase pvp: check.flows (check.flows) is gone',
    ]);
    expect(r.versions.find((v) => v.component === 'dpdk')).toEqual({ component: 'dpdk', baseline: 'DPDK 22.11.11', candidate: 'DPDK 23.11.1', changed: true });
    expect(comparisonText(b, n, r)).toMatch(/dpdk {9}DPDK 22\.11\.11 {2}-> {2}DPDK 23\.11\.1\n/);
  });
});
