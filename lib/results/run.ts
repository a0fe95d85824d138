// What a run found, as data: each suite's result (the suite hands it to the
// CLI through vitest's reporter, and writes it as progress.json while it
// runs) and the whole run's, which the report reads. It depends on no part of
// the run engine, so that report/ needs nothing from scenario/.
import type { FailureKind } from '../errors.js';

export interface Versions {
  ovs: string;
  dpdk: string;
  hostKernel: string;
  guestKernel: string;
  /** The traffic generator's own word on its version, where it gives one (TRex's get_version). */
  tg: string;
}

/** blocked: the lab lacks what the testcase requires (capabilities.ts); skipped: something it needs failed or was skipped. */
export type CaseStatus = 'passed' | 'failed' | 'skipped' | 'blocked';

/**
 * What happened to one testcase: the one record the engine keeps as each
 * runs, from which the verdict, JUnit, summary.md/json and the terminal lines
 * are all made.
 */
export interface CaseOutcome {
  /** Frozen once released: dashboards and the fault tests read it. */
  id: string;
  /** The words a person reads (JUnit's testcase name). */
  name: string;
  /** The suite it belongs to (`gate` for the baseline's judgement); none for the run's own (it could not start). */
  suite?: string;
  /** setup, traffic, checks (a suite may name its own); JUnit's classname is dutlab.<suite>.<group>. */
  group: string;
  status: CaseStatus;
  /** Whose fault a failure is. */
  kind?: FailureKind;
  /** Why it failed, or why it was skipped or blocked. */
  message?: string;
  durationMs: number;
}

/** A table a suite contributes to summary.md (the PVP suite's counters along the path, a throughput table). */
export interface Table {
  title: string;
  columns: string[];
  rows: string[][];
  /** Lines printed under the table. */
  notes?: string[];
}

/** One row of the capability matrix: what something of the run requires, and what the lab has. */
export interface MatrixRow {
  requirement: string;
  /** "suite pvp", "profile legacy-kni", "step guest.insmod". */
  neededBy: string;
  lab: string;
  /** null: the lab's version is not known, so it was not judged. */
  met: boolean | null;
}

/** What a run and each suite's record of it both say: which run, on which testbed and profile, when, on what software. */
export interface RunIdentity {
  runId: string;
  testbed: string;
  testbedName: string;
  profile: string;
  startedAt: string;
  finishedAt?: string;
  versions: Partial<Versions>;
}

/** A suite's measurement: its kind says which suite's result module reads it. */
export interface Measured {
  kind: string;
}

/** One suite's record of a run. */
export interface SuiteResult extends RunIdentity {
  /** The suite's name (its folder under lib/suite, or its file without `.e2e.ts`) and its one line. */
  suite: string;
  title: string;
  cases: CaseOutcome[];
  tables: Table[];
  /**
   * What the suite measured, in its own shape, tagged with its kind: the PVP
   * suite's packets and counters (lib/suite/pvp/result.ts), the throughput
   * search (lib/suite/throughput/result.ts). The report reads the kinds it
   * knows through those modules; the engine never looks inside.
   */
  measured?: Measured;
  teardownProblems: string[];
  notes: string[];
  /** Set when a signal interrupted the run: "interrupted by SIGINT". */
  aborted?: string;
  /** Set when the lab lacks what the whole suite requires: "blocked: this lab has no vm". */
  blocked?: string;
  /** What the suite, the profile and each stage require, against what the lab has. */
  matrix?: MatrixRow[];
}

/** The whole run: every suite's result, one run directory, one JUnit. */
export interface RunResult extends RunIdentity {
  suites: SuiteResult[];
  /** Notes and teardown problems of the run itself (a suite's carry its name). */
  notes: string[];
  teardownProblems: string[];
  aborted?: string;
}

/** A run as the stores and compare read it: its data and its testcases (run.json and summary.json of a run directory). */
export interface RunRecord {
  run: RunResult;
  cases: CaseOutcome[];
  /** Its run directory, when it was read from one. */
  dir?: string;
  /** The run's verdict, where it was read with it. */
  verdict?: string;
}
