// Typed errors. Whose fault each one is decides the run's exit code: a DUT
// that misbehaves (exit 1) must never be confused with a lab that could not be
// reached or a testbed that could not be read (exit 2). failureKind() at the
// end of this file is the one place that decides it.
import type { HostRole } from './testbed/schema.js';

export type FailureKind = 'dut' | 'infra';

export class DutlabError extends Error {
  get kind(): FailureKind {
    return failureKind(this);
  }
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** One problem in a testbed file, with the field path it concerns. */
export interface TestbedProblem {
  path: string;
  message: string;
}

export class TestbedError extends DutlabError {
  constructor(
    readonly file: string,
    readonly problems: TestbedProblem[],
  ) {
    super(`${file}: ${problems.length} problem(s) in the testbed file:\n` + problems.map((p) => `  - ${p.path || '(top)'}: ${p.message}`).join('\n'));
  }
}

/** A file a user handed dutlab (a history, a run's summary, a key) that cannot be read or is not what it should be: named, with the line and field where known. */
export class InputFileError extends DutlabError {
  constructor(
    readonly file: string,
    readonly problem: string,
    options?: { cause?: unknown; line?: number; field?: string },
  ) {
    super(`${file}${options?.line ? `:${options.line}` : ''}: ${options?.field ? `${options.field}: ` : ''}${problem}`, options);
    this.line = options?.line;
    this.field = options?.field;
  }
  readonly line: number | undefined;
  readonly field: string | undefined;
}

/** A command on a lab machine exited with a code the caller did not accept. */
export class CommandError extends DutlabError {
  constructor(
    readonly host: string,
    readonly command: string,
    readonly exitCode: number | null,
    readonly signal: string | null,
    readonly stderrTail: string,
    readonly stdout = '',
  ) {
    const how = exitCode === null ? `was killed by ${signal ?? 'a signal'}` : `exited ${exitCode}`;
    super(`[${host}] \`${command}\` ${how}${stderrTail ? `: ${stderrTail}` : ''}`);
  }
}

export class CommandTimeoutError extends DutlabError {
  constructor(
    readonly host: string,
    readonly command: string,
    readonly timeoutMs: number,
  ) {
    super(`[${host}] \`${command}\` did not finish within ${timeoutMs} ms; it was killed on the remote side`);
  }
}

/** A lab machine could not be reached, authenticated, or dropped the connection. */
export class ConnectionError extends DutlabError {
  constructor(
    readonly host: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`[${host}] ${message}`, options);
  }
}

export class HostKeyError extends ConnectionError {}

/** Output of a command did not have the shape a parser expects. */
export class ParseError extends DutlabError {
  constructor(
    readonly what: string,
    readonly expected: string,
    readonly excerpt: string,
  ) {
    super(`cannot parse ${what}: expected ${expected}; got: ${JSON.stringify(excerpt.slice(0, 200))}`);
  }
}

export class PcapError extends DutlabError {
  constructor(
    readonly file: string,
    message: string,
  ) {
    super(`${file}: ${message}`);
  }
}

/** The DUT did something the setup does not imply. This, and only this, fails the DUT. */
export class CheckFailure extends DutlabError {
  constructor(
    readonly check: string,
    readonly diagnosis: string,
    readonly details: unknown = undefined,
  ) {
    super(`${check}: ${diagnosis}`);
  }

  /** Throws when a check found problems: one failure naming them all. */
  static ifAny(check: string, problems: string[], details?: unknown): void {
    if (problems.length > 0) throw new CheckFailure(check, problems.join('; '), details);
  }
}

/**
 * The guest's kernel failed (a panic, an Oops, a hung task, the OOM killer):
 * its console says so. The DUT's, whatever it did to the connection or to
 * QEMU after.
 */
export class GuestKernelFailure extends CheckFailure {
  constructor(
    readonly lastWords: string[],
    what: string,
    options?: { cause?: unknown },
  ) {
    super('guest kernel', `${what}; its console since the run began says:\n${lastWords.join('\n')}`, { lastWords });
    if (options?.cause !== undefined) this.cause = options.cause;
  }
}

/** The KNI safety gate refused to touch vEth interfaces. A DUT failure: the module misbehaved. */
export class KniGateError extends CheckFailure {
  constructor(
    diagnosis: string,
    readonly dmesg: string,
  ) {
    super('kni-gate', diagnosis, { dmesg });
  }
}

export class LockError extends DutlabError {}

/** A pool file with problems, each with the field path it concerns. */
export class PoolFileError extends DutlabError {
  constructor(
    readonly file: string,
    readonly problems: TestbedProblem[],
  ) {
    super(`${file}: ${problems.length} problem(s) in the pool file:\n${problems.map((p) => `  - ${p.path || '(top)'}: ${p.message}`).join('\n')}`);
  }
}

/** No testbed of the pool could be had (all held, quarantined or unreachable within the wait): the lab's, exit 2. */
export class PoolError extends DutlabError {}

/** The run's lease on the lab went to another run (or expired, or was broken): every command on the lab is refused. */
export class LeaseLostError extends DutlabError {}

/** The VM the run started is gone or never came up (QEMU exited, the guest did not boot): the lab's, with QEMU's exit and the console's tail. */
export class VmError extends DutlabError {}

/** The lab cannot run the setup as configured (too few free hugepages, a tool missing): the infrastructure's, before any step changed the lab. */
export class PreflightError extends DutlabError {}

/** Whose a failing command on each testbed host is: the DUT's machines, or the lab's (the traffic generator). */
const HOST_KIND: Record<HostRole, FailureKind> = { host: 'dut', guest: 'dut', tg: 'infra' };

/**
 * Whose fault an error is. By its type first: a check that failed is the
 * DUT's; a connection lost, a testbed, lock or capture problem, output the
 * harness cannot read, an interrupted run, anything unforeseen is the lab's.
 * A command that failed or timed out: a tool missing or not executable
 * (126/127) is the lab's; otherwise it is the fault of the host it ran on, by
 * that host's role in the testbed (a command on a machine of no role, the
 * controller's own hook, is the lab's).
 */
export function failureKind(err: unknown): FailureKind {
  if (err instanceof CheckFailure) return 'dut';
  if (err instanceof CommandError && (err.exitCode === 126 || err.exitCode === 127)) return 'infra';
  if (err instanceof CommandError || err instanceof CommandTimeoutError) return HOST_KIND[err.host as HostRole] ?? 'infra';
  return 'infra';
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** A capture the harness made is incomplete (the capturing host dropped packets): nothing can be judged from it. */
export class CaptureError extends DutlabError {}

/** The traffic generator could not offer a load it was asked for: the trial says nothing of the DUT. */
export class GeneratorShortError extends DutlabError {}

/** The run was interrupted (a signal): what had not started is not started. */
export class AbortedError extends DutlabError {
  constructor(readonly reason: string) {
    super(`not run: the run was ${reason}`);
  }
}
