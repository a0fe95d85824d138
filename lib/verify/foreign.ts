// Frames that are not the stream: a real lab's links carry LLDP, STP, ARP,
// IPv6 neighbour discovery and a neighbour's traffic, and every port counter
// counts them too. A capture on the same wire says how many there were, and
// its timestamps say which of them fell between the two counter readings.
import type { FrameSource } from './packets.js';
import { isStreamFrame } from '../traffic/stream.js';

/** A span of time on the capturing host's clock, in microseconds since the epoch. */
export interface Window {
  fromUs: number;
  toUs: number;
}

/**
 * Two spans around a counter's delta: every frame captured inside `definite`
 * was certainly counted; a frame outside `possible` certainly was not; the
 * ones in between may have been (the reading itself takes time).
 */
export interface CounterWindow {
  definite: Window;
  possible: Window;
}

/** Foreign frames a counter certainly counted, and at most. */
export interface ForeignCount {
  definite: number;
  possible: number;
}

const inside = (w: Window, t: number) => t >= w.fromUs && t <= w.toUs;

/** Counts, for each window, the frames of a capture that are not this run's stream. One pass over the capture. */
export async function countForeign(frames: FrameSource, runId: number, windows: CounterWindow[]): Promise<ForeignCount[]> {
  const counts = windows.map(() => ({ definite: 0, possible: 0 }));
  await frames((frame, t) => {
    if (isStreamFrame(frame, runId)) return;
    windows.forEach((w, i) => {
      if (inside(w.definite, t)) counts[i]!.definite++;
      if (inside(w.possible, t)) counts[i]!.possible++;
    });
  });
  return counts;
}

/** The counter window of a counter read on the capturing host itself: its two readings, each bracketed by that host's clock. */
export function ownWindow(before: Window, after: Window): CounterWindow {
  return { definite: { fromUs: before.toUs, toUs: after.fromUs }, possible: { fromUs: before.fromUs, toUs: after.toUs } };
}

/**
 * The window of a counter read on another host (a switch port, where nothing
 * can capture), seen from its peer's capture. The other host was read before
 * the peer at the start and after it at the end, so its span holds the peer's
 * definite one; it began at most `leadUs` before the peer's first reading
 * ended and ended at most `lagUs` after the peer's last reading began, as the
 * controller's own clock measured (no clocks need to agree).
 */
export function peerWindow(peer: CounterWindow, leadUs: number, lagUs: number): CounterWindow {
  return { definite: peer.definite, possible: { fromUs: peer.definite.fromUs - leadUs, toUs: peer.definite.toUs + lagUs } };
}
