// The PVP path as data: the hops the stream passes, in order, each with the
// words a person reads, where it is counted and what it must count. Built once
// from the testbed; the counter check, "lost between / multiplied at /
// bypassed", the counter table and the foreign-frame accounting all iterate
// it, so a hop added here is added to each of them.
//
//   TG tx ─> phy ingress rx ─> ingress flow ─> VM port ingress tx ─> guest ingress rx
//   ══ guest's router ══ guest egress tx ─> VM port egress rx ─> egress flow ─> phy egress tx ─> TG rx
import type { Testbed } from './schema.js';
import { topologyOf, type Topology } from './topology.js';

/** The guide's hops; a testbed's path may have more (a hop's id is any word). */
export const HOPS = [
  'tgTx',
  'phyIngressRx',
  'ingressFlow',
  'vmIngressTx',
  'guestIngressRx',
  'guestEgressTx',
  'vmEgressRx',
  'egressFlow',
  'phyEgressTx',
  'tgRx',
] as const;
export type HopId = (typeof HOPS)[number] | (string & {});

/** Where a hop is counted: a port of the TG, a port of the switch, a flow of the switch, a link of the guest. */
export type CountedAt =
  | { on: 'tg'; port: string; dir: 'rx' | 'tx' }
  | { on: 'switch'; ofport: number; dir: 'rx' | 'tx' }
  | { on: 'flow'; flow: 'ingress' | 'egress' }
  | { on: 'guest'; iface: string; dir: 'rx' | 'tx' };

/**
 * The wire a hop's port is on, where a capture sees the frames that are not
 * the stream: on the capturing end's own port (`own`), or on its peer across
 * the wire (a switch port, where nothing captures).
 */
export interface Wire {
  capturedOn: 'tg' | 'guest';
  iface: string;
  own: boolean;
}

export interface Hop {
  id: HopId;
  /** Its row in the counter table: "phy ingress rx". */
  label: string;
  /** What counts it: "port 16 (dpdk0)", "the ingress flow". */
  name: string;
  /** How "lost between" names it: "port 16 (dpdk0) received". */
  what: string;
  /** How the counter check names its counter: "port 16 (dpdk0) rx". */
  counter: string;
  at: CountedAt;
  /** What it must count: every packet sent, or every packet that came back. */
  carries: 'sent' | 'returned';
  /** What stands between it and the hop before it, for the diagnosis of a loss there. */
  after?: 'flow' | 'guest';
  wire?: Wire;
}

export interface PvpPath {
  topology: Topology;
  hops: readonly Hop[];
}

type Dir = 'rx' | 'tx';
type Carries = Hop['carries'];
const did = (dir: Dir) => (dir === 'rx' ? 'received' : 'sent');

/** A hop counted on a port of the TG: "the TG sent on tg0", its counter "TG tg0 tx". */
function tgHop(id: HopId, label: string, port: string, dir: Dir, carries: Carries): Hop {
  const what = `the TG ${did(dir)} on ${port}`;
  return {
    id,
    label,
    name: `the TG's ${port}`,
    what,
    counter: `TG ${port} ${dir}`,
    at: { on: 'tg', port, dir },
    carries,
    wire: { capturedOn: 'tg', iface: port, own: true },
  };
}

/** A hop counted on a port of the switch, seen from its peer's capture: "port 16 (dpdk0) received". */
function switchHop(id: HopId, label: string, p: { ofport: number; name: string }, dir: Dir, carries: Carries, peer: Omit<Wire, 'own'>, whatMore = ''): Hop {
  const name = `port ${p.ofport} (${p.name})`;
  return {
    id,
    label,
    name,
    what: `${name} ${did(dir)}${whatMore}`,
    counter: `${name} ${dir}`,
    at: { on: 'switch', ofport: p.ofport, dir },
    carries,
    wire: { ...peer, own: false },
  };
}

/** A hop counted on a link of the guest: "the guest's vEth_port32 received". */
function guestHop(id: HopId, label: string, iface: string, dir: Dir, carries: Carries, after?: Hop['after']): Hop {
  const name = `the guest's ${iface}`;
  return {
    id,
    label,
    name,
    what: `${name} ${did(dir)}`,
    counter: `guest ${iface} ${dir}`,
    at: { on: 'guest', iface, dir },
    carries,
    ...(after ? { after } : {}),
    wire: { capturedOn: 'guest', iface, own: true },
  };
}

/** A flow of the switch, counted by its n_packets; what stands before it is a flow. */
function flowHop(flow: 'ingress' | 'egress', carries: Carries): Hop {
  const counter = `${flow} flow n_packets`;
  return {
    id: `${flow}Flow`,
    label: counter,
    name: `the ${flow} flow`,
    what: `the ${flow} flow matched`,
    counter,
    at: { on: 'flow', flow },
    carries,
    after: 'flow',
  };
}

/** The path the testbed's stream takes through the DUT and the guest, hop by hop. */
export function pvpPath(tb: Testbed): PvpPath {
  return pathOf(topologyOf(tb));
}

export function pathOf(t: Topology): PvpPath {
  const { phyIngress: phyIn, phyEgress: phyOut, vmIngress: vmIn, vmEgress: vmOut } = t;
  const tgTxWire = { capturedOn: 'tg', iface: t.tgTx } as const;
  const tgRxWire = { capturedOn: 'tg', iface: t.tgRx } as const;
  const hops: Hop[] = [
    tgHop('tgTx', 'TG tx', t.tgTx, 'tx', 'sent'),
    switchHop('phyIngressRx', 'phy ingress rx', phyIn, 'rx', 'sent', tgTxWire),
    flowHop('ingress', 'sent'),
    switchHop('vmIngressTx', 'VM-port ingress tx', vmIn, 'tx', 'sent', { capturedOn: 'guest', iface: vmIn.guestIf }, ' to the guest'),
    guestHop('guestIngressRx', 'guest ingress vEth rx', vmIn.guestIf, 'rx', 'sent'),
    guestHop('guestEgressTx', 'guest egress vEth tx', vmOut.guestIf, 'tx', 'returned', 'guest'),
    switchHop('vmEgressRx', 'VM-port egress rx', vmOut, 'rx', 'returned', { capturedOn: 'guest', iface: vmOut.guestIf }),
    flowHop('egress', 'returned'),
    switchHop('phyEgressTx', 'phy egress tx', phyOut, 'tx', 'returned', tgRxWire),
    tgHop('tgRx', 'TG rx', t.tgRx, 'rx', 'returned'),
  ];
  return { topology: t, hops };
}
