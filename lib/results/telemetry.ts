// The telemetry trial's kind: what the datapath did during one trial at a
// search's PDR, as named figures with units (CSIT's telemetry trial: measured
// apart from the search's trials, so that reading it does not move the
// number). Pure.

/** One figure: a name, what it is about (a PMD, a queue, a thread), a value in its unit, or why it is not offered. */
export interface TelemetryMetric {
  /** Stable across runs: what `compare` and the stores key on (`pmd.cycles_per_packet.processing`). */
  id: string;
  /** What it is about: `core 1`, `core 1 port16 queue 0`, `thread pmd-c01/id:8`, `ovs-vswitchd`. */
  scope: string;
  /** In words, for the report. */
  label: string;
  unit: string;
  /** null: not offered here (`notOffered` says why), never a zero standing in for it. */
  value: number | null;
  notOffered?: string;
}

export interface TelemetryTrial {
  /**
   * The load of the trial (frames/s, each way when both): the lower bound of the search's PDR, or of its NDR where it
   * found no PDR, or the testbed's fixed load (throughput.fixedLoad: no search).
   */
  rate: number;
  goal: 'PDR' | 'NDR' | 'fixed load';
  durationS: number;
  sent: number;
  received: number;
  /** The generator could not offer the load (it put out fewer frames, or slower): the loss says nothing of the DUT. */
  generatorShort?: true;
  /** Whether pmd-perf-metrics was turned on for the trial (and so the per-upcall time is OVS's). */
  perfMetrics: boolean;
  metrics: TelemetryMetric[];
  /** The raw readings, relative to the run's directory. */
  files: string[];
}

/** A metric's key: its id at its scope. */
export const metricKey = (m: Pick<TelemetryMetric, 'id' | 'scope'>) => `${m.id} @ ${m.scope}`;
