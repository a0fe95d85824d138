// A lab's readiness, checked without changing it (`dutlab doctor`, `run
// --doctor`): each probe reads one thing on one host with a read-only command
// and judges it, purely, as ok / warn / fail, with its evidence and a
// one-line fix; a probe the testbed does not need is n/a, with why. Probes
// are grouped by where they look (hosts.ts: every host; dut.ts: the DUT
// host's hardware; tg.ts: the traffic generator); doctor.ts runs them.
import type { Profile } from '../profiles/profile.js';
import type { HostRole, Testbed } from '../testbed/schema.js';
import type { Shell } from '../transport/shell.js';
import type { Transcript } from '../transport/transcript.js';

export type ProbeStatus = 'ok' | 'warn' | 'fail' | 'n/a';

/** What a probe found: its status, what it saw, and what to do about it (never empty on warn or fail). */
export interface Finding {
  status: ProbeStatus;
  evidence: string;
  fix?: string;
}

export interface ProbeResult extends Finding {
  id: string;
  host: HostRole;
  title: string;
}

export interface ProbeContext {
  tb: Testbed;
  /** The profile as it builds this testbed's lab (profileFor). */
  profile: Profile;
}

/** A command's output as a probe's judge reads it, with this machine's clock around it (microseconds). */
export interface Reading {
  stdout: string;
  exitCode: number | null;
  fromUs: number;
  toUs: number;
}

interface ProbeBase {
  id: string;
  title: string;
  host: HostRole;
  /** Why this testbed does not need the probe, or null when it does. */
  notNeeded(c: ProbeContext): string | null;
}

/** Most probes: a read-only command (run as the testbed's user, in sh) and a pure judge of its output. */
export interface CommandProbe extends ProbeBase {
  command(c: ProbeContext): string;
  judge(r: Reading, c: ProbeContext): Finding;
}

/** A probe that asks a server (TRex's RPC) rather than runs a command. */
export interface AskingProbe extends ProbeBase {
  ask(shell: Shell, c: ProbeContext, transcript?: Transcript): Promise<Finding>;
}

export type Probe = CommandProbe | AskingProbe;

export const ok = (evidence: string): Finding => ({ status: 'ok', evidence });
export const warn = (evidence: string, fix: string): Finding => ({ status: 'warn', evidence, fix });
export const fail = (evidence: string, fix: string): Finding => ({ status: 'fail', evidence, fix });

export { coresOf, cpuList } from '../testbed/sizing.js';

/** Whether the doctor's results let a run go on: nothing failed. */
export const healthy = (results: readonly ProbeResult[]): boolean => results.every((r) => r.status !== 'fail');

/** The doctor's table: a line per probe, its fix under it. */
export function formatProbes(results: readonly ProbeResult[]): string {
  const width = Math.max(...results.map((r) => `[${r.host}] ${r.id}`.length), 10);
  const lines = results.flatMap((r) => {
    const head = `${r.status.toUpperCase().padEnd(4)}  ${`[${r.host}] ${r.id}`.padEnd(width)}  ${r.evidence}`;
    return r.fix && r.status !== 'ok' && r.status !== 'n/a' ? [head, `${' '.repeat(6 + width + 2)}fix: ${r.fix}`] : [head];
  });
  const count = (s: ProbeStatus) => results.filter((r) => r.status === s).length;
  lines.push('', `${count('ok')} ok, ${count('warn')} warn, ${count('fail')} fail, ${count('n/a')} n/a`);
  return `${lines.join('\n')}\n`;
}
