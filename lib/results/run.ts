// What a run found, as data: each suite's result (the suite hands it to the
// CLI through vitest's reporter, and writes it as progress.json while it
// runs) and the whole run's, which the report reads. It depends on no part of
// the run engine, so that report/ needs nothing from scenario/.
import type { FailureKind } from '../errors.js';
import type { ForeignFrames, PathCounts } from '../verify/counters.js';
import type { PacketVerdict } from '../verify/packets.js';
import type { GoalResult, Measurement } from '../throughput/search.js';

export interface Versions {
  ovs: string;
  dpdk: string;
  hostKernel: string;
  guestKernel: string;
}

/**
 * The counters along the path as run.json and summary.json record them, under
 * the names dashboards read: kept from before the path model (the VM ports'
 * counters keep their first names, hostKni*, whatever the ports' kind; the
 * flows are flowIngress and flowEgress). A hop a testbed's path adds is in
 * `more`, by its id.
 */
export interface CountersRecord {
  sent: number;
  sentBytes: number;
  returned: number;
  returnedBytes: number;
  flowIngress: { packets: number; bytes: number } | null;
  flowEgress: { packets: number; bytes: number } | null;
  tgTx: number;
  hostPhyIngressRx: number;
  hostKniIngressTx: number;
  guestIngressRx: number;
  guestEgressTx: number;
  hostKniEgressRx: number;
  hostPhyEgressTx: number;
  tgRx: number;
  more?: Record<string, number | null>;
  /** By the recorded names above. */
  foreign?: Record<string, ForeignFrames>;
}

/** The path's hop ids (lib/testbed/path.ts) under their recorded names. */
const RECORDED_AS: Record<string, string> = {
  tgTx: 'tgTx',
  phyIngressRx: 'hostPhyIngressRx',
  vmIngressTx: 'hostKniIngressTx',
  guestIngressRx: 'guestIngressRx',
  guestEgressTx: 'guestEgressTx',
  vmEgressRx: 'hostKniEgressRx',
  phyEgressTx: 'hostPhyEgressTx',
  tgRx: 'tgRx',
};
const FLOWS_AS: Record<string, 'flowIngress' | 'flowEgress'> = { ingressFlow: 'flowIngress', egressFlow: 'flowEgress' };

/** The record of a run's counters, from the path's counts (the edge where hop ids become the names dashboards read). */
export function countersRecord(c: PathCounts): CountersRecord {
  const rec: Record<string, unknown> = { sent: c.sent, sentBytes: c.sentBytes, returned: c.returned, returnedBytes: c.returnedBytes };
  const more: Record<string, number | null> = {};
  for (const [id, count] of Object.entries(c.hops)) {
    const flow = FLOWS_AS[id];
    if (flow) rec[flow] = count === null || count === undefined ? null : { packets: count, bytes: c.bytes?.[id] ?? 0 };
    else if (RECORDED_AS[id]) rec[RECORDED_AS[id]] = count ?? 0;
    else more[id] = count ?? null;
  }
  if (Object.keys(more).length > 0) rec.more = more;
  if (c.foreign) rec.foreign = Object.fromEntries(Object.entries(c.foreign).map(([id, f]) => [RECORDED_AS[id] ?? id, f]));
  return rec as unknown as CountersRecord;
}

/** blocked: the lab lacks what the stage requires (capabilities.ts); skipped: something it needs failed or was skipped. */
export type StageStatus = 'passed' | 'failed' | 'skipped' | 'blocked';

export interface StageRecord {
  id: string;
  title: string;
  group: 'setup' | 'traffic' | 'checks';
  status: StageStatus;
  kind?: FailureKind;
  diagnosis?: string;
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

/** The throughput search at one frame size. */
export interface ThroughputResult {
  /** Bytes on the wire, FCS included. */
  frame: number;
  /** What the generator reached with the DUT bypassed (frames/s), if calibrated. */
  calibration: { achievedRate: number; received: number; sent: number; durationS: number } | null;
  /** The most the generator could offer during the search, if a trial showed it falling short. */
  generatorLimit: number | null;
  /** The load the search started from: the testbed's maximum, or the calibrated limit. */
  maxRate: number;
  goals: Array<GoalResult & { lowerBps: { l2: number; l1: number } | null }>;
  trials: Measurement[];
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

/** One suite's record of a run. */
export interface SuiteResult extends RunIdentity {
  /** The suite's name (its file under tests/e2e without `.e2e.ts`) and its one line. */
  suite: string;
  title: string;
  stages: StageRecord[];
  packets?: Omit<PacketVerdict, 'problems'> & { problems: string[] };
  counters?: CountersRecord;
  tgSent?: number;
  tables: Table[];
  throughput?: ThroughputResult[];
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
