// RFC 2544's system recovery (26.5) after a frame size's search: one numbered
// stream at `overload` x the NDR, then at `recover` x it, replayed as timed
// through the generator's capturing call; read from its two captures
// (lib/verify/recovery.ts); and its table.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { GeneratorShortError } from '../../errors.js';
import type { RecoveryPhase, RecoveryResult } from '../../results/throughput.js';
import type { Table } from '../../results/run.js';
import type { FrameKey } from '../../testbed/frame-mix.js';
import type { Testbed } from '../../testbed/schema.js';
import { seenInCapture } from '../../traffic/latency-stream.js';
import { phasedTimes, writeStreamPcap } from '../../traffic/pcap.js';
import { streamFromTestbed } from '../../traffic/stream.js';
import type { CapturingTrafficGenerator } from '../../traffic/tg.js';
import { recoveryOf } from '../../verify/recovery.js';

type Config = NonNullable<Testbed['throughput']['recovery']>;

const phase = (ndr: number, share: number, seconds: number): RecoveryPhase => {
  const rate = Math.round(ndr * share);
  return { share, rate, seconds, frames: Math.round(rate * seconds) };
};

/** The overload and the lower load at `frame` bytes, from `dir` (its pcaps kept there), read as RFC 2544 reads it. */
export async function recovery(
  tg: CapturingTrafficGenerator,
  tb: Testbed,
  o: { frame: number; ndr: number; runWord: number; dir: string },
  cfg: Config,
): Promise<RecoveryResult> {
  const overload = phase(o.ndr, cfg.overload, cfg.overloadS);
  const recover = phase(o.ndr, cfg.recover, cfg.recoverS);
  const count = overload.frames + recover.frames;
  const spec = streamFromTestbed(tb, o.runWord, { count, sizes: [o.frame], rate: count / (cfg.overloadS + cfg.recoverS) });
  mkdirSync(o.dir, { recursive: true });
  const files = { pcap: join(o.dir, 'stream.pcap'), rx: join(o.dir, 'rx.pcap'), tx: join(o.dir, 'tx-capture.pcap') };
  writeStreamPcap(files.pcap, spec, phasedTimes([overload, recover]));
  const r = await tg.sendAndCapture({ pcap: files.pcap, packets: count, rate: spec.rate, timed: true, into: { rx: files.rx, tx: files.tx } });
  if (r.sent.packetsSent < count) throw new GeneratorShortError(`system recovery: the generator sent ${r.sent.packetsSent} of the stream's ${count} frames`);
  const sent = await seenInCapture(files.tx, spec.runId);
  // Each load as it left the generator (a replay that fell behind its schedule does not catch up): the overload must be
  // one, and what the recovery is read against is the lower load the DUT saw.
  const [overloadAt, recoverAt] = [achieved(sent, 0, overload.frames), achieved(sent, overload.frames, count)];
  if (overloadAt === null || overloadAt <= o.ndr)
    throw new GeneratorShortError(
      `system recovery: the overload left the generator at ${overloadAt === null ? 'an unknown rate (its frames were not captured)' : `${Math.round(overloadAt)} frames/s`}, not above the NDR (${o.ndr} frames/s): it was not offered`,
    );
  const phases = {
    overload: { ...overload, achievedRate: Math.round(overloadAt) },
    recover: { ...recover, ...(recoverAt ? { achievedRate: Math.round(recoverAt) } : {}) },
  };
  return recoveryOf(sent, await seenInCapture(files.rx, spec.runId), { ndr: o.ndr, ...phases, settledWithinMs: cfg.settledWithinMs });
}

/** The rate frames [from, to) left at, from the first to the last of them as captured leaving (frames/s); null with fewer than two. */
function achieved(sent: ReadonlyArray<{ seq: number; us: number }>, from: number, to: number): number | null {
  let [first, last, n] = [Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, 0];
  for (const p of sent)
    if (p.seq >= from && p.seq < to) {
      first = Math.min(first, p.us);
      last = Math.max(last, p.us);
      n++;
    }
  return n >= 2 && last > first ? ((n - 1) / (last - first)) * 1e6 : null;
}

const msOf = (x: number | null) => (x === null ? 'not measured' : `${Number(x.toFixed(3))} ms`);

/** A row a frame size: the two loads, what each lost, and the two recovery times. */
export function recoveryTable(results: Array<{ frame: FrameKey; recovery?: RecoveryResult }>): Table | null {
  const rows = results.flatMap((r) => {
    const x = r.recovery;
    if (!x) return [];
    const load = (p: RecoveryPhase) =>
      `${p.share} x NDR: ${p.rate} frames/s for ${p.seconds} s${p.achievedRate !== undefined && p.achievedRate < p.rate * 0.97 ? ` (left at ${p.achievedRate})` : ''}`;
    return [
      [
        String(r.frame),
        load(x.overload),
        String(x.lostInOverload),
        load(x.recover),
        String(x.lostInRecovery),
        x.invalid ? `not measured (${x.invalid})` : msOf(x.lossRecoveryMs),
        x.invalid ? 'not measured' : msOf(x.delayRecoveryMs),
        x.peakLatencyUs === null ? 'not measured' : String(x.peakLatencyUs),
        x.settledLatencyUs === null ? 'not measured' : String(x.settledLatencyUs),
        msOf(x.resolutionMs),
      ],
    ];
  });
  if (rows.length === 0) return null;
  return {
    title: 'System recovery (RFC 2544 26.5)',
    columns: [
      'frame',
      'overload',
      'lost',
      'then',
      'lost after',
      'recovery (last loss)',
      'recovery (latency settled)',
      'peak latency (µs)',
      'settled latency (µs)',
      'resolution',
    ],
    rows,
    notes: [
      'one numbered stream, replayed as timed: the reduction is when the first frame of the lower load left the generator',
      "recovery (last loss): RFC 2544's, from the reduction to the last frame lost, by when it was sent; 0: none sent after the reduction was lost",
      "recovery (latency settled): from the reduction to the first frame whose one-way latency is within the testbed's margin of the lower load's settled latency (the median of its last half): the DUT's queue drained",
    ],
  };
}
