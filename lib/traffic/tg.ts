// A traffic generator, whatever drives it: the interface the suites use. The
// driver the testbed names (`tg.type`) is picked in drivers.ts: a TRex or
// pktgen driver is a new file beside tg-linux.ts and a line there.
//
// Two faces. Capturing, for functional suites: one call sends a stream and
// captures what comes back, with the ports' counters around it (DTS's
// send_packets_and_capture). Measuring, for performance suites: offer a load
// for a while and count what came back. A suite gets the run's one driver
// from the engine (LabRun.trafficGenerator()), which cleans it up.
import type { LatencyResult, SeenPacket } from '../results/latency.js';

export interface TgPortCounters {
  rxPackets: number;
  rxBytes: number;
  txPackets: number;
  txBytes: number;
}

/** The TG's port counters and the TG's clock around the reading, so that captured frames can be placed in or out of it. */
export interface TgSnapshot {
  ports: Record<string, TgPortCounters>;
  /** TG clock, microseconds since the epoch, just before and just after the counters were read. */
  fromUs: number;
  toUs: number;
}

export interface SendResult {
  /** What the generator says it put on the wire. */
  packetsSent: number;
  failed: number;
  raw: string;
}

/** Where the captures of a run were written on this machine. */
export interface CaptureFiles {
  /** What came back on the receive port (direction in). */
  rx: string;
  /** What left the transmit port (direction out): the stream and whatever else the TG sent. */
  tx: string;
}

/** Readings of the rest of the path around one of the TG's own: `first` just before it, `last` just after. */
export interface AroundReading {
  first?(): Promise<void>;
  last?(): Promise<void>;
}

/** What the capturing face is asked: one stream, where its captures go, and what to read around it. */
export interface CaptureRequest {
  /** The stream, as a pcap on this machine; its packets and rate (packets/s). */
  pcap: string;
  packets: number;
  rate: number;
  /** Where the captures go on this machine. */
  into: CaptureFiles;
  /**
   * traffic.direction both: the reverse stream (a pcap here, its packets),
   * sent from the receive port at the same time at the same rate; its return
   * captured on the transmit port (`into.rx`) and what left the receive port
   * (`into.tx`).
   */
  reverse?: { pcap: string; packets: number; into: CaptureFiles };
  /**
   * Readings of the rest of the path (the switch, the guest), taken while
   * the captures run, so that every frame a counter counted is in a capture:
   * around the TG's counters before the stream, and after it ended.
   */
  around?: { before?: AroundReading; after?: AroundReading };
  /**
   * Replay the pcap as its timestamps say (a stream whose rate changes: the
   * system recovery's overload, then its lower load); `rate` is then its mean
   * (for timeouts). A driver that cannot refuses it.
   */
  timed?: boolean;
}

export interface CaptureResult {
  /** What the generator says it sent (fewer than asked is for the caller to judge). */
  sent: SendResult;
  /** The reverse stream's, where the request had one. */
  reverseSent?: SendResult;
  /** The TG's ports before the stream and once it ended (no packet of it for the quiet period, within a bound). */
  counters: { before: TgSnapshot; after: TgSnapshot };
}

/** The capturing face: one stream out, its return captured, the TG's counters around it; one call. */
export interface CapturingTrafficGenerator {
  /** The tools there, the ports up. */
  prepare(): Promise<void>;
  /**
   * Captures the return port and the send port, sends the stream, waits for
   * it to end, and brings the captures here complete (an incomplete one is
   * a CaptureError). Leaves no capture running, whatever happens.
   */
  sendAndCapture(req: CaptureRequest): Promise<CaptureResult>;
  /** Removes what the generator left on the TG; safe at any time, any number of times. */
  cleanup(): Promise<void>;
}

/** A trial at a fixed load: what the measuring face is asked. */
export interface Trial {
  /** Frames per second offered (in each direction, where the trial goes both ways). */
  rate: number;
  durationS: number;
  /** Frame size in bytes on the wire, FCS included (the throughput suite's frame sizes). */
  frame: number;
  /** Also a low-rate latency stream of the same frame (its own id, its rate in frames/s): its one-way latency comes back in the result. */
  latency?: { streamId: number; rate: number };
  /**
   * The load in bunches of this many frames back to back, a bunch at each
   * tick of the rate (default 1: as evenly spaced as the generator can): a
   * load as bursty as a real one, so that a DUT's queue is where it waits
   * (the linux TG: tcpreplay --pps-multi). A driver that cannot refuses it.
   */
  bunch?: number;
}

/** A trial's bunch, checked: a whole number of frames, 1 to 1000. */
export function bunchOf(trial: Pick<Trial, 'bunch'>): number {
  const b = trial.bunch ?? 1;
  if (!Number.isInteger(b) || b < 1 || b > 1000) throw new Error(`trial: a bunch of ${b} frames; a whole number, 1 to 1000`);
  return b;
}

/** What a trial found. The generator's own shortfall is measured, never assumed: a trial it fell short on is flagged. */
export interface TrialResult {
  /** Frames asked for (rate x duration). */
  offered: number;
  /** Frames the generator actually put on the wire. */
  sent: number;
  /** Frames that came back on the receive port. */
  received: number;
  /** (sent - received) / sent. */
  lossRatio: number;
  /** The generator sent fewer than it was asked to, or slower: the trial says nothing of the DUT at that rate. */
  generatorShort: boolean;
  /** Why the trial is the generator's, beside its rate (its errors grew, its CPU ran out), where the driver can tell. */
  generatorNote?: string;
  /** Frames per second the generator actually reached (in the slower direction, where the trial goes both ways). */
  achievedRate: number;
  /**
   * Each direction's own count, where the trial went both ways: the totals
   * above are their sums (the loss ratio over both), and a direction that
   * lost is named by its own.
   */
  directions?: Record<Direction, DirectionCount>;
  /** The latency stream's, when the trial asked for one (a driver that cannot measure it says so by an error, never a guess). */
  latency?: LatencyResult;
  /**
   * The latency stream's packets as a capturing generator saw them leave and
   * come back (its one clock): for figures per hop against captures on the
   * path. Kept in memory only, never in a report.
   */
  latencyPackets?: { sent: SeenPacket[]; received: SeenPacket[] };
}

export type Direction = 'forward' | 'reverse';

/** One direction of a trial: what the generator sent that way and what came back on the other port. */
export interface DirectionCount {
  sent: number;
  received: number;
  lossRatio: number;
}

/** A direction's count, its loss ratio from its own frames. */
export function directionCount(sent: number, received: number): DirectionCount {
  return { sent, received, lossRatio: sent > 0 ? Math.max(0, sent - received) / sent : 0 };
}

/** The measuring face (the throughput search's): offer a load for a while, count what came back. */
export interface MeasuringTrafficGenerator {
  /**
   * Puts the trial frames (a pcap written here) where the generator sends
   * them from; the ports up. With `reversePcap` (traffic.direction both),
   * every trial also sends the reverse stream from the receive port, at the
   * same rate, and counts what comes back on the transmit port.
   */
  prepareTrials(localPcap: string, frames: number, reversePcap?: string): Promise<void>;
  /**
   * The generator makes the flows of traffic.flows itself from the trial
   * pcap's first frame (TRex's field engine): the pcap needs no frame per
   * flow. Otherwise it loops the pcap as it is, one frame per flow at least.
   */
  readonly makesFlows?: boolean;
  measure(trial: Trial): Promise<TrialResult>;
  /**
   * A burst of `frames` trial frames back to back at the generator's utmost
   * rate (RFC 2544's back-to-back), what came back counted once nothing more
   * arrives. Absent: the driver does not send bursts.
   */
  burst?(frames: number): Promise<BurstResult>;
  cleanup(): Promise<void>;
}

/** A burst as the generator sent it and what came back; how long it lasted leaving the generator (s), from the frames of it captured there. */
export interface BurstResult {
  frames: number;
  sent: number;
  received: number;
  seconds: number;
  /** Frames of the burst the capture of what left holds (its length is read from them). */
  captured: number;
}
