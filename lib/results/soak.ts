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
  /** The PMD threads' cycles and packets so far (pmd-stats-show, summed over the PMDs; cumulative); absent where not offered. */
  pmd?: { processing: number; idle: number; packets: number };
}

/** One interval's PMD figures, from two samples' counters: the PMDs' busy share (%) and their processing cycles per packet (null with no packet). */
export interface PmdInterval {
  t: number;
  busyPct: number | null;
  cyclesPerPacket: number | null;
}

/** The PMD figures of each interval between consecutive samples that read the PMDs. */
export function pmdIntervals(samples: readonly SoakSample[]): PmdInterval[] {
  const out: PmdInterval[] = [];
  for (let i = 1; i < samples.length; i++) {
    const [a, b] = [samples[i - 1]!.pmd, samples[i]!.pmd];
    if (!a || !b) continue;
    const [processing, idle, packets] = [b.processing - a.processing, b.idle - a.idle, b.packets - a.packets];
    out.push({
      t: samples[i]!.t,
      busyPct: processing + idle > 0 ? Math.round((processing / (processing + idle)) * 1000) / 10 : null,
      cyclesPerPacket: packets > 0 ? Math.round(processing / packets) : null,
    });
  }
  return out;
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
  /** The stream's one-way latency in windows of windowS (by when each frame was sent); absent before it was read. */
  windowS?: number;
  latencyWindows?: LatencyWindow[];
  /** Why the PMDs' cycles were not sampled (a datapath with no PMD thread, or one that refuses pmd-stats-show), where they were not. */
  pmdNotOffered?: string;
  /** Why the windows say nothing of the DUT (a capture that missed what left the generator), where they do not. */
  latencyInvalid?: string;
  maxP99Us?: number;
  maxLossEvents: number;
  maxGrowthMbPerHour: number;
}

/** One window of a soak's stream: from when (s into the stream), the frames that came back in it, and their latency (µs; null with none). */
export interface LatencyWindow {
  fromS: number;
  n: number;
  p50Us: number | null;
  p99Us: number | null;
  maxUs: number | null;
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
      ...(m.latencyWindows
        ? {
            latency: {
              windowS: m.windowS,
              windows: m.latencyWindows.length,
              worstP99Us: m.latencyWindows.reduce<number | null>((a, w) => (w.p99Us === null ? a : Math.max(a ?? 0, w.p99Us)), null),
              ...(m.latencyInvalid ? { invalid: m.latencyInvalid } : {}),
            },
          }
        : {}),
      ...pmdSummary(m),
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

/** The PMDs' busy share over the soak's intervals (lowest, median, highest), or why it was not offered. */
function pmdSummary(m: SoakMeasured): { pmd?: Record<string, unknown> } {
  if (m.pmdNotOffered) return { pmd: { notOffered: m.pmdNotOffered } };
  const busy = pmdIntervals(m.samples)
    .flatMap((x) => (x.busyPct === null ? [] : [x.busyPct]))
    .sort((a, b) => a - b);
  if (busy.length === 0) return {};
  return { pmd: { intervals: busy.length, busyPct: { lowest: busy[0], median: busy[Math.floor(busy.length / 2)], highest: busy.at(-1) } } };
}
