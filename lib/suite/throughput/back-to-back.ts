// RFC 2544's back-to-back frames (26.4, RFC 9004) after a frame size's search:
// the generator's bursts (lib/throughput/back-to-back.ts finds the longest
// without loss), corrected with the search's NDR; and their table.
import type { BackToBackResult } from '../../results/throughput.js';
import type { Table } from '../../results/run.js';
import type { FrameKey } from '../../testbed/frame-mix.js';
import { backToBackResult } from '../../results/back-to-back.js';
import { backToBackSearch } from '../../throughput/back-to-back.js';
import type { MeasuringTrafficGenerator } from '../../traffic/tg.js';

/** The repetitions at the generator's utmost rate, and what they imply with `ndr` as the measured throughput. */
export async function backToBack(tg: MeasuringTrafficGenerator, cfg: { repeats: number; maxBurst: number }, ndr: number | null): Promise<BackToBackResult> {
  const send = tg.burst?.bind(tg);
  // The testbed refuses back-to-back with a driver that sends no bursts: reaching here without one is dutlab's own error.
  if (!send) throw new Error('back-to-back: the traffic generator sends no bursts');
  return backToBackResult(await backToBackSearch(send, cfg.maxBurst, cfg.repeats), cfg.maxBurst, ndr);
}

const f1 = (x: number | null) => (x === null ? 'not measured (no NDR)' : String(Number(x.toFixed(1))));
const ms = (x: number | null) => (x === null ? 'not measured (no NDR)' : `${Number(x.toFixed(3))} ms`);

/** A row a frame size: the mean burst and its spread, the generator's burst rate and the buffer times. */
export function backToBackTable(results: Array<{ frame: FrameKey; backToBack?: BackToBackResult }>): Table | null {
  const rows = results.flatMap((r) => {
    const b = r.backToBack;
    if (!b) return [];
    const mean = `${f1(b.meanFrames)}${b.unbounded ? ` (${b.unbounded} of ${b.bursts.length} at least ${b.maxBurst}: not bounded)` : ''}`;
    return [
      [
        String(r.frame),
        mean,
        b.sdFrames === null ? 'one repetition' : f1(b.sdFrames),
        `${Math.min(...b.bursts)} to ${Math.max(...b.bursts)}`,
        String(b.burstRate),
        b.throughput === null ? 'none' : String(b.throughput),
        ms(b.impliedBufferMs),
        f1(b.correctedFrames),
        ms(b.correctedBufferMs),
        ms(b.drainMs),
      ],
    ];
  });
  if (rows.length === 0) return null;
  return {
    title: 'Back-to-back frames (RFC 2544 26.4, RFC 9004)',
    columns: [
      'frame',
      'mean burst (frames)',
      'sd',
      'range',
      'burst rate (frames/s)',
      'throughput (NDR)',
      'implied buffer time',
      'corrected buffer (frames)',
      'corrected buffer time',
      'drain at the NDR',
    ],
    rows,
    notes: [
      "each repetition the longest burst at the generator's utmost rate forwarded without loss, to one frame",
      "the burst rate is the generator's, as it measured its longest lossless bursts: RFC 9004's maximum theoretical frame rate, in a lab whose wires have none",
      'corrected (RFC 9004): of B frames at the burst rate R, those the DUT forwarded during the burst at its throughput T never were in its buffer: B x (1 - T/R); its time at R, and at T (the drain)',
    ],
  };
}
