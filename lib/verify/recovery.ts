// System recovery (RFC 2544 26.5) read from one numbered stream's two
// captures on the generator (one clock): what left its transmit port and what
// came back. The stream's first `overloadFrames` frames are the overload, the
// rest the lower load; the reduction is when the first frame of the lower
// load left. RFC 2544's recovery time runs from it to the last frame lost (by
// when that frame was sent); the delay recovery to the first frame whose
// latency is back within a margin of the lower load's settled latency: a DUT
// with a queue loses nothing once the load drops, but its queue still takes
// the time to drain that it holds. Pure.
import type { SeenPacket } from '../results/latency.js';
import type { RecoveryPhase, RecoveryResult } from '../results/throughput.js';

const ms3 = (us: number) => Math.round(us) / 1000;

function median(xs: number[]): number | null {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** The recovery of a stream whose overload and lower load are `overload` and `recover`, from what the generator saw leave and come back. */
export function recoveryOf(
  sent: readonly SeenPacket[],
  received: readonly SeenPacket[],
  p: { ndr: number; overload: RecoveryPhase; recover: RecoveryPhase; settledWithinMs: number },
): RecoveryResult {
  const n1 = p.overload.frames;
  const total = n1 + p.recover.frames;
  const sentAt = new Map<number, number>();
  for (const s of sent) if (s.seq < total && !sentAt.has(s.seq)) sentAt.set(s.seq, s.us);
  const latency = new Map<number, number>();
  for (const r of received) {
    const at = sentAt.get(r.seq);
    if (at !== undefined && !latency.has(r.seq)) latency.set(r.seq, r.us - at);
  }
  const cameBack = new Set(received.filter((r) => r.seq < total).map((r) => r.seq));
  const reduction = sentAt.get(n1);
  // Where a frame's departure was not captured: the schedule's, from the reduction at the lower load's rate.
  const when = (seq: number) => sentAt.get(seq) ?? (reduction ?? 0) + ((seq - n1) / (p.recover.achievedRate ?? p.recover.rate)) * 1e6;
  let lostInOverload = 0;
  let lostInRecovery = 0;
  let lastLost = -1;
  for (let seq = 0; seq < total; seq++) {
    if (cameBack.has(seq)) continue;
    if (seq < n1) lostInOverload++;
    else {
      lostInRecovery++;
      lastLost = seq;
    }
  }
  const settledFrom = n1 + Math.floor(p.recover.frames / 2);
  const settled = median([...latency].filter(([seq]) => seq >= settledFrom).map(([, us]) => us));
  const overloadLatency = [...latency].filter(([seq]) => seq < n1).map(([, us]) => us);
  let delayRecoveryMs: number | null = null;
  if (settled !== null && reduction !== undefined)
    for (let seq = n1; seq < total; seq++) {
      const l = latency.get(seq);
      if (l !== undefined && l <= settled + p.settledWithinMs * 1000) {
        delayRecoveryMs = ms3(Math.max(0, when(seq) - reduction));
        break;
      }
    }
  const missing = total - sentAt.size;
  const invalid = [
    reduction === undefined ? `the reduction (frame ${n1}) is not in the capture of what left the generator` : null,
    // A capture that missed what left says nothing of when: a few frames' spacing is the measurement's resolution.
    missing > total * 0.001 ? `the capture of what left the generator holds ${sentAt.size} of the ${total} frames` : null,
  ].filter((x): x is string => x !== null);
  return {
    ndr: p.ndr,
    overload: p.overload,
    recover: p.recover,
    lostInOverload,
    lostInRecovery,
    lossRecoveryMs: lastLost >= 0 && reduction !== undefined ? ms3(Math.max(0, when(lastLost) - reduction)) : 0,
    delayRecoveryMs,
    settledLatencyUs: settled === null ? null : Math.round(settled),
    peakLatencyUs: overloadLatency.length ? Math.round(overloadLatency.reduce((a, x) => Math.max(a, x), -Infinity)) : null,
    settledWithinMs: p.settledWithinMs,
    resolutionMs: ms3(1e6 / (p.recover.achievedRate ?? p.recover.rate)),
    ...(invalid.length ? { invalid: invalid.join('; ') } : {}),
  };
}
