// The OpenFlow rules the lab installs for the stream (traffic.rules, both
// directions where traffic.direction says so), and the static MAC entries
// `normal` rules need: what the switch step adds and every check reads back.
// Pure.
import { flowAt, intIp, latencyPortOf, reverseOf, type FlowFields } from './flows.js';
import type { FlowSpec, Testbed } from './schema.js';
import { topologyOf } from './topology.js';

/** A flow the switch gets: the file's (addresses always), or one of the stream's rules (`port` rules match no address, `flow` rules the whole 5-tuple). */
export type SwitchFlow = Omit<FlowSpec, 'nwSrc' | 'nwDst' | 'output'> & {
  nwSrc?: string;
  nwDst?: string;
  udp?: { src: number; dst: number };
  /** An OpenFlow port, or NORMAL: the switch's own forwarding by its MAC table (traffic.rules: normal). */
  output: number | 'NORMAL';
};

/**
 * The flows the switch gets: the file's, or the stream's (phy→VM ingress,
 * VM→phy egress) as traffic.rules says: the guide's match the stream's
 * address pair, `port` rules in_port alone (any flow's addresses), `normal`
 * rules in_port to the switch's MAC table (staticMacsOf), `flow`
 * rules one pair per 5-tuple of the traffic's flows and one for the latency
 * stream's.
 */
export function flowsOf(tb: Testbed): SwitchFlow[] {
  if (tb.flows.length > 0) return tb.flows;
  const { forward, reverse } = pathWays(tb);
  const base = { dlType: '0x0800', idleTimeout: 0 };
  const t = tb.traffic;
  if (t.rules === 'port') return [...forward, ...reverse].map((w) => ({ ...base, ...w }));
  if (t.rules === 'normal') return [...forward, ...reverse].map((w) => ({ ...base, ...w, output: 'NORMAL' as const }));
  if (t.rules === 'guide')
    return [
      ...forward.map((w) => ({ ...base, ...w, nwSrc: t.srcIp, nwDst: t.dstIp })),
      ...reverse.map((w) => ({ ...base, ...w, nwSrc: t.dstIp, nwDst: t.srcIp })),
    ];
  const exact = (f: FlowFields) => ({ nwSrc: intIp(f.srcIp), nwDst: intIp(f.dstIp), udp: { src: f.srcPort, dst: f.dstPort } });
  // Each flow's rules (forward, then reverse), then the latency stream's pair (its own destination port; forward only).
  const latency = { ...flowAt(t, undefined, 0), dstPort: latencyPortOf(t.dstPort) };
  return [
    ...Array.from({ length: t.flows?.count ?? 1 }, (_, i) => flowAt(t, t.flows, i)).flatMap((f) => [
      ...forward.map((w) => ({ ...base, ...w, ...exact(f) })),
      ...reverse.map((w) => ({ ...base, ...w, ...exact(reverseOf(f)) })),
    ]),
    ...forward.map((w) => ({ ...base, ...w, ...exact(latency) })),
  ];
}

/** A rule's ports: where the stream comes in and where it must go out. */
export interface Way {
  inPort: number;
  output: number;
}

/** The switch's hops of each direction (phy -> VM, VM -> phy); none reverse unless traffic.direction is both. */
export function pathWays(tb: Testbed): { forward: Way[]; reverse: Way[] } {
  const t = topologyOf(tb);
  return {
    forward: [
      { inPort: t.phyIngress.ofport, output: t.vmIngress.ofport },
      { inPort: t.vmEgress.ofport, output: t.phyEgress.ofport },
    ],
    reverse:
      tb.traffic.direction === 'both'
        ? [
            { inPort: t.phyEgress.ofport, output: t.vmEgress.ofport },
            { inPort: t.vmIngress.ofport, output: t.phyIngress.ofport },
          ]
        : [],
  };
}

/** A MAC the switch's table holds as a static entry for `rules: normal`, on the port the stream's frames to it leave by. */
export interface StaticMac {
  mac: string;
  port: string;
  ofport: number;
}

/**
 * `rules: normal`: the four MACs of the path, each on its port, so that the
 * switch forwards every frame by its table from the first one and floods
 * none (the TG's receive port sends nothing it could learn from): the
 * stream's source behind phy ingress, the guest's vEths behind their ports,
 * the gateway behind phy egress.
 */
export function staticMacsOf(tb: Testbed): StaticMac[] {
  if (tb.traffic.rules !== 'normal' || tb.flows.length > 0) return [];
  const t = topologyOf(tb);
  return [
    { mac: tb.traffic.srcMac, port: t.phyIngress.name, ofport: t.phyIngress.ofport },
    { mac: t.vmIngress.mac, port: t.vmIngress.name, ofport: t.vmIngress.ofport },
    { mac: t.vmEgress.mac, port: t.vmEgress.name, ofport: t.vmEgress.ofport },
    { mac: t.gateway.mac, port: t.phyEgress.name, ofport: t.phyEgress.ofport },
  ].map((m) => ({ ...m, mac: m.mac.toLowerCase() }));
}
