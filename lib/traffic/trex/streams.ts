// What the driver asks of TRex in each call, apart from the driver's flow:
// the STL stream of one frame with the packet's own MACs, push_remote's ask
// for the same, the latency stream's ceiling, a run's own pg_ids, and the one
// TRex user of this controller.
import { hostname } from 'node:os';

/** Stream flags (trex_stl_streams.py): bit 0 the source MAC from the packet, bits 1-2 the destination MAC's mode, 1 = from the packet. */
export const KEEP_PACKET_MACS = 3;
/** push_remote's count carries the same asks in its top bits (trex_stl_client.py's src_mac_pcap, dst_mac_pcap). */
export const PCAP_KEEP_MACS = 0xc0000000;
/** The latency stream's ceiling: TRex's RX core handles about 100 kpps of latency streams (doc/trex_stateless.asciidoc). */
export const MAX_LATENCY_PPS = 100_000;

/**
 * TRex's pg_id of a run's latency stream: pg_ids are the server's, shared by
 * every user of it, so each run's are its own (a hash of the run id, the
 * suite's stream id in the low bits). The result keeps the suite's id.
 */
export function pgIdOf(runId: string, streamId: number): number {
  let h = 0x811c9dc5;
  for (const c of runId) h = Math.imul(h ^ c.charCodeAt(0), 0x01000193) >>> 0;
  return ((h % 0xffff) + 1) * 16 + (streamId % 16);
}

/** The TRex user of this controller: one name, whatever the run, so that ports a dead run of this controller left are recognised as its own. */
export const trexUser = (): string => `dutlab@${hostname()}`;

/**
 * The STL stream of one frame, continuous at `pps` (the shape
 * trex_stl_rpc_cmds.cpp's add_stream parses); with `latencyId`, a latency
 * stream: TRex stamps each frame with a sequence and a time under that pg_id;
 * with a field-engine program (flowProgram), one stream of many flows.
 */
export function stlStream(frame: Buffer, pps: number, latencyId?: number, program: Array<Record<string, unknown>> = []): Record<string, unknown> {
  return {
    enabled: true,
    self_start: true,
    start_paused: false,
    isg: 0,
    next_stream_id: -1,
    action_count: 0,
    flags: KEEP_PACKET_MACS,
    core_id: -1,
    packet: { binary: frame.toString('base64'), meta: '' },
    mode: { type: 'continuous', rate: { type: 'pps', value: pps } },
    vm: { instructions: program, split_by_var: '' },
    flow_stats: latencyId === undefined ? { enabled: false } : { enabled: true, rule_type: 'latency', stream_id: latencyId },
  };
}

/** Where the stream frame's 5-tuple sits (an untagged Ethernet frame, a 20-byte IPv4 header: lib/traffic/stream.ts). */
const OFFSETS = { srcIp: 26, dstIp: 30, srcPort: 34, dstPort: 36 } as const;

/** The flows' ranges as the field engine takes them (lib/testbed/flows.ts's FlowRanges). */
export interface FieldRanges {
  srcIps: number;
  dstIps: number;
  srcPorts: number;
  dstPorts: number;
}

/** The 5-tuple of flow 0: the stream's own addresses (as 32-bit numbers) and ports. */
export interface FieldBase {
  srcIp: number;
  dstIp: number;
  srcPort: number;
  dstPort: number;
}

/**
 * The field engine's program (STLVM) that makes one stream carry every flow
 * of the ranges, in lib/testbed/flows.ts's order: a flow variable per field
 * that takes more than one value, each one's wrap stepping the next
 * (`next_var`: the source port fastest, then the destination port, the
 * source address, the destination address), each written into the frame,
 * then the IPv4 header checksum fixed (the UDP checksum is 0, as the stream
 * builds it). trex_stl_stream_vm.cpp's rules: a variable another points to
 * follows it in the list and runs on one core (`split_to_cores: false`); so
 * does the first here, so that every core's frames walk the same order.
 * One field: an empty program (the frame as it is).
 */
export function flowProgram(ranges: FieldRanges, base: FieldBase): Array<Record<string, unknown>> {
  const fields = (
    [
      ['srcPort', ranges.srcPorts, 2],
      ['dstPort', ranges.dstPorts, 2],
      ['srcIp', ranges.srcIps, 4],
      ['dstIp', ranges.dstIps, 4],
    ] as const
  ).filter(([, n]) => n > 1);
  if (fields.length === 0) return [];
  const vars = fields.map(([name, n, size], i) => ({
    type: 'flow_var',
    name,
    size,
    op: 'inc',
    init_value: base[name],
    min_value: base[name],
    max_value: base[name] + n - 1,
    step: 1,
    split_to_cores: false,
    ...(i + 1 < fields.length ? { next_var: fields[i + 1]![0] } : {}),
  }));
  const writes = fields.map(([name]) => ({ type: 'write_flow_var', name, pkt_offset: OFFSETS[name], add_value: 0, is_big_endian: true }));
  return [...vars, ...writes, { type: 'fix_checksum_ipv4', pkt_offset: 14 }];
}
