// A run stops only a daemon this harness started: the record of its pid and
// start time (written when it started) against what the pidfile names now.
// A live process it did not start is left running with its pidfile, named;
// a stale pidfile (naming no process) is removed. Real processes, real sh.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, describe, expect, it } from 'vitest';
import { FOREIGN_EXIT, recordStarted, stopOwnByPidfile } from '../../lib/profiles/steps/shared.js';
import { waitUntil } from '../../lib/wait.js';

const dir = mkdtempSync(join(tmpdir(), 'dutlab-own-'));
const children: ChildProcess[] = [];
afterAll(() => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

function daemon(): ChildProcess {
  const c = spawn('sleep', ['300'], { stdio: 'ignore' });
  children.push(c);
  return c;
}
const sh = (line: string) => execa('sh', ['-c', line], { reject: false });
const alive = (pid: number) => existsSync(`/proc/${pid}`) && !/^\S+ \S+ Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^\d+ \(.*\) /, '0 x '));

describe('stopping only what the harness started', () => {
  it('stops a daemon the record names (pid and start time), removing its pidfile and the record', async () => {
    const d = daemon();
    const [pidfile, record] = [join(dir, 'a.pid'), join(dir, 'a.started')];
    writeFileSync(pidfile, `${d.pid}\n`);
    expect((await sh(recordStarted(pidfile, record).line)).exitCode).toBe(0);
    expect(readFileSync(record, 'utf8')).toMatch(new RegExp(`^${d.pid} \\d+\\n$`));
    expect((await sh(stopOwnByPidfile(pidfile, record).line)).exitCode).toBe(0);
    await waitUntil('the daemon to be gone', () => d.exitCode !== null || d.signalCode !== null, { timeoutMs: 5000 });
    expect([existsSync(pidfile), existsSync(record)]).toEqual([false, false]);
  });

  it('leaves a live process it did not start running with its pidfile, and names it (exit 3)', async () => {
    const d = daemon();
    const [pidfile, record] = [join(dir, 'b.pid'), join(dir, 'b.started')];
    writeFileSync(pidfile, `${d.pid}\n`);
    const none = await sh(stopOwnByPidfile(pidfile, record).line);
    expect(none.exitCode).toBe(FOREIGN_EXIT);
    expect(none.stdout).toBe(`foreign pid ${d.pid}: sleep 300 `);
    // A record of another process (a pid reused since) proves nothing either.
    writeFileSync(record, `${d.pid} 1\n`);
    expect((await sh(stopOwnByPidfile(pidfile, record).line)).exitCode).toBe(FOREIGN_EXIT);
    expect(alive(d.pid!)).toBe(true);
    expect(readFileSync(pidfile, 'utf8').trim()).toBe(String(d.pid));
  });

  it('removes a stale pidfile that names no process', async () => {
    const [pidfile, record] = [join(dir, 'c.pid'), join(dir, 'c.started')];
    writeFileSync(pidfile, '999999\n');
    writeFileSync(record, '999999 5\n');
    expect((await sh(stopOwnByPidfile(pidfile, record).line)).exitCode).toBe(0);
    expect([existsSync(pidfile), existsSync(record)]).toEqual([false, false]);
  });
});
