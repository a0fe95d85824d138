// What a setup step is: its commands (a function of the testbed, the profile
// and values captured before), what it reads back afterwards, and how it is
// undone. The run's session is seen here only through StepRuntime, so that
// the steps and the session that runs them do not import each other.
import type { HostRole, Testbed } from '../testbed/schema.js';
import type { Shell } from '../transport/shell.js';
import type { Profile } from './profiles.js';

/** What a step's read-back may use of the run that runs it (the Session). */
export interface StepRuntime {
  readonly tb: Testbed;
  readonly profile: Profile;
  /** Values a step captures for later steps (the ivshmem device). */
  readonly values: Map<string, string>;
  connect(role: HostRole): Promise<Shell>;
  takeDmesgBaseline(): Promise<void>;
}

export interface Cmd {
  line: string;
  /** Started in the background (the guide's `&`, or a daemon a person runs in its own terminal). */
  background?: { name: string; pidfile?: string; ready?: string };
  okExitCodes?: number[];
  timeoutMs?: number;
  cwd?: string;
  env?: Record<string, string>;
}

/** What a step's commands may depend on: the testbed, the profile and values captured earlier. */
export interface StepContext {
  tb: Testbed;
  profile: Profile;
  value(name: 'ivshmem-device'): string;
}

export interface StepDef {
  id: string;
  /** The guide's words for it. */
  title: string;
  host: HostRole;
  commands(c: StepContext): Cmd[];
  /** Runs after the commands: read back and compare, capture values. Throws CheckFailure. */
  after?(s: StepRuntime, outputs: string[]): Promise<void>;
  /** Commands that undo the step at teardown, leaving the lab as the run found it. */
  undo?(c: StepContext): Cmd[];
}
