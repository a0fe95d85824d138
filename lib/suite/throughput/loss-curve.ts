// RFC 2544's frame loss rate (section 26.3) around the throughput: after a
// frame size's search, one trial at each share of its NDR the testbed lists
// (throughput.lossCurve: from half the NDR to twice it, say), each as long as
// it says, and the loss ratio of each. A load above what the generator can
// offer is kept as such (its ratio not read), never as the DUT's loss. On a
// DUT that drops above a known capacity C, the ratio at an offered O above it
// is 1 - C / O (tests/lab/rfc2544.test.ts). The latency stream rides on each
// load (throughput.lossCurve.latency): its p50 and p99 beside the loss ratio.
import type { LatencyResult } from '../../results/latency.js';
import type { LossCurvePoint } from '../../results/throughput.js';
import type { Table } from '../../results/run.js';
import type { FrameKey } from '../../testbed/frame-mix.js';
import type { MeasuringTrafficGenerator } from '../../traffic/tg.js';

/** The curve's trials at `ndr`'s shares, in order, each capped at the search's ceiling (a load above it is not offered, and noted). */
export async function lossCurve(
  tg: MeasuringTrafficGenerator,
  frame: number,
  ndr: number,
  curve: { loads: number[]; durationS: number; latency?: boolean },
  ceiling: number,
  note: (line: string) => void,
  latencyStream?: { streamId: number; rate: number },
): Promise<LossCurvePoint[]> {
  const points: LossCurvePoint[] = [];
  for (const share of curve.loads) {
    const rate = Math.round(ndr * share);
    if (rate > ceiling) {
      note(`loss curve: ${share} x the NDR (${rate} frames/s) is above the generator's ceiling of ${ceiling} frames/s: not offered`);
      continue;
    }
    const latency = curve.latency && latencyStream ? latencyStream : undefined;
    const m = await tg.measure({ rate, durationS: curve.durationS, frame, ...(latency ? { latency } : {}) });
    points.push({
      share,
      rate,
      sent: m.sent,
      received: m.received,
      lossRatio: m.generatorShort ? null : m.lossRatio,
      generatorShort: m.generatorShort,
      ...(latency ? { latency: curveLatency(m.latency) } : {}),
    });
  }
  return points;
}

/** What the curve keeps of a load's latency stream; a driver that returned none says so as invalid, never a guess. */
function curveLatency(l: LatencyResult | undefined): NonNullable<LossCurvePoint['latency']> {
  if (!l) return { received: 0, lost: 0, p50Us: null, p99Us: null, maxUs: null, invalid: 'the generator returned no latency for the trial' };
  return {
    received: l.received,
    lost: l.lost,
    p50Us: l.p50Us,
    p99Us: l.p99Us,
    maxUs: l.received > 0 ? l.maxUs : null,
    ...(l.invalid ? { invalid: l.invalid } : {}),
  };
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
      latencyCell(p, 'p50Us'),
      latencyCell(p, 'p99Us'),
    ]),
  );
  if (rows.length === 0) return null;
  return {
    title: 'Frame loss rate at loads around the NDR (RFC 2544, 26.3)',
    columns: ['frame', 'load', 'offered (frames/s)', 'sent', 'received', 'loss ratio', 'p50 latency (µs)', 'p99 latency (µs)'],
    rows,
    notes: [
      "each load one trial after the search, at a share of that frame size's NDR (its lower bound)",
      'the latency stream on top of each load (throughput.latency.rate): its one-way p50 and p99, of the latency frames that came back',
    ],
  };
}

function latencyCell(p: LossCurvePoint, k: 'p50Us' | 'p99Us'): string {
  if (!p.latency) return 'not measured';
  if (p.latency.invalid) return `not measured (${p.latency.invalid})`;
  return p.latency[k] === null ? 'not measured (no latency frame came back)' : String(p.latency[k]);
}
