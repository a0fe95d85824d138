// Frames of other kinds than the stream's UDP, for the KNI suite's capture
// case: TCP, ICMP echo and raw Ethernet (a non-IP EtherType), each with the
// stream's addresses, and how to tell them apart in a capture. Pure.
import { buildFrame, ETH_LEN, IP_LEN, ipBytes, macBytes, type StreamSpec, writeEthIpv4 } from './stream.js';
import { pcapGlobalHeader, RECORD_HEADER_LEN, writeRecordHeader } from './pcap.js';

export const FRAME_KINDS = ['UDP', 'TCP', 'ICMP', 'raw Ethernet'] as const;
export type FrameKind = (typeof FRAME_KINDS)[number];

/** IEEE 802 local experimental EtherType 1: no protocol of any host on the way takes it. */
export const RAW_ETHERTYPE = 0x88b5;
const PROTO: Record<'TCP' | 'ICMP', number> = { TCP: 6, ICMP: 1 };
const TCP_LEN = 20;
/** Frames are the minimum size on the wire: 60 bytes without the FCS. */
const LEN = 60;

/** The ones'-complement sum of 16-bit words, folded: what IP, ICMP and TCP checksums are made of. */
function sum16(buf: Buffer, from: number, to: number, start = 0): number {
  let sum = start;
  for (let i = from; i < to; i += 2) sum += (buf[i]! << 8) | (i + 1 < to ? buf[i + 1]! : 0);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return sum;
}

/** One frame of a kind: the stream's addresses and ports; `seq` numbers it (TCP sequence, ICMP echo sequence, raw payload). */
export function buildKindFrame(kind: FrameKind, spec: StreamSpec, seq: number): Buffer {
  if (kind === 'UDP') return buildFrame({ ...spec, sizes: [LEN + 4] }, seq);
  const f = Buffer.alloc(LEN);
  if (kind === 'raw Ethernet') {
    macBytes(spec.dstMac).copy(f, 0);
    macBytes(spec.srcMac).copy(f, 6);
    f.writeUInt16BE(RAW_ETHERTYPE, 12);
    f.writeUInt32BE(spec.runId, ETH_LEN);
    f.writeUInt32BE(seq >>> 0, ETH_LEN + 4);
    return f;
  }
  writeEthIpv4(f, spec, PROTO[kind], LEN, seq);
  const l4 = ETH_LEN + IP_LEN;
  if (kind === 'ICMP') {
    f[l4] = 8; // echo request
    f.writeUInt16BE(spec.runId & 0xffff, l4 + 4);
    f.writeUInt16BE(seq & 0xffff, l4 + 6);
    f.writeUInt16BE(~sum16(f, l4, LEN) & 0xffff, l4 + 2);
    return f;
  }
  f.writeUInt16BE(spec.srcPort, l4);
  f.writeUInt16BE(spec.dstPort, l4 + 2);
  f.writeUInt32BE(seq >>> 0, l4 + 4);
  f[l4 + 12] = (TCP_LEN / 4) << 4;
  f[l4 + 13] = 0x02; // SYN
  f.writeUInt16BE(1024, l4 + 14);
  // The checksum over the pseudo-header (addresses, protocol, length) and the segment.
  const pseudo = Buffer.concat([ipBytes(spec.srcIp), ipBytes(spec.dstIp), Buffer.from([0, 6, 0, LEN - l4])]);
  f.writeUInt16BE(~sum16(f, l4, LEN, sum16(pseudo, 0, pseudo.length)) & 0xffff, l4 + 16);
  return f;
}

/** What kind a captured frame is, or null for anything else (ARP, other protocols). */
export function kindOf(frame: Buffer): FrameKind | null {
  if (frame.length < ETH_LEN) return null;
  const type = frame.readUInt16BE(12);
  if (type === RAW_ETHERTYPE) return 'raw Ethernet';
  if (type !== 0x0800 || frame.length < ETH_LEN + IP_LEN) return null;
  const proto = frame[ETH_LEN + 9];
  return proto === 17 ? 'UDP' : proto === 6 ? 'TCP' : proto === 1 ? 'ICMP' : null;
}

/** `perKind` frames of each kind, interleaved (UDP, TCP, ICMP, raw, UDP, ...), spaced at the spec's rate, as a pcap file's bytes. */
export function mixedPcap(spec: StreamSpec, perKind: number): Buffer {
  const gapUs = Math.max(1, Math.round(1e6 / spec.rate));
  const parts: Buffer[] = [pcapGlobalHeader()];
  for (let i = 0; i < perKind * FRAME_KINDS.length; i++) {
    const frame = buildKindFrame(FRAME_KINDS[i % FRAME_KINDS.length]!, spec, Math.floor(i / FRAME_KINDS.length));
    const head = Buffer.alloc(RECORD_HEADER_LEN);
    writeRecordHeader(head, 0, i * gapUs, frame.length);
    parts.push(head, frame);
  }
  return Buffer.concat(parts);
}
