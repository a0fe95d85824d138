// The upgrade's kinds. The restart kind: what `--suite restart` (and dutlab gate's upgrade step)
// measured: which build stopped and which started, how, the steady stream's
// loss events (lib/verify/gaps.ts) and each step of the restart on the
// controller's clock. The downtime is RFC 6201's frame-loss reset time; the
// longest gap in the sequence numbers says the same where the path stopped
// once. The gate kind: dutlab gate's two groups compared. Pure.
import type { LossEvents } from './pvp.js';
import type { Measured, SuiteResult } from './run.js';

export interface RestartMeasured extends Measured {
  kind: 'restart';
  /** The builds stopped and started (the same one twice for a plain restart); null: ovsDpdk.vswitchd, no build. */
  from: string | null;
  to: string | null;
  stop: 'graceful' | 'kill';
  flowRestoreWait: boolean;
  /** The steady stream: its rate (frames/s) and frames, what the generator sent and what came back. */
  rate: number;
  frames: number;
  sent?: number;
  received?: number;
  gaps?: LossEvents;
  /** Each step of the restart: when it began from the stream's first frame (estimated from the controller's clock), and how long it took, ms. */
  phases: Array<{ step: string; startMs: number; ms: number }>;
  /** The bound that passes (restart.maxDowntimeMs). */
  maxDowntimeMs: number;
  /** The loss ran to the stream's end: the path never forwarded again while it flowed. */
  notRecovered?: boolean;
}

/** A suite's restart measurement, if it made one. */
export function restartOf(s: SuiteResult): RestartMeasured | null {
  return s.measured?.kind === 'restart' ? (s.measured as RestartMeasured) : null;
}

/** The downtime in one line: the reset time, the longest gap, the resolution. */
export function downtimeLine(m: RestartMeasured): string {
  const g = m.gaps;
  if (!g) return 'not measured';
  const r = (x: number) => `${Number(x.toFixed(2))} ms`;
  if (g.lost === 0) return `no frame lost (resolution ${r(g.resolutionMs)})`;
  return `frame-loss reset time ${r(g.resetTimeMs)} (RFC 6201: ${g.lost} lost / ${g.rate} frames/s), the longest gap ${r(g.longest!.lengthMs)} (${g.longest!.frames} frames), ${g.events} loss event${g.events === 1 ? '' : 's'}; resolution ${r(g.resolutionMs)}`;
}

/** dutlab gate's judgement: the builds, the rounds, each frame size's groups (lib/report/alternation.ts). */
export interface GateMeasured extends Measured {
  kind: 'gate';
  from: string;
  to: string;
  k: number;
  groups: Array<{ frame: string; a: number[]; b: number[]; change: number; sensitivity: number; sensitivityBy: 'threshold' | 'spread'; regression: boolean }>;
}

/** What summary.json says of a run's restart and gate, where it has them. */
export function upgradeSummary(suites: SuiteResult[]): { restart?: Record<string, unknown>; gate?: Omit<GateMeasured, 'kind'> } {
  const r = suites.map(restartOf).find((m) => m !== null);
  const g = suites.find((s) => s.measured?.kind === 'gate')?.measured as GateMeasured | undefined;
  const restart = r
    ? {
        from: r.from,
        to: r.to,
        stop: r.stop,
        flowRestoreWait: r.flowRestoreWait,
        rate: r.rate,
        maxDowntimeMs: r.maxDowntimeMs,
        ...(r.gaps
          ? {
              lost: r.gaps.lost,
              events: r.gaps.events,
              resetTimeMs: r.gaps.resetTimeMs,
              longestGapMs: r.gaps.longest?.lengthMs ?? 0,
              resolutionMs: r.gaps.resolutionMs,
            }
          : {}),
        ...(r.notRecovered ? { notRecovered: true } : {}),
      }
    : undefined;
  const gate = g ? (({ kind, ...rest }) => rest)(g) : undefined;
  return { ...(restart ? { restart } : {}), ...(gate ? { gate } : {}) };
}
