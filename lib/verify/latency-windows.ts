// A steady stream's one-way latency in windows of time (issue 44's soak): each
// frame's departure and arrival as the generator captured them (one clock), by
// sequence number; a frame belongs to the window it was sent in (sequence
// number over the rate), and each window's p50, p99 and maximum are read from
// its own samples. Typed arrays, not objects: an hour's soak is millions of
// frames. Pure.
import type { LatencyWindow } from '../results/soak.js';

/** The q-quantile (0..1) of sorted samples: the smallest with at least q of them at or below it. */
const quantile = (sorted: Float64Array, q: number) => sorted[Math.max(0, Math.ceil(q * sorted.length) - 1)]!;

export class WindowLatency {
  private readonly sentUs: Float64Array;
  private readonly latencyUs: Float64Array;
  private sentSeen = 0;

  constructor(
    private readonly count: number,
    private readonly rate: number,
    private readonly windowS: number,
  ) {
    this.sentUs = new Float64Array(count).fill(Number.NaN);
    this.latencyUs = new Float64Array(count).fill(Number.NaN);
  }

  /** A frame seen leaving (the first sighting counts). */
  sent(seq: number, us: number): void {
    if (seq < this.count && Number.isNaN(this.sentUs[seq]!)) {
      this.sentUs[seq] = us;
      this.sentSeen++;
    }
  }

  /** A frame seen coming back: its latency, where its departure was seen (the first arrival counts). */
  received(seq: number, us: number): void {
    if (seq < this.count && !Number.isNaN(this.sentUs[seq]!) && Number.isNaN(this.latencyUs[seq]!)) this.latencyUs[seq] = us - this.sentUs[seq]!;
  }

  /** Why the windows say nothing, or null: a capture of what left that missed more than 0.1 % of the stream. */
  invalid(): string | null {
    return this.count - this.sentSeen > this.count * 0.001
      ? `the capture of what left the generator holds ${this.sentSeen} of the stream's ${this.count} frames`
      : null;
  }

  windows(): LatencyWindow[] {
    const per = Math.max(1, Math.round(this.rate * this.windowS));
    const out: LatencyWindow[] = [];
    for (let from = 0; from < this.count; from += per) {
      const xs = this.latencyUs.subarray(from, Math.min(this.count, from + per)).filter((x) => !Number.isNaN(x));
      xs.sort();
      const us = (x: number | undefined) => (x === undefined ? null : Math.round(x));
      out.push({
        fromS: Math.round((from / this.rate) * 1000) / 1000,
        n: xs.length,
        p50Us: xs.length ? us(quantile(xs, 0.5)) : null,
        p99Us: xs.length ? us(quantile(xs, 0.99)) : null,
        maxUs: xs.length ? us(xs[xs.length - 1]) : null,
      });
    }
    return out;
  }
}
