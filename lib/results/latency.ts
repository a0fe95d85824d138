// One-way latency of a marked stream, as the traffic generator measured it
// (TRex's latency streams: flow statistics of rule type latency; FD.io CSIT
// reports the same figures): what was sent and received of it, its sequence
// errors, min/avg/max and jitter, and the histogram the percentiles are read
// from. Pure data: the drivers fill it, the report and the gate read it.

/** One bucket of a latency histogram: the samples at or above the previous bucket's bound and below this one. */
export interface LatencyBucket {
  upToUs: number;
  count: number;
}

export interface LatencyResult {
  /** The generator's id of the latency stream (TRex's pg_id). */
  streamId: number;
  sent: number;
  received: number;
  /** Sequence errors the generator counted on the stream. */
  lost: number;
  reordered: number;
  duplicated: number;
  minUs: number;
  avgUs: number;
  maxUs: number;
  jitterUs: number;
  /** Read off the histogram: the upper bound of the bucket the percentile falls in (null with no sample). */
  p50Us: number | null;
  p90Us: number | null;
  p99Us: number | null;
  histogram: LatencyBucket[];
  /** The generator's HDR histogram as it encodes it (TRex: compressed, base64), where it sends one. */
  hdrh?: string;
}

/** The q-quantile (0..1) of a histogram: the upper bound of the bucket it falls in; null for an empty one. */
export function percentileOf(histogram: readonly LatencyBucket[], q: number): number | null {
  const sorted = [...histogram].filter((b) => b.count > 0).sort((a, b) => a.upToUs - b.upToUs);
  const total = sorted.reduce((n, b) => n + b.count, 0);
  if (total === 0) return null;
  const rank = Math.max(1, Math.ceil(q * total));
  let seen = 0;
  for (const b of sorted) {
    seen += b.count;
    if (seen >= rank) return b.upToUs;
  }
  return sorted.at(-1)!.upToUs;
}
