// What a profile is: one way of building the guide's setup on a lab (its
// features, the steps in order, how OVS is invoked, its default suites), and
// what a setup step is: its commands (a function of the testbed, the profile
// and values captured before), what it reads back afterwards, and how it is
// undone. The run's session is seen here only through StepRuntime, so that
// the steps and the session that runs them do not import each other.
import type { Feature, Requirement } from '../capabilities.js';
import { TestbedError } from '../errors.js';
import type { PhyPortSpec, HostRole, Testbed, VmPortSpec } from '../testbed/schema.js';
import type { Topology } from '../testbed/topology.js';
import type { Shell } from '../transport/shell.js';

/** The name a profile's step gives QEMU's background process: the VM the run watches while it talks to the guest. */
export const VM_PROCESS = 'qemu';

export type OvsTool = 'ovs-vsctl' | 'ovs-ofctl' | 'ovs-appctl' | 'ovsdb-tool' | 'ovsdb-server' | 'ovs-vswitchd' | 'ovs-ivshm-mngr';

export interface Profile {
  name: string;
  /** One line for `dutlab plan` and the README. */
  title: string;
  /** What a lab built this way offers its suites (capabilities.ts). */
  features: readonly Feature[];
  /** What the lab's software must be for this profile at all (version ranges; blocked otherwise). */
  requires: readonly Requirement[];
  /** The suites `dutlab run` runs when no --suite is given. */
  defaultSuites: readonly string[];
  /** The bridge's datapath_type. */
  datapathType: string;
  /** How an OVS tool is invoked on the host. */
  tool(t: OvsTool): string;
  /** Working directory and environment of every OVS command on the host. */
  hostContext(tb: Testbed): { cwd?: string; env?: Record<string, string> };
  /** The `set Interface` settings of a phy port and of a VM port (a KNI vport in the guide). */
  phySettings(p: PhyPortSpec): string[];
  vmSettings(k: VmPortSpec): string[];
  /** What `ovs-vsctl show` prints as their type and options. */
  phyShown(p: PhyPortSpec): { type: string; options: Record<string, string> };
  vmShown(k: VmPortSpec): { type: string; options: Record<string, string> };
  /** The setup, in the guide's order. */
  steps: readonly StepDef[];
  /**
   * Where the profile can restart its switch under traffic (`--suite restart`, dutlab gate's upgrade step): the steps
   * of its setup a new ovs-vswitchd undid, run again once it is up (lib/profiles/steps/restart.ts runs the rest).
   */
  restartSteps?: readonly StepDef[];
  /** How the DUT host tells its DPDK version, if the profile has DPDK. */
  dpdkVersionCommand?(tb: Testbed): string;
  /** What `ovs-appctl -t` names to reach ovs-vswitchd (default: ovs-vswitchd). */
  appctlTarget?(tb: Testbed): string;
  /**
   * The profile as it builds this testbed's lab, where that depends on the
   * testbed (the ovs-dpdk profile with vhost-user VM ports starts a VM: more
   * features, more steps). Default: the profile as it is.
   */
  forTestbed?(tb: Testbed): Profile;
  /** What the testbed must say for this profile beyond the schema: one problem each, with its field. */
  checkTestbed?(tb: Testbed): string[];
}

/** What a step's read-back may use of the run that runs it (the Session). */
export interface StepRuntime {
  readonly tb: Testbed;
  /** The testbed's ports by role. */
  readonly topology: Topology;
  readonly profile: Profile;
  /** Values a step captures for later steps (the ivshmem device). */
  readonly values: Map<string, string>;
  connect(role: HostRole): Promise<Shell>;
  takeDmesgBaseline(): Promise<void>;
  /** A line for the run's notes (what a step read back that the report should say). */
  note(line: string): void;
}

export interface Cmd {
  line: string;
  /** Started in the background (the guide's `&`, or a daemon a person runs in its own terminal). */
  background?: {
    name: string;
    /** Written with the pid the harness started (a process that writes its own, as QEMU's -pidfile, does not name one here). */
    pidfile?: string;
    ready?: string;
    /** Run under a shell that logs its exit status (a process that may die on its own: QEMU). */
    reportExit?: boolean;
    /** A log the process writes besides its output (QEMU's serial console): collected with it, removed after. */
    console?: string;
  };
  okExitCodes?: number[];
  timeoutMs?: number;
  cwd?: string;
  env?: Record<string, string>;
}

/** What a step's commands may depend on: the testbed, the profile and values captured earlier. */
export interface StepContext {
  tb: Testbed;
  /** The testbed's ports by role. */
  topology: Topology;
  profile: Profile;
  value(name: 'ivshmem-device'): string;
}

export interface StepDef {
  /** The testcase id; frozen once released: dashboards and the fault tests read it. */
  id: string;
  /** The guide's words for it. */
  title: string;
  host: HostRole;
  /** What the lab must offer for this step; otherwise it and what depends on it are blocked. */
  requires?: readonly Requirement[];
  commands(c: StepContext): Cmd[];
  /** Runs after the commands: read back and compare, capture values. Throws CheckFailure. */
  after?(s: StepRuntime, outputs: string[]): Promise<void>;
  /** When one of its commands failed: what the lab itself says of it (OVS's refusal), as the error to report instead. */
  explain?(s: StepRuntime, err: unknown): Promise<unknown>;
  /** Commands that undo the step at teardown, leaving the lab as the run found it. */
  undo?(c: StepContext): Cmd[];
  /** After the undo commands: waits (bounded) for what they set in motion to finish; returns a line for the report, throws what is left undone. */
  undone?(s: StepRuntime): Promise<string>;
  /** It removes what an earlier run left, and nothing else: `run --pool` runs it as soon as it has a testbed, before checking it. */
  cleans?: true;
}

/** The testbed's problems for this profile, as the testbed file's own: thrown before anything touches the lab. */
export function profileProblems(profile: Profile, tb: Testbed, file: string): TestbedError | null {
  const problems = profile.checkTestbed?.(tb) ?? [];
  if (problems.length === 0) return null;
  return new TestbedError(
    file,
    problems.map((p) => {
      const [path, ...rest] = p.split(': ');
      return { path: path!, message: `${rest.join(': ')} (profile ${profile.name})` };
    }),
  );
}

/** The profile as it builds this testbed's lab (Profile.forTestbed). */
export const profileFor = (profile: Profile, tb: Testbed): Profile => profile.forTestbed?.(tb) ?? profile;
