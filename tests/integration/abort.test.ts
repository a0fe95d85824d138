// A run interrupted by a signal: Ctrl-C (SIGINT), a CI abort (SIGTERM), a
// hang-up (SIGHUP). The lab must be left as the run found it and unlocked, the
// report must say "aborted" (exit 2), and the next run must be able to start
// at once. A run forced out (kill -9, a second signal) is the lab tier's
// (tests/lab/abort-forced.test.ts): each of its cases is two runs.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'vitest';
import type { Summary } from '../../lib/report/summary.js';
import { LocalShell } from '../../lib/transport/local.js';
import { abortLabs, CLEAN, labState, startRun } from '../helpers/abort.js';
import { waitForStage } from '../helpers/cli.js';

const sh = new LocalShell('test');
const { newLab, dirs } = abortLabs();

// Where the time goes: a virtual-lab run costs about 12 CPU-seconds on this 2-core box (the controller
// 4.6, each lab host's sshd tree 2.2-2.8: its session's start, root's .bashrc, 1.1, then ~14 ms a
// command), so cases that run at once wait on each other's CPU. Six at once (and, before, six SSH
// sessions a run, each reading root's .bashrc) pushed the cases with two runs past 60 s. Now the three
// one-run cases at once (the two-run cases are the lab tier's); measured under this file's own load
// (test:repeat), each takes 30-45 s (alone: 10 s). Their timeout is twice that.
const TIMEOUT = { timeout: 120_000 };

describe.concurrent('a run interrupted by a signal', TIMEOUT, () => {
  it.for(['SIGINT', 'SIGTERM'] as const)(
    '%s after the setup, while the fault hook runs: teardown, verdict "aborted" (exit 2), the lab clean and unlocked',
    async (signal, { expect }) => {
      const lab = await newLab(`abrt-${signal.toLowerCase()}`);
      expect(await labState(lab)).toEqual(CLEAN);
      // The hook holds the run just before the traffic, with the whole setup in place.
      const hook = `sleep ${signal === 'SIGINT' ? 31 : 32}`;
      const { child, reports } = startRun(lab, dirs, ['--hook-before-traffic', hook]);
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
    const { child, reports } = startRun(lab, dirs);
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
