// A run forced out: killed outright (kill -9 of its process group), or a
// second signal while it tears down. Each case is two runs (the forced one,
// then the next run, which must take over what it left and pass), on a lab of
// its own: the lab tier's, to keep the fast tier within its 3 minutes.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'vitest';
import { pidsInNetns } from '../../lib/vlab/procs.js';
import { orOnTimeout, waitUntil } from '../../lib/wait.js';
import { abortLabs, CLEAN, labState, startRun } from '../helpers/abort.js';
import { dutlabRun, waitForStage } from '../helpers/cli.js';
import { netnsId } from '../helpers/lab.js';

const { newLab, dirs } = abortLabs();
// Two at once; under the lab tier's load each takes 25-60 s.
const TIMEOUT = { timeout: 120_000 };

describe.concurrent('a run forced out', TIMEOUT, () => {
  it('killed outright (kill -9 of its process group) while it captures: the next run from this controller takes its lock over at once, stops the captures it left on the TG and the guest by pid, and passes', async ({
    expect,
  }) => {
    const lab = await newLab('abrt-kill');
    const { child, reports } = startRun(lab, dirs);
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
    const { child, reports } = startRun(lab, dirs, ['--hook-before-traffic', 'sleep 4']);
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
