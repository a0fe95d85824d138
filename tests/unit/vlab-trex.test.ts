// The virtual lab's TRex: its platform config (software mode on the TG's
// veths, its own DPDK prefix, low_end on the generator's core), every value
// that reaches the file checked.
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { trexConfig, trexCore } from '../../lib/vlab/trex.js';

const PORTS = [
  { iface: 'tg0', srcMac: 'CA:3E:81:F1:2E:FB', dstMac: '02:aa:00:00:00:10' },
  { iface: 'tg1', srcMac: 'f6:d1:0c:39:db:6a', dstMac: '02:aa:00:00:00:11' },
];

describe("the virtual lab's TRex config", () => {
  it("is trex_cfg.yaml version 2 for two veths, low_end on the given core, the lab's own prefix, each port addressed to its DUT port", () => {
    expect(parse(trexConfig(PORTS, 'dutlab-a-trex', 1))).toEqual([
      {
        version: 2,
        port_limit: 2,
        interfaces: ['tg0', 'tg1'],
        low_end: true,
        low_end_core: 1,
        prefix: 'dutlab-a-trex',
        port_info: [
          { src_mac: 'ca:3e:81:f1:2e:fb', dest_mac: '02:aa:00:00:00:10' },
          { src_mac: 'f6:d1:0c:39:db:6a', dest_mac: '02:aa:00:00:00:11' },
        ],
      },
    ]);
  });

  it('refuses a value that would not mean what it says in the file', () => {
    expect(() => trexConfig(PORTS, 'rte; x', 1)).toThrow(/TRex prefix "rte; x"/);
    expect(() => trexConfig([{ ...PORTS[0]!, iface: "tg0'" }], 'p', 1)).toThrow(/TRex interface "tg0'" is not an interface name/);
    expect(() => trexConfig([{ ...PORTS[0]!, srcMac: 'zz:00:00:00:00:00' }], 'p', 1)).toThrow(/TRex port MAC "zz:00:00:00:00:00" is not a MAC address/);
  });

  it("runs on the generator's core: the first of --pin's, else the last CPU that is not a PMD core", () => {
    expect(trexCore('1', 2)).toBe(1);
    expect(trexCore('2-3', 4)).toBe(2);
    expect(trexCore(undefined, 2)).toBe(1);
    expect(trexCore(undefined, 1)).toBe(0);
    // Never beside a PMD core of the DPDK datapath when another is free.
    expect(trexCore(undefined, 2, '0x2')).toBe(0);
    expect(trexCore(undefined, 4, '0xc')).toBe(1);
    expect(trexCore(undefined, 2, '0x3')).toBe(1);
  });
});
