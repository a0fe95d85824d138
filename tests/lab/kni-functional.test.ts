// The KNI functional suite on the virtual lab (veth behind the vEths) and the
// DPDK lab (the tap PMD): it passes, and each case fails on the one thing
// broken for it, with its diagnosis, leaving the lab clean.
import { rmSync } from 'node:fs';
import { afterAll, describe, it } from 'vitest';
import { labDown, labUp } from '../../lib/vlab/lab.js';
import { dutlabRun } from '../helpers/cli.js';
import { checkFault, cleanUpFaultLabs, inHostOvs, type Fault, type Lab } from '../helpers/faults.js';

const SUITE = { name: 'kni-functional', checks: ['kni.ping', 'kni.capture', 'kni.statistics', 'kni.addresses', 'kni.link', 'kni.mtu', 'kni.ethtool'] };
const reports: string[] = [];
cleanUpFaultLabs();
afterAll(async () => {
  await labDown({ id: 'kfok' });
  await labDown({ id: 'kfok-dpdk' });
  for (const r of reports) rmSync(r, { recursive: true, force: true });
});

const inHost = (lab: Lab, c: string) => `ip netns exec ${lab.ns('host')} ${c}`;

describe('the kni-functional suite', () => {
  it.concurrent.for([
    { profile: 'virtual', datapath: 'netdev', id: 'kfok', driver: 'veth' },
    { profile: 'ovs-dpdk', datapath: 'dpdk', id: 'kfok-dpdk', driver: 'tun' },
  ] as const)('passes on the $profile profile, every case restoring what it changed', { timeout: 120_000 }, async (p, { expect }) => {
    const lab = await labUp({ id: p.id, datapath: p.datapath });
    const r = await dutlabRun(['--testbed', lab.testbedFile, '--profile', p.profile, '--suite', 'kni-functional']);
    reports.push(r.reports);
    expect(r.exitCode, r.summary.reason).toBe(0);
    expect(r.summary.cases.filter((c) => c.id.startsWith('kni.')).map((c) => [c.id, c.status])).toEqual([
      ['kni.prepare', 'passed'],
      ['kni.ping', 'passed'],
      ['kni.capture', 'passed'],
      ['kni.statistics', 'passed'],
      ['kni.addresses', 'passed'],
      ['kni.link', 'passed'],
      ['kni.mtu', 'passed'],
      ['kni.ethtool', 'passed'],
    ]);
    // Each case read the guest, the TG's ports and the flows before and after itself, and found them the same
    // (a case that left a change fails as 'restore'); the setup's own check, run again after the suite, passes too.
    expect(r.summary.notes.join('\n')).not.toMatch(/left the lab changed/);
    const again = await dutlabRun(['--testbed', lab.testbedFile, '--profile', p.profile, '--suite', 'pvp']);
    reports.push(again.reports);
    expect(again.exitCode, again.summary.reason).toBe(0);
    if (p.driver === 'tun') expect(r.summary.notes.join('\n')).toContain('ethtool: vEth_port32 (driver tun): not supported: ethtool -S vEth_port32');
  });
});

const kni = (f: Omit<Fault, 'suite'>): Fault => ({ ...f, suite: SUITE });

const FAULTS: Fault[] = [
  kni({
    name: "ARP from the guest's ingress vEth dropped by the switch: the TG never learns its MAC",
    hook: (lab) => inHostOvs(lab, 'ovs-ofctl add-flow br0 priority=300,in_port=32,arp,actions=drop'),
    exitCode: 1,
    fails: {
      'kni.ping':
        /^ping: TG tg0 \(2\.2\.2\.2\) -> guest vEth_port32 \(2\.2\.2\.1\): 0 of 3 echo replies; TG tg0 has no ARP entry for 2\.2\.2\.1: ARP was not resolved on the wire; guest vEth_port32 \(2\.2\.2\.1\) -> TG tg0 \(2\.2\.2\.2\): 0 of 3 echo replies$/,
    },
    passes: ['kni.capture', 'kni.statistics', 'kni.addresses', 'kni.link', 'kni.mtu', 'kni.ethtool'],
  }),
  kni({
    name: 'TCP from the TG dropped by the switch: the capture on the ingress vEth misses exactly those',
    hook: (lab) => inHostOvs(lab, 'ovs-ofctl add-flow br0 priority=65535,in_port=16,tcp,actions=drop'),
    exitCode: 1,
    fails: {
      'kni.capture':
        /^capture: tcpdump on vEth_port32 \(ether src 02:00:00:00:00:01\) saw 20 UDP, 0 TCP, 20 ICMP, 20 raw Ethernet frames; the TG sent 20 of each: TCP is off$/,
    },
    passes: ['kni.ping', 'kni.statistics', 'kni.addresses', 'kni.link', 'kni.mtu', 'kni.ethtool'],
  }),
  kni({
    name: 'the switch drops what comes in from the TG: nothing reaches the ingress vEth',
    hook: (lab) => inHostOvs(lab, 'ovs-ofctl add-flow br0 priority=65535,in_port=16,actions=drop'),
    exitCode: 1,
    fails: { 'kni.statistics': /^statistics: vEth_port32's RX counter rose by 0 while the TG sent 100 frames toward it$/ },
    passes: ['kni.ethtool'],
  }),
  kni({
    name: "the ingress vEth's other end down: up again, it has no carrier",
    hook: (lab) => inHost(lab, 'ip link set port32 down'),
    exitCode: 1,
    fails: { 'kni.link': /vEth_port32 is UP but not RUNNING after ifconfig up: no carrier/ },
    passes: ['kni.ethtool'],
  }),
  kni({
    name: "the egress vEth's other end at MTU 1200: 1300-byte packets do not get through",
    hook: (lab) => inHost(lab, 'ip link set port33 mtu 1200'),
    exitCode: 1,
    fails: { 'kni.mtu': /^mtu: 0 of 100 1300-byte DF packets were forwarded through vEth_port33 \(MTU 1300\): all should be$/ },
    passes: ['kni.statistics', 'kni.addresses', 'kni.link', 'kni.ethtool'],
  }),
  kni({
    name: "the ingress vEth's address gone",
    hook: (lab) => `ip netns exec ${lab.ns('guest')} ip -4 addr flush dev vEth_port32`,
    exitCode: 1,
    fails: { 'kni.addresses': /^addresses: vEth_port32 lacks its testbed address 2\.2\.2\.1\/24 \(has none\)$/ },
    passes: ['kni.statistics', 'kni.ethtool'],
  }),
];

describe('kni-functional faults: each case fails on its fault, with its diagnosis', () => {
  it.concurrent.for(FAULTS)('$name', { timeout: 180_000 }, async (f, { expect }) => {
    await checkFault(f, expect);
  });
});
