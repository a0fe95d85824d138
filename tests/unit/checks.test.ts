// Each check the harness makes on the lab, fed the state a broken lab shows:
// it must fail, and say what is wrong.
import { describe, expect, it } from 'vitest';
import { parseDmesg } from '../../lib/parsers/dmesg.js';
import { parseIfconfig, parseNeighbours, parseRoutes, parseSysctl } from '../../lib/parsers/net.js';
import { parseDumpFlows, parseOvsVsctlShow } from '../../lib/parsers/ovs.js';
import { expectedPorts, expectedVeths } from '../../lib/profiles/expected.js';
import { legacyKni } from '../../lib/profiles/legacy-kni.profile.js';
import { virtual } from '../../lib/profiles/virtual.profile.js';
import { loadTestbed } from '../../lib/testbed/load.js';
import { countersRecord, countersTable } from '../../lib/suite/pvp/result.js';
import { pathOf, type Hop, type HopId } from '../../lib/testbed/path.js';
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
  // The guide's path (lib/testbed/path.ts) on ports named as the guide names them.
  const path = pathOf({
    tgTx: 'tg0',
    tgRx: 'tg1',
    phyIngress: { name: 'dpdk0', ofport: 16, dpdkPort: 0, tgPort: 'tg0' },
    phyEgress: { name: 'dpdk1', ofport: 17, dpdkPort: 1, tgPort: 'tg1' },
    vmIngress: { name: 'vEth_port32', ofport: 32, kind: 'kni', guestIf: 'vEth_port32', mac: '00:00:00:00:00:32', cidr: '2.2.2.1/24' },
    vmEgress: { name: 'vEth_port33', ofport: 33, kind: 'kni', guestIf: 'vEth_port33', mac: '00:00:00:00:00:33', cidr: '3.3.3.1/24' },
    gateway: { ip: '3.3.3.2', mac: '00:00:00:00:00:02' },
  }).hops;
  /** Counts by hop id; the flows' bytes follow their packets at 60 bytes each unless given. */
  const counts = (sent: number, returned: number, hops: Partial<Record<HopId, number | null>>, bytes: Partial<Record<HopId, number>> = {}): PathCounts => {
    const all: Record<string, number | null> = {};
    for (const h of path) all[h.id] = h.id in hops ? hops[h.id]! : h.carries === 'sent' ? sent : returned;
    const flowBytes = Object.fromEntries(path.filter((h) => h.at.on === 'flow' && all[h.id] !== null).map((h) => [h.id, bytes[h.id] ?? 60 * all[h.id]!]));
    return { sent, sentBytes: 60 * sent, returned, returnedBytes: 60 * returned, hops: all, bytes: flowBytes };
  };
  const good = counts(1000, 1000, {});
  const exact = { slack: 0, allowedLoss: 0 };
  /** The guest dropped `n` packets: every counter after it shows n fewer, consistently. */
  const guestDropped = (n: number): PathCounts => counts(1000, 1000 - n, {});

  it('passes counters that agree with the stream and with each other', () => {
    expect(checkCounters(path, good, exact)).toEqual([]);
  });

  // Foreign frames (lib/verify/foreign.ts) already subtracted; `unsure` are those only possibly counted.
  it('allows a counter the frames that may or may not have fallen between its readings, and no more', () => {
    const c = { ...counts(1000, 1000, { phyIngressRx: 1003 }), foreign: { phyIngressRx: { subtracted: 40, unsure: 3 } } };
    expect(checkCounters(path, c, exact)).toEqual([]);
    const over = { ...c, hops: { ...c.hops, phyIngressRx: 1004 } };
    expect(checkCounters(path, over, exact)).toContain('port 16 (dpdk0) rx counted 1004, expected 1000 (+3 allowed for other traffic)');
  });

  it('still finds the loss that foreign frames would have hidden in the raw counters', () => {
    // The guest forwarded 900 of 1000; 136 of its own frames went out too, and were told apart.
    const c = { ...counts(1000, 900, {}), foreign: { guestEgressTx: { subtracted: 136, unsure: 1 } } };
    // One of those may or may not have been counted (it went out as the counter was read): the count is a range.
    expect(checkCounters(path, c, exact)[0]).toMatch(
      /^packets were lost between "the guest's vEth_port32 received" \(1000\) and "the guest's vEth_port33 sent" \(899-900\)/,
    );
  });

  it('says where packets were lost: the guest did not forward them', () => {
    const p = checkCounters(path, counts(1000, 0, {}), exact);
    expect(p[0]).toBe(
      `packets were lost between "the guest's vEth_port32 received" (1000) and "the guest's vEth_port33 sent" (0) (the guest did not forward them: ip_forward, rp_filter, route or ARP?)`,
    );
  });

  it('says where packets were lost: no ingress flow matched', () => {
    const c = counts(1000, 0, { tgTx: 1000, phyIngressRx: 1000, ingressFlow: null, vmIngressTx: 0, guestIngressRx: 0 });
    expect(whereLost(path, c)).toBe(
      'packets were lost between "port 16 (dpdk0) received" (1000) and "port 32 (vEth_port32) sent to the guest" (0) (no flow matched them)',
    );
    expect(checkCounters(path, c, exact)).toContain('the ingress flow is missing from the flow table');
  });

  it('says when packets came back without crossing the guest: switched from port 16 straight to 17', () => {
    const c = counts(1000, 1000, { ingressFlow: 0, vmIngressTx: 0, guestIngressRx: 0, guestEgressTx: 0, vmEgressRx: 0, egressFlow: 0 });
    expect(checkCounters(path, c, exact)[0]).toBe(
      'port 17 (dpdk1) sent 1000 but the egress flow matched 0: 1000 packets reached port 17 (dpdk1) without crossing the guest (a flow switching port 16 (dpdk0) straight to it?)',
    );
    // Some others on the egress port (ARP, LLDP on a real lab) stay within the slack.
    expect(checkCounters(path, counts(1000, 1000, { phyEgressTx: 1003, tgRx: 1003 }), { slack: 5, allowedLoss: 0 })).toEqual([]);
  });

  it('flags counters that disagree although no packet was lost: wrong bytes, extra packets beyond the slack', () => {
    expect(checkCounters(path, counts(1000, 1000, {}, { ingressFlow: 64000 }), exact)).toEqual(['ingress flow n_bytes 64000, expected 60000']);
    expect(checkCounters(path, counts(1000, 1000, { phyIngressRx: 1003 }), exact)).toEqual(['port 16 (dpdk0) rx counted 1003, expected 1000']);
    expect(checkCounters(path, counts(1000, 1000, { phyIngressRx: 1003 }), { slack: 5, allowedLoss: 0 })).toEqual([]);
  });

  it('lets loss within the allowance pass, as the packet check does, and fails loss beyond it where it happened', () => {
    expect(checkCounters(path, guestDropped(1), { slack: 0, allowedLoss: 1 })).toEqual([]);
    expect(whereLost(path, guestDropped(1))).toBe(
      `packets were lost between "the guest's vEth_port32 received" (1000) and "the guest's vEth_port33 sent" (999) (the guest did not forward them: ip_forward, rp_filter, route or ARP?)`,
    );
    expect(checkCounters(path, guestDropped(2), { slack: 0, allowedLoss: 1 })).toEqual([whereLost(path, guestDropped(2))]);
    expect(checkCounters(path, guestDropped(1), exact)).toEqual([whereLost(path, guestDropped(1))]);
  });

  it('still fails counters that disagree with each other when the loss is within the allowance', () => {
    const c = counts(1000, 999, { vmEgressRx: 990 });
    expect(checkCounters(path, c, { slack: 0, allowedLoss: 1 })).toEqual([
      'packets were lost between "the guest\'s vEth_port32 received" (1000) and "the guest\'s vEth_port33 sent" (999) (the guest did not forward them: ip_forward, rp_filter, route or ARP?)',
      'port 33 (vEth_port33) rx counted 990, expected 999',
    ]);
  });

  it('says where packets were multiplied: the guest sent each one twice', () => {
    const c = counts(1000, 1000, { guestEgressTx: 2000, vmEgressRx: 2000, egressFlow: 2000, phyEgressTx: 2000, tgRx: 2000 });
    expect(checkCounters(path, c, exact)).toEqual([
      `packets were multiplied between "the guest's vEth_port32 received" (1000) and "the guest's vEth_port33 sent" (2000): 1000 more came out than went in (the guest sent more than it received: duplicated by the guest?)`,
      'egress flow n_packets counted 2000, expected 1000',
      'guest vEth_port33 tx counted 2000, expected 1000',
      'port 33 (vEth_port33) rx counted 2000, expected 1000',
      'port 17 (dpdk1) tx counted 2000, expected 1000',
      'TG tg1 rx counted 2000, expected 1000',
    ]);
    // A few others beyond the stream (ARP, LLDP) stay within the slack and are not called duplicates.
    expect(checkCounters(path, counts(1000, 1000, { vmEgressRx: 1002 }), { slack: 2, allowedLoss: 0 })).toEqual([]);
  });

  it("shows in summary.md's table what was taken off as not the stream, and a count within the allowance as no difference", () => {
    const c = {
      ...counts(1000, 1000, { phyIngressRx: 1003, guestIngressRx: 1002 }),
      foreign: { phyIngressRx: { subtracted: 40, unsure: 3 }, tgRx: { subtracted: 5, unsure: 0 } },
    };
    const t = countersTable(path, c, 2);
    expect(t.columns).toEqual(['counter', 'counted', 'not the stream (taken off)', 'the stream', 'expected', '']);
    const row = (label: string) => t.rows.find((r) => r[0] === label);
    expect(row('phy ingress rx')).toEqual(['phy ingress rx', '1043', '40 +3?', '1003', '1000', 'ok (+3, within the 5 allowed for other traffic)']);
    expect(row('TG rx')).toEqual(['TG rx', '1005', '5', '1000', '1000', 'ok']);
    expect(row('guest ingress vEth rx')).toEqual(['guest ingress vEth rx', '1002', '0', '1002', '1000', 'ok (+2, within the 2 allowed for other traffic)']);
    expect(checkCounters(path, c, { slack: 2, allowedLoss: 0 })).toEqual([]);
    // Beyond the allowance it differs, in the table as in the check.
    const over = { ...c, hops: { ...c.hops, guestIngressRx: 1003 } };
    expect(
      countersTable(path, over, 2)
        .rows.find((r) => r[0] === 'guest ingress vEth rx')!
        .at(-1),
    ).toBe('DIFFERS');
    expect(checkCounters(path, over, { slack: 2, allowedLoss: 0 })).toEqual([
      'guest vEth_port32 rx counted 1003, expected 1000 (+2 allowed for other traffic)',
    ]);
    // Without foreign frames, the table keeps its four columns.
    expect(countersTable(path, good).columns).toEqual(['counter', 'counted', 'expected', '']);
  });

  it('does not read a flow missing from the table as a count of 0 along the path', () => {
    expect(checkCounters(path, counts(1000, 1000, { ingressFlow: null }), exact)).toEqual(['the ingress flow is missing from the flow table']);
  });

  it('follows a hop added to the path in one edit: the check, "lost between" and the table name it', () => {
    // A bridge in the guest between its two vEths, counted on its own link: one more hop, nothing else changed.
    const bridge: Hop = {
      id: 'guestBridgeTx',
      label: 'guest bridge tx',
      name: "the guest's br0",
      what: "the guest's br0 sent",
      counter: 'guest br0 tx',
      at: { on: 'guest', iface: 'br0', dir: 'tx' },
      carries: 'returned',
      after: 'guest',
    };
    const at = path.findIndex((h) => h.id === 'guestEgressTx');
    const longer = [...path.slice(0, at), bridge, ...path.slice(at)];
    const c: PathCounts = { ...counts(1000, 0, {}), hops: { ...counts(1000, 0, {}).hops, guestBridgeTx: 1000 } };
    expect(checkCounters(longer, c, exact)).toEqual([
      `packets were lost between "the guest's br0 sent" (1000) and "the guest's vEth_port33 sent" (0) (the guest did not forward them: ip_forward, rp_filter, route or ARP?)`,
      'guest br0 tx counted 1000, expected 0',
    ]);
    expect(checkCounters(longer, { ...c, hops: { ...c.hops, guestBridgeTx: 0 } }, exact)).toEqual([
      `packets were lost between "the guest's vEth_port32 received" (1000) and "the guest's br0 sent" (0) (the guest did not forward them: ip_forward, rp_filter, route or ARP?)`,
    ]);
    expect(countersTable(longer, c).rows.map((r) => r[0])).toEqual([
      'TG tx',
      'phy ingress rx',
      'ingress flow n_packets',
      'VM-port ingress tx',
      'guest ingress vEth rx',
      'guest bridge tx',
      'guest egress vEth tx',
      'VM-port egress rx',
      'egress flow n_packets',
      'phy egress tx',
      'TG rx',
    ]);
    // run.json and summary.json record it under its own id.
    expect(countersRecord(c).more).toEqual({ guestBridgeTx: 1000 });
  });
});

describe("the counters' record, as dashboards read it", () => {
  it('keeps the names summary.json had before the path model, and records a hop a path adds under its id', () => {
    const c: PathCounts = {
      sent: 10,
      sentBytes: 600,
      returned: 9,
      returnedBytes: 540,
      hops: {
        tgTx: 10,
        phyIngressRx: 10,
        ingressFlow: 10,
        vmIngressTx: 10,
        guestIngressRx: 10,
        guestEgressTx: 9,
        vmEgressRx: 9,
        egressFlow: null,
        phyEgressTx: 9,
        tgRx: 9,
        guestBridgeTx: 9,
      },
      bytes: { ingressFlow: 600 },
      foreign: { vmIngressTx: { subtracted: 2, unsure: 1 } },
    };
    expect(countersRecord(c)).toEqual({
      sent: 10,
      sentBytes: 600,
      returned: 9,
      returnedBytes: 540,
      flowIngress: { packets: 10, bytes: 600 },
      flowEgress: null,
      tgTx: 10,
      hostPhyIngressRx: 10,
      hostKniIngressTx: 10,
      guestIngressRx: 10,
      guestEgressTx: 9,
      hostKniEgressRx: 9,
      hostPhyEgressTx: 9,
      tgRx: 9,
      more: { guestBridgeTx: 9 },
      foreign: { hostKniIngressTx: { subtracted: 2, unsure: 1 } },
    });
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
