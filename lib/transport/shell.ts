// One interface for running commands on a lab machine, whatever carries them.
import type { Duplex } from 'node:stream';
import { CommandError } from '../errors.js';
import { shq } from './quote.js';

export interface CommandOptions {
  timeoutMs?: number;
  sudo?: boolean;
  /** Exit codes that are not an error; default [0]. */
  okExitCodes?: number[];
  env?: Record<string, string>;
  cwd?: string;
}

export interface CommandResult {
  stdout: string;
  stderr: string;
  exitCode: number | null;
  signal: string | null;
  durationMs: number;
}

export interface StartOptions {
  sudo?: boolean;
  env?: Record<string, string>;
  cwd?: string;
  /** Remote log file for the process's stdout and stderr; default under the work dir. */
  logFile?: string;
  /**
   * Run under a shell that writes the exit status to the log when the process
   * ends (EXIT_MARKER), instead of exec'ing it: a process that may die on its
   * own (QEMU) then says how. The pid is the shell's; the process is its child,
   * in the same process group, and writes its own pidfile.
   */
  reportExit?: boolean;
  /**
   * Records the process while it runs, as the file `<prefix><pid>` holding "pid start-time line":
   * a run killed outright cannot stop what it started, and the next run on the lab reads these
   * records to stop, by pid, what is still the same process. stop() removes the record.
   */
  record?: { prefix: string; line: string };
}

/** The line a reportExit process's shell writes when the process ends: `dutlab-exit-status: 139`. */
export const EXIT_MARKER = 'dutlab-exit-status:';

/** What an exit status from sh means: 0-127 an exit code, 128+N killed by signal N. */
export function describeExit(status: number): string {
  if (status <= 128) return `exit status ${status}`;
  const names: Record<number, string> = { 1: 'SIGHUP', 2: 'SIGINT', 6: 'SIGABRT', 9: 'SIGKILL', 11: 'SIGSEGV', 13: 'SIGPIPE', 15: 'SIGTERM' };
  return `killed by signal ${status - 128}${names[status - 128] ? ` (${names[status - 128]})` : ''}`;
}

/** The exit status a reportExit process's log ends with, or null while it runs (or if it was killed with its shell). */
export function exitStatusIn(log: string): number | null {
  const m = new RegExp(`^${EXIT_MARKER} (\\d+)$`, 'm').exec(log);
  return m ? Number(m[1]) : null;
}

/** A process started in the background on a lab machine, known by its pid. */
export interface BackgroundProcess {
  readonly pid: number;
  readonly logFile: string;
  isAlive(): Promise<boolean>;
  logTail(lines?: number): Promise<string>;
  /** Signals exactly this pid; after graceMs, SIGKILLs its process group. */
  stop(signal?: NodeJS.Signals, graceMs?: number): Promise<void>;
}

export interface Shell {
  /** The testbed role (host, guest, tg) or a name for a local shell. */
  readonly host: string;
  run(command: string, options?: CommandOptions): Promise<CommandResult>;
  start(command: string, options?: StartOptions): Promise<BackgroundProcess>;
  put(localPath: string, remotePath: string): Promise<void>;
  get(remotePath: string, localPath: string): Promise<void>;
  /** A TCP channel from this host to an address as it sees it (SSH's direct-tcpip); only where the shell is a connection. */
  forwardOut?(address: string, port: number): Promise<Duplex>;
  close(): Promise<void>;
}

export const DEFAULT_TIMEOUT_MS = 60_000;
/** okExitCodes for a command whose exit code is the caller's to read. */
export const ANY_EXIT = Array.from({ length: 256 }, (_, i) => i);
export const PGID_MARKER = 'dutlab-pgid:';

/** The command with its environment and working directory, as one sh script. */
export function commandScript(command: string, options: CommandOptions = {}): string {
  const lines: string[] = [];
  for (const [k, v] of Object.entries(options.env ?? {})) lines.push(`export ${k}=${shq(v)}`);
  if (options.cwd) lines.push(`cd ${shq(options.cwd)} || exit 126`);
  lines.push(command);
  return lines.join('\n');
}

/**
 * The remote command line: the script in a session of its own (setsid), so
 * that a timeout can kill it and everything it started by process group, and
 * announcing that group on stderr's first line.
 */
export function wrapCommand(command: string, options: CommandOptions = {}): string {
  const script = `printf '${PGID_MARKER}%s\\n' "$$" >&2\n${commandScript(command, options)}`;
  const inner = `setsid -w sh -c ${shq(script)}`;
  return options.sudo ? `sudo -n ${inner}` : inner;
}

/** Splits the process-group marker off stderr. */
export function takeMarker(stderr: string): { pgid: number | null; stderr: string } {
  if (!stderr.startsWith(PGID_MARKER)) return { pgid: null, stderr };
  const nl = stderr.indexOf('\n');
  const pgid = Number(stderr.slice(PGID_MARKER.length, nl < 0 ? undefined : nl));
  return { pgid: Number.isFinite(pgid) ? pgid : null, stderr: nl < 0 ? '' : stderr.slice(nl + 1) };
}

/** The script that starts a background process and prints its pid and start time. */
export function wrapStart(command: string, logFile: string, options: StartOptions = {}): string {
  const run = options.reportExit ? `${command}\nprintf '${EXIT_MARKER} %s\\n' "$?"` : `exec ${command}`;
  const script = commandScript(run, options);
  const record = options.record ? `printf '%s %s %s\\n' "$pid" "$st" ${shq(options.record.line)} > ${shq(options.record.prefix)}"$pid"; ` : '';
  const launch =
    `mkdir -p "$(dirname ${shq(logFile)})" && ` +
    `setsid sh -c ${shq(script)} > ${shq(logFile)} 2>&1 < /dev/null & ` +
    `pid=$!; st=$(cut -d' ' -f22 /proc/$pid/stat 2>/dev/null || echo 0); ${record}echo "$pid $st"`;
  return options.sudo ? `sudo -n sh -c ${shq(launch)}` : launch;
}

/**
 * Shell snippet: is the process with this pid and start time still alive (not a zombie)? As local.ts's startTimeOf:
 * a zombie main thread whose other threads still run (a killed ovs-vswitchd or QEMU, its hugepages not yet given
 * back) is alive until the last of them has exited.
 */
export function aliveProbe(pid: number, startTime: string): string {
  return (
    `[ -r /proc/${pid}/stat ] && ` +
    `[ "$(cut -d' ' -f22 /proc/${pid}/stat)" = ${shq(startTime)} ] && ` +
    `! { grep -q '^State:[[:space:]]*Z' /proc/${pid}/status && [ "$(ls /proc/${pid}/task | wc -l)" -le 1 ]; }`
  );
}

/** Signals the process (or, for a process under a reportExit shell, its group: the shell and its child), waits, then KILLs the group. */
export function stopScript(pid: number, startTime: string, signal: string, graceMs: number, group = false, recordPrefix?: string): string {
  const alive = aliveProbe(pid, startTime);
  const tries = Math.max(1, Math.ceil(graceMs / 20));
  return [
    `if ${alive}; then kill -s ${signal.replace(/^SIG/, '')} ${group ? `-- -${pid}` : pid} 2>/dev/null; fi`,
    `i=0; while [ $i -lt ${tries} ] && ${alive}; do sleep 0.02; i=$((i+1)); done`,
    `if ${alive}; then kill -s KILL -- -${pid} 2>/dev/null; kill -s KILL ${pid} 2>/dev/null; echo escalated; fi`,
    ...(recordPrefix ? [`rm -f ${shq(recordPrefix)}${pid}`] : []),
    'true',
  ].join('\n');
}

export function tail(text: string, lines = 5): string {
  return text.trimEnd().split('\n').slice(-lines).join('\n');
}

export function checkExit(host: string, command: string, result: CommandResult, okExitCodes: number[] = [0]): CommandResult {
  if (result.exitCode === null || !okExitCodes.includes(result.exitCode)) {
    throw new CommandError(host, command, result.exitCode, result.signal, tail(result.stderr), result.stdout);
  }
  return result;
}

/** A background process handle over any shell: everything is done with plain commands by pid. */
export class PidProcess implements BackgroundProcess {
  constructor(
    private readonly shell: Shell,
    readonly pid: number,
    private readonly startTime: string,
    readonly logFile: string,
    private readonly sudo = false,
    /** Started with reportExit: signalled as a group. */
    private readonly group = false,
    /** Where the process is recorded while it runs (StartOptions.record). */
    private readonly recordPrefix?: string,
  ) {}

  async isAlive(): Promise<boolean> {
    const r = await this.shell.run(aliveProbe(this.pid, this.startTime), { okExitCodes: [0, 1], sudo: this.sudo, timeoutMs: 10_000 });
    return r.exitCode === 0;
  }

  async logTail(lines = 20): Promise<string> {
    const r = await this.shell.run(`tail -n ${lines} ${shq(this.logFile)}`, { okExitCodes: [0, 1], sudo: this.sudo, timeoutMs: 10_000 });
    return r.stdout;
  }

  async stop(signal: NodeJS.Signals = 'SIGTERM', graceMs = 3000): Promise<void> {
    await this.shell.run(stopScript(this.pid, this.startTime, signal, graceMs, this.group, this.recordPrefix), {
      sudo: this.sudo,
      timeoutMs: graceMs + 10_000,
    });
  }
}

function parseStarted(host: string, command: string, stdout: string): { pid: number; startTime: string } {
  const m = /^(\d+) (\d+)\s*$/.exec(stdout.trim());
  if (!m) throw new CommandError(host, command, 0, null, `could not read the pid of the started process from ${JSON.stringify(stdout)}`);
  return { pid: Number(m[1]), startTime: m[2]! };
}

/** Starts a command in the background through any shell and knows it by pid and start time. */
export async function startOver(shell: Shell, command: string, logFile: string, options: StartOptions = {}): Promise<PidProcess> {
  const r = await shell.run(wrapStart(command, logFile, options), { timeoutMs: 15_000 });
  const { pid, startTime } = parseStarted(shell.host, command, r.stdout);
  return new PidProcess(shell, pid, startTime, logFile, options.sudo, options.reportExit, options.record?.prefix);
}
