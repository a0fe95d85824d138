// A DUT with a queue of known size: a tbf qdisc on a link of the guest that
// forwards `fps` frames of one size a second and holds `queueFrames` of them.
// Offered more than it forwards, its queue stays full, and each frame it lets
// in waits for the queue ahead of it: a delay computed from the settings
// before any frame is sent (no netem on this kernel; tbf is there).
import { shq } from '../transport/quote.js';

export interface Queue {
  /** The link whose egress holds the queue (the guest's side of a vEth). */
  iface: string;
  /** Frames a second it sends, of `frame` bytes on the wire (FCS included). */
  fps: number;
  frame: number;
  /** Frames the queue holds. */
  queueFrames: number;
  /**
   * Frames tbf's bucket lets through at once (default 2: tc rounds one frame's bytes down below a frame, which tbf
   * would then drop). A bucket of two loses what tbf's late wake-ups cost on a busy box (its rate read 3040 to 4964
   * frames/s of a 5000 setting here); a few more keep the rate while adding as many frames to what a burst gets
   * through at once.
   */
  burstFrames?: number;
}

/** What tbf counts of a frame: the bytes the kernel hands the link, without the FCS. */
const counted = (frame: number) => frame - 4;

/** The tc command that puts the queue on the link (replacing its root qdisc); run in the guest. */
export function queueCommand(q: Queue): string {
  const burstFrames = q.burstFrames ?? 2;
  for (const [k, v] of Object.entries({ fps: q.fps, frame: q.frame, queueFrames: q.queueFrames, burstFrames }))
    if (!Number.isInteger(v) || v < 1) throw new Error(`queue: ${k} ${v} is not a whole number above 0`);
  if (q.frame < 64 || q.frame > 1518) throw new Error(`queue: a ${q.frame}-byte frame; 64..1518`);
  const bits = q.fps * counted(q.frame) * 8;
  // burst: burstFrames frames (at least two: tc rounds one frame's bytes down below a frame); limit: the queue, in bytes.
  if (burstFrames < 2) throw new Error(`queue: a bucket of ${burstFrames} frames; at least 2`);
  return `tc qdisc replace dev ${shq(q.iface)} root tbf rate ${bits}bit burst ${burstFrames * counted(q.frame)} limit ${q.queueFrames * counted(q.frame)}`;
}

export const queueRemoveCommand = (iface: string): string => `tc qdisc del dev ${shq(iface)} root`;

/** The wait of a frame let into the full queue: the queue ahead of it, sent at the rate (µs). */
export function fullQueueDelayUs(q: Queue): number {
  return (q.queueFrames / q.fps) * 1e6;
}
