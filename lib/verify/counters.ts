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
  /**
   * Foreign frames (not the stream) a capture on the same wire saw between
   * the readings: already subtracted from the counts above. `unsure` are
   * those that may or may not have been counted: a counter may exceed the
   * stream by that many (and by the slack) without blame.
   */
  foreign?: Partial<Record<PortCounter, { subtracted: number; unsure: number }>>;
}

/** The port counters along the path. */
export type PortCounter =
  | 'tgTx'
  | 'hostPhyIngressRx'
  | 'hostKniIngressTx'
  | 'guestIngressRx'
  | 'guestEgressTx'
  | 'hostKniEgressRx'
  | 'hostPhyEgressTx'
  | 'tgRx';

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

export interface CounterLimits {
  /** Packets other than the stream's that a counter may also have counted (ARP, LLDP on a real lab). */
  slack: number;
  /** Stream packets that may be lost without failing the run: the packet check's own allowance. */
  allowedLoss: number;
}

/**
 * Each counter must be at least the packets that passed it, and at most that
 * plus `slack` others. Loss within the allowance is no failure here either:
 * the packet check and this one must not disagree on the same packets.
 */
export function checkCounters(c: PathCounts, n: CounterNames, { slack, allowedLoss }: CounterLimits): string[] {
  const problems: string[] = [];
  const within = (what: string, got: number, want: number, counter?: PortCounter) => {
    const allowed = slack + (counter ? (c.foreign?.[counter]?.unsure ?? 0) : 0);
    if (got < want) problems.push(`${what} counted ${got}, expected ${want}`);
    else if (got > want + allowed) problems.push(`${what} counted ${got}, expected ${want}${allowed ? ` (+${allowed} allowed for other traffic)` : ''}`);
  };
  if (!c.flowIngress) problems.push('the ingress flow is missing from the flow table');
  else {
    within('ingress flow n_packets', c.flowIngress.packets, c.sent);
    if (c.flowIngress.packets === c.sent && c.flowIngress.bytes !== c.sentBytes)
      problems.push(`ingress flow n_bytes ${c.flowIngress.bytes}, expected ${c.sentBytes}`);
  }
  if (!c.flowEgress) problems.push('the egress flow is missing from the flow table');
  else {
    within('egress flow n_packets', c.flowEgress.packets, c.returned);
    if (c.flowEgress.packets === c.returned && c.flowEgress.bytes !== c.returnedBytes)
      problems.push(`egress flow n_bytes ${c.flowEgress.bytes}, expected ${c.returnedBytes}`);
  }
  within(`TG ${n.tgTxPort} tx`, c.tgTx, c.sent, 'tgTx');
  within(`${n.phyIngress} rx`, c.hostPhyIngressRx, c.sent, 'hostPhyIngressRx');
  within(`${n.kniIngress} tx`, c.hostKniIngressTx, c.sent, 'hostKniIngressTx');
  within(`guest ${n.guestIngress} rx`, c.guestIngressRx, c.sent, 'guestIngressRx');
  within(`guest ${n.guestEgress} tx`, c.guestEgressTx, c.returned, 'guestEgressTx');
  within(`${n.kniEgress} rx`, c.hostKniEgressRx, c.returned, 'hostKniEgressRx');
  within(`${n.phyEgress} tx`, c.hostPhyEgressTx, c.returned, 'hostPhyEgressTx');
  within(`TG ${n.tgRxPort} rx`, c.tgRx, c.returned, 'tgRx');
  const where = bypassed(c, n, slack) ?? whereGained(c, n, slack) ?? whereLost(c, n);
  if (where && (problems.length > 0 || c.sent - c.returned > allowedLoss)) problems.unshift(where);
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
  if (extra <= slack + (c.foreign?.hostPhyEgressTx?.unsure ?? 0)) return null;
  return `${n.phyEgress} sent ${c.hostPhyEgressTx} but the egress flow matched ${matched}: ${extra} packets reached ${n.phyEgress} without crossing the guest (a flow switching ${n.phyIngress} straight to it?)`;
}

interface Hop {
  what: string;
  /** null: a flow that is not in the table, so it counted nothing of its own. */
  count: number | null;
  /** What stands between this hop and the one before it, for the diagnosis. */
  before?: 'flow' | 'guest';
  /** Foreign frames it may also have counted (at the edges of the readings): its count is a range. */
  unsure?: number;
}

/**
 * The path's counters in the order the stream passes them. A flow that is not
 * in the table has no count; it is left out, and the hop after it takes its
 * place as where a flow stands.
 */
function hops(c: PathCounts, n: CounterNames): CountedHop[] {
  const unsure = (k: PortCounter) => c.foreign?.[k]?.unsure ?? 0;
  const path: Hop[] = [
    { what: `the TG sent on ${n.tgTxPort}`, count: c.tgTx, unsure: unsure('tgTx') },
    { what: `${n.phyIngress} received`, count: c.hostPhyIngressRx, unsure: unsure('hostPhyIngressRx') },
    { what: 'the ingress flow matched', count: c.flowIngress?.packets ?? null, before: 'flow' },
    { what: `${n.kniIngress} sent to the guest`, count: c.hostKniIngressTx, unsure: unsure('hostKniIngressTx') },
    { what: `the guest's ${n.guestIngress} received`, count: c.guestIngressRx, unsure: unsure('guestIngressRx') },
    { what: `the guest's ${n.guestEgress} sent`, count: c.guestEgressTx, before: 'guest', unsure: unsure('guestEgressTx') },
    { what: `${n.kniEgress} received`, count: c.hostKniEgressRx, unsure: unsure('hostKniEgressRx') },
    { what: 'the egress flow matched', count: c.flowEgress?.packets ?? null, before: 'flow' },
    { what: `${n.phyEgress} sent`, count: c.hostPhyEgressTx, unsure: unsure('hostPhyEgressTx') },
    { what: `the TG received on ${n.tgRxPort}`, count: c.tgRx, unsure: unsure('tgRx') },
  ];
  const counted: CountedHop[] = [];
  let missingFlow = false;
  for (const h of path) {
    if (h.count === null) missingFlow = true;
    else {
      counted.push({ ...h, count: h.count, ...(missingFlow ? { before: 'flow' as const } : {}) });
      missingFlow = false;
    }
  }
  return counted;
}

type CountedHop = Hop & { count: number };

/** A hop's count of the stream as a person reads it: "900", or "899-900" where foreign frames at the edges leave it open. */
const shown = (h: CountedHop) => (h.unsure ? `${h.count - h.unsure}-${h.count}` : `${h.count}`);

/** The first two neighbouring hops whose counts are `wrong`, described as "between A (a) and B (b)". */
function firstWrongHop(path: CountedHop[], wrong: (prev: number, got: number) => boolean) {
  for (let i = 1; i < path.length; i++) {
    const prev = path[i - 1]!;
    const hop = path[i]!;
    if (wrong(prev.count, hop.count))
      return { between: `between "${prev.what}" (${shown(prev)}) and "${hop.what}" (${shown(hop)})`, gain: hop.count - prev.count, before: hop.before };
  }
  return null;
}

const LOST_HINTS: Record<NonNullable<Hop['before']>, string> = {
  guest: ' (the guest did not forward them: ip_forward, rp_filter, route or ARP?)',
  flow: ' (no flow matched them)',
};

/** The first hop along the path whose count falls short of the one before it. */
export function whereLost(c: PathCounts, n: CounterNames): string | null {
  const w = firstWrongHop(hops(c, n), (prev, got) => got < Math.min(prev, c.sent));
  if (!w) return null;
  return `packets were lost ${w.between}${w.before ? LOST_HINTS[w.before] : ''}`;
}

/**
 * Where the stream was multiplied, if the TG got back more frames than the
 * distinct stream packets that returned (beyond the slack): the first hop that
 * counts more than the one before it.
 */
export function whereGained(c: PathCounts, n: CounterNames, slack: number): string | null {
  if (c.tgRx <= c.returned + slack + (c.foreign?.tgRx?.unsure ?? 0)) return null;
  const unsure = Math.max(0, ...Object.values(c.foreign ?? {}).map((f) => f.unsure));
  const w = firstWrongHop(hops(c, n), (prev, got) => got > prev + slack + unsure);
  if (!w) return null;
  const hint = w.before === 'guest' ? 'the guest sent more than it received: duplicated by the guest?' : 'duplicated on the path?';
  return `packets were multiplied ${w.between}: ${w.gain} more came out than went in (${hint})`;
}
