// Counters along the path (lib/testbed/path.ts), checked against the stream
// and against each other. Where they first fall short says where the packets
// were lost. Every function here walks the path's hops: none names a port.
import type { ForeignFrames } from '../results/pvp.js';
import type { Hop, HopId } from '../testbed/path.js';

export type { ForeignFrames } from '../results/pvp.js';

export interface PathCounts {
  sent: number;
  sentBytes: number;
  /** Distinct stream packets captured back on the TG. */
  returned: number;
  returnedBytes: number;
  /** Each hop's count over the run (a delta), by hop id; null: a flow missing from the table, which counted nothing of its own. */
  hops: Partial<Record<HopId, number | null>>;
  /** Bytes, where a hop counts them too (the flows): checked when its packet count is right. */
  bytes?: Partial<Record<HopId, number>>;
  /**
   * Foreign frames (not the stream) a capture on the same wire saw between
   * the readings: already subtracted from the counts above. `unsure` are
   * those that may or may not have been counted: a counter may exceed the
   * stream by that many (and by the slack) without blame.
   */
  foreign?: Partial<Record<HopId, ForeignFrames>>;
}

export interface CounterLimits {
  /** Packets other than the stream's that a counter may also have counted (ARP, LLDP on a real lab). */
  slack: number;
  /** Stream packets that may be lost without failing the run: the packet check's own allowance. */
  allowedLoss: number;
}

/** What a hop must have counted: every packet sent, or every packet that came back. */
export const expectedAt = (h: Hop, c: PathCounts): number => (h.carries === 'sent' ? c.sent : c.returned);
const expectedBytes = (h: Hop, c: PathCounts): number => (h.carries === 'sent' ? c.sentBytes : c.returnedBytes);
const unsureAt = (h: Hop, c: PathCounts): number => c.foreign?.[h.id]?.unsure ?? 0;
const isFlow = (h: Hop) => h.at.on === 'flow';

/**
 * Each counter must be at least the packets that passed it, and at most that
 * plus `slack` others. Loss within the allowance is no failure here either:
 * the packet check and this one must not disagree on the same packets. The
 * flows are judged first: a flow missing from the table says the most.
 */
export function checkCounters(path: readonly Hop[], c: PathCounts, { slack, allowedLoss }: CounterLimits): string[] {
  const problems: string[] = [];
  for (const h of [...path.filter(isFlow), ...path.filter((x) => !isFlow(x))]) {
    const got = c.hops[h.id] ?? null;
    const want = expectedAt(h, c);
    if (got === null) {
      problems.push(isFlow(h) ? `${h.name} is missing from the flow table` : `${h.counter} was not read`);
      continue;
    }
    const allowed = slack + unsureAt(h, c);
    if (got < want) problems.push(`${h.counter} counted ${got}, expected ${want}`);
    else if (got > want + allowed) problems.push(`${h.counter} counted ${got}, expected ${want}${allowed ? ` (+${allowed} allowed for other traffic)` : ''}`);
    const bytes = c.bytes?.[h.id];
    if (got === want && bytes !== undefined && bytes !== expectedBytes(h, c))
      problems.push(`${h.counter.replace(/n_packets$/, 'n_bytes')} ${bytes}, expected ${expectedBytes(h, c)}`);
  }
  const where = bypassed(path, c, slack) ?? whereGained(path, c, slack) ?? whereLost(path, c);
  if (where && (problems.length > 0 || c.sent - c.returned > allowedLoss)) problems.unshift(where);
  return problems;
}

/**
 * Packets that left the port after the path's last flow without that flow
 * sending them came another way: a flow that switches the ingress port
 * straight out skips the guest, and would pass a check that only counts
 * returned packets.
 */
export function bypassed(path: readonly Hop[], c: PathCounts, slack: number): string | null {
  const flows = path.filter(isFlow);
  const last = flows[flows.length - 1];
  if (!last || !flows[0]) return null;
  const out = path[path.indexOf(last) + 1];
  const into = path[path.indexOf(flows[0]) - 1];
  if (!out || !into) return null;
  const matched = c.hops[last.id] ?? 0;
  const extra = (c.hops[out.id] ?? 0) - matched;
  if (extra <= slack + unsureAt(out, c)) return null;
  return `${out.name} sent ${c.hops[out.id]} but ${last.name} matched ${matched}: ${extra} packets reached ${out.name} without crossing the guest (a flow switching ${into.name} straight to it?)`;
}

type CountedHop = Hop & { count: number; unsure: number };

/**
 * The path's hops that counted, in the order the stream passes them. A flow
 * that is not in the table has no count; it is left out, and the hop after
 * it takes its place as where a flow stands.
 */
function counted(path: readonly Hop[], c: PathCounts): CountedHop[] {
  const out: CountedHop[] = [];
  let missingFlow = false;
  for (const h of path) {
    const count = c.hops[h.id] ?? null;
    if (count === null) missingFlow = true;
    else {
      out.push({ ...h, count, unsure: unsureAt(h, c), ...(missingFlow ? { after: 'flow' as const } : {}) });
      missingFlow = false;
    }
  }
  return out;
}

/** A hop's count of the stream as a person reads it: "900", or "899-900" where foreign frames at the edges leave it open. */
const shown = (h: CountedHop) => (h.unsure ? `${h.count - h.unsure}-${h.count}` : `${h.count}`);

/** The first two neighbouring hops whose counts are `wrong`, described as "between A (a) and B (b)". */
function firstWrongHop(path: CountedHop[], wrong: (prev: number, got: number) => boolean) {
  for (let i = 1; i < path.length; i++) {
    const prev = path[i - 1]!;
    const hop = path[i]!;
    if (wrong(prev.count, hop.count))
      return { between: `between "${prev.what}" (${shown(prev)}) and "${hop.what}" (${shown(hop)})`, gain: hop.count - prev.count, after: hop.after };
  }
  return null;
}

const LOST_HINTS: Record<NonNullable<Hop['after']>, string> = {
  guest: ' (the guest did not forward them: ip_forward, rp_filter, route or ARP?)',
  flow: ' (no flow matched them)',
};

/** The first hop along the path whose count falls short of the one before it. */
export function whereLost(path: readonly Hop[], c: PathCounts): string | null {
  const w = firstWrongHop(counted(path, c), (prev, got) => got < Math.min(prev, c.sent));
  if (!w) return null;
  return `packets were lost ${w.between}${w.after ? LOST_HINTS[w.after] : ''}`;
}

/**
 * Where the stream was multiplied, if the TG got back more frames than the
 * distinct stream packets that returned (beyond the slack): the first hop that
 * counts more than the one before it.
 */
export function whereGained(path: readonly Hop[], c: PathCounts, slack: number): string | null {
  const last = path[path.length - 1];
  if (!last || (c.hops[last.id] ?? 0) <= c.returned + slack + unsureAt(last, c)) return null;
  const unsure = Math.max(0, ...Object.values(c.foreign ?? {}).map((f) => f?.unsure ?? 0));
  const w = firstWrongHop(counted(path, c), (prev, got) => got > prev + slack + unsure);
  if (!w) return null;
  const hint = w.after === 'guest' ? 'the guest sent more than it received: duplicated by the guest?' : 'duplicated on the path?';
  return `packets were multiplied ${w.between}: ${w.gain} more came out than went in (${hint})`;
}
