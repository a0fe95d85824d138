// Why packets were dropped, in the lab's own counts: the counters that grew
// over the stream, on the guest (its kernel's IP stack, neighbour table,
// nftables rules, its links) and on the switch (its ports' drops and errors,
// its Interfaces' statistics), each named with its delta and what the kernel
// or OVS counts there. A counter that could not be read is named as not read;
// nothing is guessed.
import type { GuestDropCounters, NftRule, NotRead } from '../parsers/kernel-counters.js';
import type { IpLink } from '../parsers/net.js';
import type { PortCounters } from '../parsers/ovs.js';

export type { Drop, Findings } from '../results/pvp.js';
import type { Findings } from '../results/pvp.js';

type Reading<T> = T | NotRead;
const notRead = <T>(r: Reading<T>): r is NotRead => typeof r === 'object' && r !== null && 'notRead' in r;
interface Pair<T> {
  before: Reading<T>;
  after: Reading<T>;
}

/** The IP stack's counters that mean a packet was not delivered, and what the kernel counts there. */
const KERNEL_DROPS: Record<string, string> = {
  IpInAddrErrors: 'not for this host and not forwarded: the kernel counts this when IP forwarding is off on the receiving interface, or the address is invalid',
  TcpExtIPReversePathFilter: 'dropped by the reverse-path filter (rp_filter): their source is not reachable back through the interface they came in on',
  IpExtInNoRoutes: 'no route to their destination',
  IpOutNoRoutes: 'no route for what the guest itself sent',
  IpInHdrErrors: 'a bad IP header, or their TTL ran out',
  IpInDiscards: 'discarded on input (no buffer space)',
  IpOutDiscards: 'discarded on output (no buffer space, or the queue refused them)',
  IpFragFails: "larger than the outgoing MTU with Don't Fragment set: not sent",
  IpInTruncatedPkts: 'shorter than their IP header says',
  IpExtInCsumErrors: 'a bad checksum',
  ArpUnresolvedDiscards: "dropped while they waited for a neighbour's MAC that never resolved (no ARP reply)",
};

/** The ICMP errors the guest sends back for what it dropped, told beside the drop they explain. */
const ICMP_SENT: Record<string, string> = {
  IcmpOutDestUnreachs: 'ICMP destination-unreachable',
  IcmpOutTimeExcds: 'ICMP time-exceeded',
};

/** A link's drop counters (include/uapi/linux/if_link.h). */
const LINK_DROPS: Record<string, string> = {
  rx_dropped: 'dropped on receive by the kernel (no buffer, or nothing takes their protocol)',
  rx_errors: 'bad frames received',
  rx_over_errors: 'the receive ring overflowed',
  rx_missed: 'missed by the NIC (no room)',
  tx_dropped: 'dropped on transmit (no buffer, the queue full, or the link down)',
  tx_errors: 'transmit errors',
  tx_carrier_errors: 'sent without a carrier (the link down)',
};

/** OVS's Interface statistics beyond the port counters of dump-ports (vswitch.xml; netdev-dpdk's custom statistics). */
const OVS_DROPS: Record<string, string> = {
  rx_missed_errors: 'the NIC had no room for them (the PMD did not poll in time)',
  rx_mbuf_allocation_errors: 'no buffer to receive them into (the mempool ran out)',
  ovs_tx_failure_drops: "the port's transmit queue was full (its peer did not take them)",
  ovs_tx_mtu_exceeded_drops: "larger than the port's MTU",
  ovs_tx_qos_drops: "dropped by the port's QoS (egress policing)",
  ovs_rx_qos_drops: 'dropped by ingress policing',
  ovs_tx_invalid_hwol_drops: 'invalid for hardware offload',
};

const PORT_DROPS: Array<[keyof PortCounters, string, string]> = [
  ['rxDropped', 'rx drop', 'dropped by the switch on receive'],
  ['rxErrors', 'rx errs', 'receive errors'],
  ['txDropped', 'tx drop', 'dropped by the switch on transmit'],
  ['txErrors', 'tx errs', 'transmit errors'],
];

export interface DropContext {
  /** The guest's links on the path, and its egress link (where an MTU drops what is larger). */
  guestLinks: readonly string[];
  egressLink: string;
  /** The switch's ports on the path. */
  switchPorts: ReadonlyArray<{ ofport: number; name: string }>;
  /** The stream: how many packets, of which frame sizes on the wire (FCS included), in turn. */
  stream: { count: number; sizes: readonly number[] };
}

export interface DropReadings {
  guestKernel: Pair<GuestDropCounters>;
  guestLinks: Pair<IpLink[]>;
  switchPorts: Pair<Map<string, PortCounters>>;
  interfaceStatistics: Pair<Map<string, Record<string, number>>>;
}

/** Every drop counter that grew between the two readings, and every one that could not be read. */
export function findDrops(r: DropReadings, ctx: DropContext): Findings {
  const out: Findings = { drops: [], notRead: [] };
  const pair = <T>(what: string, p: Pair<T>): { before: T; after: T } | null => {
    const bad = [p.before, p.after].find(notRead) as NotRead | undefined;
    if (bad) out.notRead.push(`${what} (${bad.notRead})`);
    return bad ? null : (p as { before: T; after: T });
  };
  const kernel = pair("the guest's kernel counters", r.guestKernel);
  const links = pair("the guest's links", r.guestLinks);
  if (kernel) guestKernelDrops(kernel, links?.after ?? [], ctx, out);
  if (links) guestLinkDrops(links, ctx, out);
  const ports = pair("the switch's port counters", r.switchPorts);
  if (ports) switchPortDrops(ports, ctx, out);
  const stats = pair("the switch's Interface statistics", r.interfaceStatistics);
  if (stats) interfaceDrops(stats, ctx, out);
  return out;
}

function guestKernelDrops(k: { before: GuestDropCounters; after: GuestDropCounters }, linksAfter: IpLink[], ctx: DropContext, out: Findings): void {
  const grew = (key: string, b: Record<string, number>, a: Record<string, number>) => (a[key] ?? 0) - (b[key] ?? 0);
  const all = { before: { ...k.before.kernel, ...counts(k.before.arp) }, after: { ...k.after.kernel, ...counts(k.after.arp) } };
  const icmp = Object.entries(ICMP_SENT)
    .map(([key, what]) => ({ n: grew(key, all.before, all.after), what }))
    .filter((x) => x.n > 0)
    .map((x) => `the guest sent ${x.n} ${x.what} back`);
  for (const [key, meaning] of Object.entries(KERNEL_DROPS)) {
    const delta = grew(key, all.before, all.after);
    if (delta <= 0) continue;
    const more = key === 'IpFragFails' ? [tooLarge(linksAfter, ctx)].filter((s) => s !== null) : [];
    const sent = ['IpFragFails', 'IpExtInNoRoutes', 'IpInHdrErrors'].includes(key) ? icmp : [];
    out.drops.push({ where: "the guest's kernel", counter: key, delta, meaning: [meaning, ...more, ...sent].join('; ') });
  }
  if (notRead(k.before.arp) || notRead(k.after.arp)) out.notRead.push(`the guest's neighbour table counters (${pickNotRead(k.before.arp, k.after.arp)})`);
  const [nb, na] = [k.before.nft, k.after.nft];
  if (notRead(nb) || notRead(na)) out.notRead.push(`the guest's nftables rules (${pickNotRead(nb, na)})`);
  else nftDrops(nb.rules, na, out);
}

const counts = (r: Record<string, number> | NotRead): Record<string, number> => (notRead(r) ? {} : r);
const pickNotRead = (...rs: Array<object>): string => (rs.find((r) => notRead(r as Reading<unknown>)) as NotRead).notRead;

/** How many of the stream's frames were too large for the guest's egress link's MTU, where any were. */
function tooLarge(links: IpLink[], ctx: DropContext): string | null {
  const mtu = links.find((l) => l.name === ctx.egressLink)?.mtu;
  if (mtu === undefined) return null;
  // A frame on the wire is its IP packet, 14 bytes of Ethernet header and 4 of FCS.
  const sizes = [...new Set(ctx.stream.sizes)].filter((s) => s - 18 > mtu);
  if (sizes.length === 0) return null;
  const n = Array.from({ length: ctx.stream.count }, (_, i) => ctx.stream.sizes[i % ctx.stream.sizes.length]!).filter((s) => s - 18 > mtu).length;
  return `${n} of the stream's frames (${sizes.join(', ')} bytes: IP packets of ${sizes.map((s) => s - 18).join(', ')}) are larger than ${ctx.egressLink}'s MTU of ${mtu}`;
}

function nftDrops(before: NftRule[], after: { rules: NftRule[]; dropPolicies: Array<{ table: string; chain: string; hook: string }> }, out: Findings): void {
  const key = (r: NftRule) => `${r.table}/${r.chain}/${r.handle}`;
  const was = new Map(before.map((r) => [key(r), r]));
  for (const r of after.rules) {
    if (!r.drops || !r.hook) continue;
    const where = `nftables rule \`${r.text}\` (table ${r.table}, chain ${r.chain}, hook ${r.hook})`;
    if (r.packets === undefined) {
      out.notRead.push(`${where}: it drops, and has no counter`);
      continue;
    }
    const delta = r.packets - (was.get(key(r))?.packets ?? 0);
    if (delta > 0) out.drops.push({ where: "the guest's firewall", counter: where, delta, meaning: 'dropped by this rule' });
  }
  for (const p of after.dropPolicies)
    out.notRead.push(`nftables chain ${p.chain} (table ${p.table}, hook ${p.hook}): its policy drops what no rule accepts, uncounted`);
}

function guestLinkDrops(l: { before: IpLink[]; after: IpLink[] }, ctx: DropContext, out: Findings): void {
  for (const name of ctx.guestLinks) {
    const [b, a] = [l.before.find((x) => x.name === name)?.drops, l.after.find((x) => x.name === name)?.drops];
    if (!a || !b) continue;
    for (const [key, meaning] of Object.entries(LINK_DROPS)) {
      const delta = (a[key] ?? 0) - (b[key] ?? 0);
      if (delta > 0) out.drops.push({ where: `the guest's ${name}`, counter: key, delta, meaning });
    }
  }
}

function switchPortDrops(p: { before: Map<string, PortCounters>; after: Map<string, PortCounters> }, ctx: DropContext, out: Findings): void {
  for (const { ofport, name } of ctx.switchPorts) {
    const [b, a] = [p.before.get(String(ofport)), p.after.get(String(ofport))];
    if (!a || !b) continue;
    for (const [field, counter, meaning] of PORT_DROPS) {
      const delta = a[field] - b[field];
      if (delta > 0) out.drops.push({ where: `the switch's port ${ofport} (${name})`, counter, delta, meaning });
    }
  }
}

function interfaceDrops(s: { before: Map<string, Record<string, number>>; after: Map<string, Record<string, number>> }, ctx: DropContext, out: Findings): void {
  for (const { ofport, name } of ctx.switchPorts) {
    const [b, a] = [s.before.get(name), s.after.get(name)];
    if (!a || !b) continue;
    for (const [key, meaning] of Object.entries(OVS_DROPS)) {
      const delta = (a[key] ?? 0) - (b[key] ?? 0);
      if (delta > 0) out.drops.push({ where: `the switch's port ${ofport} (${name})`, counter: key, delta, meaning });
    }
  }
}

/** The findings in one sentence for a diagnosis; null when nothing grew and nothing was left unread. */
export function describeDrops(f: Findings): string | null {
  const parts = f.drops.map((d) => `${d.where}: ${d.counter} +${d.delta} (${d.meaning})`);
  if (parts.length === 0 && f.notRead.length === 0) return null;
  const said = parts.length > 0 ? `the lab's own drop counters grew: ${parts.join('; ')}` : "none of the lab's own drop counters grew";
  return f.notRead.length > 0 ? `${said}; not read: ${f.notRead.join('; ')}` : said;
}
