// TRex's latency statistics (get_pgid_stats) read into dutlab's latency
// result. The shape is trex-core's (src/stx/stl/trex_stl_fs.cpp, the
// histogram of src/time_histogram.cpp): per pg_id, flow_stats' tp/rp (frames
// sent and received, by port) and latency's lat (total_min, average,
// total_max in microseconds, jit, the histogram, hdrh) and er (sequence
// errors: drp lost, ooo out of order, dup duplicated).
//
// How TRex publishes them (src/stx/stl/trex_stl_fs.cpp, src/time_histogram.cpp):
// `average` is a low-pass filter of each 0.5 s period's mean, not a mean of
// the samples; total_min and total_max are folded in only at that 0.5 s tick
// (a period TRex never folded leaves max 0 and min at its initial value);
// er.drp counts sequence gaps, never the frames lost after the last one that
// came back. So: the figures are read once two reads a tick apart agree,
// lost is sent - received, the average is labelled TRex's, and a stream TRex
// folded no period of is "not measured", never a figure.
import { ParseError } from '../../errors.js';
import { hdrhOfBuckets, percentileOf, type LatencyBucket, type LatencyResult } from '../../results/latency.js';
import { waitUntilSteady } from '../../wait.js';
import type { TrexRpc } from './rpc.js';

/** TRex folds its latency figures at this tick. */
export const TREX_FOLD_MS = 500;
/** A latency trial shorter than two folds may leave TRex no period to fold: the shortest one the driver trusts. */
export const MIN_LATENCY_TRIAL_S = 1;

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
  const sent = num(flow.tp?.[String(txPort)] ?? 0, `tp.${txPort}`);
  const unfolded = received > 0 ? notFolded(lat) : null;
  return {
    streamId,
    sent,
    received,
    // er.drp counts gaps in the sequence only: what never came back after the last arrival is in sent - received alone.
    lost: Math.max(0, sent - received),
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
    avgIs: 'trex-filtered',
    ...(unfolded ? { invalid: `not measured: ${unfolded}` } : {}),
  };
}

/** Why TRex's min and max are no figures (a period it never folded), or null when they are. */
function notFolded(lat: { total_min?: number; total_max?: number }): string | null {
  const [min, max] = [lat.total_min ?? 0, lat.total_max ?? 0];
  if (max <= 0) return `TRex folded no latency period of the stream (total_max ${max}); a latency trial needs at least ${MIN_LATENCY_TRIAL_S} s`;
  if (min < 0 || min > max) return `TRex's total_min ${min} is out of range (total_max ${max}): no period folded`;
  return null;
}

/**
 * The latency stream's statistics once TRex has folded them: read until two
 * reads a fold apart agree (bounded: a stream that keeps changing is read
 * as it last was).
 */
export async function readLatency(rpc: TrexRpc, pgId: number, ports: { transmit: number; receive: number }, streamId = pgId): Promise<LatencyResult> {
  const read = () => rpc.call<TrexPgidStats>('get_pgid_stats', { pgids: [pgId] });
  const key = (s: TrexPgidStats) => {
    const id = String(pgId);
    const l = s.latency?.[id];
    return JSON.stringify([s.flow_stats?.[id]?.tp, s.flow_stats?.[id]?.rp, l?.lat?.total_min, l?.lat?.total_max, l?.lat?.average, l?.er]);
  };
  const stats = await waitUntilSteady(`TRex's latency figures of pg_id ${pgId}`, read, key, {
    quietMs: TREX_FOLD_MS + 100,
    timeoutMs: 5000,
    intervalMs: 300,
  });
  return { ...latencyFromTrex(pgId, stats, ports.transmit, ports.receive), streamId };
}

/** Each port's error counters, as get_port_stats gives them with its packet counters. */
export type PortErrors = { [port: number]: { oerrors: number; ierrors: number } };
/** One reading of the generator's health: each port's error counters, and TRex's CPU load (%). */
export type PortHealth = PortErrors & { cpu: number };

/** TRex's CPU load above which its rates are its own limit, not the DUT's. */
export const TREX_BUSY_CPU = 95;

/** Why a trial is the generator's, not the DUT's (its errors grew, or it ran out of CPU), or null. */
export function generatorHealth(before: PortErrors, after: PortHealth, ports: { transmit: number; receive: number }): string | null {
  const grew = (port: number, k: 'oerrors' | 'ierrors') => (after[port]?.[k] ?? 0) - (before[port]?.[k] ?? 0);
  const problems = [
    ...(grew(ports.transmit, 'oerrors') > 0 ? [`TRex port ${ports.transmit}'s oerrors grew by ${grew(ports.transmit, 'oerrors')}`] : []),
    ...(grew(ports.receive, 'ierrors') > 0 ? [`TRex port ${ports.receive}'s ierrors grew by ${grew(ports.receive, 'ierrors')}`] : []),
    ...(after.cpu >= TREX_BUSY_CPU ? [`TRex's CPU at ${after.cpu.toFixed(0)} %`] : []),
  ];
  return problems.length > 0 ? `the generator fell behind or erred: ${problems.join(', ')}` : null;
}
