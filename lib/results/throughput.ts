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
