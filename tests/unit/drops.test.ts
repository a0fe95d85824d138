// Why packets were dropped, from the lab's own counters: the parsers of the
// guest kernel's counters (real outputs of this machine's kernel, nft and
// OVS-DPDK), and the findings named with their deltas; what was not read is
// said so, never guessed.
import { describe, expect, it } from 'vitest';
import {
  GUEST_DROP_COUNTERS_COMMAND,
  parseArpCacheStat,
  parseGuestDropCounters,
  parseNftRuleset,
  parseSnmpCounters,
  type GuestDropCounters,
} from '../../lib/parsers/kernel-counters.js';
import type { IpLink } from '../../lib/parsers/net.js';
import { parseInterfaceStatistics, type PortCounters } from '../../lib/parsers/ovs.js';
import { describeDrops, findDrops, type DropContext, type DropReadings } from '../../lib/verify/drops.js';
import { output } from '../helpers/fixtures.js';

const SNMP = output('proc-net-snmp-netstat-fresh-netns.txt');
const NFT = output('nft-a-list-ruleset-forward-drops.txt');

/** The same counters with some grown: "IpInAddrErrors" is /proc/net/snmp's "Ip:" group's "InAddrErrors" field. */
function grown(text: string, by: Record<string, number>): string {
  const lines = text.split('\n');
  for (let i = 0; i + 1 < lines.length; i += 2) {
    const group = lines[i]!.split(':')[0]!;
    const names = lines[i]!.split(/\s+/).slice(1);
    const values = lines[i + 1]!.split(/\s+/).slice(1);
    names.forEach((n, k) => {
      const add = by[`${group}${n}`];
      if (add) values[k] = String(Number(values[k]) + add);
    });
    lines[i + 1] = `${group}: ${values.join(' ')}`;
  }
  return lines.join('\n');
}

const guestText = (snmp: string, nft = NFT, arp = output('proc-net-stat-arp-cache-two-cpus.txt')) =>
  `${snmp}dutlab-section: arp_cache\n${arp}dutlab-section: nft\n${nft}${nft.endsWith('\n') ? '' : '\n'}dutlab-section: end\n`;

const CTX: DropContext = {
  guestLinks: ['vEth_port32', 'vEth_port33'],
  egressLink: 'vEth_port33',
  switchPorts: [
    { ofport: 16, name: 'port16' },
    { ofport: 32, name: 'port32' },
    { ofport: 33, name: 'port33' },
    { ofport: 17, name: 'port17' },
  ],
  stream: { count: 1000, sizes: [1518] },
};

const link = (name: string, mtu: number, drops: Record<string, number> = {}): IpLink => ({
  name,
  flags: ['UP'],
  operstate: 'UP',
  mtu,
  addrs: [],
  stats: { rxPackets: 0, rxBytes: 0, txPackets: 0, txBytes: 0 },
  drops: { rx_dropped: 0, tx_dropped: 0, ...drops },
});
const port = (p: Partial<PortCounters> = {}): PortCounters => ({
  rxPackets: 0,
  rxBytes: 0,
  rxDropped: 0,
  rxErrors: 0,
  txPackets: 0,
  txBytes: 0,
  txDropped: 0,
  txErrors: 0,
  ...p,
});
const STATS = output('ovs-vsctl-list-interface-statistics-dpdk.json');

function readings(after: GuestDropCounters, more: Partial<DropReadings> = {}): DropReadings {
  const before = parseGuestDropCounters(guestText(SNMP));
  const ports = new Map(['16', '32', '33', '17'].map((p) => [p, port()]));
  const stats = parseInterfaceStatistics(STATS);
  return {
    guestKernel: { before, after },
    guestLinks: { before: [link('vEth_port32', 1500), link('vEth_port33', 1500)], after: [link('vEth_port32', 1500), link('vEth_port33', 1500)] },
    switchPorts: { before: ports, after: ports },
    interfaceStatistics: { before: stats, after: stats },
    ...more,
  };
}

describe("the guest kernel's counters", () => {
  it('reads /proc/net/snmp and /proc/net/netstat under the names nstat gives them', () => {
    const c = parseSnmpCounters(SNMP);
    expect(c).toHaveProperty('IpInAddrErrors', 0);
    expect(c).toHaveProperty('IpExtInNoRoutes', 0);
    expect(c).toHaveProperty('TcpExtIPReversePathFilter', 0);
    expect(c).toHaveProperty('IpFragFails', 0);
    expect(c).toHaveProperty('IcmpOutDestUnreachs', 0);
    expect(parseSnmpCounters(grown(SNMP, { IpInAddrErrors: 7 })).IpInAddrErrors).toBe(7);
  });

  it('refuses a group whose values do not match its header, naming it', () => {
    const cut = SNMP.split('\n').slice(0, 3).join('\n');
    expect(() => parseSnmpCounters(cut)).toThrow(/cannot parse \/proc\/net\/snmp: expected a "Icmp:" header line followed by its values/);
    expect(() => parseSnmpCounters('Ip: Forwarding DefaultTTL\nIp: 1 x\n')).toThrow(/2 numbers for the Ip group/);
  });

  it("sums the neighbour table's per-CPU hexadecimal counters", () => {
    const c = parseArpCacheStat(output('proc-net-stat-arp-cache-two-cpus.txt'));
    expect(c).toHaveProperty('ArpUnresolvedDiscards', 0);
    expect(parseArpCacheStat('entries unresolved_discards\n00000001 0000000a\n00000001 00000005\n')).toEqual({ ArpEntries: 2, ArpUnresolvedDiscards: 15 });
  });

  it("reads nft's rules with their table, chain, hook, handle and counter, and the chains whose policy drops", () => {
    const r = parseNftRuleset(NFT);
    expect(r.rules.filter((x) => x.drops)).toEqual([
      {
        table: 'ip dutlab_fault',
        chain: 'forwarding',
        hook: 'forward',
        handle: 2,
        text: 'ip saddr 1.1.1.1 udp dport 1024 numgen inc mod 10 0 counter drop',
        packets: 0,
        bytes: 0,
        drops: true,
      },
      {
        table: 'ip dutlab_fault',
        chain: 'forwarding',
        hook: 'forward',
        handle: 3,
        text: 'ip saddr 1.1.1.1 udp dport 1024 numgen inc mod 10 0 drop',
        drops: true,
      },
    ]);
    expect(r.dropPolicies).toEqual([{ table: 'inet guard', chain: 'input', hook: 'input' }]);
  });

  it('says what it could not read: no nft, no neighbour table in a namespace', () => {
    const c = parseGuestDropCounters(guestText(SNMP, 'dutlab: no nft\n', 'cat: /proc/net/stat/arp_cache: No such file or directory\n'));
    expect(c.nft).toEqual({ notRead: 'nft is not installed' });
    expect(c.arp).toEqual({ notRead: 'the kernel keeps none here: no /proc/net/stat/arp_cache (a network namespace has none)' });
    expect(GUEST_DROP_COUNTERS_COMMAND).toContain('nft -a list ruleset');
  });

  it("reads OVS's Interface statistics as OVS-DPDK prints them", () => {
    const s = parseInterfaceStatistics(STATS);
    expect(s.get('port33')).toMatchObject({ ovs_tx_failure_drops: 0, rx_missed_errors: 0, ovs_tx_mtu_exceeded_drops: 0 });
    expect(() => parseInterfaceStatistics('name statistics')).toThrow(/expected JSON/);
  });
});

describe('why packets were dropped', () => {
  it('nothing grew: nothing is named (the arp table and the uncounted rule and the drop policy are still said)', () => {
    const f = findDrops(readings(parseGuestDropCounters(guestText(SNMP))), CTX);
    expect(f.drops).toEqual([]);
    expect(describeDrops(f)).toBe(
      "none of the lab's own drop counters grew; not read: nftables rule `ip saddr 1.1.1.1 udp dport 1024 numgen inc mod 10 0 drop` (table ip dutlab_fault, chain forwarding, hook forward): it drops, and has no counter; nftables chain input (table inet guard, hook input): its policy drops what no rule accepts, uncounted",
    );
  });

  it('forwarding off: IpInAddrErrors, with its delta and what the kernel counts there', () => {
    const f = findDrops(readings(parseGuestDropCounters(guestText(grown(SNMP, { IpInAddrErrors: 1000 })))), CTX);
    expect(f.drops).toEqual([
      { where: "the guest's kernel", counter: 'IpInAddrErrors', delta: 1000, meaning: expect.stringMatching(/when IP forwarding is off/) },
    ]);
  });

  it('the reverse-path filter, no route (with the ICMP errors sent back)', () => {
    const after = parseGuestDropCounters(guestText(grown(SNMP, { TcpExtIPReversePathFilter: 400, IpExtInNoRoutes: 600, IcmpOutDestUnreachs: 6 })));
    expect(describeDrops(findDrops(readings(after), CTX))).toMatch(
      /^the lab's own drop counters grew: the guest's kernel: TcpExtIPReversePathFilter \+400 \(dropped by the reverse-path filter \(rp_filter\).*\); the guest's kernel: IpExtInNoRoutes \+600 \(no route to their destination; the guest sent 6 ICMP destination-unreachable back\)/,
    );
  });

  it("frames larger than the egress link's MTU: how many, of what size, against which MTU, and the ICMP sent back", () => {
    const after = parseGuestDropCounters(guestText(grown(SNMP, { IpFragFails: 1000, IcmpOutDestUnreachs: 5 })));
    const r = readings(after);
    r.guestLinks.after = [link('vEth_port32', 1500), link('vEth_port33', 576)];
    expect(findDrops(r, { ...CTX, stream: { count: 1000, sizes: [64, 1518] } }).drops[0]!.meaning).toBe(
      "larger than the outgoing MTU with Don't Fragment set: not sent; 500 of the stream's frames (1518 bytes: IP packets of 1500) are larger than vEth_port33's MTU of 576; the guest sent 5 ICMP destination-unreachable back",
    );
  });

  it('an nftables rule that drops and counts: named by its text, table, chain and hook, with what it dropped over the stream', () => {
    const after = parseGuestDropCounters(guestText(SNMP, NFT.replace('counter packets 0 bytes 0 drop', 'counter packets 100 bytes 6000 drop')));
    expect(findDrops(readings(after), CTX).drops).toEqual([
      {
        where: "the guest's firewall",
        counter: 'nftables rule `ip saddr 1.1.1.1 udp dport 1024 numgen inc mod 10 0 counter drop` (table ip dutlab_fault, chain forwarding, hook forward)',
        delta: 100,
        meaning: 'dropped by this rule',
      },
    ]);
  });

  it("the guest's links and the switch's ports and Interface statistics, each where it grew", () => {
    const stats = parseInterfaceStatistics(STATS);
    const later = new Map(stats);
    later.set('port32', { ...stats.get('port32')!, ovs_tx_failure_drops: 744 });
    const r = readings(parseGuestDropCounters(guestText(SNMP, 'dutlab: no nft\n')), {
      interfaceStatistics: { before: stats, after: later },
      switchPorts: { before: new Map([['33', port()]]), after: new Map([['33', port({ rxDropped: 3 })]]) },
    });
    r.guestLinks.after = [link('vEth_port32', 1500, { rx_dropped: 12 }), link('vEth_port33', 1500)];
    const f = findDrops(r, CTX);
    expect(f.drops.map((d) => `${d.where}: ${d.counter} +${d.delta}`)).toEqual([
      "the guest's vEth_port32: rx_dropped +12",
      "the switch's port 33 (port33): rx drop +3",
      "the switch's port 32 (port32): ovs_tx_failure_drops +744",
    ]);
    expect(f.notRead).toEqual(["the guest's nftables rules (nft is not installed)"]);
  });

  it('a reading that failed is named as not read, with why; the others are still judged', () => {
    const r = readings(parseGuestDropCounters(guestText(grown(SNMP, { IpInAddrErrors: 3 }))), {
      interfaceStatistics: { before: { notRead: 'ovs-vsctl exited 1' }, after: { notRead: 'ovs-vsctl exited 1' } },
    });
    const f = findDrops(r, CTX);
    expect(f.notRead).toContain("the switch's Interface statistics (ovs-vsctl exited 1)");
    expect(f.drops.map((d) => d.counter)).toEqual(['IpInAddrErrors']);
  });
});
