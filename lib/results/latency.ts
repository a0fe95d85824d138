// One-way latency of a marked stream, as the traffic generator measured it
// (TRex's latency streams: flow statistics of rule type latency; FD.io CSIT
// reports the same figures): what was sent and received of it, its sequence
// errors, min/mean/max, jitter, the percentiles and the HDR histogram they are
// read from (HdrHistogram's compressed base64 form, as CSIT keeps it). Pure:
// the drivers fill it, the report and the gate read it.
import * as hdr from 'hdr-histogram-js';

/** One bucket of a latency histogram: the samples at or above the previous bucket's bound and below this one. */
export interface LatencyBucket {
  upToUs: number;
  count: number;
}

export interface LatencyResult {
  /** The generator's id of the latency stream (TRex's pg_id). */
  streamId: number;
  sent: number;
  /** Latency packets that came back, each once (n: the samples the figures are made of). */
  received: number;
  /** Sequence errors of the stream: never came back, came back after a later one, came back twice. */
  lost: number;
  reordered: number;
  duplicated: number;
  minUs: number;
  avgUs: number;
  maxUs: number;
  /** RFC 3393 delay variation: the mean of |D(i) - D(i-1)| over consecutive packets of the stream (TRex: RFC 3550's smoothed form). */
  jitterUs: number;
  /** null with no sample. */
  p50Us: number | null;
  p90Us: number | null;
  p99Us: number | null;
  p999Us?: number | null;
  histogram: LatencyBucket[];
  /** The HDR histogram of the samples in µs, compressed and base64 (HdrHistogram's own encoding). */
  hdrh?: string;
  /** What avgUs is: the mean of the samples (the default), or TRex's low-pass filtered average of its 0.5 s periods' means. */
  avgIs?: 'mean' | 'trex-filtered';
  /** Why these figures say nothing of the DUT (a capture that dropped packets, clocks that differ): the report says so. */
  invalid?: string;
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

/** Latencies up to an hour, three significant digits: HdrHistogram's usual setting (CSIT's and TRex's too). */
const newHistogram = () => hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 3_600_000_000, numberOfSignificantValueDigits: 3 });

/** The decade bucket a value falls in (TRex's histogram shape): 10, 20, ..., 90, 100, 200, ... µs. */
function decadeBound(us: number): number {
  if (us < 10) return 10;
  const decade = 10 ** Math.floor(Math.log10(us));
  return (Math.floor(us / decade) + 1) * decade;
}

/** An HDR histogram (base64) of decade buckets, each counted at its upper bound: what a generator that sends buckets gives. */
export function hdrhOfBuckets(histogram: readonly LatencyBucket[]): string {
  const h = newHistogram();
  for (const b of histogram) if (b.count > 0) h.recordValueWithCount(Math.max(1, Math.round(b.upToUs)), b.count);
  return hdr.encodeIntoCompressedBase64(h);
}

/** The percentile curve of an HDR histogram (base64): µs at each percentile asked (0..100); empty for no sample. */
export function percentilesOfHdrh(hdrh: string, percentiles: readonly number[]): Array<{ percentile: number; us: number }> {
  const h = hdr.decodeFromCompressedBase64(hdrh);
  if (h.totalCount === 0) return [];
  return percentiles.map((percentile) => ({ percentile, us: h.getValueAtPercentile(percentile) }));
}

/** One packet of a latency stream where it was seen: its sequence number and the time (µs, the capturing host's clock). */
export interface SeenPacket {
  seq: number;
  us: number;
}

/**
 * The latency of a stream between two points that share a clock: `sent` as
 * seen where it left (each sequence number once), `received` in the order
 * it arrived. Matched on the sequence numbers (the DUT rewrites MACs and TTL,
 * never the payload). A packet received that was never seen sent means the
 * first point missed it: the figures are marked invalid, never guessed.
 */
export function latencyOfPackets(streamId: number, sent: readonly SeenPacket[], received: readonly SeenPacket[]): LatencyResult {
  const sentAt = new Map(sent.map((p) => [p.seq, p.us]));
  const seen = new Set<number>();
  const delays: Array<{ seq: number; us: number }> = [];
  let reordered = 0;
  let duplicated = 0;
  let unmatched = 0;
  let highest = -1;
  for (const p of received) {
    const t = sentAt.get(p.seq);
    if (t === undefined) {
      unmatched++;
      continue;
    }
    if (seen.has(p.seq)) {
      duplicated++;
      continue;
    }
    seen.add(p.seq);
    // RFC 4737: a packet is reordered when one sent after it arrived first.
    if (p.seq < highest) reordered++;
    highest = Math.max(highest, p.seq);
    delays.push({ seq: p.seq, us: p.us - t });
  }
  const h = newHistogram();
  for (const d of delays) h.recordValue(Math.max(0, Math.round(d.us)));
  const inOrder = [...delays].sort((a, b) => a.seq - b.seq);
  let variation = 0;
  for (let i = 1; i < inOrder.length; i++) variation += Math.abs(inOrder[i]!.us - inOrder[i - 1]!.us);
  const n = delays.length;
  const at = (p: number) => (n > 0 ? h.getValueAtPercentile(p) : null);
  const buckets = new Map<number, number>();
  for (const d of delays) {
    const bound = decadeBound(d.us);
    buckets.set(bound, (buckets.get(bound) ?? 0) + 1);
  }
  const negative = delays.filter((d) => d.us < 0).length;
  const invalid = [
    unmatched > 0 ? `${unmatched} packets arrived that were not seen leaving (the sending side's capture missed them)` : '',
    negative > 0 ? `${negative} packets arrived before they left: the two points do not share a clock` : '',
  ].filter(Boolean);
  return {
    streamId,
    sent: sentAt.size,
    received: n,
    lost: sentAt.size - n,
    reordered,
    duplicated,
    minUs: n > 0 ? delays.reduce((m, d) => Math.min(m, d.us), Number.POSITIVE_INFINITY) : 0,
    avgUs: n > 0 ? round1(delays.reduce((s, d) => s + d.us, 0) / n) : 0,
    maxUs: n > 0 ? delays.reduce((m, d) => Math.max(m, d.us), Number.NEGATIVE_INFINITY) : 0,
    jitterUs: n > 1 ? round1(variation / (n - 1)) : 0,
    p50Us: at(50),
    p90Us: at(90),
    p99Us: at(99),
    p999Us: at(99.9),
    histogram: [...buckets].sort((a, b) => a[0] - b[0]).map(([upToUs, count]) => ({ upToUs, count })),
    hdrh: hdr.encodeIntoCompressedBase64(h),
    ...(invalid.length ? { invalid: invalid.join('; ') } : {}),
  };
}

const round1 = (x: number) => Math.round(x * 10) / 10;
