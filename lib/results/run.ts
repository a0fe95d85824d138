// What a run found, as data: the record the suite writes while it runs
// (run-data.json in the run directory) and the report reads. It depends on no
// part of the run engine, so that report/ needs nothing from scenario/.
import type { FailureKind } from '../errors.js';
import type { PathCounts } from '../verify/counters.js';
import type { PacketVerdict } from '../verify/packets.js';

export interface Versions {
  ovs: string;
  dpdk: string;
  hostKernel: string;
  guestKernel: string;
}

export type StageStatus = 'passed' | 'failed' | 'skipped';

export interface StageRecord {
  id: string;
  title: string;
  group: 'setup' | 'traffic' | 'checks';
  status: StageStatus;
  kind?: FailureKind;
  diagnosis?: string;
  durationMs: number;
}

export interface RunData {
  runId: string;
  testbed: string;
  testbedName: string;
  profile: string;
  startedAt: string;
  finishedAt?: string;
  versions: Partial<Versions>;
  stages: StageRecord[];
  packets?: Omit<PacketVerdict, 'problems'> & { problems: string[] };
  counters?: PathCounts;
  tgSent?: number;
  teardownProblems: string[];
  notes: string[];
  /** Set when a signal interrupted the run: "interrupted by SIGINT". */
  aborted?: string;
}
