// RFC 2544's frame loss rate (section 26.3) around the throughput: after a
// frame size's search, one trial at each share of its NDR the testbed lists
// (throughput.lossCurve: from half the NDR to twice it, say), each as long as
// it says, and the loss ratio of each. A load above what the generator can
// offer is kept as such (its ratio not read), never as the DUT's loss. On a
// DUT that drops above a known capacity C, the ratio at an offered O above it
// is 1 - C / O (tests/lab/rfc2544.test.ts).
import type { LossCurvePoint } from '../../results/throughput.js';
import type { Table } from '../../results/run.js';
import type { FrameKey } from '../../testbed/frame-mix.js';
import type { MeasuringTrafficGenerator } from '../../traffic/tg.js';

/** The curve's trials at `ndr`'s shares, in order, each capped at the search's ceiling (a load above it is not offered, and noted). */
export async function lossCurve(
  tg: MeasuringTrafficGenerator,
  frame: number,
  ndr: number,
  curve: { loads: number[]; durationS: number },
  ceiling: number,
  note: (line: string) => void,
): Promise<LossCurvePoint[]> {
  const points: LossCurvePoint[] = [];
  for (const share of curve.loads) {
    const rate = Math.round(ndr * share);
    if (rate > ceiling) {
      note(`loss curve: ${share} x the NDR (${rate} frames/s) is above the generator's ceiling of ${ceiling} frames/s: not offered`);
      continue;
    }
    const m = await tg.measure({ rate, durationS: curve.durationS, frame });
    points.push({ share, rate, sent: m.sent, received: m.received, lossRatio: m.generatorShort ? null : m.lossRatio, generatorShort: m.generatorShort });
  }
  return points;
}

/** The curves of the searches that have one, a row a load. */
export function lossCurveTable(results: Array<{ frame: FrameKey; lossCurve?: LossCurvePoint[] }>): Table | null {
  const rows = results.flatMap((r) =>
    (r.lossCurve ?? []).map((p) => [
      String(r.frame),
      `${p.share} x NDR`,
      String(p.rate),
      String(p.sent),
      String(p.received),
      p.lossRatio === null ? 'not measured (the generator fell short)' : p.lossRatio.toFixed(4),
    ]),
  );
  if (rows.length === 0) return null;
  return {
    title: 'Frame loss rate at loads around the NDR (RFC 2544, 26.3)',
    columns: ['frame', 'load', 'offered (frames/s)', 'sent', 'received', 'loss ratio'],
    rows,
    notes: ["each load one trial after the search, at a share of that frame size's NDR (its lower bound)"],
  };
}
