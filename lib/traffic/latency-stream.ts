// The latency stream of a capturing generator: the test stream's frames with
// their own UDP destination port (so a BPF filter picks them out of a load
// no capture on this box could take whole) and a run word of their own, each
// numbered. Where they were seen (a TG port, a link of the guest) is read
// back from a capture as sequence numbers and times.
import type { SeenPacket } from '../results/latency.js';
import { latencyPortOf as latencyPort } from '../testbed/flows.js';
import type { Testbed } from '../testbed/schema.js';
import { readPcap } from './pcap.js';
import { isStreamFrame, OFF_SEQ, type StreamSpec, streamFromTestbed } from './stream.js';

/** The run word of latency frames ("LAT!"): a load's frames never carry it. */
export const LATENCY_RUN = 0x4c415421;
/** Bytes a capture keeps of a latency frame: up to its sequence number. */
export const LATENCY_SNAPLEN = OFF_SEQ + 4;

/** The latency stream's UDP destination port: the stream's next one (the guest routes it as it routes the stream). */
const latencyPortOf = (tb: Testbed): number => latencyPort(tb.traffic.dstPort);

/** `count` latency frames of `frame` bytes (FCS included), numbered from 0, spaced at `rate`: one 5-tuple, whatever flows the load has. */
export function latencyStream(tb: Testbed, frame: number, rate: number, count: number): StreamSpec {
  const { flows: _manyFlows, ...one } = streamFromTestbed(tb, LATENCY_RUN, { dstPort: latencyPortOf(tb), sizes: [frame], rate, count });
  return one;
}

/** The BPF filter that picks the latency stream out of whatever else crosses a link. */
export function latencyFilter(tb: Testbed): string {
  const t = tb.traffic;
  return `udp and src host ${t.srcIp} and dst host ${t.dstIp} and udp dst port ${latencyPortOf(tb)}`;
}

/** The latency frames (or another numbered stream's, by its run word) in a capture, in the order captured: each one's sequence number and capture time. */
export async function seenInCapture(file: string, runId = LATENCY_RUN): Promise<SeenPacket[]> {
  const seen: SeenPacket[] = [];
  await readPcap(file, (d, us) => {
    if (d.length < LATENCY_SNAPLEN || !isStreamFrame(d, runId)) return;
    seen.push({ seq: d.readUInt32BE(OFF_SEQ), us });
  });
  return seen;
}
