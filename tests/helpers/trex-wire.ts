// Traffic for the TRex protocol stand-in (trex-server.ts): a wire from the
// transmit port through a DUT back to the receive port, modelled on what the
// real TRex does (../shared/trex/README.md, trex-core's docs), including what
// it rewrites and refuses:
// - a stream with flags 0, or push_remote without the count's bits 31/30,
//   leaves with TRex's MACs (port_info), not the packet's;
// - the DUT forwards only frames addressed to it (as the guest does),
//   rewriting the destination to the gateway's MAC;
// - a port with a NIC's RX filter (`rxFilter`) counts and captures only
//   frames to its own MAC unless promiscuous (veths, and so the virtual lab's
//   real TRex, filter nothing: this is what that TRex cannot show);
// - a TX capture gets what the port sends only in service mode; no more
//   than 10 captures server-wide;
// - push_remote of a pcap that is not there answers OK and sends nothing;
// - latency figures folded at a 0.5 s tick after the stream (before it:
//   total_max 0, total_min garbage), er.drp counts gaps only, never the tail;
//   with `hwFlowStats`, a latency stream is refused while a port is in
//   service mode (trex-545);
// - counters cumulative, bytes with the 4-byte FCS.
// Time is compressed: a stream is on the wire at once, and its port shows
// TX (or PCAP_TX) for a short while after.
import { existsSync } from 'node:fs';
import { readPcap } from '../../lib/traffic/pcap.js';
import { TREX_ERR } from '../../lib/traffic/trex/rpc.js';
import { RpcFault, type TrexProtocolServer } from './trex-server.js';

export interface WireOptions {
  /** TRex's port_info: the MACs it writes into frames it does not keep as built (port 0's, port 1's). */
  portMacs?: [string, string];
  /** The DUT's MAC on the transmit side (it forwards only frames to it) and the MAC its returning frames carry. */
  dutMac: string;
  returnMac: string;
  /** The receive port filters by destination MAC as a NIC does unless promiscuous. */
  rxFilter?: boolean;
  /** Frames the DUT loses at the end of each stream (a tail loss TRex's er.drp never counts). */
  tailLoss?: number;
  /** TRex refuses a latency stream while a port is in service mode (NICs with hardware flow statistics). */
  hwFlowStats?: boolean;
  /** TRex never folds a latency period (a trial too short for its 0.5 s tick). */
  neverFolds?: boolean;
  /** ARP requests to TRex's ports while in service mode: TRex answers each (a frame it sends, not the stream's). */
  arpRequests?: number;
  /** Transmit errors each stream adds, and TRex's CPU load (%). */
  oerrorsPerStream?: number;
  cpu?: number;
}

interface Capture {
  id: number;
  limit: number;
  tx: number[];
  rx: number[];
  state: 'ACTIVE' | 'STOPPED';
  pkts: Array<{ binary: string; ts: number; port: number; origin: 'RX' | 'TX'; index: number }>;
}

const FOLD_MS = 500;
const GARBAGE_MIN = 2147483647;
const macBytes = (m: string) => Buffer.from(m.replaceAll(':', ''), 'hex');

/** Adds TRex's traffic methods to the stand-in; returns what the wire saw, for the test to read. */
export function addWire(server: TrexProtocolServer, o: WireOptions) {
  const portMacs = o.portMacs ?? ['02:00:00:00:00:01', '02:00:00:00:00:02'];
  const counters = [0, 1].map(() => ({ opackets: 0, ipackets: 0, obytes: 0, ibytes: 0, oerrors: 0, ierrors: 0 }));
  const streams = new Map<number, Array<{ frame: Buffer; pps: number; keepMacs: boolean; pg?: number }>>();
  const busyUntil = new Map<number, { state: string; until: number }>();
  const captures = new Map<number, Capture>();
  const latency = new Map<number, { tp: number; rp: number; endedAt: number }>();
  const seen = { sentMacs: new Set<string>(), delivered: 0 };
  let nextCapture = 1;
  const started = Date.now();

  server.capturing = (port) => [...captures.values()].some((c) => c.tx.includes(port) || c.rx.includes(port));
  server.stateOf = (port) => {
    const b = busyUntil.get(port);
    if (b && Date.now() < b.until) return b.state;
    return (streams.get(port)?.length ?? 0) > 0 ? 'STREAMS' : 'IDLE';
  };

  /** One frame out of `port` and along the wire: TRex's MACs unless kept, the DUT, the receive port's filter. */
  const send = (port: number, built: Buffer, keepMacs: boolean, lost: boolean): void => {
    const frame = Buffer.from(built);
    if (!keepMacs) {
      macBytes(portMacs[1 - port]!).copy(frame, 0);
      macBytes(portMacs[port]!).copy(frame, 6);
    }
    seen.sentMacs.add(`${frame.subarray(6, 12).toString('hex')}>${frame.subarray(0, 6).toString('hex')}`);
    counters[port]!.opackets++;
    counters[port]!.obytes += frame.length + 4;
    capture(port, 'TX', frame);
    if (lost || !frame.subarray(0, 6).equals(macBytes(o.dutMac))) return;
    const back = Buffer.from(frame);
    macBytes(o.returnMac).copy(back, 0);
    const rx = 1 - port;
    const mine = back.subarray(0, 6).equals(macBytes(portMacs[rx]!));
    if (o.rxFilter && !mine && !server.modes.get(rx)!.promiscuous) return;
    seen.delivered++;
    counters[rx]!.ipackets++;
    counters[rx]!.ibytes += back.length + 4;
    capture(rx, 'RX', back);
  };

  function capture(port: number, origin: 'RX' | 'TX', frame: Buffer): void {
    for (const c of captures.values()) {
      if (c.state !== 'ACTIVE' || !(origin === 'TX' ? c.tx : c.rx).includes(port)) continue;
      // What a port sends reaches a TX capture only in service mode.
      if (origin === 'TX' && !server.modes.get(port)!.service) continue;
      if (c.pkts.length >= c.limit) continue;
      c.pkts.push({ binary: frame.toString('base64'), ts: (Date.now() - started) / 1000, port, origin, index: c.pkts.length + 1 });
    }
  }

  /** TRex's ARP reply from `port` (its own frame, counted and captured as what it sends). */
  function arpReply(port: number): void {
    const f = Buffer.alloc(60);
    macBytes(o.dutMac).copy(f, 0);
    macBytes(portMacs[port]!).copy(f, 6);
    f.writeUInt16BE(0x0806, 12);
    f.writeUInt16BE(2, 20);
    counters[port]!.opackets++;
    counters[port]!.obytes += 64;
    capture(port, 'TX', f);
  }

  const busy = (port: number, state: string, ms: number) => busyUntil.set(port, { state, until: Date.now() + ms });

  server.method('get_port_stats', (p) => ({ ...counters[server.port(p)]!, m_cpu_util: o.cpu ?? 0, m_total_tx_pps: 0, m_total_rx_pps: 0 }));
  server.method('get_global_stats', () => ({ m_cpu_util: o.cpu ?? 0, m_rx_drop_bps: 0 }));
  server.method('remove_all_streams', (p) => {
    streams.delete(server.owned(p));
    return {};
  });
  server.method('add_stream', (p) => {
    const port = server.owned(p);
    const st = p.stream as {
      flags: number;
      packet: { binary: string };
      mode: { rate: { value: number } };
      flow_stats: { enabled: boolean; stream_id?: number };
    };
    if (st.flow_stats.enabled && o.hwFlowStats && [...server.modes.values()].some((m) => m.service))
      throw new RpcFault(TREX_ERR.execute, 'flow stats are not supported while a port is in service mode');
    const list = streams.get(port) ?? [];
    list.push({
      frame: Buffer.from(st.packet.binary, 'base64'),
      pps: st.mode.rate.value,
      keepMacs: (st.flags & 3) === 3,
      ...(st.flow_stats.enabled ? { pg: st.flow_stats.stream_id! } : {}),
    });
    streams.set(port, list);
    return {};
  });
  server.method('start_traffic', (p) => {
    const port = server.owned(p);
    const duration = Number(p.duration);
    for (const s of streams.get(port) ?? []) {
      const n = Math.round(s.pps * duration);
      const tail = Math.min(n, s.pg === undefined ? 0 : (o.tailLoss ?? 0));
      for (let i = 0; i < n; i++) send(port, s.frame, s.keepMacs, i >= n - tail);
      if (s.pg !== undefined) latency.set(s.pg, { tp: n, rp: n - tail, endedAt: Date.now() });
    }
    counters[port]!.oerrors += o.oerrorsPerStream ?? 0;
    busy(port, 'TX', 150);
    return { multiplier: 1, ts: (Date.now() - started) / 1000 };
  });
  server.method('stop_traffic', (p) => {
    busyUntil.delete(server.owned(p));
    return {};
  });
  server.method('push_remote', async (p) => {
    const port = server.owned(p);
    const file = String(p.pcap_filename);
    // The real one answers OK for a file it cannot read, and sends nothing.
    if (!existsSync(file)) return {};
    const keepMacs = (Number(p.count) & 0xc0000000) >>> 0 === 0xc0000000;
    const frames: Buffer[] = [];
    await readPcap(file, (d) => frames.push(Buffer.from(d)));
    for (const [i, f] of frames.entries()) {
      send(port, f, keepMacs, false);
      // In service mode TRex answers the ARP requests that reach it, between the stream's frames.
      if (server.modes.get(port)!.service && i < (o.arpRequests ?? 0)) arpReply(port);
    }
    busy(port, 'PCAP_TX', 150);
    return {};
  });
  server.method('capture', (p) => {
    const id = Number(p.capture_id);
    const c = captures.get(id);
    switch (p.command) {
      case 'start': {
        if (captures.size >= 10) throw new RpcFault(TREX_ERR.execute, 'too many captures');
        const cap: Capture = { id: nextCapture++, limit: Number(p.limit), tx: p.tx as number[], rx: p.rx as number[], state: 'ACTIVE', pkts: [] };
        captures.set(cap.id, cap);
        return { capture_id: cap.id, start_ts: (Date.now() - started) / 1000 };
      }
      case 'status':
        return [...captures.values()].map((x) => ({
          id: x.id,
          state: x.state,
          limit: x.limit,
          count: x.pkts.length,
          filter: { rx: x.rx.reduce((m, q) => m | (1 << q), 0), tx: x.tx.reduce((m, q) => m | (1 << q), 0), bpf: '' },
        }));
    }
    if (!c) throw new RpcFault(TREX_ERR.execute, 'capture ID not found');
    if (p.command === 'stop') {
      c.state = 'STOPPED';
      return { pkt_count: c.pkts.length };
    }
    if (p.command === 'fetch') {
      const pkts = c.pkts.splice(0, Number(p.pkt_limit));
      return { pkts, pending: c.pkts.length, start_ts: 0 };
    }
    if (p.command === 'remove') {
      captures.delete(id);
      return {};
    }
    throw new RpcFault(TREX_ERR.execute, `unknown capture command ${String(p.command)}`);
  });
  server.method('get_pgid_stats', (p) => {
    const out: { flow_stats: Record<string, unknown>; latency: Record<string, unknown> } = { flow_stats: {}, latency: {} };
    for (const pg of p.pgids as number[]) {
      const l = latency.get(pg);
      if (!l) continue;
      const sinceStart = l.endedAt - started;
      const foldAt = l.endedAt + (FOLD_MS - (sinceStart % FOLD_MS));
      const folded = !o.neverFolds && Date.now() >= foldAt;
      out.flow_stats[String(pg)] = { tp: { '0': l.tp }, rp: { '1': l.rp } };
      out.latency[String(pg)] = {
        lat: folded
          ? { total_min: 10, average: 22.5, total_max: 40, jit: 3, histogram: { '10': l.rp } }
          : { total_min: GARBAGE_MIN, average: 0, total_max: 0, jit: 0, histogram: { '10': l.rp } },
        // Gaps in the sequence only: what was lost after the last arrival is not one.
        er: { drp: 0, ooo: 0, dup: 0 },
      };
    }
    return out;
  });
  return { counters, captures, seen };
}
