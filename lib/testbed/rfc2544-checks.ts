// RFC 2544's tests beyond throughput, checked across fields (each field's own
// range is in lib/testbed/throughput-schema.ts): back-to-back and recovery need
// a generator that sends a burst at its utmost and a timed stream (the linux
// TG's tcpreplay does both; the TRex driver does neither yet), one way.
import type { TestbedProblem } from '../errors.js';
import type { Testbed } from './schema.js';

/** Frames a recovery phase must hold at the least: fewer say nothing of when loss stopped. */
export const MIN_PHASE_FRAMES = 100;

export function rfc2544Problems(tb: Testbed): TestbedProblem[] {
  const t = tb.throughput;
  const problems: TestbedProblem[] = [];
  for (const [key, what] of [
    ['backToBack', 'bursts at its utmost rate'],
    ['recovery', 'a stream replayed as timed'],
  ] as const) {
    if (t[key] === undefined) continue;
    if (tb.tg.type !== 'linux')
      problems.push({ path: `throughput.${key}`, message: `the ${tb.tg.type} driver does not send ${what} yet; the linux generator does` });
    if (tb.traffic.direction === 'both') problems.push({ path: `throughput.${key}`, message: 'measured one way: traffic.direction both is not offered' });
  }
  // With a fixed load there is no NDR to measure from.
  if (t.fixedLoad !== undefined)
    for (const key of ['backToBack', 'recovery', 'lossCurve'] as const)
      if (t[key] !== undefined) problems.push({ path: `throughput.${key}`, message: "needs the search's NDR: throughput.fixedLoad runs no search" });
  const r = t.recovery;
  if (r) {
    // Each phase at the search's lowest load holds enough frames to place the reduction and the last loss.
    for (const [phase, share, seconds] of [
      ['overloadS', r.overload, r.overloadS],
      ['recoverS', r.recover, r.recoverS],
    ] as const)
      if (t.minRate * share * seconds < MIN_PHASE_FRAMES)
        problems.push({
          path: `throughput.recovery.${phase}`,
          message: `${seconds} s at ${share} x an NDR as low as throughput.minRate (${t.minRate} frames/s) is fewer than ${MIN_PHASE_FRAMES} frames`,
        });
  }
  return problems;
}
