// The stream's flows as numbers: flow i of a traffic profile's ranges, in
// mixed radix (the source port varies fastest, then the destination port, the
// source address, the destination address), as the stream builds its frames,
// the packet check names them and `rules: flow` installs a rule for each.
// Pure.

/** How many consecutive values each field of the 5-tuple takes; `count` is their product. */
export interface FlowRanges {
  count: number;
  srcIps: number;
  dstIps: number;
  srcPorts: number;
  dstPorts: number;
}

/** A flow's addresses (as 32-bit numbers) and UDP ports. */
export interface FlowFields {
  srcIp: number;
  dstIp: number;
  srcPort: number;
  dstPort: number;
}

const ipInts = new Map<string, number>();
/** An IPv4 address as a 32-bit number (parsed once per address: a frame is built per packet). */
export function ipInt(ip: string): number {
  let n = ipInts.get(ip);
  if (n === undefined) {
    n = ip.split('.').reduce((a, o) => a * 256 + Number(o), 0) >>> 0;
    ipInts.set(ip, n);
  }
  return n;
}

export const intIp = (n: number): string => [n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff].join('.');

/** Flow `index` (taken modulo the count) of ranges that start at `base`. */
export function flowAt(base: { srcIp: string; dstIp: string; srcPort: number; dstPort: number }, ranges: FlowRanges | undefined, index: number): FlowFields {
  if (!ranges || ranges.count === 1) return { srcIp: ipInt(base.srcIp), dstIp: ipInt(base.dstIp), srcPort: base.srcPort, dstPort: base.dstPort };
  let i = index % ranges.count;
  const srcPort = base.srcPort + (i % ranges.srcPorts);
  i = Math.floor(i / ranges.srcPorts);
  const dstPort = base.dstPort + (i % ranges.dstPorts);
  i = Math.floor(i / ranges.dstPorts);
  const srcIp = (ipInt(base.srcIp) + (i % ranges.srcIps)) >>> 0;
  const dstIp = (ipInt(base.dstIp) + Math.floor(i / ranges.srcIps)) >>> 0;
  return { srcIp, dstIp, srcPort, dstPort };
}

/** A flow as a person reads it: "1.1.1.5:1024 -> 6.6.6.2:1024 (UDP)". */
export const flowText = (f: FlowFields): string => `${intIp(f.srcIp)}:${f.srcPort} -> ${intIp(f.dstIp)}:${f.dstPort} (UDP)`;

/** The latency stream's UDP destination port: the stream's next one (the guide's and `port` rules pass it as they pass the stream; `flow` rules add a rule each way for it). */
export const latencyPortOf = (dstPort: number): number => (dstPort === 65535 ? 65534 : dstPort + 1);

/** The reverse direction's base: the stream's addresses and ports swapped (the reverse stream answers the forward one). */
export function reverseOf<T extends { srcIp: string | number; dstIp: string | number; srcPort: number; dstPort: number }>(base: T): T {
  return { ...base, srcIp: base.dstIp, dstIp: base.srcIp, srcPort: base.dstPort, dstPort: base.srcPort };
}

/** The reverse direction's ranges: each field's range moves with its field (flow i reversed is flow i of the reverse stream). */
export function reverseRanges(r: FlowRanges): FlowRanges {
  return { count: r.count, srcIps: r.dstIps, dstIps: r.srcIps, srcPorts: r.dstPorts, dstPorts: r.srcPorts };
}

/** The shortest prefix that holds `count` consecutive addresses from `first` (the guest's route to a stream's sources). */
export function coveringPrefix(first: string, count: number): string {
  const a = ipInt(first);
  const b = (a + count - 1) >>> 0;
  let len = 32;
  while (len > 0 && a >>> (32 - len) !== b >>> (32 - len)) len--;
  const net = len === 0 ? 0 : (a >>> (32 - len)) << (32 - len);
  return `${intIp(net >>> 0)}/${len}`;
}
