// The testbed as a path with named roles: the only place that knows which of
// two ports is which. Everything else asks for the role (the ingress phy port,
// the guest's egress interface), never for a position.
//
//   TG tx ─> phy ingress ─> VM ingress ─> guest ingress ══ guest's router ══
//   guest egress ─> VM egress ─> phy egress ─> TG rx
import { coveringPrefix, intIp, ipInt } from './flows.js';
import type { PhyPortSpec, Testbed, VmPortSpec } from './schema.js';

export interface Topology {
  /** The TG's port that sends the stream, and the one that receives it back. */
  tgTx: string;
  tgRx: string;
  /** The DUT's physical ports: the stream comes in on ingress and leaves on egress. */
  phyIngress: PhyPortSpec;
  phyEgress: PhyPortSpec;
  /** The ports between the switch and the guest; their guestIf is the guest's interface. */
  vmIngress: VmPortSpec;
  vmEgress: VmPortSpec;
  /** The next hop the guest routes the stream to, behind the egress interface. */
  gateway: Testbed['gateway'];
}

export function topologyOf(tb: Testbed): Topology {
  const [phyIngress, phyEgress] = tb.phyPorts;
  const [vmIngress, vmEgress] = tb.vmPorts;
  return { tgTx: phyIngress.tgPort, tgRx: phyEgress.tgPort, phyIngress, phyEgress, vmIngress, vmEgress, gateway: tb.gateway };
}

/** The names of the switch's ports the testbed names: its phy ports', then its VM ports'. */
export function switchPortNames(tb: Pick<Testbed, 'phyPorts' | 'vmPorts'>): string[] {
  return [...tb.phyPorts, ...tb.vmPorts].map((p) => p.name);
}

/** The destination MAC of the stream: the guest's ingress vEth, unless the testbed says otherwise. */
export function streamDstMac(tb: Testbed): string {
  return tb.traffic.dstMac ?? topologyOf(tb).vmIngress.mac;
}

/**
 * traffic.direction both: the reverse stream's next hop behind the guest's
 * ingress interface, and the prefix the guest routes to it (the forward
 * stream's sources). Default: the address after the ingress interface's own,
 * with the forward stream's source MAC (the TG's transmit port's).
 */
export function reverseGatewayOf(tb: Testbed): { ip: string; mac: string; route: string } {
  const [own] = topologyOf(tb).vmIngress.cidr.split('/');
  const ip = tb.reverseGateway?.ip ?? intIp((ipInt(own!) + 1) >>> 0);
  const f = tb.traffic.flows;
  return { ip, mac: tb.reverseGateway?.mac ?? tb.traffic.srcMac, route: coveringPrefix(tb.traffic.srcIp, f?.srcIps ?? 1) };
}

/**
 * The testbed seen from the reverse stream (traffic.direction both): the
 * path's roles swapped (the TG's receive port sends into phy egress, the
 * guest's egress vEth takes it in, its ingress vEth sends it on to the
 * reverse next hop), the stream's addresses, ports and flow ranges swapped.
 * What judges the forward stream (the path, the packet and counter checks)
 * judges the reverse one on this.
 */
export function reverseTestbed(tb: Testbed): Testbed {
  const t = tb.traffic;
  const gw = reverseGatewayOf(tb);
  const f = t.flows;
  return {
    ...tb,
    phyPorts: [tb.phyPorts[1], tb.phyPorts[0]],
    vmPorts: [tb.vmPorts[1], tb.vmPorts[0]],
    gateway: { ip: gw.ip, mac: gw.mac },
    traffic: {
      ...t,
      srcIp: t.dstIp,
      dstIp: t.srcIp,
      srcPort: t.dstPort,
      dstPort: t.srcPort,
      srcMac: tb.gateway.mac,
      dstMac: topologyOf(tb).vmEgress.mac,
      ...(f ? { flows: { count: f.count, srcIps: f.dstIps, dstIps: f.srcIps, srcPorts: f.dstPorts, dstPorts: f.srcPorts } } : {}),
    },
  };
}
