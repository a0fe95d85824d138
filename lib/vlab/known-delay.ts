// A delay of known size, the known answer the latency measurement is held to:
// a queue of 100 frames served at 5 kframes/s on the guest's egress link
// (lib/vlab/queue.ts), its loads, its latency stream and the tolerance. The
// tests' known-delay suite (tests/suites/known-delay.e2e.ts), the lab test that
// reads its result and `npm run bench:latency` all take them from here.
import type { Measured } from '../results/run.js';
import type { TrialResult } from '../traffic/tg.js';
import type { Queue } from './queue.js';

/** 5 kframes/s of 64-byte frames, 100 of them queued: a frame let into the full queue waits 20 ms. */
export const QUEUE: Omit<Queue, 'iface'> = { fps: 5000, frame: 64, queueFrames: 100 };
/** Loads as shares of the queue's rate: one it never fills, one that keeps it full. */
export const LOADS = { under: 0.1, near: 0.9, over: 1.5 };
/**
 * The load in bunches of 8 frames back to back (the queue's bucket lets 2
 * through at once): as bursty as a real load, so that near the rate the
 * bunches wait in the queue. Sent as evenly as the generator could, it
 * queued only when the generator happened to bunch its frames: once in a CI
 * run not at all (mean 98 µs at 90 %, 104 at 10 %); bunched, the mean at 90 %
 * was 881-1082 µs against 359-480 at 10 % over five runs (npm run bench:latency).
 */
export const BUNCH = 8;
/** The latency stream: a few frames a second beside the load, for two seconds. */
export const STREAM = { rate: 100, durationS: 2 };
/** How far p50 may be from the computed delay: the scheduling of a shared 2-core box (docs/gate.md). */
export const TOLERANCE = 0.15;

/** What the suite keeps of its two trials. */
export interface KnownDelayMeasured extends Measured {
  kind: 'known-delay';
  expectedUs: number;
  tolerance: number;
  trials: Record<keyof typeof LOADS, Omit<TrialResult, 'latencyPackets'>>;
}
