// TRex's latency statistics (get_pgid_stats) read into dutlab's latency
// result. The shape is trex-core's (src/stx/stl/trex_stl_fs.cpp, the
// histogram of src/time_histogram.cpp): per pg_id, flow_stats' tp/rp (frames
// sent and received, by port) and latency's lat (total_min, average,
// total_max in microseconds, jit, the histogram, hdrh) and er (sequence
// errors: drp lost, ooo out of order, dup duplicated).
import { ParseError } from '../../errors.js';
import { hdrhOfBuckets, percentileOf, type LatencyBucket, type LatencyResult } from '../../results/latency.js';

export interface TrexPgidStats {
  flow_stats?: Record<string, { tp?: Record<string, number>; rp?: Record<string, number> }>;
  latency?: Record<
    string,
    {
      lat?: { total_min?: number; average?: number; total_max?: number; jit?: number; histogram?: Record<string, number>; hdrh?: string };
      er?: { drp?: number; ooo?: number; dup?: number };
    }
  >;
}

/**
 * A histogram key of TRex's, its bucket's upper bound: key K of the decade
 * whose first key is B holds [K, K + B) microseconds (10 holds 10-19 µs, 200
 * holds 200-299 µs); key 0 holds what was below the first bucket (10 µs).
 */
export function trexBucketUpperUs(key: number): number {
  if (key <= 0) return 10;
  return key + 10 ** Math.floor(Math.log10(key));
}

/** The latency stream's statistics, sent on `txPort` and received on `rxPort`; what is missing is a ParseError naming it. */
export function latencyFromTrex(streamId: number, stats: TrexPgidStats, txPort: number, rxPort: number): LatencyResult {
  const id = String(streamId);
  const flow = stats.flow_stats?.[id];
  const lat = stats.latency?.[id]?.lat;
  const what = `TRex's get_pgid_stats for pg_id ${streamId}`;
  if (!flow || !lat) throw new ParseError(what, 'flow_stats and latency sections for the pg_id', JSON.stringify(stats).slice(0, 300));
  const num = (v: unknown, field: string): number => {
    if (typeof v !== 'number' || !Number.isFinite(v)) throw new ParseError(what, `a number in ${field}`, JSON.stringify(stats).slice(0, 300));
    return v;
  };
  const er = stats.latency?.[id]?.er ?? {};
  const histogram: LatencyBucket[] = Object.entries(lat.histogram ?? {})
    .map(([k, count]) => ({ upToUs: trexBucketUpperUs(Number(k)), count: num(count, `histogram.${k}`) }))
    .sort((a, b) => a.upToUs - b.upToUs);
  const received = num(flow.rp?.[String(rxPort)] ?? 0, `rp.${rxPort}`);
  return {
    streamId,
    sent: num(flow.tp?.[String(txPort)] ?? 0, `tp.${txPort}`),
    received,
    lost: er.drp ?? 0,
    reordered: er.ooo ?? 0,
    duplicated: er.dup ?? 0,
    minUs: received > 0 ? num(lat.total_min, 'lat.total_min') : 0,
    avgUs: received > 0 ? num(lat.average, 'lat.average') : 0,
    maxUs: received > 0 ? num(lat.total_max, 'lat.total_max') : 0,
    jitterUs: received > 0 ? num(lat.jit ?? 0, 'lat.jit') : 0,
    p50Us: percentileOf(histogram, 0.5),
    p90Us: percentileOf(histogram, 0.9),
    p99Us: percentileOf(histogram, 0.99),
    p999Us: percentileOf(histogram, 0.999),
    histogram,
    // TRex's own where it sends one; else one of its buckets (each at its upper bound, as the percentiles are read).
    hdrh: lat.hdrh ?? hdrhOfBuckets(histogram),
  };
}
