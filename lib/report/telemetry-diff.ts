// Which datapath figure moved between a baseline and a candidate: each
// telemetry figure both runs offer (lib/results/telemetry.ts), against its own
// threshold (a share of the baseline's value, or points of a percentage),
// largest first in units of that threshold. Said beside the NDR verdict, never
// instead of it: the gate's rule stays NDR's until the bench shows a figure
// steadier than NDR on a lab (docs/gate.md). Pure.
import type { RunRecord } from '../results/run.js';
import type { TelemetryMetric, TelemetryTrial } from '../results/telemetry.js';
import { throughputOf } from '../results/throughput.js';
import type { z } from 'zod';
import { type FrameKey, frameText } from '../testbed/frame-mix.js';
import { Throughput } from '../testbed/throughput-schema.js';

/** The testbed's telemetry thresholds, by figure id (lib/testbed/throughput-schema.ts: defaults and ranges). */
export type TelemetryThresholds = z.infer<typeof Throughput>['telemetryThresholds'];

/** The schema's, where a caller has no testbed. */
export const DEFAULT_TELEMETRY_THRESHOLDS: TelemetryThresholds = Throughput.parse({}).telemetryThresholds;

/**
 * How each figure's threshold reads: a share of the baseline's value (counts
 * per packet, rates, memory) or points of a percentage (shares). Figures that
 * follow the load (packets received) or OVS's window (queue shares) have none.
 */
export const POINTS: ReadonlySet<string> = new Set([
  'pmd.busy_share',
  'pmd.hits.simple_match',
  'pmd.hits.emc',
  'pmd.hits.smc',
  'pmd.hits.megaflow',
  'thread.cpu',
  'thread.wait',
]);

export interface MovedMetric {
  frame: FrameKey;
  id: string;
  scope: string;
  label: string;
  unit: string;
  baseline: number;
  candidate: number;
  /** How many thresholds it moved (1.4: 40 % past its threshold). */
  size: number;
  text: string;
}

const round = (x: number) => (Math.abs(x) >= 100 ? Math.round(x).toLocaleString('en-US') : String(Number(x.toPrecision(3))));

function describe(m: TelemetryMetric, b: number, c: number, frame: FrameKey): string {
  const where = `on ${m.scope} at ${frameText(frame)}`;
  if (POINTS.has(m.id)) return `${m.label} ${round(b)} % → ${round(c)} % ${where}`;
  const pct = b === 0 ? '' : ` ${c >= b ? '+' : '−'}${Math.abs(((c - b) / b) * 100).toFixed(0)} %`;
  return `${m.label}${pct} ${where} (${round(b)} → ${round(c)} ${m.unit})`;
}

/** How many of its thresholds a figure moved, or 0 where it stayed within one. */
function movedBy(id: string, b: number, c: number, threshold: number): number {
  const change = POINTS.has(id) ? Math.abs(c - b) : b === 0 ? (c === 0 ? 0 : Number.POSITIVE_INFINITY) : Math.abs(c - b) / Math.abs(b);
  return change > threshold ? change / threshold : 0;
}

/**
 * Whether two telemetry trials say the same thing: each at its own search's PDR (or NDR), or both at one fixed load.
 * A fixed load's figures beside a search's, or beside another load's, differ by the load.
 */
export function comparableTrials(b: TelemetryTrial, c: TelemetryTrial): boolean {
  const fixed = (t: TelemetryTrial) => t.goal === 'fixed load';
  return fixed(b) === fixed(c) && (!fixed(c) || b.rate === c.rate);
}

/** The figures that moved beyond their thresholds (the testbed's), largest first. */
export function movedMetrics(base: RunRecord, cand: RunRecord, thresholds: TelemetryThresholds = DEFAULT_TELEMETRY_THRESHOLDS): MovedMetric[] {
  const moved: MovedMetric[] = [];
  for (const c of cand.run.suites.flatMap(throughputOf)) {
    const b = base.run.suites.flatMap(throughputOf).find((x) => x.frame === c.frame);
    if (!b?.telemetry || !c.telemetry || !comparableTrials(b.telemetry, c.telemetry)) continue;
    for (const m of c.telemetry.metrics) {
      const threshold = (thresholds as Record<string, number | undefined>)[m.id];
      if (threshold === undefined || m.value === null) continue;
      const bm = b.telemetry.metrics.find((x) => x.id === m.id && x.scope === m.scope);
      if (!bm || bm.value === null) continue;
      const size = movedBy(m.id, bm.value, m.value, threshold);
      if (size > 0)
        moved.push({
          frame: c.frame,
          id: m.id,
          scope: m.scope,
          label: m.label,
          unit: m.unit,
          baseline: bm.value,
          candidate: m.value,
          size,
          text: describe(m, bm.value, m.value, c.frame),
        });
    }
  }
  return moved.sort((x, y) => y.size - x.size);
}
