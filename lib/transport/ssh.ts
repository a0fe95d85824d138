import type { Client, ClientChannel, SFTPWrapper } from 'ssh2';
import pRetry from 'p-retry';
import { CommandTimeoutError, ConnectionError, HostKeyError } from '../errors.js';
import type { HostSpec } from '../testbed/schema.js';
import {
  DEFAULT_TIMEOUT_MS,
  checkExit,
  commandScript,
  startOver,
  tail,
  takeMarker,
  wrapCommand,
  type BackgroundProcess,
  type CommandOptions,
  type CommandResult,
  type Shell,
  type StartOptions,
} from './shell.js';
import type { Transcript } from './transcript.js';
import { connectOnce, type ConnectOptions } from './ssh-connect.js';
import { SESSION_COMMAND, ShellSession } from './shell-session.js';
import { shq } from './quote.js';
import type { Duplex } from 'node:stream';

/** Long-lived shells per host: one does the work; more open only while a long command holds it (a lock refresh during a long step). */
const MAX_SESSIONS = 3;
/**
 * How long a command waits for a busy session before it opens another (a channel, and the rc files
 * again: 1.1 CPU-seconds a session on a slow box with root's .bashrc, more than a hundred commands).
 * Under load a short command can take a second; a lock refresh can wait three.
 */
const SPILL_AFTER_MS = 3000;
/** How long a new session may take to start (the user's rc files run once, here). */
const SESSION_READY_MS = 15_000;

export interface SshOptions extends ConnectOptions {
  transcript?: Transcript;
  /** The host to jump through (the guest behind its hypervisor). */
  jump?: SshShell;
  workDir?: string;
  /** Stops retrying (the VM being waited for died). */
  signal?: AbortSignal;
}

export class SshShell implements Shell {
  private closed = false;
  private lost: Error | null = null;
  private sftpSession: SFTPWrapper | null = null;
  private sessions: ShellSession[] = [];
  private readonly leased = new Set<ShellSession>();
  private opening = 0;
  private waiters: Array<() => void> = [];
  /** This host's sh cannot run the session loop: every command gets a channel of its own. */
  private perCommand = false;

  private constructor(
    readonly host: string,
    private readonly client: Client,
    private readonly options: SshOptions,
  ) {
    // A connection that dies under a forwarded channel (the guest behind the host) does not close its
    // channels by itself: the sessions on it are failed here, so that no command waits for its timeout.
    client.on('error', (err) => this.connectionLost(`connection lost: ${err.message}`, err));
    client.on('close', () => this.connectionLost('connection closed by the remote side'));
  }

  /** Connects, retrying until the spec's connect timeout (a guest still booting answers late). */
  static async connect(role: string, spec: HostSpec, options: SshOptions = {}): Promise<SshShell> {
    const { client, sock } = await pRetry(() => connectOnce(role, spec, options), {
      retries: 1000,
      // At most a second between attempts: a booting guest is waited for (its sshd answers about
      // 10 s in under TCG), and a refused attempt costs a round trip, not a timeout.
      minTimeout: 300,
      maxTimeout: 1000,
      factor: 1.5,
      // p-retry's own bound: no attempt starts after it.
      maxRetryTime: spec.connectTimeoutMs,
      shouldRetry: ({ error }) => !(error instanceof HostKeyError),
      ...(options.signal ? { signal: options.signal } : {}),
    }).catch((err: unknown) => {
      if (err instanceof ConnectionError) throw err;
      throw new ConnectionError(role, `cannot connect to ${spec.user}@${spec.address}:${spec.port}: ${(err as Error).message}`, { cause: err });
    });
    options.transcript?.note(role, `connected to ${spec.user}@${spec.address}:${spec.port}${options.jump ? ` through ${options.jump.host}` : ''}`);
    const shell = new SshShell(role, client, options);
    // Through a jump, the connection is a channel of another one: when that channel goes (the guest's sshd
    // died), ssh2 may not notice before keepalive does. The channel itself says it at once.
    // An EOF is enough: the far end (the guest's sshd) is gone, and the jump host waits for our EOF before it closes.
    sock?.once('end', () => shell.connectionLost('the channel through the jump host ended'));
    sock?.once('close', () => shell.connectionLost('the channel through the jump host closed'));
    return shell;
  }

  /** The connection is gone: every session on it fails now, and every later command says so. */
  connectionLost(why: string, cause?: Error): void {
    this.lost ??= new ConnectionError(this.host, why.startsWith('connection') ? why : `connection lost: ${why}`, cause ? { cause } : {});
    this.sessions.forEach((s) => s.close());
  }

  get isConnected(): boolean {
    return !this.closed && this.lost === null;
  }

  private ensureOpen(): Client {
    if (this.closed) throw new ConnectionError(this.host, 'the connection was closed by the harness');
    if (this.lost) throw this.lost;
    return this.client;
  }

  /** Opens a TCP channel from this host to another address (the jump to the guest). */
  forwardOut(address: string, port: number): Promise<Duplex> {
    const client = this.ensureOpen();
    return new Promise((resolve, reject) => {
      client.forwardOut('127.0.0.1', 0, address, port, (err, stream) => {
        if (err) reject(new ConnectionError(this.host, `cannot open a channel to ${address}:${port}: ${err.message}`, { cause: err }));
        else resolve(stream);
      });
    });
  }

  async run(command: string, options: CommandOptions = {}): Promise<CommandResult> {
    const started = Date.now();
    try {
      const result = await this.exec(command, options, started);
      this.options.transcript?.command(this.host, command, result);
      return checkExit(this.host, command, result, options.okExitCodes);
    } catch (err) {
      if (!(err instanceof Error && 'exitCode' in err)) {
        this.options.transcript?.command(this.host, command, { error: (err as Error).message, durationMs: Date.now() - started });
      }
      throw err;
    }
  }

  private async exec(command: string, options: CommandOptions, started: number): Promise<CommandResult> {
    const session = await this.lease();
    if (!session) return this.execOnChannel(command, options, started);
    try {
      return await this.execInSession(session, command, options, started);
    } finally {
      this.release(session);
    }
  }

  // ---- one long-lived sh per host (shell-session.ts) -------------------------

  /**
   * An idle shell session; else, once a busy one has not come free within SPILL_AFTER_MS, a new one
   * (at most MAX_SESSIONS); or null when this host has no usable sh. Every new session is a new
   * channel, and a channel costs the user's rc files (root's .bashrc: bash reads it for every
   * command sshd runs): commands that overlap briefly (captures started together) wait for the one
   * session rather than pay that; only a long command (a lock refresh during a long step) spills over.
   */
  private async lease(): Promise<ShellSession | null> {
    let spill = this.sessions.length === 0;
    for (;;) {
      if (this.perCommand) return null;
      const idle = this.sessions.find((s) => s.usable && !this.leased.has(s));
      if (idle) {
        this.leased.add(idle);
        return idle;
      }
      if ((spill || this.sessions.length === 0) && this.sessions.length + this.opening < MAX_SESSIONS) {
        this.opening++;
        try {
          const s = await this.openSession();
          if (s) {
            this.sessions.push(s);
            this.leased.add(s);
          }
          if (s || this.perCommand) return s;
        } finally {
          this.opening--;
        }
      }
      spill = await this.waitForRelease(SPILL_AFTER_MS);
    }
  }

  /** Waits until a session is released (false) or the time is up (true). */
  private waitForRelease(ms: number): Promise<boolean> {
    return new Promise<boolean>((resolve) => {
      const waiter = () => {
        clearTimeout(timer);
        resolve(false);
      };
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        resolve(true);
      }, ms);
      this.waiters.push(waiter);
    });
  }

  private release(session: ShellSession): void {
    this.leased.delete(session);
    this.waiters.shift()?.();
  }

  private forget(session: ShellSession): void {
    this.sessions = this.sessions.filter((s) => s !== session);
    this.leased.delete(session);
    this.waiters.shift()?.();
  }

  /** Opens a session; on a host whose sh cannot run the loop, notes it and falls back to a channel per command. */
  private async openSession(): Promise<ShellSession | null> {
    const client = this.ensureOpen();
    const channel = await new Promise<ClientChannel>((resolve, reject) => {
      try {
        client.exec(SESSION_COMMAND, (err, stream) =>
          err ? reject(new ConnectionError(this.host, `cannot open a shell session: ${err.message}`, { cause: err })) : resolve(stream),
        );
      } catch (err) {
        this.lost ??= new ConnectionError(this.host, `connection lost: ${(err as Error).message}`, { cause: err });
        reject(this.lost);
      }
    });
    let stderr = '';
    channel.stderr.on('data', (d: Buffer) => (stderr = (stderr + d.toString('utf8')).slice(-2000)));
    const session = new ShellSession(channel, channel, () => {
      channel.close();
      this.forget(session);
    });
    try {
      await session.waitReady(SESSION_READY_MS);
      return session;
    } catch (err) {
      session.close();
      if (this.lost) throw this.lost;
      this.perCommand = true;
      this.options.transcript?.note(
        this.host,
        `no usable sh for a long-lived session (${(err as Error).message}${stderr ? `: ${tail(stderr, 2)}` : ''}); a channel per command from now on`,
      );
      return null;
    }
  }

  /** Whether each session's running command runs under sudo (its kill at close must too). */
  private readonly sudoOf = new WeakMap<ShellSession, boolean>();

  private execInSession(session: ShellSession, command: string, options: CommandOptions, started: number): Promise<CommandResult> {
    const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.sudoOf.set(session, options.sudo === true);
    // Not exec'd: the session's sh must reach its EXIT trap (shell-session.ts).
    const script = options.sudo ? `sudo -n sh -c ${shq(commandScript(command, options))}` : commandScript(command, options);
    return new Promise<CommandResult>((resolve, reject) => {
      let settled = false;
      const timer = setTimeout(() => {
        settled = true;
        // The session is busy with what will not end: kill its process group from another channel, and drop the session.
        const pgidFile = session.runningPgidFile;
        void (pgidFile ? this.killGroup(`$(cat ${shq(pgidFile)})`, options.sudo) : Promise.resolve()).finally(() => {
          session.close();
          reject(new CommandTimeoutError(this.host, command, timeoutMs));
        });
      }, timeoutMs);
      session.run(script).then(
        (r) => {
          if (settled) return;
          clearTimeout(timer);
          resolve({ stdout: r.stdout, stderr: r.stderr, exitCode: r.exitCode, signal: null, durationMs: Date.now() - started });
        },
        (err: Error) => {
          if (settled) return;
          clearTimeout(timer);
          reject(this.lost ?? new ConnectionError(this.host, `the shell session ended during \`${command}\`: ${err.message}`, { cause: err }));
        },
      );
    });
  }

  // ---- a channel per command: hosts without a usable sh, and the kill of a timed-out command ----

  private execOnChannel(command: string, options: CommandOptions, started: number): Promise<CommandResult> {
    const client = this.ensureOpen();
    const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    return new Promise<CommandResult>((resolve, reject) => {
      const onChannel = (err: Error | undefined, stream: ClientChannel) => {
        if (err) return reject(new ConnectionError(this.host, `cannot run a command: ${err.message}`, { cause: err }));
        let stdout = '';
        let stderr = '';
        let exitCode: number | null = null;
        let signal: string | null = null;
        let settled = false;
        const onLost = () => finish(() => reject(this.lost ?? new ConnectionError(this.host, 'connection lost during a command')));
        const finish = (f: () => void) => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          client.removeListener('close', onLost);
          f();
        };
        const timer = setTimeout(() => {
          const { pgid } = takeMarker(stderr);
          finish(() => {
            stream.close();
            void this.killGroup(pgid, options.sudo).finally(() => reject(new CommandTimeoutError(this.host, command, timeoutMs)));
          });
        }, timeoutMs);
        client.once('close', onLost);
        stream.on('data', (d: Buffer) => (stdout += d.toString('utf8')));
        stream.stderr.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
        stream.on('exit', (code: number | null, sig?: string) => {
          exitCode = code ?? null;
          signal = sig ?? null;
        });
        stream.on('close', () => finish(() => resolve({ stdout, stderr: takeMarker(stderr).stderr, exitCode, signal, durationMs: Date.now() - started })));
        stream.end();
      };
      try {
        client.exec(wrapCommand(command, options), onChannel);
      } catch (err) {
        // ssh2 throws when its socket is gone before it has emitted 'close' (a forwarded channel that died).
        this.lost ??= new ConnectionError(this.host, `connection lost: ${(err as Error).message}`, { cause: err });
        reject(this.lost);
      }
    });
  }

  /** A timed-out command (or one still running at close) must leave nothing running: TERM its process group, then KILL. */
  private async killGroup(pgid: number | string | null, sudo?: boolean, why = 'timed out'): Promise<void> {
    if (pgid === null || !this.isConnected) return;
    const script = `g=${pgid}; [ -n "$g" ] || exit 0; kill -s TERM -- -$g 2>/dev/null; sleep 0.5; kill -s KILL -- -$g 2>/dev/null; true`;
    await this.execOnChannel(script, { sudo, timeoutMs: 10_000 }, Date.now()).catch(() => undefined);
    this.options.transcript?.note(this.host, `killed process group ${pgid} of a command ${why}`);
  }

  async start(command: string, options: StartOptions = {}): Promise<BackgroundProcess> {
    const workDir = this.options.workDir ?? '/tmp/dutlab';
    const logFile = options.logFile ?? `${workDir}/bg-${Date.now()}-${Math.random().toString(36).slice(2, 8)}.log`;
    const proc = await startOver(this, command, logFile, options);
    this.options.transcript?.note(this.host, `started pid ${proc.pid}: ${command} (log ${logFile})`);
    return proc;
  }

  private async sftp(): Promise<SFTPWrapper> {
    if (this.sftpSession) return this.sftpSession;
    const client = this.ensureOpen();
    this.sftpSession = await new Promise<SFTPWrapper>((resolve, reject) =>
      client.sftp((err, sftp) => (err ? reject(new ConnectionError(this.host, `SFTP unavailable: ${err.message}`, { cause: err })) : resolve(sftp))),
    );
    return this.sftpSession;
  }

  async put(localPath: string, remotePath: string): Promise<void> {
    const sftp = await this.sftp();
    await new Promise<void>((resolve, reject) =>
      sftp.fastPut(localPath, remotePath, (err) =>
        err ? reject(new ConnectionError(this.host, `SFTP put ${localPath} → ${remotePath}: ${err.message}`)) : resolve(),
      ),
    );
    this.options.transcript?.note(this.host, `sftp put ${localPath} -> ${remotePath}`);
  }

  async get(remotePath: string, localPath: string): Promise<void> {
    const sftp = await this.sftp();
    await new Promise<void>((resolve, reject) =>
      sftp.fastGet(remotePath, localPath, (err) =>
        err ? reject(new ConnectionError(this.host, `SFTP get ${remotePath} → ${localPath}: ${err.message}`)) : resolve(),
      ),
    );
    this.options.transcript?.note(this.host, `sftp get ${remotePath} -> ${localPath}`);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    // A command still running as the harness closes (a run interrupted mid-stream): its process group is this run's
    // (its pgid file is the session's), killed as a timed-out command's is, never left running on the lab.
    await Promise.all(
      this.sessions.flatMap((s) => {
        const f = s.runningPgidFile;
        return f ? [this.killGroup(`$(cat ${shq(f)})`, this.sudoOf.get(s), 'still running as the connection closed')] : [];
      }),
    );
    this.closed = true;
    this.sessions.forEach((s) => s.close());
    this.sftpSession?.end();
    await new Promise<void>((resolve) => {
      if (this.lost) return resolve();
      this.client.once('close', () => resolve());
      this.client.end();
      setTimeout(resolve, 2000).unref();
    });
  }
}
