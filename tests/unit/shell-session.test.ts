// The long-lived shell's protocol, against a real local sh: what SshShell
// speaks over an SSH channel, here over a child's stdin and stdout.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { LocalShell } from '../../lib/transport/local.js';
import { SESSION_COMMAND, SessionClosedError, ShellSession } from '../../lib/transport/shell-session.js';

const children: ChildProcess[] = [];
afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null) c.kill('SIGKILL');
});
// The sessions' TMPDIR: whatever a killed session leaves goes with it.
const tmp = mkdtempSync(join(tmpdir(), 'dutlab-session-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/**
 * A session on a local sh started the way sshd starts it: `sh -c 'exec sh -s'`, with what an rc file prints first;
 * `leader`: in a session of its own, as sshd starts it (otherwise in this process's group, as a pipe to a child is).
 */
async function session(rcOutput = '', leader = false): Promise<{ s: ShellSession; child: ChildProcess }> {
  const child = spawn('sh', ['-c', `${rcOutput ? `printf '%s' '${rcOutput}'; ` : ''}${SESSION_COMMAND}`], {
    stdio: ['pipe', 'pipe', 'pipe'],
    env: { ...process.env, TMPDIR: tmp },
    detached: leader,
  });
  children.push(child);
  const s = new ShellSession(child.stdin!, child.stdout!);
  await s.waitReady(5000);
  return { s, child };
}

describe('the long-lived shell session', () => {
  it('returns stdout, stderr and the exit code of each command, byte for byte', async () => {
    const { s } = await session();
    expect(await s.run('echo out; echo err >&2; exit 3')).toEqual({ stdout: 'out\n', stderr: 'err\n', exitCode: 3 });
    expect(await s.run("printf 'no newline'")).toEqual({ stdout: 'no newline', stderr: '', exitCode: 0 });
    expect(await s.run("printf 'caf\\303\\251\\nR 9 0 0 0\\n'")).toEqual({ stdout: 'café\nR 9 0 0 0\n', stderr: '', exitCode: 0 });
    const big = await s.run('seq 1 200000');
    expect(big.stdout.length).toBe(1_288_895);
    expect(big.stdout.endsWith('199999\n200000\n')).toBe(true);
  });

  it('skips what the login shell prints before the loop starts', async () => {
    const { s } = await session('Welcome! pyenv says hi\nR 1 0 5 0\n');
    expect(await s.run('echo clean')).toEqual({ stdout: 'clean\n', stderr: '', exitCode: 0 });
  });

  it('lets nothing leak from one command to the next: variables, cd, shell options, stdin, background output', async () => {
    const { s } = await session();
    await s.run('X=leaked; export Y=leaked; cd /; set -e; alias ll=ls');
    expect((await s.run('printf "%s|%s|" "$X" "$Y"; pwd; set +o | grep -c "set -o errexit"')).stdout).toBe('||' + process.cwd() + '\n0\n');
    // A command that reads stdin gets EOF, not the next command.
    expect(await s.run('cat; echo after')).toMatchObject({ stdout: 'after\n', exitCode: 0 });
    // Something left running that keeps writing to its stdout writes into a file of its own, not into the next command's output.
    await s.run('(sleep 0.3; echo LATE) &');
    await new Promise((r) => setTimeout(r, 500));
    expect((await s.run('echo next')).stdout).toBe('next\n');
  });

  it('runs a multi-line script with quotes, backslashes and a trailing backslash line as written', async () => {
    const { s } = await session();
    const script = ["a='it''s'", 'b="x\\\\y"', 'printf "%s %s\\n" "$a" "$b"', 'echo one \\', '  two'].join('\n');
    expect((await s.run(script)).stdout).toBe('its x\\y\none two\n');
  });

  it('records the process group of the running command, which leads its own session, where a kill can read it', async () => {
    const { s } = await session();
    const running = s.run('ps -o pgid= -p $$; ps -o sid= -p $$; sleep 0.3');
    await new Promise((r) => setTimeout(r, 100));
    const file = s.runningPgidFile!;
    expect(file).toMatch(new RegExp(`^${tmp}/dutlab-sh\\.\\d+\\.\\w+/\\d+\\.pg$`));
    const pgid = Number(readFileSync(file, 'utf8'));
    const [pg, sid] = (await running).stdout.trim().split(/\s+/).map(Number);
    expect(pg).toBe(pgid);
    expect(sid).toBe(pgid);
    expect(s.runningPgidFile).toBeNull();
  });

  it("where the loop leads its own group (as under sshd), runs a command without a session of its own and names the loop's group: killing it ends the command, what it started, and the session", async () => {
    const { s, child } = await session('', true);
    expect(await s.run('echo out; echo err >&2; exit 3')).toEqual({ stdout: 'out\n', stderr: 'err\n', exitCode: 3 });
    const marker = `dutlab-own-group-${process.pid}`;
    const running = s.run(`sh -c 'sleep 30; echo ${marker}' & ps -o pgid= -p $$; sleep 30`);
    await new Promise((r) => setTimeout(r, 300));
    const pgid = Number(readFileSync(s.runningPgidFile!, 'utf8'));
    expect(pgid).toBe(child.pid);
    process.kill(-pgid, 'SIGTERM');
    await expect(running).rejects.toBeInstanceOf(SessionClosedError);
    await new Promise((r) => setTimeout(r, 300));
    const left = await new LocalShell().run(`ps -eo args | grep -c '[s]leep 30; echo ${marker}'`, { okExitCodes: [0, 1] });
    expect(left.stdout.trim()).toBe('0');
  });

  it('cannot be fooled by output that looks like the framing', async () => {
    const { s } = await session();
    const r = await s.run("printf 'R 1 0\\ndutlab-end-0000\\n'; printf 'R 2 9\\n' >&2; exit 5");
    expect(r).toEqual({ stdout: 'R 1 0\ndutlab-end-0000\n', stderr: 'R 2 9\n', exitCode: 5 });
  });

  it('refuses a second command while one runs, and a NUL byte', async () => {
    const { s } = await session();
    const first = s.run('sleep 0.2; echo first');
    await expect(s.run('echo second')).rejects.toThrow(/one command at a time/);
    expect((await first).stdout).toBe('first\n');
    await expect(s.run('echo a\0b')).rejects.toThrow(/NUL/);
  });

  it('fails the running command with SessionClosedError when the shell dies; its files go on EOF, or with the next session if it was killed outright', async () => {
    // A session's directory is named for its loop's pid: the shell's own, since `sh -c 'exec sh -s'` keeps it.
    const dirOf = (pid: number | undefined) => readdirSync(tmp).filter((d) => d.startsWith(`dutlab-sh.${pid}.`));
    const { s, child } = await session();
    expect(dirOf(child.pid)).toHaveLength(1);
    const running = s.run('sleep 1');
    await new Promise((r) => setTimeout(r, 100));
    child.kill('SIGTERM');
    await expect(running).rejects.toBeInstanceOf(SessionClosedError);
    expect(s.usable).toBe(false);
    await expect(s.run('true')).rejects.toBeInstanceOf(SessionClosedError);

    // EOF: the loop ends and removes its directory.
    const { s: s2, child: c2 } = await session();
    expect(dirOf(c2.pid)).toHaveLength(1);
    s2.close();
    await new Promise<void>((r) => c2.once('exit', () => r()));
    expect(dirOf(c2.pid)).toEqual([]);

    // SIGKILL runs no trap: the next session removes what the dead one left.
    const { s: s3, child: c3 } = await session();
    c3.kill('SIGKILL');
    await new Promise<void>((r) => c3.once('exit', () => r()));
    expect(dirOf(c3.pid)).toHaveLength(1);
    expect(s3.usable).toBe(false);
    const { s: s4, child: c4 } = await session();
    expect(dirOf(c3.pid)).toEqual([]);
    expect(dirOf(c4.pid)).toHaveLength(1);
    s4.close();
  });

  it('says when the far side has no sh that can run the loop', async () => {
    const child = spawn('sh', ['-c', 'echo "sh: not found" >&2; exit 127'], { stdio: ['pipe', 'pipe', 'pipe'] });
    children.push(child);
    const s = new ShellSession(child.stdin!, child.stdout!);
    await expect(s.waitReady(5000)).rejects.toBeInstanceOf(SessionClosedError);
  });
});
