// `dutlab run` as a release gate calls it, against the virtual lab.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { execa } from 'execa';
import { labDown, labLeftovers, labUp, type LabState } from '../../lib/vlab/lab.js';
import { dutlabRun, failedCases } from '../helpers/cli.js';

const ID = 'runt';
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
  it('passes a healthy lab: exit 0, JUnit with properties, the run directory and its summary', async ({ expect }) => {
    const r = await dutlabRun(['--testbed', lab.testbedFile, '--profile', 'virtual']);
    cleanup.push(r.reports);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.summary).toMatchObject({
      verdict: 'pass',
      exitCode: 0,
      profile: 'virtual',
      packets: { sent: 1000, received: 1000, lost: 0, duplicated: 0, reordered: 0, mismatched: 0 },
    });
    expect(r.summary.versions.ovs).toMatch(/Open vSwitch/);
    const runDir = join(r.reports, r.summary.runId);
    expect(readlinkSync(join(r.reports, 'latest'))).toBe(r.summary.runId);
    for (const f of [
      'junit.xml',
      'summary.md',
      'summary.json',
      'tx.pcap',
      'rx.pcap',
      'testbed.yaml',
      'transcripts/host.log',
      'transcripts/guest.log',
      'transcripts/tg.log',
      'logs/host-ovs-vswitchd.log',
      'dmesg-guest-since-start.txt',
    ]) {
      expect(existsSync(join(runDir, f)), f).toBe(true);
    }
    const xml = readFileSync(join(r.reports, 'junit.xml'), 'utf8');
    expect(xml).toContain('<property name="profile" value="virtual"/>');
    expect(xml).toMatch(/<property name="ovsVersion" value="ovs-vsctl \(Open vSwitch\) [\d.]+"\/>/);
    expect(xml).toContain('<property name="hostKernel"');
    expect(xml).toContain('name="Add a bridge to the switch"');
    expect(readFileSync(join(runDir, 'summary.md'), 'utf8')).toMatch(/^# PASS: dutlab run/);
    // The key's path may be in the transcript; its content never is.
    const key = readFileSync(join(lab.stateDir, 'keys', 'client'), 'utf8').split('\n')[1]!;
    for (const f of ['host', 'guest', 'tg']) expect(readFileSync(join(runDir, 'transcripts', `${f}.log`), 'utf8')).not.toContain(key);
  }, 240_000);

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
    const held = await dutlabRun(['--testbed', lab.testbedFile, '--profile', 'virtual']);
    cleanup.push(held.reports);
    expect(held.exitCode).toBe(2);
    expect(failedCases(held.summary)['lab.lock']).toMatch(/the lab is in use: lock .* held by other-run/);
    expect(existsSync(lock)).toBe(true);
    await execa('touch', ['-d', '10 minutes ago', join(lock, 'owner')]);
    const stale = await dutlabRun(['--testbed', lab.testbedFile, '--profile', 'virtual']);
    cleanup.push(stale.reports);
    expect(stale.exitCode).toBe(0);
    expect(stale.summary.notes.join('\n')).toMatch(/took over an expired lock \(other-run/);
    expect(existsSync(lock)).toBe(false);
  }, 240_000);
});

describe.concurrent('npm run e2e (the main job)', () => {
  it('brings a virtual lab up, passes the full suite, writes the JUnit and the run directory, and takes the lab down', async ({ expect }) => {
    const reports = mkdtempSync(join(tmpdir(), 'dutlab-e2e-'));
    cleanup.push(reports);
    const r = await execa('node', ['--import', 'tsx', 'lib/cli/main.ts', 'e2e', '--id', 'e2et', '--reports', reports], {
      cwd: new URL('../..', import.meta.url).pathname,
      reject: false,
      timeout: 240_000,
    });
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/dutlab: PASS \(exit 0\): \d+ testcases passed/);
    const runId = new RegExp(`report: ${reports}/(\\S+)/summary\\.md`).exec(r.stderr)![1]!;
    const root = join(reports, runId);
    expect(JSON.parse(readFileSync(join(root, 'summary.json'), 'utf8'))).toMatchObject({ verdict: 'pass', profile: 'virtual' });
    expect(existsSync(join(root, 'junit.xml'))).toBe(true);
    expect(await labLeftovers('e2et')).toEqual([]);
  }, 240_000);
});
