// A run interrupted from outside: Ctrl-C (SIGINT), a CI abort (SIGTERM), a
// kill -9. The lab must be left as the run found it and unlocked, the report
// must say "aborted" (exit 2), and the next run must be able to start at once.
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa, type ResultPromise } from 'execa';
import { afterAll, describe, expect, it } from 'vitest';
import type { Summary } from '../../lib/report/summary.js';
import { LocalShell } from '../../lib/transport/local.js';
import { labDown, labLeftovers, labUp, type LabState } from '../../lib/vlab/lab.js';
import { pidsInNetns } from '../../lib/vlab/procs.js';
import { dutlabRun, waitForStage } from '../helpers/cli.js';
import { netnsId } from '../helpers/lab.js';
import { orOnTimeout, waitUntil } from '../../lib/wait.js';

const ROOT = new URL('../..', import.meta.url).pathname;
const dirs: string[] = [];
const labs: LabState[] = [];
const sh = new LocalShell('test');

/** Each case has a lab of its own, so that they run at once. */
async function newLab(id: string): Promise<LabState> {
  const lab = await labUp({ id });
  labs.push(lab);
  return lab;
}
afterAll(async () => {
  for (const lab of labs) {
    await labDown({ id: lab.id });
    expect(await labLeftovers(lab.id, lab.processes)).toEqual([]);
  }
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** `dutlab run` started as a gate starts it, in a process group of its own (what a CI kills whole). */
function startRun(lab: LabState, extra: string[] = []): { child: ResultPromise; reports: string } {
  const reports = mkdtempSync(join(tmpdir(), 'dutlab-reports-'));
  dirs.push(reports);
  const child = execa('node', ['bin/dutlab.js', 'run', '--quiet', '--reports', reports, '--testbed', lab.testbedFile, '--profile', 'virtual', ...extra], {
    cwd: ROOT,
    reject: false,
    detached: true,
  });
  return { child, reports };
}

/** What a run may leave on the lab: the bridge, the guest's addresses, route and ARP entry, the lock, processes. */
async function labState(lab: LabState): Promise<Record<string, unknown>> {
  const ID = lab.id;
  const inNs = (role: string, c: string) => sh.run(`ip netns exec dutlab-${ID}-${role} ${c}`, { okExitCodes: [0, 1, 2, 255] });
  const env = `env OVS_RUNDIR=${lab.stateDir}/ovs`;
  const procs = (role: string) =>
    pidsInNetns(netnsId(`dutlab-${ID}-${role}`))
      .map((pid) => readFileSync(`/proc/${pid}/comm`, 'utf8').trim())
      .filter((c) => !['sshd', 'socat', 'ovs-vswitchd', 'ovsdb-server'].includes(c));
  return {
    bridges: (await inNs('host', `${env} ovs-vsctl list-br`)).stdout.trim(),
    guestAddresses:
      (await inNs('guest', 'ip -4 -o addr show dev vEth_port32')).stdout.trim() + (await inNs('guest', 'ip -4 -o addr show dev vEth_port33')).stdout.trim(),
    defaultRoute: (await inNs('guest', 'ip route show default')).stdout.trim(),
    gatewayArp: (await inNs('guest', 'ip neigh show 3.3.3.2')).stdout.trim(),
    lock: existsSync(join(lab.stateDir, 'lock')),
    processes: [...procs('host'), ...procs('guest'), ...procs('tg')],
  };
}

const CLEAN = { bridges: '', guestAddresses: '', defaultRoute: '', gatewayArp: '', lock: false, processes: [] };

// Where the time goes: a virtual-lab run costs about 12 CPU-seconds on this 2-core box (the controller
// 4.6, each lab host's sshd tree 2.2-2.8: its session's start, root's .bashrc, 1.1, then ~14 ms a
// command), so cases that run at once wait on each other's CPU. Six at once (and, before, six SSH
// sessions a run, each reading root's .bashrc) pushed the cases with two runs past 60 s. Now: two
// groups, one after the other, three cases at once in each; measured under this file's own load
// (test:repeat), the one-run cases take 30-45 s and the two-run cases 45-60 s (alone: 10 s and 25 s).
// Their timeout is twice that.
const TIMEOUT = { timeout: 120_000 };

describe.concurrent('a run interrupted by a signal', TIMEOUT, () => {
  it.for(['SIGINT', 'SIGTERM'] as const)(
    '%s after the setup, while the fault hook runs: teardown, verdict "aborted" (exit 2), the lab clean and unlocked',
    async (signal, { expect }) => {
      const lab = await newLab(`abrt-${signal.toLowerCase()}`);
      expect(await labState(lab)).toEqual(CLEAN);
      // The hook holds the run just before the traffic, with the whole setup in place.
      const hook = `sleep ${signal === 'SIGINT' ? 31 : 32}`;
      const { child, reports } = startRun(lab, ['--hook-before-traffic', hook]);
      await waitForStage(reports, 'traffic.prepare');
      expect((await labState(lab)).bridges).toBe('br0');
      const t0 = Date.now();
      child.kill(signal);
      const r = await child;
      expect(Date.now() - t0).toBeLessThan(15_000);
      expect(r.exitCode, String(r.stderr)).toBe(2);
      const summary = JSON.parse(readFileSync(join(reports, 'latest', 'summary.json'), 'utf8')) as Summary;
      expect(summary).toMatchObject({ verdict: 'aborted', exitCode: 2, reason: `interrupted by ${signal}` });
      expect(summary.cases.filter((c) => c.group === 'checks').map((c) => c.message)).toEqual(
        summary.cases.filter((c) => c.group === 'checks').map(() => `skipped: the run was interrupted by ${signal}`),
      );
      expect(readFileSync(join(reports, 'latest', 'summary.md'), 'utf8')).toMatch(
        new RegExp(`^# ABORTED: dutlab run .*\\n\\n\\*\\*interrupted by ${signal}\\*\\*`),
      );
      expect(readFileSync(join(reports, 'junit.xml'), 'utf8')).toContain('<property name="verdict" value="aborted"/>');
      expect(await labState(lab)).toEqual(CLEAN);
      // Nothing of the hook is left running either.
      expect((await sh.run(`pgrep -f '^${hook}$'`, { okExitCodes: [0, 1] })).stdout.trim()).toBe('');
    },
  );

  it('SIGHUP in the middle of the setup: the steps not yet run are skipped, what ran is undone, the lab clean and unlocked', async ({ expect }) => {
    const lab = await newLab('abrt-sighup');
    const { child, reports } = startRun(lab);
    await waitForStage(reports, 'host.add-bridge');
    child.kill('SIGHUP');
    const r = await child;
    expect(r.exitCode, String(r.stderr)).toBe(2);
    const summary = JSON.parse(readFileSync(join(reports, 'latest', 'summary.json'), 'utf8')) as Summary;
    expect(summary).toMatchObject({ verdict: 'aborted', reason: 'interrupted by SIGHUP' });
    // The traffic never went: whatever stage the signal found, nothing after it ran.
    expect(summary.cases.find((c) => c.id === 'traffic.send')?.message).toBe('skipped: the run was interrupted by SIGHUP');
    expect(await labState(lab)).toEqual(CLEAN);
  });
});

describe.concurrent('a run forced out', TIMEOUT, () => {
  it('killed outright (kill -9 of its process group) while it captures: the next run from this controller takes its lock over at once, stops the captures it left on the TG and the guest by pid, and passes', async ({
    expect,
  }) => {
    const lab = await newLab('abrt-kill');
    const { child, reports } = startRun(lab);
    await waitForStage(reports, 'traffic.prepare');
    // The stream's captures: three on the TG (rx, tx, the watch), one each on the guest's vEths.
    const tcpdumps = (role: string) =>
      pidsInNetns(netnsId(`dutlab-${lab.id}-${role}`)).filter((pid) => {
        try {
          return readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'tcpdump';
        } catch {
          return false;
        }
      });
    const capturing = () => tcpdumps('tg').length >= 3 && tcpdumps('guest').length >= 2;
    await waitUntil('the captures on the TG and the guest', capturing, { timeoutMs: 30_000, intervalMs: 20 }).catch(orOnTimeout(() => false));
    process.kill(-child.pid!, 'SIGKILL');
    await child;
    const left = { tg: tcpdumps('tg'), guest: tcpdumps('guest') };
    expect(left.tg).toHaveLength(3);
    expect(left.guest).toHaveLength(2);
    // The dead run's lock is still there, with nobody to release it.
    expect(existsSync(join(lab.stateDir, 'lock'))).toBe(true);
    const t0 = Date.now();
    const next = await dutlabRun(['--testbed', lab.testbedFile, '--profile', 'virtual']);
    dirs.push(next.reports);
    expect(next.exitCode, next.summary.reason).toBe(0);
    const notes = next.summary.notes.join('\n');
    expect(notes).toMatch(/took over the lock of run \S+, whose process \(pid \d+ on this controller\) is gone/);
    for (const [role, pids] of Object.entries(left))
      for (const pid of pids)
        expect(notes).toMatch(new RegExp(`\\[${role}\\] a capture left running by an earlier run of this lab \\(killed outright\\?\\): stopped pid ${pid} `));
    // At once: not after the lock's TTL (60 s on the virtual lab).
    expect(Date.now() - t0).toBeLessThan(45_000);
    expect(await labState(lab)).toEqual(CLEAN);
    // Nor their files: the dead run's pcaps and logs went with them (the next run removed its own).
    expect(readdirSync(join(lab.stateDir, 'work'), { recursive: true }).filter((f) => /\.(pcap|log)$|^capture-/.test(String(f)))).toEqual([]);
  });

  it('a second signal forces the exit at once; the next run from this controller takes over what it left', async ({ expect }) => {
    const lab = await newLab('abrt-twice');
    // A forced exit leaves the hook to end by itself: a short one.
    const { child, reports } = startRun(lab, ['--hook-before-traffic', 'sleep 4']);
    await waitForStage(reports, 'traffic.prepare');
    // The second signal once the first was handled: two signals close together are one to the kernel.
    const handled = new Promise<void>((resolve) => {
      let seen = '';
      child.stderr!.on('data', (d: Buffer) => {
        seen += String(d);
        if (seen.includes('dutlab: SIGINT: tearing down')) resolve();
      });
    });
    child.kill('SIGINT');
    await Promise.race([handled, new Promise((r) => setTimeout(r, 5000))]);
    child.kill('SIGINT');
    const t0 = Date.now();
    const r = await child;
    expect(Date.now() - t0).toBeLessThan(3000);
    expect(r.exitCode).toBe(2);
    expect(String(r.stderr)).toMatch(/dutlab: SIGINT again: exiting now/);
    // Whatever the forced exit left (its process group is gone), the next run starts.
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      // the group is gone already
    }
    const next = await dutlabRun(['--testbed', lab.testbedFile, '--profile', 'virtual']);
    dirs.push(next.reports);
    expect(next.exitCode, next.summary.reason).toBe(0);
    expect(await labState(lab)).toEqual(CLEAN);
  });
});
