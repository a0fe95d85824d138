// A trial's figures from TRex's port counters read before and after it: what
// each direction sent and got back (the forward stream leaves the transmit
// port and returns to the receive port; the reverse stream, where the trial
// goes both ways, the other way round), less the latency stream's frames,
// which the same ports count. Pure, but for reading a pcap's first frame.
import { readPcap } from '../pcap.js';
import { directionCount, type DirectionCount, type TgSnapshot } from '../tg.js';
import { TrexError } from './rpc.js';

/** The first frame of a trial pcap: what TRex's stream is built from (its field engine makes the flows). */
export async function firstFrame(pcap: string): Promise<Buffer> {
  let first: Buffer | null = null;
  await readPcap(pcap, (data) => {
    first ??= Buffer.from(data);
  });
  if (!first) throw new TrexError(`the trial pcap ${pcap} has no frame to build TRex's stream from`);
  return first;
}

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
