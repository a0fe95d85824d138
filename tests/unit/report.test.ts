import { describe, expect, it } from 'vitest';
import { junitXml } from '../../lib/report/junit.js';
import { verdictOf, type CaseResult } from '../../lib/report/verdict.js';

const pass = (id: string): CaseResult => ({ id, name: id, group: 'setup', status: 'passed', durationMs: 10 });

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
