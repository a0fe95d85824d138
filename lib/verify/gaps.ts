// Loss events in a stream of sequence numbers (issue 43's sequence-gap
// measurement; the soak suite reuses it): each run of consecutive frames that
// did not come back, in frames and, at the stream's rate, in time. Two ways to
// say how long a path stopped forwarding, which agree where it stopped once:
// the longest run of missing frames over the rate, and RFC 6201's frame-loss
// reset time (every frame lost, over the offered rate). Both to within one
// frame's interval (1 / rate): the measurement's resolution. Pure.
import type { LossEvent, LossEvents } from '../results/pvp.js';

/** Frames at a rate, in ms, to the nanosecond (no float noise in the report). */
const ms = (frames: number, rate: number) => Math.round((frames / rate) * 1e9) / 1e6;

/** The loss events of a stream whose frames that came back are marked in `seen` (by sequence number). */
export function lossEvents(seen: Uint8Array, rate: number, sampleSize = 5): LossEvents {
  const events: LossEvent[] = [];
  let count = 0;
  let lost = 0;
  let longest: LossEvent | null = null;
  let last: LossEvent | null = null;
  for (let i = 0; i < seen.length; i++) {
    if (seen[i]) continue;
    const first = i;
    while (i < seen.length && !seen[i]) i++;
    const e = { firstSeq: first, frames: i - first, startMs: ms(first, rate), lengthMs: ms(i - first, rate) };
    count++;
    lost += e.frames;
    if (events.length < sampleSize) events.push(e);
    if (!longest || e.frames > longest.frames) longest = e;
    last = e;
  }
  // Loss that runs to the stream's last frame: the path did not forward again while the stream flowed.
  const toEnd = last !== null && last.firstSeq + last.frames >= seen.length;
  return { rate, resolutionMs: ms(1, rate), events: count, lost, longest, resetTimeMs: ms(lost, rate), sample: events, ...(toEnd ? { toEnd: true } : {}) };
}

/** The events in a line for the report, or null where nothing was lost. */
export function lossEventsLine(g: LossEvents): string | null {
  if (g.events === 0 || !g.longest) return null;
  const t = (x: number) => `${Number(x.toFixed(2))} ms`;
  const l = g.longest;
  return `${g.events} loss event${g.events === 1 ? '' : 's'}; the longest ${l.frames} frames from seq ${l.firstSeq}, ${t(l.lengthMs)} (${t(l.startMs)} into the stream); frame-loss reset time (RFC 6201: ${g.lost} lost / ${g.rate} frames/s) ${t(g.resetTimeMs)}; resolution ${t(g.resolutionMs)}`;
}

/** Frames lost in each interval of the stream (by when they were sent: sequence number over the rate). */
export function lossPerInterval(seen: Uint8Array, rate: number, intervalS: number): number[] {
  const per = Math.max(1, Math.round(rate * intervalS));
  const out = new Array<number>(Math.ceil(seen.length / per)).fill(0);
  for (let i = 0; i < seen.length; i++) if (!seen[i]) out[Math.floor(i / per)]!++;
  return out;
}
