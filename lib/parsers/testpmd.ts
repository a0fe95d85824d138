// A testpmd guest's counters (vm.forwarding: testpmd): DPDK's telemetry
// socket answers `/ethdev/stats,<port>` with a JSON object a line
// (dpdk-telemetry.py prints each answer as `{"/ethdev/stats": {...}}`), read
// here as the guest's links, so that the path's guest hops count as they do
// on a kernel guest. A port's id is its rank in PCI scan order (DPDK probes
// the bus in address order, whatever order -a names the devices in).
import { ParseError } from '../errors.js';
import type { IpLink } from './net.js';

/** The bind step's record: a line per NIC, "vEth_port32 0000:00:03.0". */
export function parseTestpmdPorts(text: string): Array<{ iface: string; pci: string; port: number }> {
  const lines = text.trim().split('\n').filter(Boolean);
  const nics = lines.map((l) => {
    const m = /^(\S+) ([0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7])$/.exec(l.trim());
    if (!m) throw new ParseError("testpmd's ports", 'a line "<NIC> <PCI address>" per NIC', text);
    return { iface: m[1]!, pci: m[2]! };
  });
  const order = nics.map((n) => n.pci).sort();
  return nics.map((n) => ({ ...n, port: order.indexOf(n.pci) }));
}

const STATS = ['ipackets', 'opackets', 'ibytes', 'obytes', 'imissed', 'ierrors', 'oerrors', 'rx_nombuf'] as const;
export type EthdevStats = Record<(typeof STATS)[number], number>;

/** dpdk-telemetry.py's answers to `/ethdev/stats,N`, in the order asked; a port it does not know is null. */
export function parseEthdevStats(text: string): Array<EthdevStats | null> {
  const what = "testpmd's telemetry (/ethdev/stats)";
  return text
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => {
      let o: unknown;
      try {
        o = JSON.parse(l);
      } catch {
        throw new ParseError(what, 'a JSON object a line', l);
      }
      const stats = (o as Record<string, unknown>)['/ethdev/stats'];
      if (stats === null) return null;
      if (typeof stats !== 'object' || stats === undefined) throw new ParseError(what, 'an "/ethdev/stats" answer', l);
      const s = stats as Record<string, unknown>;
      for (const k of STATS) if (typeof s[k] !== 'number') throw new ParseError(what, `a number "${k}"`, l);
      return Object.fromEntries(STATS.map((k) => [k, s[k] as number])) as EthdevStats;
    });
}

/** The guest's NICs as links, their counters testpmd's: what the path's guest hops read. */
export function testpmdLinks(ports: ReturnType<typeof parseTestpmdPorts>, stats: Array<EthdevStats | null>): IpLink[] {
  return ports.map(({ iface, port }) => {
    const s = stats[port];
    if (!s) throw new ParseError("testpmd's telemetry", `the counters of port ${port} (${iface})`, JSON.stringify(stats));
    return {
      name: iface,
      flags: ['UP'],
      operstate: 'UP',
      addrs: [],
      stats: { rxPackets: s.ipackets, rxBytes: s.ibytes, txPackets: s.opackets, txBytes: s.obytes },
      drops: { rx_missed: s.imissed, rx_errors: s.ierrors, tx_errors: s.oerrors, rx_nombuf: s.rx_nombuf },
    };
  });
}
