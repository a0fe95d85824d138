// Return-packet verification. Every packet of this run's stream must have
// crossed the guest's router exactly once: the gateway's MAC as destination,
// the egress vEth's MAC as source, TTL one less, a valid header checksum, and
// everything else exactly as sent.
import { lossEvents, lossPerInterval } from './gaps.js';
import {
  ETH_LEN,
  IP_LEN,
  OFF_MAGIC,
  OFF_RUN,
  OFF_SEQ,
  PAYLOAD_MAGIC,
  buildFrame,
  forwardFrame,
  frameLength,
  ipChecksum,
  macBytes,
  type StreamSpec,
  flowCount,
  flowFields,
  flowText,
} from '../traffic/stream.js';

export interface Expectation {
  stream: StreamSpec;
  /** The gateway's ARP MAC: what the guest must put as destination. */
  dstMac: string;
  /** The guest's egress vEth MAC: the source of forwarded frames. */
  srcMac: string;
  /** Allowed loss as a fraction of packets sent (0 = none). */
  lossTolerance: number;
  /** How many distinct problems to describe; packets with the same problem share one line. */
  maxProblems: number;
  /** The guest forwards by MAC (testpmd's mac mode: vm.forwarding testpmd): TTL as sent, not one less. Default: routed. */
  macForwarding?: boolean;
  /** A soak's sampling interval (s): the verdict counts the frames lost in each interval of the stream (lostPerInterval). */
  intervalS?: number;
  /** How many loss events the verdict lists (default 5): a soak lists them all, up to this. */
  eventSample?: number;
}

export type { PacketVerdict } from '../results/pvp.js';
import type { PacketVerdict } from '../results/pvp.js';

/** How many packets of a stream may be lost within the tolerance (a fraction of those sent). */
export function allowedLoss(sent: number, lossTolerance: number): number {
  // The epsilon keeps binary fractions honest: 100 x 0.29 is 28.999999999999996 in floating point.
  return Math.floor(sent * lossTolerance + 1e-9);
}

const u32 = (b: Buffer, o: number) => ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0;

/** Byte-wise equality of a[from, to) and b[from, to): cheaper than Buffer.compare for a few bytes. */
function same(a: Buffer, b: Buffer, from: number, to: number, bFrom = from): boolean {
  for (let i = from, j = bFrom; i < to; i++, j++) if (a[i] !== b[j]) return false;
  return true;
}

const hex = (b: Buffer, from: number, to: number) => [...b.subarray(from, to)].map((x) => x.toString(16).padStart(2, '0')).join(':');
const ip = (b: Buffer, off: number) => `${b[off]}.${b[off + 1]}.${b[off + 2]}.${b[off + 3]}`;

/**
 * Where frames come from, one at a time, with their capture time (µs): a
 * capture file read as a stream (lib/traffic/pcap.ts's pcapFrames), so that
 * the checks here read nothing themselves.
 */
export type FrameSource = (onFrame: (frame: Buffer, timeUs: number) => void) => Promise<{ packets: number }>;

/** Checks one capture against the stream, frame by frame; memory stays small whatever its size. */
export async function verifyCapture(frames: FrameSource, exp: Expectation): Promise<PacketVerdict> {
  const v = new StreamVerifier(exp);
  const { packets } = await frames((d) => v.packet(d));
  return v.verdict(packets);
}

/**
 * The exact frame the guest's router must return for a sequence number, kept
 * as one buffer per frame size and renumbered in place: a frame equal to it
 * passes with one native compare, and only a frame that differs is taken apart
 * field by field to say why. Within a size, frames differ only in the IPv4 id
 * (the low 16 bits of seq), the header checksum and the payload's seq.
 */
class ForwardedFrame {
  private readonly frame: Buffer;
  /** One's-complement sum of the forwarded IPv4 header with id and checksum zeroed (and, with many flows, its addresses). */
  private readonly baseSum: number;
  private readonly manyFlows: boolean;

  constructor(
    private readonly exp: Expectation,
    firstSeq: number,
  ) {
    this.frame = forwardFrame(buildFrame(exp.stream, firstSeq), exp.dstMac, exp.srcMac, !exp.macForwarding);
    this.manyFlows = flowCount(exp.stream) > 1;
    this.frame.writeUInt16BE(0, ETH_LEN + 4);
    this.frame.writeUInt16BE(0, ETH_LEN + 10);
    if (this.manyFlows) this.frame.fill(0, ETH_LEN + 12, ETH_LEN + 20);
    this.baseSum = (~ipChecksum(this.frame, ETH_LEN) & 0xffff) >>> 0;
  }

  equals(d: Buffer, seq: number): boolean {
    const f = this.frame;
    const id = seq & 0xffff;
    let sum = this.baseSum + id;
    // A frame's flow: its addresses and ports, written in, the addresses summed into the checksum.
    if (this.manyFlows) {
      const flow = flowFields(this.exp.stream, seq);
      f.writeUInt32BE(flow.srcIp, ETH_LEN + 12);
      f.writeUInt32BE(flow.dstIp, ETH_LEN + 16);
      f.writeUInt16BE(flow.srcPort, ETH_LEN + IP_LEN);
      f.writeUInt16BE(flow.dstPort, ETH_LEN + IP_LEN + 2);
      sum += (flow.srcIp >>> 16) + (flow.srcIp & 0xffff) + (flow.dstIp >>> 16) + (flow.dstIp & 0xffff);
    }
    sum = (sum & 0xffff) + (sum >>> 16);
    sum = (sum & 0xffff) + (sum >>> 16);
    const checksum = ~sum & 0xffff;
    f[ETH_LEN + 4] = id >>> 8;
    f[ETH_LEN + 5] = id & 0xff;
    f[ETH_LEN + 10] = checksum >>> 8;
    f[ETH_LEN + 11] = checksum & 0xff;
    f[OFF_SEQ] = seq >>> 24;
    f[OFF_SEQ + 1] = (seq >>> 16) & 0xff;
    f[OFF_SEQ + 2] = (seq >>> 8) & 0xff;
    f[OFF_SEQ + 3] = seq & 0xff;
    return d.equals(f);
  }
}

export class StreamVerifier {
  private readonly seen: Uint8Array;
  private readonly templates = new Map<number, Buffer>();
  /** By index into the stream's size pattern. */
  private readonly forwarded: ForwardedFrame[] = [];
  private readonly dst: Buffer;
  private readonly src: Buffer;
  private readonly ttl: number;
  private received = 0;
  private receivedBytes = 0;
  private duplicated = 0;
  private reordered = 0;
  private mismatched = 0;
  private otherRun = 0;
  private notStream = 0;
  /**
   * The highest seq seen so far of each flow (seq % flows): order is judged within a flow (RFC 4737's per-stream
   * reordering), as a switch or guest spreading flows over queues and cores may interleave flows without fault.
   */
  private readonly highest: Int32Array;
  /** Problems by what went wrong, in order of first sight, with the seqs it happened to. */
  private readonly problems = new Map<string, { count: number; seqs: number[] }>();
  private readonly manyFlows: boolean;

  constructor(private readonly exp: Expectation) {
    this.manyFlows = flowCount(exp.stream) > 1;
    this.seen = new Uint8Array(exp.stream.count);
    this.highest = new Int32Array(flowCount(exp.stream)).fill(-1);
    this.dst = macBytes(exp.dstMac);
    this.src = macBytes(exp.srcMac);
    this.ttl = exp.macForwarding ? exp.stream.ttl : exp.stream.ttl - 1;
    for (let i = 0; i < Math.min(exp.stream.sizes.length, exp.stream.count); i++) {
      const len = frameLength(exp.stream, i);
      if (!this.templates.has(len)) this.templates.set(len, buildFrame(exp.stream, i));
      this.forwarded.push(new ForwardedFrame(exp, i));
    }
  }

  /** What forwards in the guest, in the problems' words. */
  private get forwarder(): string {
    return this.exp.macForwarding ? 'MAC forwarder (testpmd)' : 'router';
  }

  /** Same reason, one line: a broken path spoils every packet the same way. */
  private problem(seq: number, why: string): void {
    let p = this.problems.get(why);
    if (!p) {
      if (this.problems.size >= this.exp.maxProblems) return;
      p = { count: 0, seqs: [] };
      this.problems.set(why, p);
    }
    p.count++;
    if (p.seqs.length < 3) p.seqs.push(seq);
  }

  private problemLines(): string[] {
    return [...this.problems].map(([why, p]) => {
      const more = p.count - p.seqs.length;
      // With many flows, whose: the flow of the first frame it happened to.
      const whose = this.manyFlows ? ` (flow ${flowText(flowFields(this.exp.stream, p.seqs[0]!))}${p.seqs.length > 1 ? ', the first' : ''})` : '';
      return `seq ${p.seqs.join(', ')}${more > 0 ? ` and ${more} more` : ''}${whose}: ${why}`;
    });
  }

  packet(d: Buffer): void {
    // Is it ours? Ethernet/IPv4 (no options)/UDP with our magic and run id.
    if (d.length < OFF_SEQ + 4 || d[12] !== 0x08 || d[13] !== 0x00 || d[ETH_LEN + 9] !== 17 || u32(d, OFF_MAGIC) !== PAYLOAD_MAGIC) {
      this.notStream++;
      return;
    }
    if (u32(d, OFF_RUN) !== this.exp.stream.runId) {
      this.otherRun++;
      return;
    }
    const seq = u32(d, OFF_SEQ);
    if (seq >= this.exp.stream.count) {
      this.mismatched++;
      this.problem(seq, `beyond the ${this.exp.stream.count} packets sent`);
      return;
    }
    if (this.seen[seq]) {
      this.duplicated++;
      this.problem(seq, 'received more than once (duplicated on the path)');
      return;
    }
    this.seen[seq] = 1;
    this.received++;
    this.receivedBytes += d.length;
    const flow = seq % this.highest.length;
    if (seq < this.highest[flow]!) {
      this.reordered++;
      this.problem(seq, `arrived after seq ${this.highest[flow]}${this.manyFlows ? ' of its flow' : ''} (reordered)`);
    } else this.highest[flow] = seq;
    if (this.forwarded[seq % this.forwarded.length]!.equals(d, seq)) return;
    const why = this.mismatch(d, seq);
    if (why) {
      this.mismatched++;
      this.problem(seq, why);
    }
  }

  /** What differs from what the guest's router must have made of the frame sent, or null. */
  private mismatch(d: Buffer, seq: number): string | null {
    const len = frameLength(this.exp.stream, seq);
    // With many flows the frame's own (its addresses and ports are its flow's); else the size's template.
    const t = this.manyFlows ? buildFrame(this.exp.stream, seq) : this.templates.get(len)!;
    if (d.length !== len) return `${d.length} bytes, expected ${len}: the frame was resized on the path`;
    if (d.equals(buildFrame(this.exp.stream, seq))) {
      return `came back exactly as sent (dst MAC ${hex(d, 0, 6)}, TTL ${d[ETH_LEN + 8]}): it did not cross the guest's ${this.forwarder} (switched straight from the ingress to the egress port?)`;
    }
    if (!same(d, this.dst, 0, 6)) {
      return `dst MAC ${hex(d, 0, 6)}, expected ${this.exp.dstMac.toLowerCase()}: the guest did not send it to the gateway's static ARP MAC`;
    }
    if (!same(d, this.src, 6, 12, 0)) {
      return hex(d, 6, 12) === this.exp.stream.srcMac.toLowerCase()
        ? `src MAC ${hex(d, 6, 12)} is the generator's: the packet did not cross the guest's ${this.forwarder} (switched straight through?)`
        : `src MAC ${hex(d, 6, 12)}, expected ${this.exp.srcMac.toLowerCase()}: it did not leave through the guest's egress vEth`;
    }
    const ipo = ETH_LEN;
    if (d[ipo + 8] !== this.ttl) {
      const got = d[ipo + 8]!;
      const why = this.exp.macForwarding
        ? got < this.ttl
          ? "it crossed a router (the guest's MAC forwarder leaves TTL as sent: did its kernel route it?)"
          : 'TTL was rewritten'
        : got === this.ttl + 1
          ? "the packet did not cross the guest's router"
          : got < this.ttl
            ? 'it crossed more than one router'
            : 'TTL was rewritten';
      return `TTL ${got}, expected ${this.ttl}: ${why}`;
    }
    if (ipChecksum(d, ipo) !== 0) return `IPv4 header checksum 0x${d.readUInt16BE(ipo + 10).toString(16)} is not valid`;
    if (d[ipo + 1] !== t[ipo + 1]) return `TOS 0x${d[ipo + 1]!.toString(16)}, expected 0x${t[ipo + 1]!.toString(16)}: the IPv4 header was changed`;
    if (!same(d, t, ipo, ipo + 4)) return `IPv4 version/length bytes differ from what was sent`;
    if (((d[ipo + 4]! << 8) | d[ipo + 5]!) !== (seq & 0xffff))
      return `IPv4 id ${d.readUInt16BE(ipo + 4)}, expected ${seq & 0xffff}: the IPv4 header was changed`;
    if (!same(d, t, ipo + 6, ipo + 8)) return 'IPv4 flags/fragment offset differ from what was sent';
    if (!same(d, t, ipo + 12, ipo + 20)) {
      return `addresses ${ip(d, ipo + 12)} -> ${ip(d, ipo + 16)}, expected ${ip(t, ipo + 12)} -> ${ip(t, ipo + 16)}: the packet was NATed`;
    }
    const udp = ipo + IP_LEN;
    if (!same(d, t, udp, OFF_SEQ)) return 'the UDP header or payload head differs from what was sent';
    if (len - OFF_SEQ > 68 ? d.compare(t, OFF_SEQ + 4, len, OFF_SEQ + 4, len) !== 0 : !same(d, t, OFF_SEQ + 4, len))
      return 'the UDP payload differs from what was sent (corrupted on the path)';
    return null;
  }

  verdict(capturedPackets: number): PacketVerdict {
    const sent = this.exp.stream.count;
    const lost = sent - this.received;
    const lostSample: number[] = [];
    for (let i = 0; i < sent && lostSample.length < 10; i++) if (!this.seen[i]) lostSample.push(i);
    const allowed = allowedLoss(sent, this.exp.lossTolerance);
    const problems = this.problemLines();
    if (lost > allowed) {
      problems.unshift(
        this.received === 0
          ? `none of the ${sent} packets sent came back`
          : `${lost} of ${sent} packets lost (allowed: ${allowed}); first lost: seq ${lostSample.join(', ')}`,
      );
    }
    const flows = this.manyFlows ? this.flowsReturned() : undefined;
    // A flow none of whose frames came back is named, whatever the tolerance: not averaged away among the others.
    if (flows && flows.missing > 0)
      problems.unshift(
        `${flows.missing} of ${flows.count} flows did not come back at all: ${flows.sample
          .filter((f) => f.received === 0)
          .map((f) => f.flow)
          .join('; ')}${flows.missing > flows.sample.filter((f) => f.received === 0).length ? '; ...' : ''}`,
      );
    const ok = lost <= allowed && this.duplicated === 0 && this.reordered === 0 && this.mismatched === 0 && !(flows && flows.missing > 0);
    const other = { total: this.otherRun + this.notStream, otherRun: this.otherRun, notStream: this.notStream };
    return {
      ok,
      sent,
      gaps: lossEvents(this.seen, this.exp.stream.rate, this.exp.eventSample),
      ...(this.exp.intervalS ? { lostPerInterval: lossPerInterval(this.seen, this.exp.stream.rate, this.exp.intervalS) } : {}),
      received: this.received,
      receivedBytes: this.receivedBytes,
      lost,
      duplicated: this.duplicated,
      reordered: this.reordered,
      mismatched: this.mismatched,
      other,
      capturedPackets,
      lostSample,
      problems,
      ...(flows ? { flows } : {}),
      summary: `${flows ? `${flows.complete}/${flows.count} flows whole, ` : ''}${this.received}/${sent} returned, ${lost} lost, ${this.duplicated} duplicated, ${this.reordered} reordered, ${this.mismatched} mismatched, ${other.total} other packets ignored`,
    };
  }

  /** Each flow's frames sent and returned: how many flows came back whole, how many not at all, the first few that lost any. */
  private flowsReturned(): NonNullable<PacketVerdict['flows']> {
    const count = flowCount(this.exp.stream);
    const sent = this.exp.stream.count;
    const got = new Uint32Array(count);
    for (let seq = 0; seq < sent; seq++) if (this.seen[seq]) got[seq % count]!++;
    const sentOf = (f: number) => Math.floor(sent / count) + (f < sent % count ? 1 : 0);
    let complete = 0;
    let missing = 0;
    // The flows that came back not at all first, then those that lost some: each list as long as the report's problems.
    const absent: Array<{ flow: string; sent: number; received: number }> = [];
    const partial: typeof absent = [];
    for (let f = 0; f < count; f++) {
      if (got[f] === sentOf(f)) complete++;
      else {
        const list = got[f] === 0 ? absent : partial;
        if (list.length < this.exp.maxProblems) list.push({ flow: flowText(flowFields(this.exp.stream, f)), sent: sentOf(f), received: got[f]! });
      }
      if (got[f] === 0) missing++;
    }
    return { count, complete, missing, sample: [...absent, ...partial].slice(0, this.exp.maxProblems) };
  }
}
