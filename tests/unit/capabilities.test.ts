// The requirement model on its own: features, version ranges, and the
// difference between blocked (the lab cannot) and skipped (something failed).
import { describe, expect, it } from 'vitest';
import {
  IVSHMEM_REMOVED,
  KNI_REMOVED,
  compareVersions,
  isBlocked,
  parseVersion,
  unmet,
  type Feature,
  type LabCapabilities,
  type Requirement,
} from '../../lib/capabilities.js';
import { legacyKni } from '../../lib/profiles/legacy-kni.profile.js';
import { virtual } from '../../lib/profiles/virtual.profile.js';
import { verdictOf } from '../../lib/report/verdict.js';
import type { CaseOutcome } from '../../lib/results/run.js';

const lab = (features: Feature[], versions: LabCapabilities['versions'] = {}): LabCapabilities => ({ features: new Set(features), versions });
const legacyLab = (dpdk?: string) => lab([...legacyKni.features], dpdk ? { dpdk } : {});

describe('versions', () => {
  it('reads the first dotted number of what a tool prints', () => {
    expect(parseVersion('DPDK 22.11.11')).toEqual([22, 11, 11]);
    expect(parseVersion('ovs-vsctl (Open vSwitch) 3.1.0')).toEqual([3, 1, 0]);
    expect(parseVersion('6.1.0-28-cloud-amd64')).toEqual([6, 1, 0]);
    expect(parseVersion('1.6.0r2')).toEqual([1, 6, 0]);
    expect(parseVersion('unknown')).toBeNull();
  });

  it('compares part by part, a missing part as 0', () => {
    expect(compareVersions([16, 11], [16, 11, 0])).toBe(0);
    expect(compareVersions([16, 7, 2], [16, 11])).toBe(-1);
    expect(compareVersions([23, 11, 1], [23, 11])).toBe(1);
    expect(compareVersions([9], [10])).toBe(-1);
  });
});

describe('requirements', () => {
  it('blocks what needs a feature the lab lacks, naming it', () => {
    expect(unmet([{ feature: 'vm' }], lab(['guest']))).toBe('blocked: this lab has no vm');
    expect(unmet([{ feature: 'guest' }], lab(['guest']))).toBeNull();
    // The PVP suite needs something that forwards behind the vports, not a VM: the virtual lab's namespace is one.
    expect(unmet([{ feature: 'guest' }], lab([...virtual.features]))).toBeNull();
  });

  it("blocks the guide's profile on a DPDK that removed KNI (23.11) or IVSHMEM (16.11), with the release and the host's version", () => {
    expect(unmet(legacyKni.requires, legacyLab('23.11.1'))).toBe('blocked: IVSHMEM was removed in DPDK 16.11, this host has 23.11.1');
    expect(unmet([KNI_REMOVED], legacyLab('23.11.1'))).toBe('blocked: KNI was removed in DPDK 23.11, this host has 23.11.1');
    expect(unmet([KNI_REMOVED], legacyLab('23.11'))).toBe('blocked: KNI was removed in DPDK 23.11, this host has 23.11');
    expect(unmet([KNI_REMOVED], legacyLab('22.11.11'))).toBeNull();
    expect(unmet([IVSHMEM_REMOVED], legacyLab('16.11.0'))).toMatch(/^blocked: IVSHMEM was removed in DPDK 16\.11/);
    expect(unmet(legacyKni.requires, legacyLab('1.6.0r2'))).toBeNull();
  });

  it('does not block on a version not read yet, nor on one it cannot read', () => {
    expect(unmet(legacyKni.requires, legacyLab())).toBeNull();
    expect(unmet(legacyKni.requires, legacyLab('unknown'))).toBeNull();
  });

  it('bounds from below too, and says the range when the requirement gives no reason', () => {
    const req: Requirement = { feature: 'dpdk', version: { component: 'dpdk', atLeast: '21.11', below: '24.11' } };
    expect(unmet([req], lab(['dpdk'], { dpdk: 'DPDK 20.11.9' }))).toBe('blocked: dpdk needs DPDK 21.11 or later and before 24.11, this host has 20.11.9');
    expect(unmet([req], lab(['dpdk'], { dpdk: 'DPDK 22.11.11' }))).toBeNull();
    expect(unmet([req], lab(['dpdk'], { dpdk: 'DPDK 24.11.1' }))).toMatch(/^blocked: .*this host has 24\.11\.1$/);
  });

  it('gives the first unmet requirement of several', () => {
    expect(unmet([{ feature: 'guest' }, { feature: 'dpdk' }, { feature: 'vm' }], lab(['guest']))).toBe('blocked: this lab has no dpdk');
  });
});

describe('blocked versus skipped in the verdict', () => {
  const c = (status: CaseOutcome['status'], message?: string): CaseOutcome => ({
    id: status,
    name: status,
    group: 'checks',
    status,
    durationMs: 0,
    ...(message ? { message } : {}),
  });

  it('tells the two apart by the reason', () => {
    expect(isBlocked('blocked: this lab has no vm')).toBe(true);
    expect(isBlocked('skipped: "Send" failed')).toBe(false);
  });

  it('passes a run whose blocked cases are all that did not run, and says how many were blocked', () => {
    expect(verdictOf([c('passed'), c('blocked', 'blocked: this lab has no vm')])).toEqual({
      verdict: 'pass',
      exitCode: 0,
      reason: '1 testcases passed, 1 blocked (the lab lacks what they need)',
    });
  });

  it('is exit 2 when nothing could run on the lab, never a DUT failure', () => {
    expect(verdictOf([c('blocked', 'blocked: KNI was removed in DPDK 23.11, this host has 23.11.1')])).toEqual({
      verdict: 'infra-error',
      exitCode: 2,
      reason: 'nothing could run on this lab: blocked: KNI was removed in DPDK 23.11, this host has 23.11.1',
    });
  });
});
