// A trial's figures from TRex's port counters read before and after it: what
// each direction sent and got back (the forward stream leaves the transmit
// port and returns to the receive port; the reverse stream, where the trial
// goes both ways, the other way round), less the latency stream's frames,
// which the same ports count. Pure, but for reading a pcap's first frame.
import { readPcap } from '../pcap.js';
import { directionCount, type DirectionCount, type TgSnapshot } from '../tg.js';
import { TrexError } from './rpc.js';

/** One size of a trial's frames: what its TRex stream is built from (the field engine makes the flows), and its share of the load. */
export interface MixPart {
  frame: Buffer;
  share: number;
}

/**
 * A trial pcap's frames by size, in order of first sight: the first frame of
 * each and its share of the pcap's frames. One size is one stream at the
 * trial's rate; a mix (IMIX) a stream per size at its share of it, as TRex's
 * own imix.py sends one.
 */
export async function trialMix(pcap: string): Promise<MixPart[]> {
  const bySize = new Map<number, { frame: Buffer; count: number }>();
  let total = 0;
  await readPcap(pcap, (data) => {
    total++;
    const part = bySize.get(data.length);
    if (part) part.count++;
    else bySize.set(data.length, { frame: Buffer.from(data), count: 1 });
  });
  if (total === 0) throw new TrexError(`the trial pcap ${pcap} has no frame to build TRex's stream from`);
  return [...bySize.values()].map((p) => ({ frame: p.frame, share: p.count / total }));
}

/** The smallest frame of a mix: its latency stream's (one size, as a latency stream must be). */
export const smallestOf = (mix: readonly MixPart[]): Buffer => mix.reduce((a, p) => (p.frame.length < a.length ? p.frame : a), mix[0]!.frame);

/** A load stream's id: 1 for the first size (2 is the latency stream's), 11, 21, ... for a mix's others. */
export const loadStreamId = (i: number): number => 1 + 10 * i;

/** Each direction's frames over a trial: the forward's, and the reverse's where the trial went both ways. */
export function trialCounts(
  before: TgSnapshot,
  after: TgSnapshot,
  names: { transmit: string; receive: string },
  latency: { sent: number; received: number } | undefined,
  bothWays: boolean,
): { forward: DirectionCount; reverse?: DirectionCount } {
  const [b, a] = [before.ports, after.ports];
  const delta = (port: string, counter: 'txPackets' | 'rxPackets') => a[port]![counter] - b[port]![counter];
  const forward = directionCount(delta(names.transmit, 'txPackets') - (latency?.sent ?? 0), delta(names.receive, 'rxPackets') - (latency?.received ?? 0));
  if (!bothWays) return { forward };
  return { forward, reverse: directionCount(delta(names.receive, 'txPackets'), delta(names.transmit, 'rxPackets')) };
}
