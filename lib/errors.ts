// Typed errors. Each one says whose fault it is, because the run's exit code
// depends on it: a DUT that misbehaves (exit 1) must never be confused with a
// lab that could not be reached or a testbed that could not be read (exit 2).

export type FailureKind = 'dut' | 'infra';

export class DutlabError extends Error {
  get kind(): FailureKind {
    return 'infra';
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

  // A DUT command that fails is the DUT's failure; a missing tool (126/127)
  // or anything failing on the traffic generator is the lab's.
  override get kind(): FailureKind {
    return this.host === 'tg' || this.exitCode === 126 || this.exitCode === 127 ? 'infra' : 'dut';
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

  override get kind(): FailureKind {
    return this.host === 'tg' ? 'infra' : 'dut';
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
  override get kind(): FailureKind {
    return 'dut';
  }
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

export function failureKind(err: unknown): FailureKind {
  if (err instanceof DutlabError) return err.kind;
  return 'infra';
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** A capture the harness made is incomplete (the capturing host dropped packets): nothing can be judged from it. */
export class CaptureError extends DutlabError {}

/** The run was interrupted (a signal): what had not started is not started. */
export class AbortedError extends DutlabError {
  constructor(readonly reason: string) {
    super(`not run: the run was ${reason}`);
  }
}
