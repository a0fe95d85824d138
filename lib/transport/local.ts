// Commands on this machine, through execa. Used by the virtual lab to build
// namespaces, and usable as a testbed host for a lab on the controller itself.
import { readdirSync, readFileSync } from 'node:fs';
import { copyFile } from 'node:fs/promises';
import { execa } from 'execa';
import { CommandTimeoutError } from '../errors.js';
import {
  DEFAULT_TIMEOUT_MS,
  checkExit,
  commandScript,
  startOver,
  type BackgroundProcess,
  type CommandOptions,
  type CommandResult,
  type Shell,
  type StartOptions,
} from './shell.js';
import { shq } from './quote.js';
import type { Transcript } from './transcript.js';

export class LocalShell implements Shell {
  /** Process groups of the commands running now, for killAll. */
  private readonly running = new Set<number>();

  constructor(
    readonly host = 'local',
    private readonly transcript?: Transcript,
    readonly workDir = '/tmp/dutlab',
  ) {}

  async run(command: string, options: CommandOptions = {}): Promise<CommandResult> {
    const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    const started = Date.now();
    // detached: the shell leads a process group of its own, which a timeout kills whole.
    const script = commandScript(command, options);
    const argv = options.sudo ? ['sudo', '-n', 'sh', '-c', script] : ['sh', '-c', script];
    const child = execa(argv[0]!, argv.slice(1), { reject: false, stdin: 'ignore', detached: true });
    if (child.pid) this.running.add(child.pid);
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup(child.pid);
    }, timeoutMs);
    const r = await child;
    clearTimeout(timer);
    if (child.pid) this.running.delete(child.pid);
    const result: CommandResult = {
      stdout: String(r.stdout ?? ''),
      stderr: String(r.stderr ?? ''),
      exitCode: r.exitCode ?? null,
      signal: r.signal ?? null,
      durationMs: Date.now() - started,
    };
    this.transcript?.command(this.host, command, result);
    if (timedOut) throw new CommandTimeoutError(this.host, command, timeoutMs);
    return checkExit(this.host, command, result, options.okExitCodes);
  }

  async start(command: string, options: StartOptions = {}): Promise<BackgroundProcess> {
    return startOver(this, command, options.logFile ?? `${this.workDir}/${Date.now()}-${process.pid}.log`, options);
  }

  async put(localPath: string, remotePath: string): Promise<void> {
    await copyFile(localPath, remotePath);
  }

  async get(remotePath: string, localPath: string): Promise<void> {
    await copyFile(remotePath, localPath);
  }

  async close(): Promise<void> {}

  /** Stops every command of this shell that is still running, with what it started (an interrupted run). */
  killAll(): void {
    for (const pid of this.running) killGroup(pid);
  }
}

/**
 * Commands in one network namespace of this machine (`ip netns exec`): a
 * machine of the virtual lab, for what the lab does there itself before any
 * run connects (lab up measuring the generator), with the same tools a run
 * uses on a Shell (Tcpdump, the waits).
 */
export class NamespaceShell implements Shell {
  constructor(
    private readonly local: LocalShell,
    readonly host: string,
  ) {
    if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(host)) throw new Error(`NamespaceShell: ${JSON.stringify(host)} is not a network namespace's name`);
  }

  run(command: string, options: CommandOptions = {}): Promise<CommandResult> {
    return this.local.run(`ip netns exec ${shq(this.host)} sh -c ${shq(command)}`, options);
  }

  start(command: string, options: StartOptions = {}): Promise<BackgroundProcess> {
    return startOver(this, command, options.logFile ?? `${this.local.workDir}/${Date.now()}-${process.pid}.log`, options);
  }

  put(localPath: string, remotePath: string): Promise<void> {
    return this.local.put(localPath, remotePath);
  }

  get(remotePath: string, localPath: string): Promise<void> {
    return this.local.get(remotePath, localPath);
  }

  async close(): Promise<void> {}
}

/** Kills the process group led by pid: the command and everything it started. */
function killGroup(pid: number | undefined): void {
  if (!pid) return;
  try {
    process.kill(-pid, 'SIGTERM');
  } catch {
    return;
  }
  setTimeout(() => {
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      /* already gone */
    }
  }, 1000).unref();
}

/**
 * A process of this machine's start time (field 22 of /proc/PID/stat): with the pid, what names it; null when it is gone
 * or a zombie. A zombie main thread whose other threads still run is not gone: a killed multi-threaded process (QEMU,
 * ovs-vswitchd) shows its leader as a zombie while its other threads still exit, and its memory (hugepages) is given
 * back only when the last of them has.
 */
export function startTimeOf(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name may hold spaces; fields are counted after its closing parenthesis.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (fields[0] === 'Z' && readdirSync(`/proc/${pid}/task`).length <= 1) return null;
    return fields[19] ?? null;
  } catch {
    return null;
  }
}
