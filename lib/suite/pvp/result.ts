// The PVP suite's record of its counters (the names dashboards read) and the
// tables made from what it measured (the PVP kind: lib/results/pvp.ts). Pure.
import { lossEventsLine } from '../../verify/gaps.js';
import type { CountersRecord } from '../../results/pvp.js';
import type { Table } from '../../results/run.js';
import type { Hop } from '../../testbed/path.js';
import { expectedAt, type PathCounts } from '../../verify/counters.js';
import type { Findings } from '../../verify/drops.js';
import type { PacketVerdict } from '../../verify/packets.js';

/** The path's hop ids (lib/testbed/path.ts) under their recorded names. */
const RECORDED_AS: Record<string, string> = {
  tgTx: 'tgTx',
  phyIngressRx: 'hostPhyIngressRx',
  vmIngressTx: 'hostKniIngressTx',
  guestIngressRx: 'guestIngressRx',
  guestEgressTx: 'guestEgressTx',
  vmEgressRx: 'hostKniEgressRx',
  phyEgressTx: 'hostPhyEgressTx',
  tgRx: 'tgRx',
};
const FLOWS_AS: Record<string, 'flowIngress' | 'flowEgress'> = { ingressFlow: 'flowIngress', egressFlow: 'flowEgress' };

/** The record of a run's counters, from the path's counts (the edge where hop ids become the names dashboards read). */
export function countersRecord(c: PathCounts): CountersRecord {
  const rec: Record<string, unknown> = { sent: c.sent, sentBytes: c.sentBytes, returned: c.returned, returnedBytes: c.returnedBytes };
  const more: Record<string, number | null> = {};
  for (const [id, count] of Object.entries(c.hops)) {
    const flow = FLOWS_AS[id];
    if (flow) rec[flow] = count === null || count === undefined ? null : { packets: count, bytes: c.bytes?.[id] ?? 0 };
    else if (RECORDED_AS[id]) rec[RECORDED_AS[id]] = count ?? 0;
    else more[id] = count ?? null;
  }
  if (Object.keys(more).length > 0) rec.more = more;
  if (c.foreign) rec.foreign = Object.fromEntries(Object.entries(c.foreign).map(([id, f]) => [RECORDED_AS[id] ?? id, f]));
  return rec as unknown as CountersRecord;
}

/** The return capture's count, for summary.md. */
export function packetsTable(p: PacketVerdict): Table {
  const counts = [p.sent, p.received, p.lost, p.duplicated, p.reordered, p.mismatched, p.other.total].map(String);
  const flows = p.flows ? [`${p.flows.complete}/${p.flows.count}`, String(p.flows.missing)] : [];
  return {
    title: 'Packets',
    columns: ['sent', 'received', 'lost', 'duplicated', 'reordered', 'mismatched', 'other', ...(p.flows ? ['flows whole', 'flows lost'] : [])],
    rows: [[...counts, ...flows]],
    notes: [
      ...p.problems.slice(0, 10),
      ...(p.gaps && lossEventsLine(p.gaps) ? [lossEventsLine(p.gaps)!] : []),
      ...(p.flows?.sample ?? []).slice(0, 10).map((f) => `flow ${f.flow}: ${f.received} of ${f.sent} came back`),
    ],
  };
}

/**
 * Every counter along the path against what the stream should have made it
 * count, for summary.md: what it counted, the frames that were not the stream
 * (taken off, from the captures on its wire; "+N?" those that may or may not
 * have been counted), the stream's count, and the verdict the counter check
 * gave it: a count above the stream within the allowance for other traffic is
 * not a difference.
 */
export function countersTable(path: readonly Hop[], c: PathCounts, slack = 0): Table {
  const foreign = c.foreign !== undefined;
  const row = (h: Hop) => {
    const got = c.hops[h.id];
    const want = expectedAt(h, c);
    const f = c.foreign?.[h.id];
    const taken = f ? `${f.subtracted}${f.unsure ? ` +${f.unsure}?` : ''}` : '0';
    const allowed = slack + (f?.unsure ?? 0);
    const verdict =
      got === null || got === undefined
        ? 'DIFFERS'
        : got === want
          ? 'ok'
          : got > want && got <= want + allowed
            ? `ok (+${got - want}, within the ${allowed} allowed for other traffic)`
            : 'DIFFERS';
    const stream = got === null || got === undefined ? '-' : String(got);
    const counted = got === null || got === undefined ? '-' : String(got + (f?.subtracted ?? 0));
    return foreign ? [h.label, counted, taken, stream, String(want), verdict] : [h.label, stream, String(want), verdict];
  };
  return {
    title: 'Counters along the path (deltas over the run)',
    columns: foreign ? ['counter', 'counted', 'not the stream (taken off)', 'the stream', 'expected', ''] : ['counter', 'counted', 'expected', ''],
    rows: path.map(row),
  };
}

/** The lab's own drop counters that grew over the stream, for summary.md. */
export function dropsTable(f: Findings): Table {
  return {
    title: "Why packets were dropped: the lab's own counters that grew",
    columns: ['where', 'counter', 'grew by', 'what it counts'],
    rows: f.drops.map((d) => [d.where, d.counter, String(d.delta), d.meaning]),
    notes: f.notRead.map((n) => `not read: ${n}`),
  };
}
