import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CommandError, CommandTimeoutError } from '../../lib/errors.js';
import { LocalShell, startTimeOf } from '../../lib/transport/local.js';
import { cmd, shq } from '../../lib/transport/quote.js';
import { aliveProbe, takeMarker, wrapCommand } from '../../lib/transport/shell.js';
import { redact, registerSecret } from '../../lib/transport/transcript.js';
import { waitUntil } from '../../lib/wait.js';

describe('shell quoting', () => {
  it('quotes what the shell would interpret, and leaves plain words alone', () => {
    expect(shq('port16')).toBe('port16');
    expect(shq('client 1')).toBe("'client 1'");
    expect(shq("it's $(rm -rf /)")).toBe(`'it'\\''s $(rm -rf /)'`);
    expect(cmd('echo', 'a b', '$HOME')).toBe("echo 'a b' '$HOME'");
  });

  it('survives a round trip through a real shell', async () => {
    const nasty = `a'b"c $(x) \`y\` ; | & \n z`;
    const r = await new LocalShell().run(cmd('printf', '%s', nasty));
    expect(r.stdout).toBe(nasty);
  });

  it('wraps a remote command in its own session and announces its process group', () => {
    const w = wrapCommand('echo hi', { env: { A: 'x y' }, cwd: '/tmp', sudo: true });
    expect(w.startsWith('sudo -n setsid -w sh -c ')).toBe(true);
    expect(takeMarker('dutlab-pgid:1234\nreal stderr')).toEqual({ pgid: 1234, stderr: 'real stderr' });
    expect(takeMarker('no marker')).toEqual({ pgid: null, stderr: 'no marker' });
  });
});

describe('local shell', () => {
  it('returns output, exit code and duration; a non-OK exit is a typed error with the stderr tail', async () => {
    const sh = new LocalShell('lab');
    expect(await sh.run('echo out; echo err >&2; exit 3', { okExitCodes: [3] })).toMatchObject({ stdout: 'out', stderr: 'err', exitCode: 3 });
    const err = await sh.run('echo boom >&2; exit 4').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CommandError);
    expect(err).toMatchObject({ host: 'lab', exitCode: 4, stderrTail: 'boom' });
  });

  it('passes env and cwd', async () => {
    expect((await new LocalShell().run('echo "$X" && pwd', { env: { X: 'a b' }, cwd: '/tmp' })).stdout).toBe('a b\n/tmp');
  });

  it('kills a command that passes its timeout, and what it started', async () => {
    const sh = new LocalShell();
    const marker = `dutlab-local-timeout-${process.pid}`;
    await expect(sh.run(`sh -c 'sleep 30; echo ${marker}' & sleep 30`, { timeoutMs: 300 })).rejects.toBeInstanceOf(CommandTimeoutError);
    await new Promise((r) => setTimeout(r, 1500));
    expect((await sh.run(`ps -eo args | grep -c '[s]leep 30; echo ${marker}'`, { okExitCodes: [0, 1] })).stdout.trim()).toBe('0');
  });

  it('starts a background process, knows it by pid, and stops exactly it', async () => {
    const sh = new LocalShell('local', undefined, '/tmp');
    const p = await sh.start('sleep 60', { logFile: `/tmp/dutlab-bg-${process.pid}.log` });
    expect(await p.isAlive()).toBe(true);
    await p.stop('SIGTERM', 1000);
    expect(await p.isAlive()).toBe(false);
    await sh.run(`rm -f /tmp/dutlab-bg-${process.pid}.log`);
  });
});

describe('a process of this machine', () => {
  // What QEMU and ovs-vswitchd do when killed: the main thread is a zombie at once, the others exit after it, and the
  // process's memory (its hugepages) comes back only then. Here a main thread leaves (pthread_exit) while another sleeps.
  it('is alive while any of its threads runs, its main thread a zombie; gone when the last has exited (read here and through a shell)', async () => {
    const script = 'import ctypes, threading, time\nthreading.Thread(target=time.sleep, args=(1.5,)).start()\nctypes.CDLL(None).pthread_exit(None)';
    const child = spawn('python3', ['-c', script], { stdio: 'ignore' });
    const exited = new Promise((r) => child.once('exit', r));
    const pid = child.pid!;
    const state = () => readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')[0];
    await waitUntil('the main thread to exit', () => state() === 'Z', { timeoutMs: 5000, intervalMs: 20 });
    expect(readdirSync(`/proc/${pid}/task`).length).toBe(2);
    const startTime = startTimeOf(pid);
    expect(startTime).toMatch(/^\d+$/);
    // The same judgement through a shell (how a remote host's background process is probed).
    const probe = async () => (await new LocalShell().run(aliveProbe(pid, startTime!), { okExitCodes: [0, 1] })).exitCode;
    expect(await probe()).toBe(0);
    await exited;
    expect(startTimeOf(pid)).toBeNull();
    expect(await probe()).toBe(1);
  });
});

describe('secrets', () => {
  it('are redacted wherever they appear', () => {
    registerSecret('s3cr3t-pw');
    expect(redact('login with s3cr3t-pw and s3cr3t-pw')).toBe('login with *** and ***');
  });
});
