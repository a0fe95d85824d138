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
 * stream: TRex stamps each frame with a sequence and a time under that pg_id.
 */
export function stlStream(frame: Buffer, pps: number, latencyId?: number): Record<string, unknown> {
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
    vm: { instructions: [], split_by_var: '' },
    flow_stats: latencyId === undefined ? { enabled: false } : { enabled: true, rule_type: 'latency', stream_id: latencyId },
  };
}
