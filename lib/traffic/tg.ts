// A traffic generator, whatever drives it: the interface the suites use. The
// driver the testbed names (`tg.type`) is picked in drivers.ts: a TRex or
// pktgen driver is a new file beside tg-linux.ts and a line there.
//
// Two faces. Capturing, for functional suites: send one stream and capture
// what comes back, with the ports' counters around it. Measuring, for
// performance suites: offer a load for a while and count what came back.
export interface PortCounters {
  rxPackets: number;
  rxBytes: number;
  txPackets: number;
  txBytes: number;
}

/** The TG's port counters and the TG's clock around the reading, so that captured frames can be placed in or out of it. */
export interface TgSnapshot {
  ports: Record<string, PortCounters>;
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

/** The capturing face: one stream out, its return captured, the TG's counters around it. */
export interface CapturingTrafficGenerator {
  prepare(): Promise<void>;
  counters(): Promise<TgSnapshot>;
  startCapture(): Promise<void>;
  send(localPcap: string, packets: number, rate: number): Promise<SendResult>;
  /** Returns once no packet of the stream has arrived for the quiet period (within a bound). */
  awaitStreamEnd(): Promise<void>;
  /** Stops the captures cleanly (an incomplete one is a CaptureError) and downloads them. */
  stopCapture(files: CaptureFiles): Promise<void>;
  cleanup(): Promise<void>;
}

/** A trial at a fixed load: what the measuring face is asked. */
export interface Trial {
  /** Frames per second offered. */
  rate: number;
  durationS: number;
  /** Frame size in bytes (without the 4-byte FCS). */
  frame: number;
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
  /** Frames per second the generator actually reached. */
  achievedRate: number;
}

/** The measuring face (the throughput search's): offer a load for a while, count what came back. */
export interface MeasuringTrafficGenerator {
  /** Puts the trial frames (a pcap written here) where the generator sends them from; the ports up. */
  prepareTrials(localPcap: string, frames: number): Promise<void>;
  measure(trial: Trial): Promise<TrialResult>;
  cleanup(): Promise<void>;
}
