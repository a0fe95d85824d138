// The PVP suite's readings of the path around its traffic: each host's
// counters in a snapshot stamped with the controller's clock, and from two
// snapshots each hop's count over the run, less the frames the captures on its
// wire show were not the stream (lib/verify/foreign.ts).
import type { IpLink } from '../../parsers/net.js';
import type { PortCounters } from '../../parsers/ovs.js';
import type { CountedAt, Hop, HopId, Wire } from '../../testbed/path.js';
import type { TgSnapshot } from '../../traffic/tg.js';
import type { ForeignFrames, PathCounts } from '../../verify/counters.js';
import { countForeign, ownWindow, peerWindow, type ForeignCount } from '../../verify/foreign.js';
import { pcapFrames } from '../../traffic/pcap.js';
import * as read from '../../scenario/readback.js';
import type { Session } from '../../scenario/session.js';
import { flowsOf } from '../../testbed/rules.js';
import type { Testbed } from '../../testbed/schema.js';
import { topologyOf, type Topology } from '../../testbed/topology.js';
import { matchFlows } from '../../verify/state.js';

/** Controller clock (µs): when a reading was asked for and when it came back. */
export interface Stamp {
  fromUs: number;
  toUs: number;
}

export interface Snapshot {
  tg: TgSnapshot;
  ports: Map<string, PortCounters>;
  /** The PMD threads' packets received (a DPDK datapath). */
  pmdReceived?: number;
  guest: { links: IpLink[]; fromUs: number; toUs: number };
  /** On the controller's clock: when each host was read. */
  at: { host: Stamp; tg: Stamp; guest: Stamp };
}

export const controllerUs = () => Math.round(performance.timeOrigin * 1000 + performance.now() * 1000);
export async function stamped<T>(f: () => Promise<T>): Promise<{ value: T; at: Stamp }> {
  const fromUs = controllerUs();
  const value = await f();
  return { value, at: { fromUs, toUs: controllerUs() } };
}

export type FlowCounts = Record<'ingress' | 'egress', { packets: number; bytes: number } | null>;

/** A port's count at a hop, from one snapshot (a flow's are read apart). */
function countAt(s: Snapshot, at: CountedAt): number | undefined {
  if (at.on === 'flow') return undefined;
  const key = at.dir === 'rx' ? 'rxPackets' : 'txPackets';
  if (at.on === 'tg') return s.tg.ports[at.port]?.[key];
  if (at.on === 'switch') return s.ports.get(String(at.ofport))?.[key];
  return s.guest.links.find((l) => l.name === at.iface)?.stats?.[key];
}

/** A reading that failed is kept as its error: the traffic still goes, and the counters check reports it. */
export type Readout<T> = T | { error: unknown };
export const failed = <T>(r: Readout<T>): r is { error: unknown } => typeof r === 'object' && r !== null && 'error' in r;
export async function reading<T>(f: () => Promise<T>): Promise<Readout<T>> {
  try {
    return await f();
  } catch (error) {
    return { error };
  }
}

/** Each hop's count over the run, from two snapshots and the flows' two readings; the frames that were not the stream taken off. */
export function countsAlongPath(
  path: readonly Hop[],
  snaps: { before: Snapshot; after: Snapshot },
  flows: { before: FlowCounts; after: FlowCounts },
  foreign: Partial<Record<HopId, ForeignFrames>>,
  stream: Pick<PathCounts, 'sent' | 'sentBytes' | 'returned' | 'returnedBytes'>,
): PathCounts {
  const counts: PathCounts = { ...stream, hops: {}, bytes: {} };
  for (const hop of path) {
    if (hop.at.on === 'flow') {
      const [a, b] = [flows.after[hop.at.flow], flows.before[hop.at.flow]];
      const d = a && b ? { packets: a.packets - b.packets, bytes: a.bytes - b.bytes } : (a ?? null);
      counts.hops[hop.id] = d?.packets ?? null;
      if (d) counts.bytes![hop.id] = d.bytes;
    } else counts.hops[hop.id] = (countAt(snaps.after, hop.at) ?? 0) - (countAt(snaps.before, hop.at) ?? 0);
  }
  for (const [id, f] of Object.entries(foreign)) counts.hops[id] = (counts.hops[id] ?? 0) - (f?.subtracted ?? 0);
  if (Object.values(foreign).some((f) => f && f.subtracted + f.unsure > 0)) counts.foreign = foreign;
  return counts;
}

/**
 * What each hop counted that was not the stream, from the capture on its
 * wire: the TG's ports and the guest's links on their own clocks, the
 * switch's ports from their peers' captures. One pass over each wire's
 * capture counts for both hops on it, the capturing end's and its peer's.
 */
export async function foreignAlongPath(
  hops: readonly Hop[],
  snaps: { before: Snapshot; after: Snapshot },
  runId: number,
  captureOf: (w: Wire) => string,
): Promise<Partial<Record<HopId, ForeignFrames>>> {
  const { before, after } = snaps;
  const own = { tg: ownWindow(before.tg, after.tg), guest: ownWindow(before.guest, after.guest) };
  // How far the switch's readings reach outside its peer's, on the controller's clock.
  const lead = (peer: 'tg' | 'guest') => before.at[peer].toUs - before.at.host.fromUs;
  const lag = (peer: 'tg' | 'guest') => after.at.host.toUs - after.at[peer].fromUs;
  const wires = new Map<string, Array<Hop & { wire: Wire }>>();
  for (const hop of hops) {
    if (!hop.wire) continue;
    const file = captureOf(hop.wire);
    wires.set(file, [...(wires.get(file) ?? []), hop as Hop & { wire: Wire }]);
  }
  const out: Partial<Record<HopId, ForeignFrames>> = {};
  for (const [file, onWire] of wires) {
    const on = onWire[0]!.wire.capturedOn;
    const windows = onWire.map((h) => (h.wire.own ? own[on] : peerWindow(own[on], lead(on), lag(on))));
    const counted = await countForeign(pcapFrames(file), runId, windows);
    onWire.forEach((h, i) => {
      const c = counted[i] as ForeignCount;
      out[h.id] = { subtracted: c.definite, unsure: c.possible - c.definite };
    });
  }
  return out;
}

/** One snapshot of the path: the TG's counters (read by the generator, stamped by the caller) beside the switch's and the guest's readings; a failed reading stays its error. */
export function snapshotOf(
  tg: TgSnapshot,
  tgAt: Stamp,
  sw: Readout<{ value: { ports: Snapshot['ports']; pmd?: number }; at: Stamp }>,
  guest: Readout<{ value: Snapshot['guest']; at: Stamp }>,
): Readout<Snapshot> {
  if (failed(sw)) return sw;
  if (failed(guest)) return guest;
  return {
    tg,
    ports: sw.value.ports,
    ...(sw.value.pmd !== undefined ? { pmdReceived: sw.value.pmd } : {}),
    guest: guest.value,
    at: { host: sw.at, tg: tgAt, guest: guest.at },
  };
}

/**
 * The counts of the rules that take a stream in from phy ingress, and of those
 * that take it back from the guest (summed: `rules: flow` has one per
 * 5-tuple): the testbed's rules, by the in_port of the direction's roles
 * (`t`: the reverse stream's topology for the reverse stream).
 */
export async function readFlowCounts(s: Session, tb: Testbed, t: Topology = topologyOf(tb)): Promise<FlowCounts> {
  const specs = flowsOf(tb);
  const matched = matchFlows(await read.flows(s), specs);
  const counts = (inPort: number) => {
    const entries = specs.flatMap((f, i) => (f.inPort === inPort ? [matched[i]] : []));
    if (entries.length === 0 || entries.some((e) => !e)) return null;
    return { packets: entries.reduce((a, e) => a + e!.nPackets, 0), bytes: entries.reduce((a, e) => a + e!.nBytes, 0) };
  };
  return { ingress: counts(t.phyIngress.ofport), egress: counts(t.vmEgress.ofport) };
}
