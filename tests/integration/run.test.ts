// `dutlab run` as a release gate calls it, against the virtual lab.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { execa } from 'execa';
import { labDown, labUp, type LabState } from '../../lib/vlab/lab.js';
import { describeSuites, SUITES_DIR as SUITES_DIR_OF_PRODUCT, suiteDirs, suiteFiles } from '../../lib/suite/catalog.js';
import { dutlabRun, failedCases } from '../helpers/cli.js';
import { CHECKS } from '../helpers/faults.js';

/** The tests' own suites (tests/suites), added to the product's as a lab adds its own. */
const SUITES = new URL('../suites', import.meta.url).pathname;
const EXAMPLE = 'example';
const NEEDS_DPDK = 'needs-dpdk';

const ID = 'runt';
/** The PVP suite's traffic and checks on a profile without KNI: ids frozen since the first release. */
const _PVP_IDS = ['traffic.prepare', 'traffic.send', ...CHECKS];
let lab: LabState;
const cleanup: string[] = [];

beforeAll(async () => {
  lab = await labUp({ id: ID });
}, 120_000);
const cleanupLabs: string[] = [];
afterAll(async () => {
  await labDown({ id: ID });
  for (const id of cleanupLabs) await labDown({ id });
  for (const d of cleanup) rmSync(d, { recursive: true, force: true });
});

// Each case has a lab of its own (or none), so they run at once.
describe.concurrent('dutlab run', () => {
  // A suite added as one file (tests/suites/example.e2e.ts) runs beside the PVP suite: one run directory, one JUnit.
  // The testbed is loaded once, before any suite: the file is spoiled during the first suite's traffic, and the
  // second suite, which starts after it, still has the testbed as the run loaded it (from its archived copy).
  it('passes a healthy lab with the PVP suite and an added one: exit 0, one JUnit with properties, one run directory, the VM-only case blocked; the testbed loaded once', async ({
    expect,
  }) => {
    const dir = mkdtempSync(join(tmpdir(), 'dutlab-testbed-'));
    cleanup.push(dir);
    const testbed = join(dir, 'testbed.yaml');
    const text = readFileSync(lab.testbedFile, 'utf8');
    writeFileSync(testbed, text);
    const spoil = `printf 'name: [not, a, testbed' > ${testbed}`;
    const r = await dutlabRun([
      '--testbed',
      testbed,
      '--profile',
      'virtual',
      '--suites-dir',
      SUITES,
      '--suite',
      'pvp',
      '--suite',
      EXAMPLE,
      '--hook-before-traffic',
      spoil,
    ]);
    cleanup.push(r.reports);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.summary).toMatchObject({
      verdict: 'pass',
      exitCode: 0,
      reason: '28 testcases passed, 6 blocked (the lab lacks what they need)',
      profile: 'virtual',
      packets: { sent: 1000, received: 1000, lost: 0, duplicated: 0, reordered: 0, mismatched: 0 },
    });
    expect(r.summary.suites.map((s) => s.name)).toEqual(['pvp', EXAMPLE]);
    // The checks of what this profile lacks (KNI, DPDK ports, a VM) are blocked with the reason, not left out.
    expect(r.summary.cases.filter((c) => c.suite === 'pvp' && c.status !== 'passed').map((c) => [c.id, c.status, c.message])).toEqual([
      ['check.dmesg-kni', 'blocked', 'blocked: this lab has no kni'],
      ['check.dpdk-ports', 'blocked', 'blocked: this lab has no dpdk-ports'],
      ['check.pmd-stats', 'blocked', 'blocked: this lab has no dpdk-ports'],
      ['check.vswitchd-log', 'blocked', 'blocked: this lab has no dpdk-ports'],
      ['check.guest-boot', 'blocked', 'blocked: this lab has no vm'],
    ]);
    expect(r.summary.cases.filter((c) => c.suite === EXAMPLE).map((c) => [c.id, c.status, c.message])).toEqual([
      ['example.host-kernel', 'passed', undefined],
      ['example.vm-only', 'blocked', 'blocked: this lab has no vm'],
    ]);
    expect(r.summary.versions.ovs).toMatch(/Open vSwitch/);
    const runDir = join(r.reports, r.summary.runId);
    expect(readFileSync(testbed, 'utf8')).toBe('name: [not, a, testbed');
    expect(readFileSync(join(runDir, 'testbed.yaml'), 'utf8')).toBe(text);
    expect(readlinkSync(join(r.reports, 'latest'))).toBe(r.summary.runId);
    for (const f of [
      'junit.xml',
      'summary.md',
      'summary.json',
      'run.json',
      'testbed.yaml',
      'pvp/tx.pcap',
      'pvp/rx.pcap',
      'pvp/transcripts/host.log',
      'pvp/transcripts/guest.log',
      'pvp/transcripts/tg.log',
      'pvp/logs/host-ovs-vswitchd.log',
      'pvp/dmesg-guest-since-start.txt',
      `${EXAMPLE}/transcripts/host.log`,
    ]) {
      expect(existsSync(join(runDir, f)), f).toBe(true);
    }
    const xml = readFileSync(join(r.reports, 'junit.xml'), 'utf8');
    expect(xml).toContain('<property name="profile" value="virtual"/>');
    expect(xml).toContain(`<property name="suites" value="pvp ${EXAMPLE}"/>`);
    expect(xml).toMatch(/<property name="ovsVersion" value="ovs-vsctl \(Open vSwitch\) [\d.]+"\/>/);
    expect(xml).toContain('<property name="hostKernel"');
    expect(xml).toMatch(/<testsuites name="dutlab" tests="34" failures="0" errors="0" skipped="6">/);
    expect(xml).toContain('<testcase classname="dutlab.pvp.setup" name="Add a bridge to the switch"');
    expect(xml).toContain(`<testsuite name="dutlab.${EXAMPLE}.checks" tests="2" failures="0" errors="0" skipped="1"`);
    expect(xml).toMatch(/name="A case only a real VM can run" time="[\d.]+">\n\s+<skipped message="blocked: this lab has no vm"\/>/);
    const md = readFileSync(join(runDir, 'summary.md'), 'utf8');
    expect(md).toMatch(/^# PASS: dutlab run/);
    expect(md).toContain(
      '## Blocked: what this lab cannot run\n\n- 1 testcase(s): blocked: this lab has no kni\n- 3 testcase(s): blocked: this lab has no dpdk-ports\n- 2 testcase(s): blocked: this lab has no vm\n',
    );
    expect(md).not.toMatch(/skipped because something they need failed/);
    expect(md).toContain('## pvp: Counters along the path (deltas over the run)');
    expect(md).toMatch(new RegExp(`## ${EXAMPLE}: Host\\n\\n\\| kernel \\| testbed \\|\\n\\|---\\|---\\|\\n\\| \\S+ \\| ${r.summary.testbedName} \\|`));
    // The key's path may be in the transcript; its content never is.
    const key = readFileSync(join(lab.stateDir, 'keys', 'client'), 'utf8').split('\n')[1]!;
    for (const f of ['host', 'guest', 'tg']) expect(readFileSync(join(runDir, 'pvp', 'transcripts', `${f}.log`), 'utf8')).not.toContain(key);
  }, 240_000);

  it('blocks a whole suite the lab cannot run without touching the lab, and calls a run where nothing could run exit 2', async ({ expect }) => {
    const r = await dutlabRun(['--testbed', lab.testbedFile, '--profile', 'virtual', '--suites-dir', SUITES, '--suite', NEEDS_DPDK]);
    cleanup.push(r.reports);
    expect(r.exitCode, r.stderr).toBe(2);
    expect(r.summary.verdict).toBe('infra-error');
    expect(r.summary.reason).toBe('nothing could run on this lab: blocked: this lab has no dpdk');
    expect(r.summary.suites).toEqual([{ name: NEEDS_DPDK, title: 'A suite for DPDK labs only', blocked: 'blocked: this lab has no dpdk', tables: [] }]);
    expect(existsSync(join(r.reports, r.summary.runId, NEEDS_DPDK, 'transcripts', 'host.log'))).toBe(false);
  }, 120_000);

  it('lists the added suites with what they require; two suites of one name are refused, naming both files', async ({ expect }) => {
    const suites = await describeSuites(suiteDirs([SUITES]));
    expect(suites.map((x) => [x.name, x.requires.map((q) => q.feature)])).toEqual(
      expect.arrayContaining([
        ['pvp', ['guest']],
        [EXAMPLE, ['guest']],
        [NEEDS_DPDK, ['dpdk']],
      ]),
    );
    expect(suites.find((x) => x.name === EXAMPLE)?.file).toBe(join(SUITES, 'example.e2e.ts'));
    // The product's own suites are not the tests' examples.
    expect(suiteFiles().map((x) => x.name)).toEqual(['kni-functional', 'pvp', 'restart', 'soak', 'throughput']);
    const twin = mkdtempSync(join(tmpdir(), 'dutlab-suites-'));
    cleanup.push(twin);
    writeFileSync(join(twin, 'pvp.e2e.ts'), '');
    expect(() => suiteDirs([twin]).length && suiteFiles(suiteDirs([twin]))).toThrow(
      `two suites are named "pvp": ${join(SUITES_DIR_OF_PRODUCT, 'pvp', 'suite.ts')} and ${join(twin, 'pvp.e2e.ts')}`,
    );
    expect(() => suiteDirs([join(twin, 'nowhere')])).toThrow(`--suites-dir ${join(twin, 'nowhere')}: no such directory`);
  });

  it('calls a bad testbed file an infrastructure error (exit 2) that names the file and the field', async ({ expect }) => {
    const bad = join(lab.stateDir, 'bad.yaml');
    writeFileSync(bad, readFileSync(lab.testbedFile, 'utf8').replace('bridge: br0', 'bridge: br0\nbrigde: br1'));
    const r = await dutlabRun(['--testbed', bad, '--profile', 'virtual']);
    cleanup.push(r.reports);
    expect(r.exitCode).toBe(2);
    expect(r.summary.verdict).toBe('infra-error');
    expect(r.summary.reason).toMatch(/bad\.yaml: 1 problem.*brigde: unknown key/s);
    expect(readFileSync(join(r.reports, 'junit.xml'), 'utf8')).toContain('type="InfrastructureError"');
  });

  it('stops a soak whose load is a share of an NDR the store has never seen, before it touches the lab (exit 2), saying what to run first', async ({
    expect,
  }) => {
    const file = join(lab.stateDir, 'soak-share.yaml');
    writeFileSync(file, `${readFileSync(lab.testbedFile, 'utf8')}\nsoak: { ndrShare: 0.5, durationS: 10 }\n`);
    const r = await dutlabRun(['--testbed', file, '--profile', 'virtual', '--suite', 'soak']);
    cleanup.push(r.reports);
    expect(r.exitCode).toBe(2);
    expect(r.summary.reason).toMatch(
      /^soak\.ndrShare 0\.5: no passing throughput run of testbed \S+, profile virtual in .* to take the NDR from \(run --suite throughput first, or give soak\.rate\)$/,
    );
    expect(r.summary.cases).toEqual([]);
  });

  it('calls an unreachable lab machine an infrastructure error (exit 2), never a DUT failure', async ({ expect }) => {
    const down = join(lab.stateDir, 'unreachable.yaml');
    writeFileSync(
      down,
      readFileSync(lab.testbedFile, 'utf8')
        .replace(/( {2}host:\n(?:.*\n)*? {4}port: )\d+/, '$11')
        .replace(/connectTimeoutMs: 15000/g, 'connectTimeoutMs: 1500'),
    );
    const r = await dutlabRun(['--testbed', down, '--profile', 'virtual']);
    cleanup.push(r.reports);
    expect(r.exitCode).toBe(2);
    expect(failedCases(r.summary)['lab.lock']).toMatch(/\[host\] cannot connect to root@127.0.0.1:1/);
    expect(r.summary.cases.filter((c) => c.status === 'skipped').length).toBeGreaterThan(10);
  });

  it('refuses a lab whose lock another live run holds (exit 2), and takes over a lock left by a dead run', async ({ expect }) => {
    const lab = await labUp({ id: 'runlock' });
    cleanupLabs.push('runlock');
    const lock = join(lab.stateDir, 'lock');
    mkdirSync(lock);
    writeFileSync(join(lock, 'owner'), 'other-run 2026-01-01T00:00:00Z\n');
    // The lock is all this case is about: a suite that takes it and nothing else (tests/suites/lock-only.e2e.ts).
    const lockOnly = ['--testbed', lab.testbedFile, '--profile', 'virtual', '--suites-dir', SUITES, '--suite', 'lock-only'];
    const held = await dutlabRun(lockOnly);
    cleanup.push(held.reports);
    expect(held.exitCode).toBe(2);
    expect(failedCases(held.summary)['lab.lock']).toMatch(/the lab is in use: lock .* held by other-run/);
    expect(existsSync(lock)).toBe(true);
    await execa('touch', ['-d', '10 minutes ago', join(lock, 'owner')]);
    const stale = await dutlabRun(lockOnly);
    cleanup.push(stale.reports);
    expect(stale.exitCode).toBe(0);
    expect(stale.summary.notes.join('\n')).toMatch(/took over an expired lock \(other-run/);
    expect(existsSync(lock)).toBe(false);
  }, 240_000);
});
