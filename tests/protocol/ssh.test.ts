// The SSH transport against a real SSH server in-process (ssh2's Server).
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CommandError, CommandTimeoutError, ConnectionError, HostKeyError } from '../../lib/errors.js';
import type { HostSpec } from '../../lib/testbed/schema.js';
import { SshShell } from '../../lib/transport/ssh.js';
import { Transcript } from '../../lib/transport/transcript.js';
import { BlackholeProxy, TestSshServer, newKeyPair } from '../helpers/ssh-server.js';
import { closedPort } from '../helpers/ports.js';

const dir = mkdtempSync(join(tmpdir(), 'dutlab-ssh-'));
const client = newKeyPair();
const keyFile = join(dir, 'client');
writeFileSync(keyFile, client.private, { mode: 0o600 });
const server = new TestSshServer({ authorizedKey: client.public, password: 'pw-0123456789', tmpDir: dir });
const transcript = new Transcript(join(dir, 'transcripts'));
const shells: SshShell[] = [];

const spec = (overrides: Partial<HostSpec> = {}): HostSpec => server.loginSpec(keyFile, overrides);

async function connect(overrides: Partial<HostSpec> = {}, opts: Parameters<typeof SshShell.connect>[2] = {}): Promise<SshShell> {
  const s = await SshShell.connect('host', spec(overrides), { transcript, ...opts });
  shells.push(s);
  return s;
}

beforeAll(async () => {
  await server.listen();
});
afterAll(async () => {
  for (const s of shells) await s.close();
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('commands over SSH', () => {
  it('returns stdout, stderr and the exit code, and reuses one connection for every command', async () => {
    const before = server.connections;
    const sh = await connect();
    expect(await sh.run('echo out; echo err >&2')).toMatchObject({ stdout: 'out\n', stderr: 'err\n', exitCode: 0 });
    expect(await sh.run('exit 3', { okExitCodes: [3] })).toMatchObject({ exitCode: 3 });
    await sh.run('true');
    expect(server.connections - before).toBe(1);
  });

  it('throws a typed error carrying host, command, exit code and the tail of stderr', async () => {
    const sh = await connect();
    const err = await sh.run('echo one >&2; echo "two: no such bridge" >&2; exit 2').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CommandError);
    expect(err).toMatchObject({ host: 'host', command: 'echo one >&2; echo "two: no such bridge" >&2; exit 2', exitCode: 2 });
    expect((err as CommandError).stderrTail).toBe('one\ntwo: no such bridge');
  });

  it('passes environment and working directory, quoted', async () => {
    const sh = await connect();
    expect((await sh.run('printf %s "$V"; pwd', { env: { V: "it's a $test" }, cwd: '/tmp' })).stdout).toBe("it's a $test/tmp\n");
  });

  it('kills a command that passes its timeout on the remote side, with what it started', async () => {
    const sh = await connect();
    const marker = `dutlab-ssh-timeout-${process.pid}`;
    const t0 = Date.now();
    await expect(sh.run(`sh -c 'sleep 40; echo ${marker}' & sleep 40`, { timeoutMs: 500 })).rejects.toBeInstanceOf(CommandTimeoutError);
    expect(Date.now() - t0).toBeLessThan(5000);
    await new Promise((r) => setTimeout(r, 1000));
    expect((await sh.run(`ps -eo args | grep -c '[s]leep 40; echo ${marker}'`, { okExitCodes: [0, 1] })).stdout.trim()).toBe('0');
    expect((await sh.run('echo still usable')).stdout).toBe('still usable\n');
  });

  it('runs every command in one long-lived sh: one channel for many commands', async () => {
    const sh = await connect();
    const before = server.commands.length;
    for (let i = 0; i < 20; i++) expect((await sh.run(`echo ${i}`)).stdout).toBe(`${i}\n`);
    expect(server.commands.slice(before)).toEqual(['exec sh -s']);
  });

  it('runs commands that overlap briefly in the one session: no second channel (each costs the rc files again)', async () => {
    const sh = await connect();
    await sh.run('true');
    const before = server.commands.length;
    const out = await Promise.all([0, 1, 2, 3, 4].map((i) => sh.run(`sleep 0.05; echo ${i}`)));
    expect(out.map((r) => r.stdout)).toEqual(['0\n', '1\n', '2\n', '3\n', '4\n']);
    expect(server.commands.slice(before)).toEqual([]);
  });

  it('opens a second session once a long command has held the first for three seconds, and runs both at once', async () => {
    const sh = await connect();
    await sh.run('true');
    const before = server.commands.length;
    const t0 = Date.now();
    const [a, b] = await Promise.all([sh.run('sleep 6; echo a'), sh.run('sleep 1.5; echo b')]);
    expect([a.stdout, b.stdout]).toEqual(['a\n', 'b\n']);
    expect(server.commands.slice(before)).toEqual(['exec sh -s']);
    // b waited three seconds for the busy session, then ran beside it (about 6 s in all), not after it (7.5 s).
    expect(Date.now() - t0).toBeLessThan(7000);
  });

  it('reopens a session whose sh was killed between commands', async () => {
    const sh = await connect();
    const pid = (await sh.run('echo $PPID')).stdout.trim();
    // The session's sh is the parent of each command's sh (setsid keeps the parent).
    await sh.run(`kill -KILL ${pid}`, { okExitCodes: [0, 137, 143] }).catch(() => undefined);
    expect((await sh.run('echo again')).stdout).toBe('again\n');
  });

  it('falls back to a channel per command on a host whose sh cannot run the session loop', async () => {
    const noSh = new TestSshServer({
      authorizedKey: client.public,
      tmpDir: dir,
      script: (c) => (c === 'exec sh -s' ? { stderr: 'sh: not found\n', code: 127 } : null),
    });
    await noSh.listen();
    try {
      const sh = await connect({ port: noSh.port, hostKey: { fingerprint: noSh.fingerprint } });
      expect((await sh.run('echo one')).stdout).toBe('one\n');
      expect(await sh.run('echo two; exit 4', { okExitCodes: [4] })).toMatchObject({ stdout: 'two\n', exitCode: 4 });
      expect(noSh.commands.filter((c) => c === 'exec sh -s')).toHaveLength(1);
      expect(noSh.commands.filter((c) => c.startsWith('setsid -w sh -c'))).toHaveLength(2);
      expect(readFileSync(join(dir, 'transcripts', 'host.log'), 'utf8')).toMatch(
        /no usable sh for a long-lived session .*sh: not found.*; a channel per command from now on/,
      );
      await sh.close();
    } finally {
      await noSh.close();
    }
  });

  it('runs sudo commands in the session, environment and working directory included', async () => {
    const sh = await connect();
    // sudo is a no-op as root here; the point is the quoting through `sudo -n sh -c`.
    const r: unknown = await sh.run('printf "%s|" "$V"; pwd; id -u', { sudo: true, env: { V: "a 'b' $c" }, cwd: '/tmp' }).catch((e: unknown) => e);
    if (r instanceof Error) expect(r.message).toMatch(/sudo/);
    else expect((r as { stdout: string }).stdout).toBe("a 'b' $c|/tmp\n0\n");
  });

  it('writes every command to the transcript', async () => {
    const sh = await connect();
    await sh.run('echo transcript-line');
    expect(readFileSync(join(dir, 'transcripts', 'host.log'), 'utf8')).toMatch(
      /### .* echo transcript-line\n--- exit 0 in \d+ ms\n--- stdout\ntranscript-line/,
    );
  });
});

describe('authentication and host keys', () => {
  it('says that authentication failed, with which method, without retrying until the timeout', async () => {
    const other = join(dir, 'other');
    writeFileSync(other, newKeyPair().private, { mode: 0o600 });
    const t0 = Date.now();
    const err = await connect({ auth: { privateKeyFile: other }, connectTimeoutMs: 20_000 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConnectionError);
    expect((err as Error).message).toMatch(/\[host\] authentication as root failed \(key .*other\)/);
    expect(Date.now() - t0).toBeLessThan(5000);
  });

  it('logs in with a password from the named environment variable, which never reaches the transcript', async () => {
    process.env.DUTLAB_TEST_PW = 'pw-0123456789';
    const sh = await connect({ auth: { passwordEnv: 'DUTLAB_TEST_PW' } });
    await sh.run('echo the password is pw-0123456789');
    expect(readFileSync(join(dir, 'transcripts', 'host.log'), 'utf8')).not.toContain('pw-0123456789');
    await expect(connect({ auth: { passwordEnv: 'DUTLAB_UNSET_VARIABLE' } })).rejects.toThrow(
      /the password variable that hosts\.\w+\.auth\.passwordEnv names is not set/,
    );
  });

  it('refuses a host whose key is not the pinned one', async () => {
    const wrong = new TestSshServer({ authorizedKey: client.public, tmpDir: dir });
    await wrong.listen();
    try {
      const err = await connect({ port: wrong.port }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(HostKeyError);
      expect((err as Error).message).toContain(`it presented ${wrong.fingerprint}, the testbed pins ${server.fingerprint}; refusing to connect`);
    } finally {
      await wrong.close();
    }
  });

  it('verifies against known_hosts: listed, hashed, unlisted, and listed with another key', async () => {
    const kh = join(dir, 'known_hosts');
    writeFileSync(kh, `# comment\n[127.0.0.1]:${server.port} ssh-ed25519 ${server.publicBlob}\n`);
    await expect(connect({ hostKey: { knownHosts: kh } })).resolves.toBeInstanceOf(SshShell);
    const { createHmac, randomBytes } = await import('node:crypto');
    const salt = randomBytes(20);
    const hashed = createHmac('sha1', salt).update(`[127.0.0.1]:${server.port}`).digest('base64');
    writeFileSync(kh, `|1|${salt.toString('base64')}|${hashed} ssh-ed25519 ${server.publicBlob}\n`);
    await expect(connect({ hostKey: { knownHosts: kh } })).resolves.toBeInstanceOf(SshShell);
    writeFileSync(kh, `[127.0.0.1]:1 ssh-ed25519 ${server.publicBlob}\n`);
    await expect(connect({ hostKey: { knownHosts: kh } })).rejects.toThrow(/is not in .*known_hosts .*refusing to connect/);
    writeFileSync(kh, `[127.0.0.1]:${server.port} ssh-ed25519 ${newKeyPair().public.split(' ')[1]}\n`);
    await expect(connect({ hostKey: { knownHosts: kh } })).rejects.toThrow(/host key mismatch .* which .*known_hosts does not list/);
  });

  it('accepts any host key only when told to, and warns loudly each time', async () => {
    const warnings: string[] = [];
    await connect({ hostKey: { insecureAcceptAny: true } }, { warn: (m) => warnings.push(m) });
    expect(warnings).toEqual([expect.stringMatching(/^WARNING: \[host\] host key NOT verified .* presented SHA256:/)]);
  });
});

describe('connection life', () => {
  it('notices a dropped connection through keepalive', async () => {
    const proxy = new BlackholeProxy(server.port);
    await proxy.listen();
    try {
      const sh = await connect({ port: proxy.port }, { keepaliveIntervalMs: 200, keepaliveCountMax: 2 });
      await sh.run('true');
      proxy.drop();
      await new Promise((r) => setTimeout(r, 1500));
      expect(sh.isConnected).toBe(false);
      await expect(sh.run('true')).rejects.toThrow(/\[host\] connection lost: Keepalive timeout/);
    } finally {
      await proxy.close();
    }
  });

  it('retries connecting while the machine boots', async () => {
    const late = new TestSshServer({ authorizedKey: client.public, tmpDir: dir });
    const port = await closedPort();
    setTimeout(() => void late.listen(port), 1200);
    try {
      const t0 = Date.now();
      const sh = await connect({ port, hostKey: { fingerprint: late.fingerprint }, connectTimeoutMs: 10_000 });
      expect(Date.now() - t0).toBeGreaterThan(1000);
      expect((await sh.run('echo up')).stdout).toBe('up\n');
      await sh.close();
    } finally {
      await late.close();
    }
  });

  it('gives up after the connect timeout, naming the host it could not reach', async () => {
    const t0 = Date.now();
    await expect(connect({ port: 1, connectTimeoutMs: 1500 })).rejects.toThrow(/\[host\] cannot connect to root@127.0.0.1:1: .*ECONNREFUSED/);
    expect(Date.now() - t0).toBeLessThan(6000);
  });
});
