// The throughput kind: what the throughput suite measured (the searches, and
// the latency at loads of each search's PDR), as run.json keeps it and
// `compare`, `run --baseline`, the history, the stores and the trend read it.
// Pure; the suite's tables of it are lib/suite/throughput/result.ts's.
import type { FrameKey } from '../testbed/frame-mix.js';
import type { LatencyResult } from './latency.js';
import type { TelemetryTrial } from './telemetry.js';
import type { Measured, SuiteResult } from './run.js';
import type { GoalResult, Measurement } from '../throughput/search.js';

/** The throughput search at one frame size. */
export interface ThroughputResult {
  /** Bytes on the wire, FCS included; or a mix's name (lib/testbed/frame-mix.ts: `imix`, `mix-64x3-1518x1`). */
  frame: FrameKey;
  /** What the generator reached with the DUT bypassed (frames/s), if calibrated. */
  calibration: { achievedRate: number; received: number; sent: number; durationS: number; latency?: LatencyResult } | null;
  /** The most the generator could offer during the search, if a trial showed it falling short. */
  generatorLimit: number | null;
  /** The load the search started from: the testbed's maximum, or the calibrated limit. */
  maxRate: number;
  goals: Array<GoalResult & { lowerBps: { l2: number; l1: number } | null }>;
  trials: Measurement[];
  /** One-way latency at the testbed's loads of the PDR, once measured. */
  latency?: ThroughputLatency;
  /** The warm-ups before measured trials and what the datapath held after them (absent before dutlab kept them). */
  warmUp?: WarmUpRecord;
  /** The telemetry trial at the PDR after the search (absent before dutlab ran one, or where the testbed turns it off). */
  telemetry?: TelemetryTrial;
  /** The testbed's fixed load (frames/s): no search ran, only the telemetry trial at it (goals and trials empty). */
  fixedLoad?: number;
  /** RFC 2544's frame loss rate at shares of the NDR (throughput.lossCurve), where the testbed asked for it. */
  lossCurve?: LossCurvePoint[];
  /** RFC 2544's back-to-back frames with RFC 9004's corrections (throughput.backToBack), where the testbed asked for it. */
  backToBack?: BackToBackResult;
  /** RFC 2544's system recovery (throughput.recovery), where the testbed asked for it. */
  recovery?: RecoveryResult;
  /** Both: every trial sent the stream both ways, each direction at the rate (the bounds are per direction; the aggregate twice). Absent: one way. */
  direction?: 'both';
}

/** One load of the loss curve: its share of the NDR, the load offered, what was sent and came back; null ratio where the generator fell short. */
export interface LossCurvePoint {
  share: number;
  rate: number;
  sent: number;
  received: number;
  lossRatio: number | null;
  generatorShort: boolean;
  /** The latency stream on top of the load (throughput.lossCurve.latency): of its frames that came back, µs; absent where not asked. */
  latency?: { received: number; lost: number; p50Us: number | null; p99Us: number | null; maxUs: number | null; invalid?: string };
}

/**
 * Back-to-back frames (RFC 2544 26.4, RFC 9004): the longest burst at the
 * generator's utmost rate forwarded without loss, each repetition's and their
 * mean, and the buffer it implies. RFC 9004's correction: the frames the DUT
 * forwarded during the burst, at its measured throughput T, never were in
 * its buffer; of a burst of B frames at rate R, B x (1 - T / R) were.
 */
export interface BackToBackResult {
  /** Each repetition's longest burst without loss (frames): 0 where a burst of 2 lost frames. */
  bursts: number[];
  /** Repetitions whose longest burst tried (maxBurst) lost nothing: their value is at least maxBurst, not bounded. */
  unbounded: number;
  maxBurst: number;
  /** Bursts sent in all. */
  trials: number;
  /** RFC 9004's average number of back-to-back frames, and the repetitions' sample standard deviation (null with one). */
  meanFrames: number;
  sdFrames: number | null;
  /** The rate the generator sent its longest lossless bursts at (frames/s, as it measured them): RFC 9004's maximum theoretical frame rate, in a lab whose wires have none. */
  burstRate: number;
  /** The measured throughput the correction uses: the search's NDR (frames/s); null where it found none. */
  throughput: number | null;
  /** meanFrames / burstRate (ms): RFC 9004's implied DUT buffer time. */
  impliedBufferMs: number;
  /** meanFrames x (1 - throughput / burstRate): the frames that were in the buffer; null without a throughput. */
  correctedFrames: number | null;
  /** correctedFrames / burstRate (ms): RFC 9004's corrected DUT buffer time; null without a throughput. */
  correctedBufferMs: number | null;
  /** correctedFrames / throughput (ms): how long the buffer takes to drain at the throughput; null without one. */
  drainMs: number | null;
}

/**
 * System recovery (RFC 2544 26.5): one numbered stream, `overload` x the NDR
 * for a while, then `recover` x the NDR; from the reduction (the first frame
 * of the lower load leaving the generator) to the last frame lost, and to the
 * first frame whose one-way latency is back within `settledWithinMs` of the
 * lower load's settled latency (the DUT's queue drained).
 */
export interface RecoveryResult {
  ndr: number;
  overload: RecoveryPhase;
  recover: RecoveryPhase;
  /** Frames of each phase that did not come back. */
  lostInOverload: number;
  lostInRecovery: number;
  /** RFC 2544's recovery time (ms): the reduction to the last frame lost (by when it was sent); 0 where no frame sent after the reduction was lost. */
  lossRecoveryMs: number;
  /** The reduction to the first frame sent after it whose latency is back within settledWithinMs of the settled latency (ms); null where none settled. */
  delayRecoveryMs: number | null;
  /** The median latency of the last half of the lower load (µs): what "settled" is. */
  settledLatencyUs: number | null;
  /** The highest latency of a frame of the overload (µs): the queue the overload built. */
  peakLatencyUs: number | null;
  settledWithinMs: number;
  /** The measurement's resolution (ms): one frame's interval at the lower load. */
  resolutionMs: number;
  /** Why the figures say nothing of the DUT (a capture that missed frames), where they do not. */
  invalid?: string;
}

/** One load of the recovery stream: its share of the NDR, its rate, how long, and the frames sent. */
export interface RecoveryPhase {
  share: number;
  rate: number;
  seconds: number;
  frames: number;
  /** The rate its frames left the generator at, as captured there (frames/s); absent before it was sent. */
  achievedRate?: number;
}

/** Each direction's frames over a search's trials at one rate (its bound's): sent, received, lost, summed. */
export function directionsAt(r: ThroughputResult, rate: number): Record<'forward' | 'reverse', { sent: number; received: number; lost: number }> | null {
  const at = r.trials.filter((t) => t.rate === rate && t.directions);
  if (at.length === 0) return null;
  const sum = (d: 'forward' | 'reverse') => {
    const sent = at.reduce((a, t) => a + t.directions![d].sent, 0);
    const received = at.reduce((a, t) => a + t.directions![d].received, 0);
    return { sent, received, lost: Math.max(0, sent - received) };
  };
  return { forward: sum('forward'), reverse: sum('reverse') };
}

/** The search's warm-ups: how many, the megaflows the datapath held after the last against what the rules imply, the trials that paid for flow setup. */
export interface WarmUpRecord {
  durationS: number;
  warmUps: number;
  /** null: not read (no warm-up, or the datapath does not offer it). */
  megaflows: number | null;
  /** null: the testbed lists its own flows. */
  expectedMegaflows: number | null;
  allowedUpcalls: number;
  /** Measured trials with more upcalls than allowed. */
  trialsOverAllowed: number;
  /** Why the datapath's counters could not be read, where they could not. */
  notOffered?: string;
  /** Which stage of the datapath served the measured trials' packets (pmd-stats-show deltas, summed), where it offers them. */
  lookups?: DatapathLookups;
}

/** Packets the datapath received in the measured trials, and how many each lookup stage served (the rest: upcalls, or dropped). */
export interface DatapathLookups {
  packets: number;
  simpleMatch: number;
  emc: number;
  smc: number;
  megaflow: number;
  upcalls: number;
}

/** The latency between two points of the path where it is caught: from the first to the second, the same packets. */
export interface HopLatency {
  from: string;
  to: string;
  latency: LatencyResult;
}

export interface LatencyAtLoad {
  /** Share of the PDR's lower bound (0: the latency stream alone). */
  load: number;
  /** The load's frames/s. */
  rate: number;
  /** The load's own loss in that trial, and whether the generator kept up with it. */
  lossRatio: number;
  generatorShort: boolean;
  latency: LatencyResult;
  /** Per hop, at the stream-alone load where the guest shares the generator's clock. */
  hops?: HopLatency[];
}

export interface ThroughputLatency {
  /** The latency stream's frames/s and each load's seconds. */
  rate: number;
  durationS: number;
  /** Of the PDR's lower bound, frames/s. */
  pdr: number;
  loads: LatencyAtLoad[];
  /** Why there are no figures per hop (another clock, no tcpdump on the guest), where there are none. */
  hopsNot?: string;
}

export interface ThroughputMeasured extends Measured {
  kind: 'throughput';
  /** One search per frame size. */
  results: ThroughputResult[];
}

/** The throughput searches in a suite's record, if it has any. */
export const throughputOf = (s: SuiteResult): ThroughputResult[] => (s.measured?.kind === 'throughput' ? (s.measured as ThroughputMeasured).results : []);

const pct = (load: number) => `${Math.round(load * 100)} %`;

/** A latency load in words: the stream alone, or a share of the PDR. */
export const loadName = (load: number): string => (load === 0 ? 'stream alone' : `${pct(load)} of PDR`);
