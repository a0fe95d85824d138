// Each check the harness makes on the lab, fed the state a broken lab shows:
// it must fail, and say what is wrong.
import { describe, expect, it } from 'vitest';
import { parseDmesg } from '../../lib/parsers/dmesg.js';
import { parseIfconfig, parseNeighbours, parseRoutes, parseSysctl } from '../../lib/parsers/net.js';
import { parseDumpFlows, parseOvsVsctlShow } from '../../lib/parsers/ovs.js';
import { expectedPorts, expectedVeths } from '../../lib/profiles/steps.js';
import { legacyKni, virtual } from '../../lib/profiles/index.js';
import { loadTestbed } from '../../lib/testbed/load.js';
import { checkCounters, whereLost, type PathCounts } from '../../lib/verify/counters.js';
import { allowedLoss } from '../../lib/verify/packets.js';
import {
  checkDefaultRoute,
  checkFlowsInstalled,
  checkGuestIfaces,
  checkKernelHealthy,
  checkKniDmesg,
  checkOvsShow,
  checkStaticArp,
  checkSysctl,
} from '../../lib/verify/state.js';
import { fixturePath, output } from '../helpers/fixtures.js';

const tb = loadTestbed(fixturePath('testbeds/legacy-kni.yaml'));
const vEths = expectedVeths(tb);
const flows = [
  { inPort: 16, nwSrc: '1.1.1.1', nwDst: '6.6.6.2', output: 32 },
  { inPort: 33, nwSrc: '1.1.1.1', nwDst: '6.6.6.2', output: 17 },
];

describe('ovs-vsctl show check', () => {
  it("passes the guide's output for the legacy profile and the lab's for the virtual one", () => {
    expect(checkOvsShow(parseOvsVsctlShow(output('ovs-vsctl-show-guide-dpdk-br0.txt')), 'br0', 'dpdk', expectedPorts(tb, legacyKni))).toEqual([]);
    expect(checkOvsShow(parseOvsVsctlShow(output('ovs-vsctl-show-netdev-br0-four-system-ports.txt')), 'br0', 'netdev', expectedPorts(tb, virtual))).toEqual([]);
  });

  it('names a port of the wrong type, a missing bridge, an interface error', () => {
    const guide = parseOvsVsctlShow(output('ovs-vsctl-show-guide-dpdk-br0.txt'));
    expect(checkOvsShow(guide, 'br0', 'dpdk', expectedPorts(tb, virtual))).toContain('interface port16 has type "dpdkphy", expected "system"');
    expect(checkOvsShow(guide, 'br1', 'dpdk', [])).toEqual(['bridge br1 is missing (bridges: br0)']);
    const broken = parseOvsVsctlShow(output('ovs-vsctl-show-two-bridges-one-error.txt'));
    expect(checkOvsShow(broken, 'br0', 'netdev', [{ name: 'nosuch0', ofport: 99, type: '', options: {} }])).toEqual([
      'interface nosuch0 reports an error: could not open network device nosuch0 (No such device)',
    ]);
  });
});

describe('flow table check', () => {
  it('passes the two flows and names a missing or extra one', () => {
    const installed = parseDumpFlows(output('dump-flows-two-flows-after-100.txt'));
    expect(checkFlowsInstalled(installed, flows)).toEqual([]);
    expect(checkFlowsInstalled(installed.slice(1), flows)).toEqual(['flow in_port=16,nw_src=1.1.1.1,nw_dst=6.6.6.2 -> output:32 is not installed']);
    expect(checkFlowsInstalled(parseDumpFlows(output('dump-flows-default-normal-flow.txt')), flows)).toContain(
      'unexpected flow(s) in the table: priority=0 actions=NORMAL',
    );
  });
});

describe('guest state checks', () => {
  it('passes the configured guest', () => {
    expect(checkGuestIfaces(parseIfconfig(output('ifconfig-a-guest-configured-new-format.txt')), vEths)).toEqual([]);
    expect(
      checkSysctl(parseSysctl(output('sysctl-forwarding-on-rp-filter-off.txt')), {
        'net.ipv4.ip_forward': '1',
        'net.ipv4.conf.all.rp_filter': '0',
        'net.ipv4.conf.vEth_port32.rp_filter': '0',
      }),
    ).toEqual([]);
    expect(checkDefaultRoute(parseRoutes(output('ip-route-default-via-gateway.txt')), '3.3.3.2', 'vEth_port33')).toEqual([]);
    expect(checkStaticArp(parseNeighbours(output('arp-n-static-gateway.txt')), '3.3.3.2', 'DE:AD:BE:EF:CA:FE', 'vEth_port33')).toEqual([]);
  });

  it('names a vEth that is down, or has no address', () => {
    expect(checkGuestIfaces(parseIfconfig(output('ifconfig-a-guest-egress-down-old-format.txt')), vEths)).toEqual([
      'vEth_port33 is not UP (flags: BROADCAST,MULTICAST)',
      'vEth_port33 is not RUNNING (flags: BROADCAST,MULTICAST)',
    ]);
    expect(checkGuestIfaces(parseIfconfig(output('ifconfig-a-guest-ingress-down-no-address.txt')), vEths)).toEqual(
      expect.arrayContaining(['vEth_port32 is not UP (flags: BROADCAST,MULTICAST)', 'vEth_port32 has address (none), expected 2.2.2.1']),
    );
  });

  it('names a wrong MAC and netmask', () => {
    const ifs = parseIfconfig(output('ifconfig-a-guest-configured-new-format.txt'));
    expect(checkGuestIfaces(ifs, [{ name: 'vEth_port32', mac: '00:4B:4E:49:30:09', cidr: '2.2.2.1/16' }])).toEqual([
      'vEth_port32 has MAC 00:4b:4e:49:30:00, expected 00:4b:4e:49:30:09',
      'vEth_port32 has netmask 255.255.255.0, expected 255.255.0.0',
    ]);
  });

  it('names forwarding off and reverse path filtering on', () => {
    expect(
      checkSysctl(
        { 'net.ipv4.ip_forward': '0', 'net.ipv4.conf.vEth_port32.rp_filter': '1' },
        { 'net.ipv4.ip_forward': '1', 'net.ipv4.conf.vEth_port32.rp_filter': '0' },
      ),
    ).toEqual(['net.ipv4.ip_forward is 0, expected 1', 'net.ipv4.conf.vEth_port32.rp_filter is 1, expected 0']);
  });

  it('names a missing or wrong default route', () => {
    expect(checkDefaultRoute([], '3.3.3.2', 'vEth_port33')).toEqual(['no default route (expected via 3.3.3.2 dev vEth_port33)']);
    expect(checkDefaultRoute([{ dst: 'default', gateway: '2.2.2.9', dev: 'vEth_port32' }], '3.3.3.2', 'vEth_port33')).toEqual([
      'the default route is via 2.2.2.9 dev vEth_port32, expected via 3.3.3.2 dev vEth_port33',
    ]);
  });

  it('names an ARP entry with another MAC, or one that is not static', () => {
    expect(
      checkStaticArp(parseNeighbours('3.3.3.2 dev vEth_port33 lladdr 00:11:22:33:44:55 PERMANENT'), '3.3.3.2', 'DE:AD:BE:EF:CA:FE', 'vEth_port33'),
    ).toEqual(['the gateway 3.3.3.2 resolves to 00:11:22:33:44:55, expected de:ad:be:ef:ca:fe']);
    expect(
      checkStaticArp(parseNeighbours('3.3.3.2 dev vEth_port33 lladdr de:ad:be:ef:ca:fe REACHABLE'), '3.3.3.2', 'DE:AD:BE:EF:CA:FE', 'vEth_port33'),
    ).toEqual(['the ARP entry for 3.3.3.2 is not static (PERMANENT)']);
    expect(checkStaticArp([], '3.3.3.2', 'DE:AD:BE:EF:CA:FE', 'vEth_port33')).toEqual(['no ARP entry for the gateway 3.3.3.2 on vEth_port33']);
  });
});

describe('dmesg checks', () => {
  it('passes the KNI load lines of the guide and fails the NOT-found variant', () => {
    expect(checkKniDmesg(parseDmesg(output('dmesg-kni-ivshmem-found.txt')))).toEqual([]);
    expect(checkKniDmesg(parseDmesg(output('dmesg-kni-ivshmem-not-found.txt')))).toEqual([
      'dmesg lacks "KNI: IVSHMEM metadata found"',
      'dmesg says "KNI: IVSHMEM metadata NOT found"',
    ]);
  });

  it('fails a kernel that logged an Oops', () => {
    const p = checkKernelHealthy(parseDmesg(output('dmesg-no-timestamps-oops.txt')), 'guest');
    expect(p[0]).toBe('guest kernel logged: BUG: unable to handle kernel NULL pointer dereference at 0000000000000008');
    expect(checkKernelHealthy(parseDmesg(output('dmesg-kni-ivshmem-found.txt')), 'guest')).toEqual([]);
  });
});

describe('counters along the path', () => {
  const good: PathCounts = {
    sent: 1000,
    sentBytes: 60000,
    returned: 1000,
    returnedBytes: 60000,
    flowIngress: { packets: 1000, bytes: 60000 },
    flowEgress: { packets: 1000, bytes: 60000 },
    tgTx: 1000,
    hostPhyIngressRx: 1000,
    hostKniIngressTx: 1000,
    guestIngressRx: 1000,
    guestEgressTx: 1000,
    hostKniEgressRx: 1000,
    hostPhyEgressTx: 1000,
    tgRx: 1000,
  };
  const names = {
    tgTxPort: 'tg0',
    phyIngress: 'port 16',
    kniIngress: 'port 32',
    guestIngress: 'vEth_port32',
    guestEgress: 'vEth_port33',
    kniEgress: 'port 33',
    phyEgress: 'port 17',
    tgRxPort: 'tg1',
  };
  const exact = { slack: 0, allowedLoss: 0 };
  /** The guest dropped `n` packets: every counter after it shows n fewer, consistently. */
  const guestDropped = (n: number): PathCounts => ({
    ...good,
    returned: 1000 - n,
    returnedBytes: 60 * (1000 - n),
    guestEgressTx: 1000 - n,
    hostKniEgressRx: 1000 - n,
    flowEgress: { packets: 1000 - n, bytes: 60 * (1000 - n) },
    hostPhyEgressTx: 1000 - n,
    tgRx: 1000 - n,
  });

  it('passes counters that agree with the stream and with each other', () => {
    expect(checkCounters(good, names, exact)).toEqual([]);
  });

  // Foreign frames (lib/verify/foreign.ts) already subtracted; `unsure` are those only possibly counted.
  it('allows a counter the frames that may or may not have fallen between its readings, and no more', () => {
    const c = { ...good, hostPhyIngressRx: 1003, foreign: { hostPhyIngressRx: { subtracted: 40, unsure: 3 } } };
    expect(checkCounters(c, names, exact)).toEqual([]);
    const over = { ...c, hostPhyIngressRx: 1004 };
    expect(checkCounters(over, names, exact)).toContain('port 16 rx counted 1004, expected 1000 (+3 allowed for other traffic)');
  });

  it('still finds the loss that foreign frames would have hidden in the raw counters', () => {
    // The guest forwarded 900 of 1000; 136 of its own frames went out too, and were told apart.
    const c = {
      ...good,
      guestEgressTx: 900,
      hostKniEgressRx: 900,
      flowEgress: { packets: 900, bytes: 54000 },
      hostPhyEgressTx: 900,
      tgRx: 900,
      returned: 900,
      returnedBytes: 54000,
      foreign: { guestEgressTx: { subtracted: 136, unsure: 1 } },
    };
    // One of those may or may not have been counted (it went out as the counter was read): the count is a range.
    expect(checkCounters(c, names, exact)[0]).toMatch(
      /^packets were lost between "the guest's vEth_port32 received" \(1000\) and "the guest's vEth_port33 sent" \(899-900\)/,
    );
  });

  it('says where packets were lost: the guest did not forward them', () => {
    const c = {
      ...good,
      returned: 0,
      returnedBytes: 0,
      guestEgressTx: 0,
      hostKniEgressRx: 0,
      flowEgress: { packets: 0, bytes: 0 },
      hostPhyEgressTx: 0,
      tgRx: 0,
    };
    const p = checkCounters(c, names, exact);
    expect(p[0]).toBe(
      `packets were lost between "the guest's vEth_port32 received" (1000) and "the guest's vEth_port33 sent" (0) (the guest did not forward them: ip_forward, rp_filter, route or ARP?)`,
    );
  });

  it('says where packets were lost: no ingress flow matched', () => {
    const c = {
      ...good,
      flowIngress: null,
      hostKniIngressTx: 0,
      guestIngressRx: 0,
      guestEgressTx: 0,
      hostKniEgressRx: 0,
      flowEgress: { packets: 0, bytes: 0 },
      hostPhyEgressTx: 0,
      tgRx: 0,
      returned: 0,
    };
    expect(whereLost(c, names)).toBe('packets were lost between "port 16 received" (1000) and "port 32 sent to the guest" (0) (no flow matched them)');
    expect(checkCounters(c, names, exact)).toContain('the ingress flow is missing from the flow table');
  });

  it('says when packets came back without crossing the guest: switched from port 16 straight to 17', () => {
    const c = {
      ...good,
      flowIngress: { packets: 0, bytes: 0 },
      hostKniIngressTx: 0,
      guestIngressRx: 0,
      guestEgressTx: 0,
      hostKniEgressRx: 0,
      flowEgress: { packets: 0, bytes: 0 },
    };
    expect(checkCounters(c, names, exact)[0]).toBe(
      'port 17 sent 1000 but the egress flow matched 0: 1000 packets reached port 17 without crossing the guest (a flow switching port 16 straight to it?)',
    );
    // Some others on the egress port (ARP, LLDP on a real lab) stay within the slack.
    expect(checkCounters({ ...good, hostPhyEgressTx: 1003, tgRx: 1003 }, names, { slack: 5, allowedLoss: 0 })).toEqual([]);
  });

  it('flags counters that disagree although no packet was lost: wrong bytes, extra packets beyond the slack', () => {
    expect(checkCounters({ ...good, flowIngress: { packets: 1000, bytes: 64000 } }, names, exact)).toEqual(['ingress flow n_bytes 64000, expected 60000']);
    expect(checkCounters({ ...good, hostPhyIngressRx: 1003 }, names, exact)).toEqual(['port 16 rx counted 1003, expected 1000']);
    expect(checkCounters({ ...good, hostPhyIngressRx: 1003 }, names, { slack: 5, allowedLoss: 0 })).toEqual([]);
  });

  it('lets loss within the allowance pass, as the packet check does, and fails loss beyond it where it happened', () => {
    expect(checkCounters(guestDropped(1), names, { slack: 0, allowedLoss: 1 })).toEqual([]);
    expect(whereLost(guestDropped(1), names)).toBe(
      `packets were lost between "the guest's vEth_port32 received" (1000) and "the guest's vEth_port33 sent" (999) (the guest did not forward them: ip_forward, rp_filter, route or ARP?)`,
    );
    expect(checkCounters(guestDropped(2), names, { slack: 0, allowedLoss: 1 })).toEqual([whereLost(guestDropped(2), names)]);
    expect(checkCounters(guestDropped(1), names, exact)).toEqual([whereLost(guestDropped(1), names)]);
  });

  it('still fails counters that disagree with each other when the loss is within the allowance', () => {
    const c = { ...guestDropped(1), hostKniEgressRx: 990 };
    expect(checkCounters(c, names, { slack: 0, allowedLoss: 1 })).toEqual([
      'packets were lost between "the guest\'s vEth_port32 received" (1000) and "the guest\'s vEth_port33 sent" (999) (the guest did not forward them: ip_forward, rp_filter, route or ARP?)',
      'port 33 rx counted 990, expected 999',
    ]);
  });

  it('says where packets were multiplied: the guest sent each one twice', () => {
    const c = { ...good, guestEgressTx: 2000, hostKniEgressRx: 2000, flowEgress: { packets: 2000, bytes: 120000 }, hostPhyEgressTx: 2000, tgRx: 2000 };
    expect(checkCounters(c, names, exact)).toEqual([
      `packets were multiplied between "the guest's vEth_port32 received" (1000) and "the guest's vEth_port33 sent" (2000): 1000 more came out than went in (the guest sent more than it received: duplicated by the guest?)`,
      'egress flow n_packets counted 2000, expected 1000',
      'guest vEth_port33 tx counted 2000, expected 1000',
      'port 33 rx counted 2000, expected 1000',
      'port 17 tx counted 2000, expected 1000',
      'TG tg1 rx counted 2000, expected 1000',
    ]);
    // A few others beyond the stream (ARP, LLDP) stay within the slack and are not called duplicates.
    expect(checkCounters({ ...good, hostKniEgressRx: 1002, flowEgress: { packets: 1000, bytes: 60000 } }, names, { slack: 2, allowedLoss: 0 })).toEqual([]);
  });

  it('does not read a flow missing from the table as a count of 0 along the path', () => {
    expect(checkCounters({ ...good, flowIngress: null }, names, exact)).toEqual(['the ingress flow is missing from the flow table']);
  });
});

describe('loss allowance', () => {
  it('is the tolerance as a whole number of packets, with no floating-point shortfall', () => {
    expect(allowedLoss(1000, 0)).toBe(0);
    expect(allowedLoss(1000, 0.1)).toBe(100);
    expect(allowedLoss(100, 0.29)).toBe(29);
    expect(allowedLoss(999, 0.001)).toBe(0);
    expect(allowedLoss(1000, 1)).toBe(1000);
  });
});
