// `compare` beyond NDR (issue 44): the frame loss rate around the throughput
// (each share of the NDR both runs measured: the candidate's loss ratio above
// the baseline's by more than the threshold is a regression), back-to-back
// frames and system recovery (fewer frames absorbed, a longer recovery) and the soak
// (its worst latency window's p99 risen beyond the latency threshold is a regression)
// (its loss events and each watched process's growth side by side; a
// process flagged now and not in the baseline is a regression). The soak's
// own checks already fail a soak outside its bounds; this says how it moved.
// Pure.
import type { RunRecord } from '../results/run.js';
import { type SoakMeasured, soakOf } from '../results/soak.js';
import { throughputOf } from '../results/throughput.js';
import { framesPhrase } from '../testbed/frame-mix.js';

const ratio = (x: number) => x.toFixed(3);

/** The loss curves of the two runs, share by share at each frame size. */
function compareCurves(base: RunRecord, cand: RunRecord, threshold: number): { regressions: string[]; changes: string[] } {
  const regressions: string[] = [];
  const changes: string[] = [];
  const curves = (r: RunRecord) => r.run.suites.flatMap(throughputOf).filter((t) => t.lossCurve);
  for (const c of curves(cand)) {
    const b = curves(base).find((x) => x.frame === c.frame);
    if (!b) {
      changes.push(`loss curve at ${framesPhrase(c.frame)}: measured now, not in the baseline`);
      continue;
    }
    for (const p of c.lossCurve!) {
      const bp = b.lossCurve!.find((x) => x.share === p.share);
      const what = `loss ratio at ${p.share} x the NDR at ${framesPhrase(c.frame)}`;
      if (!bp || bp.lossRatio === null || p.lossRatio === null) {
        changes.push(`${what}: not compared (${!bp ? 'not in the baseline' : 'the generator fell short in one of them'})`);
        continue;
      }
      if (p.lossRatio > bp.lossRatio + threshold)
        regressions.push(`${what} rose: ${ratio(p.lossRatio)} now, ${ratio(bp.lossRatio)} in the baseline (threshold ${threshold})`);
      else if (p.lossRatio < bp.lossRatio - threshold) changes.push(`${what} fell: ${ratio(p.lossRatio)} now, ${ratio(bp.lossRatio)} in the baseline`);
    }
  }
  return { regressions, changes };
}

/**
 * The two runs' back-to-back frames and system recovery at each frame size: a
 * mean burst below the baseline's by more than the threshold (a share of it)
 * is a regression, as is a recovery time above the baseline's by more than the
 * threshold's share and two frames' intervals (the measurement's resolution).
 */
function compareBurstsAndRecovery(base: RunRecord, cand: RunRecord, threshold: number): { regressions: string[]; changes: string[] } {
  const regressions: string[] = [];
  const changes: string[] = [];
  const searches = (r: RunRecord) => r.run.suites.flatMap(throughputOf);
  for (const c of searches(cand)) {
    const b = searches(base).find((x) => x.frame === c.frame);
    const at = framesPhrase(c.frame);
    if (c.backToBack) {
      const [cb, bb] = [c.backToBack, b?.backToBack];
      if (!bb) changes.push(`back-to-back at ${at}: measured now, not in the baseline`);
      else if (cb.unbounded || bb.unbounded)
        changes.push(`back-to-back at ${at}: not compared (a burst of ${cb.maxBurst} frames lost nothing in one of them: not bounded)`);
      else if (cb.meanFrames < bb.meanFrames * (1 - threshold))
        regressions.push(
          `back-to-back at ${at} fell: ${cb.meanFrames.toFixed(1)} frames now, ${bb.meanFrames.toFixed(1)} in the baseline (threshold ${threshold})`,
        );
      else if (cb.meanFrames > bb.meanFrames * (1 + threshold))
        changes.push(`back-to-back at ${at} rose: ${cb.meanFrames.toFixed(1)} frames now, ${bb.meanFrames.toFixed(1)} in the baseline`);
    }
    if (c.recovery) {
      const [cr, br] = [c.recovery, b?.recovery];
      if (!br) changes.push(`system recovery at ${at}: measured now, not in the baseline`);
      else if (cr.invalid || br.invalid) changes.push(`system recovery at ${at}: not compared (${cr.invalid ?? br.invalid})`);
      else
        for (const [what, now, was] of [
          ['recovery (last loss)', cr.lossRecoveryMs, br.lossRecoveryMs],
          ['recovery (latency settled)', cr.delayRecoveryMs, br.delayRecoveryMs],
        ] as const) {
          if (now === null || was === null) continue;
          const line = `system ${what} at ${at}: ${now} ms now, ${was} ms in the baseline`;
          if (now > was * (1 + threshold) + 2 * Math.max(cr.resolutionMs, br.resolutionMs)) regressions.push(`${line} (threshold ${threshold})`);
          else if (now < was * (1 - threshold) - 2 * Math.max(cr.resolutionMs, br.resolutionMs)) changes.push(line);
        }
    }
  }
  return { regressions, changes };
}

/** A soak's worst window's p99 (µs), or null where its latency was not read. */
function worstP99(m: SoakMeasured): number | null {
  if (m.latencyInvalid || !m.latencyWindows) return null;
  return m.latencyWindows.reduce<number | null>((a, w) => (w.p99Us === null ? a : Math.max(a ?? 0, w.p99Us)), null);
}

/** The two runs' soaks: loss events, the worst latency window and each process's growth, side by side. */
function compareSoaks(base: RunRecord, cand: RunRecord, latencyThreshold: number): { regressions: string[]; changes: string[] } {
  const [b, c] = [base.run.suites.map(soakOf).find((m) => m), cand.run.suites.map(soakOf).find((m) => m)];
  if (!c) return { regressions: [], changes: [] };
  if (!b) return { regressions: [], changes: ['soak: measured now, not in the baseline'] };
  const regressions: string[] = [];
  const changes: string[] = [];
  const [be, ce] = [b.gaps?.events ?? null, c.gaps?.events ?? null];
  if (be !== null && ce !== null && be !== ce)
    changes.push(`soak: ${ce} loss event${ce === 1 ? '' : 's'} over ${c.durationS} s now, ${be} over ${b.durationS} s in the baseline`);
  const [bw, cw] = [worstP99(b), worstP99(c)];
  if (bw !== null && cw !== null && cw > bw * (1 + latencyThreshold))
    regressions.push(`soak: the worst window's p99 rose: ${cw} µs now, ${bw} µs in the baseline (threshold ${(latencyThreshold * 100).toFixed(0)} %)`);
  for (const g of c.growth ?? []) {
    const bg = (b.growth ?? []).find((x) => x.name === g.name);
    const mbh = (x: number | null) => (x === null ? 'not measured' : `${x.toFixed(1)} MB/h`);
    if (g.flagged && bg && !bg.flagged)
      regressions.push(
        `soak: ${g.name}'s memory grows now: ${mbh(g.slopeMbPerHour)}, ${mbh(bg.slopeMbPerHour)} in the baseline (bound ${g.boundMbPerHour} MB/h)`,
      );
    else if (bg && g.slopeMbPerHour !== null && bg.slopeMbPerHour !== null && g.flagged !== bg.flagged)
      changes.push(`soak: ${g.name}'s memory ${mbh(g.slopeMbPerHour)} now, ${mbh(bg.slopeMbPerHour)} in the baseline`);
  }
  return { regressions, changes };
}

/** What compare reads beyond NDR and PDR: the loss curves, back-to-back frames, system recovery and the soaks. */
export function compareBeyondNdr(base: RunRecord, cand: RunRecord, threshold: number, latencyThreshold: number): { regressions: string[]; changes: string[] } {
  const parts = [compareCurves(base, cand, threshold), compareBurstsAndRecovery(base, cand, threshold), compareSoaks(base, cand, latencyThreshold)];
  return { regressions: parts.flatMap((p) => p.regressions), changes: parts.flatMap((p) => p.changes) };
}
