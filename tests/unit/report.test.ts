import { describe, expect, it } from 'vitest';
import { junitXml } from '../../lib/report/junit.js';
import { verdictOf } from '../../lib/report/verdict.js';
import type { CaseOutcome } from '../../lib/results/run.js';
import { throughputLines } from '../../lib/report/lines.js';
import { throughputTable } from '../../lib/suite/throughput/result.js';
import { SEARCH_64 } from '../helpers/history.js';
import { directionsAt, type ThroughputResult } from '../../lib/results/throughput.js';

const pass = (id: string): CaseOutcome => ({ id, name: id, group: 'setup', status: 'passed', durationMs: 10 });

describe('verdict and exit code', () => {
  it('passes when every testcase passed', () => {
    expect(verdictOf([pass('a'), pass('b')])).toMatchObject({ verdict: 'pass', exitCode: 0 });
  });

  it('fails the DUT (1) when only DUT checks failed', () => {
    const v = verdictOf([pass('a'), { ...pass('b'), status: 'failed', kind: 'dut', message: 'sysctl: ip_forward is 0' }]);
    expect(v).toEqual({ verdict: 'fail', exitCode: 1, reason: 'b: sysctl: ip_forward is 0' });
  });

  it('calls it an infrastructure error (2) when a lab machine failed, whatever else failed', () => {
    const v = verdictOf([
      { ...pass('a'), status: 'failed', kind: 'dut' },
      { ...pass('b'), status: 'failed', kind: 'infra', message: '[tg] connection refused' },
    ]);
    expect(v).toMatchObject({ verdict: 'infra-error', exitCode: 2, reason: 'b: [tg] connection refused' });
  });

  it('calls a run with no testcase, or one that could not start, an infrastructure error', () => {
    expect(verdictOf([])).toMatchObject({ exitCode: 2, reason: 'no testcase ran' });
    expect(verdictOf([{ ...pass('a'), status: 'skipped' }])).toMatchObject({ exitCode: 2 });
    expect(verdictOf([pass('a')], ['the suite could not run: boom'])).toMatchObject({ exitCode: 2 });
  });
});

describe('JUnit XML', () => {
  it('has a suite per group, properties, failures with their kind and skips with their reason, all escaped', () => {
    const xml = junitXml('dutlab', { testbed: 'lab <a>', profile: 'virtual' }, [
      pass('s1'),
      { id: 'c1', name: 'ARP: "gateway"', group: 'checks', status: 'failed', kind: 'dut', message: 'resolves to 00:11 & <x>', durationMs: 1500 },
      { id: 'c2', name: 'counters', group: 'checks', status: 'skipped', message: 'skipped: "Send" failed', durationMs: 0 },
    ]);
    expect(xml).toContain('<testsuites name="dutlab" tests="3" failures="1" errors="0" skipped="1">');
    expect(xml).toContain('<testsuite name="dutlab.checks" tests="2" failures="1" errors="0" skipped="1" time="1.500">');
    expect(xml).toContain('<property name="testbed" value="lab &lt;a&gt;"/>');
    expect(xml).toContain('<failure message="resolves to 00:11 &amp; &lt;x&gt;" type="DutFailure">');
    expect(xml).toContain('<skipped message="skipped: &quot;Send&quot; failed"/>');
    expect(xml).toContain('name="ARP: &quot;gateway&quot;"');
  });
});

describe("the throughput suite's terminal lines", () => {
  it('are made from the searches themselves, and say what the summary table says', () => {
    const limited = { ...SEARCH_64, goals: SEARCH_64.goals.map((g) => ({ ...g, upperBound: null, limitedByGenerator: true, stoppedBy: 'the time cap' })) };
    for (const results of [[SEARCH_64], [limited]]) {
      // What the CLI printed before: each table row's cells.
      const fromCells = throughputTable(results).rows.map(
        (row) => `${row[1]} at ${row[0]}: ${row[2]}..${row[3]} Mfps, L1 ${row[6]} Mb/s${row[9] ? ` (${row[9]})` : ''}`,
      );
      expect(throughputLines(results)).toEqual(fromCells);
    }
    expect(throughputLines([SEARCH_64])[0]).toMatch(/^NDR \(loss 0\) at 64 B: 0\.\d{3}\.\.0\.\d{3} Mfps, L1 ([\d.]+|-) Mb\/s$/);
  });
});

describe('a search both ways in the throughput table', () => {
  it("says the rates are each direction's and gives each direction's frames at each goal's lower bound", () => {
    const half = (n: number) => Math.round(n / 2);
    const both: ThroughputResult = {
      ...SEARCH_64,
      direction: 'both',
      trials: SEARCH_64.trials.map((t) => ({
        ...t,
        directions: {
          forward: { sent: half(t.sent), received: half(t.sent), lossRatio: 0 },
          reverse: { sent: half(t.sent), received: t.received - half(t.sent), lossRatio: (t.sent - t.received) / half(t.sent) },
        },
      })),
    };
    // The NDR's lower bound (40,000) has one 2 s trial there: 20,000 frames each way, none lost.
    expect(directionsAt(both, 40_000)).toEqual({ forward: { sent: 20_000, received: 20_000, lost: 0 }, reverse: { sent: 20_000, received: 20_000, lost: 0 } });
    expect(directionsAt(both, 42_000)!.reverse).toEqual({ sent: 21_000, received: 16_800, lost: 4_200 });
    expect(throughputTable([both]).notes).toEqual([
      "64 B: both directions, each at the rate shown (the aggregate is twice it; the conditional throughput counts both directions' frames); at the NDR's lower bound forward 20000/20000 returned, 0 lost, reverse 20000/20000 returned, 0 lost",
    ]);
    // One way: no such note, and no figures per direction.
    expect(throughputTable([SEARCH_64]).notes).toEqual([]);
    expect(directionsAt(SEARCH_64, 40_000)).toBeNull();
  });
});
