// Processes of the virtual lab on this machine: started detached, recorded by
// pid and start time (so a reused pid is never mistaken for ours), stopped by pid.
import { spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { startTimeOf } from '../transport/local.js';
import { orOnTimeout, waitUntil } from '../wait.js';

export { startTimeOf };

export interface ProcRecord {
  name: string;
  pid: number;
  startTime: string;
}

/** A live process's parent (field 4 of /proc/PID/stat); null when it is gone. */
export function parentOf(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    return Number.isInteger(ppid) && ppid > 1 ? ppid : null;
  } catch {
    return null;
  }
}

export function isAlive(rec: ProcRecord): boolean {
  return startTimeOf(rec.pid) === rec.startTime;
}

/** Starts a long-running process in a session of its own, its output to a log file. */
export function spawnDaemon(name: string, argv: string[], logFile: string): ProcRecord {
  const fd = openSync(logFile, 'a');
  try {
    const child = spawn(argv[0]!, argv.slice(1), { detached: true, stdio: ['ignore', fd, fd] });
    if (!child.pid) throw new Error(`could not start ${name}: ${argv.join(' ')}`);
    child.unref();
    const startTime = startTimeOf(child.pid);
    if (startTime === null) throw new Error(`${name} exited at once; see ${logFile}`);
    return { name, pid: child.pid, startTime };
  } finally {
    closeSync(fd);
  }
}

export function recordFromPidfile(name: string, pidfile: string): ProcRecord {
  const pid = Number(readFileSync(pidfile, 'utf8').trim());
  const startTime = startTimeOf(pid);
  if (!Number.isInteger(pid) || startTime === null) throw new Error(`${name}: pidfile ${pidfile} names no live process`);
  return { name, pid, startTime };
}

/** Signals exactly this process (if it is still the one recorded), then KILLs it after the grace time. */
export async function stopProc(rec: ProcRecord, graceMs = 2000, group = false): Promise<void> {
  if (!isAlive(rec)) return;
  signal(rec.pid, 'SIGTERM', group);
  const gone = () => !isAlive(rec);
  await waitUntil(`${rec.name} (pid ${rec.pid}) to exit on SIGTERM`, gone, { timeoutMs: graceMs }).catch(orOnTimeout(() => false));
  if (isAlive(rec)) signal(rec.pid, 'SIGKILL', group);
  await waitUntil(`${rec.name} (pid ${rec.pid}) to exit on SIGKILL`, gone, { timeoutMs: 2000 }).catch(orOnTimeout(() => false));
}

function signal(pid: number, sig: NodeJS.Signals, group: boolean): void {
  try {
    process.kill(group ? -pid : pid, sig);
  } catch {
    /* gone already */
  }
}

/** The pids whose network namespace is this one: by construction, processes the lab started in it. */
export function pidsInNetns(nsInode: string): number[] {
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const link = readlinkNet(Number(entry));
      if (link === nsInode && startTimeOf(Number(entry)) !== null) out.push(Number(entry));
    } catch {
      /* raced with exit */
    }
  }
  return out;
}

function readlinkNet(pid: number): string {
  return readlinkSync(`/proc/${pid}/ns/net`);
}
