// The test stream: 1.1.1.1 -> 6.6.6.2 UDP frames, each carrying the run's id
// and its sequence number, so every returned packet can be matched to the one
// sent; with the testbed's flows, its frames spread over that many 5-tuples,
// interleaved (a frame's flow is its sequence number modulo the flow count).
import { flowAt, type FlowFields, type FlowRanges } from '../testbed/flows.js';
import { reverseTestbed, streamDstMac } from '../testbed/topology.js';

export { flowText, type FlowFields, type FlowRanges } from '../testbed/flows.js';
import type { Testbed } from '../testbed/schema.js';

export const PAYLOAD_MAGIC = 0x4455544c; // "DUTL"
export const ETH_LEN = 14;
export const IP_LEN = 20;
export const UDP_LEN = 8;
/** Offsets in the frame of the payload's fields. */
export const OFF_MAGIC = ETH_LEN + IP_LEN + UDP_LEN;
export const OFF_RUN = OFF_MAGIC + 4;
export const OFF_SEQ = OFF_RUN + 4;
export const MIN_PAYLOAD = 12;

export interface StreamSpec {
  srcMac: string;
  dstMac: string;
  srcIp: string;
  dstIp: string;
  srcPort: number;
  dstPort: number;
  ttl: number;
  tos: number;
  /** Frame sizes on the wire, FCS included (64..1518); repeated in this order. */
  sizes: number[];
  count: number;
  rate: number;
  runId: number;
  /** Distinct 5-tuples: each field's number of consecutive values from the spec's own (lib/testbed/traffic-schema.ts); one flow when absent. */
  flows?: FlowRanges;
}

/** The flows of a stream: one unless it says more. */
export const flowCount = (spec: StreamSpec): number => spec.flows?.count ?? 1;

/**
 * The flow a frame belongs to: its sequence number modulo the flow count, so
 * that the flows' frames interleave as real traffic does (lib/testbed/flows.ts).
 */
export const flowFields = (spec: StreamSpec, seq: number): FlowFields => flowAt(spec, spec.flows, seq);

/** The IMIX list as a repeating pattern: {64 x7, 594 x4, 1518 x1} -> twelve sizes. */
export function sizePattern(frameSize: number | ReadonlyArray<{ size: number; weight: number }>): number[] {
  if (typeof frameSize === 'number') return [frameSize];
  return frameSize.flatMap(({ size, weight }) => Array<number>(weight).fill(size));
}

/** A run's stream id from its run id (its last nine digits): what tells this run's frames from any other's. */
export const streamSeed = (runId: string): number => parseInt(runId.replace(/\D/g, '').slice(-9) || '1', 10);

export function streamFromTestbed(tb: Testbed, runId: number, overrides: Partial<StreamSpec> = {}): StreamSpec {
  const t = tb.traffic;
  return {
    srcMac: t.srcMac,
    dstMac: streamDstMac(tb),
    srcIp: t.srcIp,
    dstIp: t.dstIp,
    srcPort: t.srcPort,
    dstPort: t.dstPort,
    ttl: t.ttl,
    tos: t.tos,
    sizes: sizePattern(t.frameSize),
    count: t.count,
    rate: t.rate,
    runId: runId >>> 0,
    ...(t.flows && t.flows.count > 1 ? { flows: t.flows } : {}),
    ...overrides,
  };
}

/** The reverse stream's id beside the forward one's: the same run, the top bit flipped (its frames told apart by the payload). */
export const reverseRunId = (runId: number): number => (runId ^ 0x80000000) >>> 0;

/**
 * traffic.direction both: the reverse stream, sent by the TG's receive port
 * to the guest's egress vEth, from the gateway's MAC (the TG's receive port
 * stands for it), addresses and ports swapped, each flow the reverse of the
 * forward flow of the same number; its own run id, so that its frames and
 * sequence numbers are its own.
 */
export function reverseStreamFromTestbed(tb: Testbed, runId: number, overrides: Partial<StreamSpec> = {}): StreamSpec {
  return streamFromTestbed(reverseTestbed(tb), reverseRunId(runId), overrides);
}

/** A frame of this run's stream, as sent or as forwarded: IPv4, UDP, the payload's magic and this run's id. */
export function isStreamFrame(frame: Buffer, runId: number): boolean {
  return (
    frame.length >= OFF_RUN + 4 &&
    frame.readUInt16BE(12) === 0x0800 &&
    frame[ETH_LEN] === 0x45 &&
    frame[ETH_LEN + 9] === 17 &&
    frame.readUInt32BE(OFF_MAGIC) === PAYLOAD_MAGIC &&
    frame.readUInt32BE(OFF_RUN) === runId >>> 0
  );
}

export function macBytes(mac: string): Buffer {
  return Buffer.from(mac.split(':').map((h) => parseInt(h, 16)));
}

export function ipBytes(ip: string): Buffer {
  return Buffer.from(ip.split('.').map(Number));
}

export function ipChecksum(buf: Buffer, off: number): number {
  let sum = 0;
  for (let i = 0; i < IP_LEN; i += 2) sum += (buf[off + i]! << 8) | buf[off + i + 1]!;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

/** Length of the captured frame (no FCS) for a sequence number. */
export function frameLength(spec: StreamSpec, seq: number): number {
  return spec.sizes[seq % spec.sizes.length]! - 4;
}

/** The Ethernet and IPv4 headers of a stream frame of `len` bytes: the spec's addresses, DF set, `seq` as the IP id, the checksum. */
export function writeEthIpv4(f: Buffer, spec: StreamSpec, proto: number, len: number, seq: number): void {
  macBytes(spec.dstMac).copy(f, 0);
  macBytes(spec.srcMac).copy(f, 6);
  f.writeUInt16BE(0x0800, 12);
  const ip = ETH_LEN;
  f[ip] = 0x45;
  f[ip + 1] = spec.tos;
  f.writeUInt16BE(len - ETH_LEN, ip + 2);
  f.writeUInt16BE(seq & 0xffff, ip + 4);
  f.writeUInt16BE(0x4000, ip + 6); // DF
  f[ip + 8] = spec.ttl;
  f[ip + 9] = proto;
  f.writeUInt16BE(0, ip + 10);
  ipBytes(spec.srcIp).copy(f, ip + 12);
  ipBytes(spec.dstIp).copy(f, ip + 16);
  f.writeUInt16BE(ipChecksum(f, ip), ip + 10);
}

/**
 * The frame for one sequence number. The UDP checksum is 0 (no checksum, as
 * RFC 768 allows for IPv4) so that the whole UDP header is the same in every
 * frame but for what the payload numbers.
 */
export function buildFrame(spec: StreamSpec, seq: number, into?: Buffer): Buffer {
  const len = frameLength(spec, seq);
  const f = into ?? Buffer.alloc(len);
  writeEthIpv4(f, spec, 17, len, seq);
  // One flow: the spec's own addresses, as writeEthIpv4 wrote them; many: this frame's flow's (a frame is built per packet).
  const flow = flowCount(spec) > 1 ? flowFields(spec, seq) : null;
  if (flow) {
    f.writeUInt32BE(flow.srcIp, ETH_LEN + 12);
    f.writeUInt32BE(flow.dstIp, ETH_LEN + 16);
    f.writeUInt16BE(0, ETH_LEN + 10);
    f.writeUInt16BE(ipChecksum(f, ETH_LEN), ETH_LEN + 10);
  }
  const udp = ETH_LEN + IP_LEN;
  f.writeUInt16BE(flow?.srcPort ?? spec.srcPort, udp);
  f.writeUInt16BE(flow?.dstPort ?? spec.dstPort, udp + 2);
  f.writeUInt16BE(len - ETH_LEN - IP_LEN, udp + 4);
  f.writeUInt16BE(0, udp + 6);
  f.writeUInt32BE(PAYLOAD_MAGIC, OFF_MAGIC);
  f.writeUInt32BE(spec.runId, OFF_RUN);
  f.writeUInt32BE(seq >>> 0, OFF_SEQ);
  for (let i = OFF_SEQ + 4; i < len; i++) f[i] = i & 0xff;
  return f;
}

export function sentBytes(spec: StreamSpec): number {
  let total = 0;
  const perCycle = spec.sizes.reduce((a, s) => a + s - 4, 0);
  total += Math.floor(spec.count / spec.sizes.length) * perCycle;
  for (let i = 0; i < spec.count % spec.sizes.length; i++) total += spec.sizes[i]! - 4;
  return total;
}

/** What a router makes of a frame it forwards: new MACs, TTL one less, header checksum updated. */
export function forwardFrame(frame: Buffer, dstMac: string, srcMac: string, routed = true): Buffer {
  macBytes(dstMac).copy(frame, 0);
  macBytes(srcMac).copy(frame, 6);
  // A router takes one off the TTL; a MAC forwarder (testpmd's mac mode) leaves the IP header as it is.
  if (routed) frame[ETH_LEN + 8] = frame[ETH_LEN + 8]! - 1;
  frame.writeUInt16BE(0, ETH_LEN + 10);
  frame.writeUInt16BE(ipChecksum(frame, ETH_LEN), ETH_LEN + 10);
  return frame;
}
