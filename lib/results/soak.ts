// The soak kind: what `--suite soak` measured over its steady stream: the loss
// events and the frames lost in each sampling interval (from the stream's
// sequence numbers), and every interval's sample of the watched processes'
// resident memory and file descriptors and of the free hugepages, with each
// process's fitted growth (lib/verify/growth.ts). Pure.
import type { LossEvents } from './pvp.js';
import type { Measured, SuiteResult } from './run.js';

/** One process's memory growth over a soak, as lib/verify/growth.ts fits it. */
export interface Growth {
  name: string;
  /** Samples fitted (after settling), and the resident memory at the first and the last, kB. */
  fitted: number;
  firstKb: number | null;
  lastKb: number | null;
  /** The fitted slope, MB an hour, and its one-sided 95 % bounds; null where too few samples were fitted. */
  slopeMbPerHour: number | null;
  lowMbPerHour: number | null;
  highMbPerHour: number | null;
  boundMbPerHour: number;
  flagged: boolean;
  text: string;
}

/** One interval's sample: seconds into the soak, each process's resident memory (kB) and open files, the free hugepages (null: not read). */
export interface SoakSample {
  t: number;
  hugepagesFree: number | null;
  processes: Record<string, { rssKb: number | null; fds: number | null }>;
}

export interface SoakMeasured extends Measured {
  kind: 'soak';
  rate: number;
  durationS: number;
  intervalS: number;
  frames: number;
  sent?: number;
  received?: number;
  gaps?: LossEvents;
  lostPerInterval?: number[];
  samples: SoakSample[];
  growth?: Growth[];
  maxLossEvents: number;
  maxGrowthMbPerHour: number;
}

export function soakOf(s: SuiteResult): SoakMeasured | null {
  return s.measured?.kind === 'soak' ? (s.measured as SoakMeasured) : null;
}

/** What summary.json says of a run's soak, where it has one: its load, its loss events, each process's growth. */
export function soakSummary(suites: SuiteResult[]): { soak?: Record<string, unknown> } {
  const m = suites.map(soakOf).find((x) => x !== null);
  if (!m) return {};
  return {
    soak: {
      rate: m.rate,
      durationS: m.durationS,
      intervalS: m.intervalS,
      samples: m.samples.length,
      ...(m.gaps ? { lossEvents: m.gaps.events, lost: m.gaps.lost, events: m.gaps.sample, resolutionMs: m.gaps.resolutionMs } : {}),
      ...(m.growth
        ? {
            growth: m.growth.map((g) => ({
              name: g.name,
              slopeMbPerHour: g.slopeMbPerHour,
              lowMbPerHour: g.lowMbPerHour,
              highMbPerHour: g.highMbPerHour,
              flagged: g.flagged,
            })),
          }
        : {}),
    },
  };
}
