// The PVP kind: what the PVP suite measured, as run.json and summary.json
// keep it and the report reads it: the return capture judged against the
// stream, the counters along the path (under the names dashboards read), where
// packets were dropped. Pure; lib/verify makes these, lib/suite/pvp/result.ts
// draws them.
import type { Measured, SuiteResult } from './run.js';

/** A run of frames that did not come back (lib/verify/gaps.ts). */
export interface LossEvent {
  /** The first frame missing. */
  firstSeq: number;
  frames: number;
  /** When it began, from the stream's first frame, and how long it lasted, at the stream's rate. */
  startMs: number;
  lengthMs: number;
}

export interface LossEvents {
  /** The stream's rate (frames/s) the times are read at. */
  rate: number;
  /** One frame's interval: no time here is finer. */
  resolutionMs: number;
  events: number;
  lost: number;
  longest: LossEvent | null;
  /** RFC 6201's frame-loss method: every frame lost over the offered rate. */
  resetTimeMs: number;
  /** The first few events, in order. */
  sample: LossEvent[];
  /** The last event ran to the stream's last frame: nothing came back after it. */
  toEnd?: true;
}

export interface PvpMeasured extends Measured {
  kind: 'pvp';
  /** The return capture judged against the stream. */
  packets?: PacketVerdict;
  counters?: CountersRecord;
  /** What the generator said it sent. */
  tgSent?: number;
  /** Where packets went missing: the lab's own drop counters that grew, and those not read. */
  drops?: Findings;
  /** The reverse stream's (traffic.direction both), judged apart on its own path. */
  packetsReverse?: PacketVerdict;
  countersReverse?: CountersRecord;
  tgSentReverse?: number;
  dropsReverse?: Findings;
}

/** The PVP suite's measurement in a suite's record, if it has one. */
export const pvpMeasured = (s: SuiteResult): PvpMeasured | undefined => (s.measured?.kind === 'pvp' ? (s.measured as PvpMeasured) : undefined);

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

export interface PacketVerdict {
  ok: boolean;
  sent: number;
  /** Distinct packets of this run's stream that came back, and their bytes. */
  received: number;
  receivedBytes: number;
  lost: number;
  duplicated: number;
  reordered: number;
  mismatched: number;
  /** Packets that were not this run's stream: counted apart, ignored. */
  /** otherRun: the stream format with another run id; notStream: anything else (ARP, IPv6, other UDP). */
  other: { total: number; otherRun: number; notStream: number };
  capturedPackets: number;
  /** The first few lost sequence numbers, for the report. */
  lostSample: number[];
  /** The runs of frames that did not come back, in frames and in time at the stream's rate (absent before dutlab kept them). */
  gaps?: LossEvents;
  /** Frames lost in each sampling interval of the stream (a soak's: Expectation.intervalS). */
  lostPerInterval?: number[];
  /** With many flows: how many came back whole, how many not at all, and the first few that lost frames (their 5-tuples). */
  flows?: { count: number; complete: number; missing: number; sample: Array<{ flow: string; sent: number; received: number }> };
  problems: string[];
  /** The verdict in one line. */
  summary: string;
}

export interface Drop {
  /** Where it was counted: "the guest's kernel", "the guest's vEth_port33", "the switch's port 33 (port33)". */
  where: string;
  counter: string;
  delta: number;
  /** What the counter counts, in words; with what else grew beside it. */
  meaning: string;
}

export interface Findings {
  drops: Drop[];
  /** The counters that could not be read, and why. */
  notRead: string[];
}

export interface ForeignFrames {
  subtracted: number;
  unsure: number;
}
