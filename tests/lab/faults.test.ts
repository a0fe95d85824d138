// Fault injection on the virtual lab (tests/helpers/faults.ts): each fault
// breaks the lab in one way, just before the traffic; several run at once,
// each on a lab of its own. The fault that writes to the kernel log, which
// every lab shares, is tests/lab/fault-kernel-log.test.ts, a file of its own:
// the tier's files run one at a time, so no other lab runs while it writes.
import { describe, it } from 'vitest';
import { injectForeignFrames } from '../helpers/foreign.js';
import { VERDICTS, checkFault, cleanUpFaultLabs, guestForwardRule, inGuest, inHostOvs, type Fault } from '../helpers/faults.js';

cleanUpFaultLabs();

/** What the guest's firewall says of a rule that dropped one packet in ten of the stream. */
const NFT_RULE_DROPPED_100 =
  "the guest's firewall: nftables rule `ip saddr 1\\.1\\.1\\.1 udp dport 1024 numgen inc mod 10 0 counter drop` \\(table ip dutlab_fault, chain forwarding, hook forward\\) \\+100 \\(dropped by this rule\\)";

/** The lab's testbed with these lines added to its traffic section (and its frame count, 1000 by default). */
const withTraffic =
  (lines: string[], count = 1000) =>
  (yaml: string) =>
    yaml.replace(/^ {2}count: 1000$/m, [`count: ${count}`, ...lines].map((l) => `  ${l}`).join('\n'));

const FAULTS: Fault[] = [
  {
    name: 'a flow removed (the egress flow)',
    hook: (lab) => `ip netns exec ${lab.ns('host')} env OVS_RUNDIR=${lab.state}/ovs ovs-ofctl del-flows br0 ip,in_port=33`,
    exitCode: 1,
    fails: {
      'check.packets': /none of the 1000 packets sent came back/,
      'check.counters':
        /lost between "port 33 \(port33\) received" \(1000\) and "port 17 \(port17\) sent" \(0\) \(no flow matched them\).*the egress flow is missing from the flow table/,
      'check.flows': /flow in_port=33,nw_src=1\.1\.1\.1,nw_dst=6\.6\.6\.2 -> output:17 is not installed/,
    },
    passes: ['check.arp', 'check.sysctl', 'check.ifconfig', 'check.route', 'check.switch'],
  },
  {
    // The case the packet check exists for: packets come back, but never saw the guest.
    name: "port 16 switched straight to port 17 (a flow above the guide's)",
    hook: (lab) => `ip netns exec ${lab.ns('host')} env OVS_RUNDIR=${lab.state}/ovs ovs-ofctl add-flow br0 priority=40000,in_port=16,actions=output:17`,
    exitCode: 1,
    // What came back came back unchanged, by the other way; how much came back is the virtual switch's own business
    // under this tier's load (it once dropped 90 of 1000 there, switching straight through, three faults at once).
    fails: {
      'check.packets': /seq 0, 1, 2 and \d+ more: came back exactly as sent \(dst MAC 00:4b:4e:49:30:00, TTL 64\): it did not cross the guest's router/,
      'check.flows': /unexpected flow\(s\) in the table: .*in_port=16.* actions=output:17/,
      'check.counters':
        /^counters: port 17 \(port17\) sent (\d+) but the egress flow matched 0: \1 packets reached port 17 \(port17\) without crossing the guest/,
    },
    passes: ['check.arp', 'check.sysctl', 'check.ifconfig', 'check.route', 'check.switch'],
  },
  {
    name: 'the ARP entry set to another MAC',
    hook: (lab) => inGuest(lab, 'arp -s 3.3.3.2 00:11:22:33:44:55'),
    exitCode: 1,
    // Every packet that came back is named for its MAC; how many came back is the virtual lab's business under this
    // tier's load (three faulted labs at once once lost a burst of 35 of 1000 on the way, every counter agreeing).
    fails: {
      'check.packets':
        /(\d+)\/1000 returned, \d+ lost, 0 duplicated, 0 reordered, \1 mismatched.*: seq \d+, \d+, \d+ and \d+ more: dst MAC 00:11:22:33:44:55, expected de:ad:be:ef:ca:fe: the guest did not send it to the gateway's static ARP MAC/,
      'check.arp': /the gateway 3\.3\.3\.2 resolves to 00:11:22:33:44:55, expected de:ad:be:ef:ca:fe/,
    },
    passes: ['check.counters', 'check.flows', 'check.sysctl'],
  },
  {
    name: 'ip_forward=0',
    hook: (lab) => inGuest(lab, 'sysctl -qw net.ipv4.ip_forward=0'),
    exitCode: 1,
    fails: {
      'check.packets': /none of the 1000 packets sent came back/,
      // The guest's kernel counts why: a packet for another host, not forwarded.
      'check.counters':
        /the guest did not forward them.*; the lab's own drop counters grew: the guest's kernel: IpInAddrErrors \+1000 \(not for this host and not forwarded: the kernel counts this when IP forwarding is off/,
      'check.sysctl': /net\.ipv4\.ip_forward is 0, expected 1/,
    },
    passes: ['check.flows', 'check.arp', 'check.route'],
  },
  {
    name: 'rp_filter=1 on vEth_port32',
    hook: (lab) => inGuest(lab, 'sysctl -qw net.ipv4.conf.vEth_port32.rp_filter=1'),
    exitCode: 1,
    fails: {
      'check.packets': /none of the 1000 packets sent came back/,
      'check.counters':
        /the guest did not forward them.*; the lab's own drop counters grew: the guest's kernel: TcpExtIPReversePathFilter \+1000 \(dropped by the reverse-path filter \(rp_filter\)/,
      'check.sysctl': /net\.ipv4\.conf\.vEth_port32\.rp_filter is 1, expected 0/,
    },
    passes: ['check.flows', 'check.arp'],
  },
  {
    // Partial loss, the commonest real failure: the run fails and the counters say it was the guest.
    name: 'the guest drops one packet in ten (an nftables rule with a counter)',
    hook: guestForwardRule('numgen inc mod 10 == 0 counter drop'),
    exitCode: 1,
    fails: {
      'check.packets': /^return packets: 900\/1000 returned, 100 lost.*: 100 of 1000 packets lost \(allowed: 0\); first lost: seq 0, 10, 20, 30/,
      'check.counters': new RegExp(
        `^counters: packets were lost between "the guest's vEth_port32 received" \\(1000\\) and "the guest's vEth_port33 sent" \\(900\\) \\(the guest did not forward them.*; the lab's own drop counters grew: ${NFT_RULE_DROPPED_100}`,
      ),
    },
    passes: 'every other check',
  },
  {
    // Many flows, one of them dropped in the guest: it is named by its 5-tuple, not averaged away among a thousand.
    name: 'a thousand flows, the guest drops one of them (an nftables rule on its 5-tuple)',
    testbed: withTraffic(['rules: port', 'flows: { count: 1000, srcIps: 10, srcPorts: 100 }'], 2000),
    hook: (lab) =>
      inGuest(
        lab,
        "nft 'add table ip dutlab_fault; add chain ip dutlab_fault forwarding { type filter hook forward priority 0; }; add rule ip dutlab_fault forwarding ip saddr 1.1.1.3 udp sport 1050 counter drop'",
      ),
    exitCode: 1,
    fails: {
      'check.packets':
        /^return packets: 999\/1000 flows whole, 1998\/2000 returned, 2 lost.*: 1 of 1000 flows did not come back at all: 1\.1\.1\.3:1050 -> 6\.6\.6\.2:1024 \(UDP\)/,
      'check.counters': /^counters: packets were lost between "the guest's vEth_port32 received" \(2000\) and "the guest's vEth_port33 sent" \(1998\)/,
    },
    passes: 'every other check',
  },
  {
    // Both ways (traffic.direction both): the reverse stream judged apart on its own path; a healthy lab passes.
    name: 'both ways, a hundred flows each way, a healthy lab',
    testbed: withTraffic(['direction: both', 'rules: flow', 'flows: { count: 100, srcIps: 10, srcPorts: 10 }']),
    hook: () => 'true',
    exitCode: 0,
    fails: {},
    passes: 'every other check',
  },
  {
    // ... and one reverse flow dropped in the guest is named as that flow of the reverse stream, on the reverse path.
    name: 'both ways, the guest drops one flow of the reverse stream (an nftables rule on its 5-tuple)',
    testbed: withTraffic(['direction: both', 'rules: port', 'flows: { count: 100, srcIps: 10, srcPorts: 10 }']),
    hook: (lab) =>
      inGuest(
        lab,
        "nft 'add table ip dutlab_fault; add chain ip dutlab_fault forwarding { type filter hook forward priority 0; }; add rule ip dutlab_fault forwarding ip daddr 1.1.1.3 udp dport 1030 counter drop'",
      ),
    exitCode: 1,
    fails: {
      'check.packets':
        /^return packets \(reverse\): 99\/100 flows whole, 990\/1000 returned, 10 lost.*: 1 of 100 flows did not come back at all: 6\.6\.6\.2:1024 -> 1\.1\.1\.3:1030 \(UDP\)/,
      'check.counters': /^counters: reverse: packets were lost between "the guest's vEth_port33 received" \(1000\) and "the guest's vEth_port32 sent" \(990\)/,
    },
    passes: 'every other check',
  },
  {
    // The switch forwarding by its MAC table (rules: normal), the path's MACs static in it: a healthy lab passes, a hundred flows whole.
    name: 'rules: normal, a hundred flows, a healthy lab',
    testbed: withTraffic(['rules: normal', 'flows: { count: 100, srcIps: 10, srcPorts: 10 }']),
    hook: () => 'true',
    exitCode: 0,
    fails: {},
    passes: 'every other check',
  },
  {
    // ... and a MAC moved in its table after the setup (the gateway's, to the port the stream comes in by) is named there.
    name: "rules: normal, the gateway's MAC moved to the ingress phy port in the switch's table",
    testbed: withTraffic(['rules: normal', 'flows: { count: 100, srcIps: 10, srcPorts: 10 }']),
    hook: (lab) => inHostOvs(lab, 'ovs-appctl fdb/add br0 port16 0 de:ad:be:ef:ca:fe'),
    exitCode: 1,
    fails: {
      'check.flows': /MAC de:ad:be:ef:ca:fe is on port 16, expected port17 \(port 17\)/,
      'check.packets': /^return packets: 0\/100 flows whole, 0\/1000 returned, 1000 lost/,
    },
  },
  {
    // A real lab's links carry more than the stream; a healthy DUT must still pass, counters included.
    name: 'foreign frames on every link (LLDP, ARP, IPv6 ND, other UDP), a healthy lab',
    hook: (lab) => injectForeignFrames(lab.ns, lab.state),
    exitCode: 0,
    fails: {},
    passes: 'every other check',
    foreign: true,
  },
  {
    // ... and they must not hide a real fault, nor change its diagnosis.
    name: 'foreign frames on every link, and the guest drops one packet in ten',
    hook: (lab) => `${injectForeignFrames(lab.ns, lab.state)} ${guestForwardRule('numgen inc mod 10 == 0 drop')(lab)}`,
    exitCode: 1,
    fails: {
      'check.packets': /^return packets: 900\/1000 returned, 100 lost.*: 100 of 1000 packets lost \(allowed: 0\); first lost: seq 0, 10, 20, 30/,
      // Foreign frames sent at the very edge of a reading leave a count open by a few: "900", or a narrow
      // range that holds it ("899-901").
      'check.counters':
        /^counters: packets were lost between "the guest's vEth_port32 received" \((1000|99\d-100\d|1000-100\d)\) and "the guest's vEth_port33 sent" \((900|89\d-90\d|900-90\d)\) \(the guest did not forward them.*not read: .*nftables rule `ip saddr 1\.1\.1\.1 udp dport 1024 numgen inc mod 10 0 drop` \(table ip dutlab_fault, chain forwarding, hook forward\): it drops, and has no counter/,
    },
    passes: 'every other check',
    foreign: true,
  },
  {
    // The same loss within the testbed's tolerance: the run passes, and the report still says where it happened.
    name: 'the guest drops one packet in ten, within a loss tolerance of 10%',
    hook: guestForwardRule('numgen inc mod 10 == 0 counter drop'),
    verify: { lossTolerance: 0.1 },
    exitCode: 0,
    fails: {},
    passes: 'every other check',
    notes: new RegExp(
      `100 of 1000 packets lost, within the tolerance \\(100 allowed\\): packets were lost between "the guest's vEth_port32 received" \\(1000\\) and "the guest's vEth_port33 sent" \\(900\\).*; the lab's own drop counters grew: ${NFT_RULE_DROPPED_100}`,
    ),
  },
  {
    // Every packet comes back, every counter agrees: only the packet check can see it.
    name: 'the guest rewrites the DSCP of what it forwards',
    hook: guestForwardRule('ip dscp set cs1'),
    exitCode: 1,
    fails: {
      'check.packets': /1000 mismatched.*: seq 0, 1, 2 and 997 more: TOS 0x20, expected 0x0: the IPv4 header was changed$/,
    },
    passes: 'every other check',
  },
  {
    name: 'the guest sends every packet twice',
    hook: guestForwardRule('dup to 3.3.3.2 device vEth_port33'),
    exitCode: 1,
    fails: {
      'check.packets': /1000\/1000 returned, 0 lost, 1000 duplicated.*: seq 0, 1, 2 and 997 more: received more than once \(duplicated on the path\)/,
      'check.counters':
        /^counters: packets were multiplied between "the guest's vEth_port32 received" \(1000\) and "the guest's vEth_port33 sent" \(2000\): 1000 more came out than went in \(the guest sent more than it received/,
    },
    passes: 'every other check',
  },
  {
    name: 'vEth_port33 down',
    hook: (lab) => inGuest(lab, 'ip link set vEth_port33 down'),
    exitCode: 1,
    fails: {
      'check.packets': /none of the 1000 packets sent came back/,
      'check.ifconfig': /vEth_port33 is not UP/,
      'check.route': /no default route/,
      'check.counters':
        // No ICMP back either: the route to the sender went with the link.
        /the lab's own drop counters grew: the guest's kernel: IpExtInNoRoutes \+1000 \(no route to their destination\)/,
    },
    passes: ['check.flows', 'check.sysctl'],
  },
  {
    // Frames the guest cannot forward, DF set: the kernel counts them, says how many, and sends ICMP back.
    name: "vEth_port33's MTU below the stream's frames (1518-byte frames, MTU 576)",
    testbed: (yaml) => yaml.replace(/^ {2}frameSize: 64$/m, '  frameSize: 1518'),
    hook: (lab) => inGuest(lab, 'ip link set dev vEth_port33 mtu 576'),
    exitCode: 1,
    fails: {
      'check.packets': /none of the 1000 packets sent came back/,
      'check.counters':
        /^counters: packets were lost between "the guest's vEth_port32 received" \(1000\) and "the guest's vEth_port33 sent" \(0\) .*; the lab's own drop counters grew: the guest's kernel: IpFragFails \+1000 \(larger than the outgoing MTU with Don't Fragment set: not sent; 1000 of the stream's frames \(1518 bytes: IP packets of 1500\) are larger than vEth_port33's MTU of 576; the guest sent \d+ ICMP destination-unreachable back\)/,
    },
    passes: 'every other check',
  },
  {
    name: 'ovs-vswitchd killed mid-run',
    hook: (lab) => `kill -9 $(cat ${lab.state}/ovs/ovs-vswitchd.pid)`,
    exitCode: 1,
    fails: {
      'check.packets': /none of the 1000 packets sent came back/,
      'check.switch': /^switch: ovs-vswitchd does not answer \(.*ovs-vswitchd/,
      'check.counters': /ovs-ofctl dump-ports br0` exited 1: .*(br0\.mgmt: failed to open socket|br0: failed to connect to socket)/,
      'check.flows': /ovs-ofctl dump-flows br0` exited 1/,
    },
    passes: ['check.sysctl', 'check.arp'],
  },
  {
    name: "the guest's sshd killed mid-run",
    // The listener by its recorded pid, and its per-connection children by parent pid.
    hook: (lab) =>
      `p=$(node -e 'console.log(require("${lab.state}/state.json").processes.find(p => p.name === "sshd-guest").pid)'); for c in $(ps -o pid= --ppid $p); do kill -9 $c; done; kill -9 $p`,
    exitCode: 2,
    fails: {
      'check.counters': /^\[guest\] connection (lost|closed)/,
      'check.ifconfig': /^\[guest\] connection (lost|closed)/,
    },
    passes: ['check.packets', 'check.flows', 'check.switch'],
  },
];

describe('fault injection', () => {
  // Concurrent tests assert with their own context's expect.
  it.concurrent.for(FAULTS.map((f) => ({ ...f, verdict: VERDICTS[f.exitCode] })))(
    '$name: $verdict, the named diagnosis, a clean lab after',
    { timeout: 240_000 },
    async (f, { expect }) => {
      await checkFault(f, expect);
    },
  );
});
