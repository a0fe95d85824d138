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

const switchPort = (p: { ofport: number; name: string }) => `port ${p.ofport} (${p.name})`;

/** The path the testbed's stream takes through the DUT and the guest, hop by hop. */
export function pvpPath(tb: Testbed): PvpPath {
  return pathOf(topologyOf(tb));
}

export function pathOf(t: Topology): PvpPath {
  const { phyIngress: phyIn, phyEgress: phyOut, vmIngress: vmIn, vmEgress: vmOut } = t;
  const hops: Hop[] = [
    {
      id: 'tgTx',
      name: `the TG's ${t.tgTx}`,
      label: 'TG tx',
      what: `the TG sent on ${t.tgTx}`,
      counter: `TG ${t.tgTx} tx`,
      at: { on: 'tg', port: t.tgTx, dir: 'tx' },
      carries: 'sent',
      wire: { capturedOn: 'tg', iface: t.tgTx, own: true },
    },
    {
      id: 'phyIngressRx',
      name: switchPort(phyIn),
      label: 'phy ingress rx',
      what: `${switchPort(phyIn)} received`,
      counter: `${switchPort(phyIn)} rx`,
      at: { on: 'switch', ofport: phyIn.ofport, dir: 'rx' },
      carries: 'sent',
      wire: { capturedOn: 'tg', iface: t.tgTx, own: false },
    },
    {
      id: 'ingressFlow',
      name: 'the ingress flow',
      label: 'ingress flow n_packets',
      what: 'the ingress flow matched',
      counter: 'ingress flow n_packets',
      at: { on: 'flow', flow: 'ingress' },
      carries: 'sent',
      after: 'flow',
    },
    {
      id: 'vmIngressTx',
      name: switchPort(vmIn),
      label: 'VM-port ingress tx',
      what: `${switchPort(vmIn)} sent to the guest`,
      counter: `${switchPort(vmIn)} tx`,
      at: { on: 'switch', ofport: vmIn.ofport, dir: 'tx' },
      carries: 'sent',
      wire: { capturedOn: 'guest', iface: vmIn.guestIf, own: false },
    },
    {
      id: 'guestIngressRx',
      name: `the guest's ${vmIn.guestIf}`,
      label: 'guest ingress vEth rx',
      what: `the guest's ${vmIn.guestIf} received`,
      counter: `guest ${vmIn.guestIf} rx`,
      at: { on: 'guest', iface: vmIn.guestIf, dir: 'rx' },
      carries: 'sent',
      wire: { capturedOn: 'guest', iface: vmIn.guestIf, own: true },
    },
    {
      id: 'guestEgressTx',
      name: `the guest's ${vmOut.guestIf}`,
      label: 'guest egress vEth tx',
      what: `the guest's ${vmOut.guestIf} sent`,
      counter: `guest ${vmOut.guestIf} tx`,
      at: { on: 'guest', iface: vmOut.guestIf, dir: 'tx' },
      carries: 'returned',
      after: 'guest',
      wire: { capturedOn: 'guest', iface: vmOut.guestIf, own: true },
    },
    {
      id: 'vmEgressRx',
      name: switchPort(vmOut),
      label: 'VM-port egress rx',
      what: `${switchPort(vmOut)} received`,
      counter: `${switchPort(vmOut)} rx`,
      at: { on: 'switch', ofport: vmOut.ofport, dir: 'rx' },
      carries: 'returned',
      wire: { capturedOn: 'guest', iface: vmOut.guestIf, own: false },
    },
    {
      id: 'egressFlow',
      name: 'the egress flow',
      label: 'egress flow n_packets',
      what: 'the egress flow matched',
      counter: 'egress flow n_packets',
      at: { on: 'flow', flow: 'egress' },
      carries: 'returned',
      after: 'flow',
    },
    {
      id: 'phyEgressTx',
      name: switchPort(phyOut),
      label: 'phy egress tx',
      what: `${switchPort(phyOut)} sent`,
      counter: `${switchPort(phyOut)} tx`,
      at: { on: 'switch', ofport: phyOut.ofport, dir: 'tx' },
      carries: 'returned',
      wire: { capturedOn: 'tg', iface: t.tgRx, own: false },
    },
    {
      id: 'tgRx',
      name: `the TG's ${t.tgRx}`,
      label: 'TG rx',
      what: `the TG received on ${t.tgRx}`,
      counter: `TG ${t.tgRx} rx`,
      at: { on: 'tg', port: t.tgRx, dir: 'rx' },
      carries: 'returned',
      wire: { capturedOn: 'tg', iface: t.tgRx, own: true },
    },
  ];
  return { topology: t, hops };
}

/** The hop of that id; a path always has the guide's ten. */
export function hopOf(path: PvpPath, id: HopId): Hop {
  const h = path.hops.find((x) => x.id === id);
  if (!h) throw new Error(`the path has no hop ${id}`);
  return h;
}
