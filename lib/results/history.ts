// The history kind: one line per run, as the embedded store's history.jsonl
// and the PostgreSQL store's rows keep it (the figures a trend draws and a
// gate compares: NDR and PDR per frame size, every trial, latency per load),
// made from a run's record. Pure.
import type { FrameKey } from '../testbed/frame-mix.js';
import type { LatencyResult } from './latency.js';
import type { RunResult } from './run.js';
import type { TelemetryTrial } from './telemetry.js';
import { SCHEMA_VERSION } from './schema.js';
import { throughputOf, type ThroughputResult } from './throughput.js';

export interface HistoryEntry {
  schemaVersion?: number;
  runId: string;
  startedAt: string;
  testbed: string;
  profile: string;
  suites: string[];
  versions: RunResult['versions'];
  verdict: string;
  throughput: Array<{ frame: FrameKey; goal: string; lower: number | null; upper: number | null; limitedByGenerator: boolean }>;
  /** Every trial of the run's searches, in the order they ran (absent in lines of dutlab before they were kept). */
  trials?: HistoryTrial[];
  /** The latency of the run's throughput suite per frame size and load, and the generator's own (absent before it was measured). */
  latency?: HistoryLatency[];
  /** The telemetry trial of each search (absent before dutlab ran one). */
  telemetry?: HistoryTelemetry[];
  /** RFC 2544's tests beyond throughput, per frame size, where the run measured them. */
  rfc2544?: HistoryRfc2544[];
}

/** A frame size's loss curve, back-to-back and recovery figures, as the history keeps them (the trials stay in the run). */
export interface HistoryRfc2544 {
  frame: FrameKey;
  lossCurve?: Array<{ share: number; rate: number; lossRatio: number | null; p99Us?: number | null }>;
  backToBack?: {
    meanFrames: number;
    unbounded: number;
    burstRate: number;
    impliedBufferMs: number;
    correctedFrames: number | null;
    correctedBufferMs: number | null;
  };
  recovery?: { lossRecoveryMs: number; delayRecoveryMs: number | null; lostInRecovery: number; invalid?: string };
}

/** Every frame size's RFC 2544 figures beyond throughput. */
export function rfc2544Of(run: Pick<RunResult, 'suites'>): HistoryRfc2544[] {
  return run.suites.flatMap((s) =>
    throughputOf(s).flatMap((t): HistoryRfc2544[] => {
      if (!t.lossCurve && !t.backToBack && !t.recovery) return [];
      const b = t.backToBack;
      const r = t.recovery;
      return [
        {
          frame: t.frame,
          ...(t.lossCurve
            ? {
                lossCurve: t.lossCurve.map((p) => ({ share: p.share, rate: p.rate, lossRatio: p.lossRatio, ...(p.latency ? { p99Us: p.latency.p99Us } : {}) })),
              }
            : {}),
          ...(b
            ? {
                backToBack: {
                  meanFrames: b.meanFrames,
                  unbounded: b.unbounded,
                  burstRate: b.burstRate,
                  impliedBufferMs: b.impliedBufferMs,
                  correctedFrames: b.correctedFrames,
                  correctedBufferMs: b.correctedBufferMs,
                },
              }
            : {}),
          ...(r
            ? {
                recovery: {
                  lossRecoveryMs: r.lossRecoveryMs,
                  delayRecoveryMs: r.delayRecoveryMs,
                  lostInRecovery: r.lostInRecovery,
                  ...(r.invalid ? { invalid: r.invalid } : {}),
                },
              }
            : {}),
        },
      ];
    }),
  );
}

/** A search's telemetry trial as the history and summary.json keep it: its load and its figures (the raw readings stay in the run). */
export type HistoryTelemetry = Omit<TelemetryTrial, 'files'> & { frame: FrameKey };

/** Every telemetry trial of a run's throughput suites. */
export function telemetryOf(run: Pick<RunResult, 'suites'>): HistoryTelemetry[] {
  return run.suites.flatMap((s) => throughputOf(s).flatMap((t) => (t.telemetry ? [{ frame: t.frame, ...withoutFiles(t.telemetry) }] : [])));
}

const withoutFiles = ({ files, ...rest }: TelemetryTrial) => rest;

/**
 * One latency figure set as the history and summary.json keep it: of the DUT
 * at a load (a share of that run's PDR, 0 the stream alone), or of the
 * generator alone (the guest bypassed); the HDR histogram (base64) with it.
 */
export type HistoryLatency = Omit<LatencyResult, 'histogram' | 'streamId'> & {
  frame: FrameKey;
  of: 'dut' | 'generator';
  load: number;
  /** The load's frames/s. */
  rate: number;
  hops?: Array<{ from: string; to: string } & Omit<LatencyResult, 'histogram' | 'streamId' | 'hdrh'>>;
};

const latencyFigures = ({ histogram, streamId, ...figures }: LatencyResult) => figures;
/** A hop's figures: its histogram stays out of the history (the end-to-end one is kept). */
const withoutHdrh = ({ histogram, streamId, hdrh, ...figures }: LatencyResult) => figures;

/** Every latency figure set of a run's throughput suites (the one place the history's and summary.json's are made). */
export function latencyOf(run: Pick<RunResult, 'suites'>): HistoryLatency[] {
  return run.suites.flatMap((s) =>
    throughputOf(s).flatMap((t): HistoryLatency[] => [
      ...(t.latency && t.calibration?.latency
        ? [{ frame: t.frame, of: 'generator' as const, load: 0, rate: 0, ...latencyFigures(t.calibration.latency) }]
        : []),
      ...(t.latency?.loads ?? []).map((l) => ({
        frame: t.frame,
        of: 'dut' as const,
        load: l.load,
        rate: l.rate,
        ...latencyFigures(l.latency),
        ...(l.hops ? { hops: l.hops.map((h) => ({ from: h.from, to: h.to, ...withoutHdrh(h.latency) })) } : {}),
      })),
    ]),
  );
}

/** One trial of a search as the history and summary.json keep it: the generator's measurement (load, duration, frames offered, sent, received, loss, generator short) at its frame size. */
export type HistoryTrial = Omit<ThroughputResult['trials'][number], 'achievedRate'> & { frame: FrameKey };

/** Every trial of a run's throughput searches (the one place the history's and summary.json's trials are made). */
export function trialsOf(run: Pick<RunResult, 'suites'>): HistoryTrial[] {
  return run.suites.flatMap((s) =>
    throughputOf(s).flatMap((t) =>
      t.trials.map((m) => ({
        frame: t.frame,
        rate: m.rate,
        durationS: m.durationS,
        offered: m.offered,
        sent: m.sent,
        received: m.received,
        lossRatio: m.lossRatio,
        generatorShort: m.generatorShort,
      })),
    ),
  );
}

export function historyEntry(run: RunResult, verdict: string): HistoryEntry {
  const latency = latencyOf(run);
  const telemetry = telemetryOf(run);
  const rfc2544 = rfc2544Of(run);
  return {
    schemaVersion: SCHEMA_VERSION,
    runId: run.runId,
    startedAt: run.startedAt,
    testbed: run.testbedName,
    profile: run.profile,
    suites: run.suites.map((s) => s.suite),
    versions: run.versions,
    verdict,
    throughput: run.suites.flatMap((s) =>
      throughputOf(s).flatMap((t) =>
        t.goals.map((g) => ({ frame: t.frame, goal: g.goal, lower: g.lowerBound, upper: g.upperBound, limitedByGenerator: g.limitedByGenerator })),
      ),
    ),
    trials: trialsOf(run),
    ...(latency.length ? { latency } : {}),
    ...(telemetry.length ? { telemetry } : {}),
    ...(rfc2544.length ? { rfc2544 } : {}),
  };
}
