// Counters along the path, TG -> phy -> KNI -> guest router -> KNI -> phy -> TG,
// checked against the stream and against each other. Where they first fall
// short says where the packets were lost.

export interface PathCounts {
  sent: number;
  sentBytes: number;
  /** Distinct stream packets captured back on the TG. */
  returned: number;
  returnedBytes: number;
  flowIngress: { packets: number; bytes: number } | null;
  flowEgress: { packets: number; bytes: number } | null;
  /** Deltas over the run, in packets. */
  tgTx: number;
  hostPhyIngressRx: number;
  hostKniIngressTx: number;
  guestIngressRx: number;
  guestEgressTx: number;
  hostKniEgressRx: number;
  hostPhyEgressTx: number;
  tgRx: number;
}

export interface CounterNames {
  tgTxPort: string;
  phyIngress: string;
  kniIngress: string;
  guestIngress: string;
  guestEgress: string;
  kniEgress: string;
  phyEgress: string;
  tgRxPort: string;
}

/** Each counter must be at least the packets that passed it, and at most that plus `slack` others. */
export function checkCounters(c: PathCounts, n: CounterNames, slack: number): string[] {
  const problems: string[] = [];
  const within = (what: string, got: number, want: number) => {
    if (got < want) problems.push(`${what} counted ${got}, expected ${want}`);
    else if (got > want + slack) problems.push(`${what} counted ${got}, expected ${want}${slack ? ` (+${slack} allowed for other traffic)` : ''}`);
  };
  if (!c.flowIngress) problems.push('the ingress flow is missing from the flow table');
  else {
    within('ingress flow n_packets', c.flowIngress.packets, c.sent);
    if (c.flowIngress.packets === c.sent && c.flowIngress.bytes !== c.sentBytes) problems.push(`ingress flow n_bytes ${c.flowIngress.bytes}, expected ${c.sentBytes}`);
  }
  if (!c.flowEgress) problems.push('the egress flow is missing from the flow table');
  else {
    within('egress flow n_packets', c.flowEgress.packets, c.returned);
    if (c.flowEgress.packets === c.returned && c.flowEgress.bytes !== c.returnedBytes) problems.push(`egress flow n_bytes ${c.flowEgress.bytes}, expected ${c.returnedBytes}`);
  }
  within(`TG ${n.tgTxPort} tx`, c.tgTx, c.sent);
  within(`${n.phyIngress} rx`, c.hostPhyIngressRx, c.sent);
  within(`${n.kniIngress} tx`, c.hostKniIngressTx, c.sent);
  within(`guest ${n.guestIngress} rx`, c.guestIngressRx, c.sent);
  within(`guest ${n.guestEgress} tx`, c.guestEgressTx, c.returned);
  within(`${n.kniEgress} rx`, c.hostKniEgressRx, c.returned);
  within(`${n.phyEgress} tx`, c.hostPhyEgressTx, c.returned);
  within(`TG ${n.tgRxPort} rx`, c.tgRx, c.returned);
  const where = bypassed(c, n, slack) ?? whereLost(c, n);
  if (where) problems.unshift(where);
  return problems;
}

/**
 * Packets that left the egress phy port without the egress flow sending them
 * came another way: a flow that switches the ingress port straight out skips
 * the guest, and would pass a check that only counts returned packets.
 */
export function bypassed(c: PathCounts, n: CounterNames, slack: number): string | null {
  const matched = c.flowEgress?.packets ?? 0;
  const extra = c.hostPhyEgressTx - matched;
  if (extra <= slack) return null;
  return `${n.phyEgress} sent ${c.hostPhyEgressTx} but the egress flow matched ${matched}: ${extra} packets reached ${n.phyEgress} without crossing the guest (a flow switching ${n.phyIngress} straight to it?)`;
}

/** The first hop along the path whose count falls short of the one before it. */
export function whereLost(c: PathCounts, n: CounterNames): string | null {
  const hops: Array<[string, number]> = [
    [`the TG sent ${c.tgTx} on ${n.tgTxPort}`, c.tgTx],
    [`${n.phyIngress} received`, c.hostPhyIngressRx],
    [`the ingress flow matched`, c.flowIngress?.packets ?? 0],
    [`${n.kniIngress} sent to the guest`, c.hostKniIngressTx],
    [`the guest's ${n.guestIngress} received`, c.guestIngressRx],
    [`the guest's ${n.guestEgress} sent`, c.guestEgressTx],
    [`${n.kniEgress} received`, c.hostKniEgressRx],
    [`the egress flow matched`, c.flowEgress?.packets ?? 0],
    [`${n.phyEgress} sent`, c.hostPhyEgressTx],
    [`the TG received on ${n.tgRxPort}`, c.tgRx],
  ];
  for (let i = 1; i < hops.length; i++) {
    const [prevWhat, prev] = hops[i - 1]!;
    const [what, got] = hops[i]!;
    if (got < Math.min(prev, c.sent)) {
      const hint = i === 5 ? ' (the guest did not forward them: ip_forward, rp_filter, route or ARP?)' : i === 2 || i === 7 ? ' (no flow matched them)' : '';
      return `packets were lost between "${prevWhat.replace(/^the TG sent \d+ on/, 'the TG sent on')}" (${prev}) and "${what}" (${got})${hint}`;
    }
  }
  return null;
}
