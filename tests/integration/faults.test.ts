// Fault injection on the virtual lab: each fault breaks the lab in one way,
// just before the traffic. The run must fail (exit 1 for the DUT, 2 for the
// infrastructure), name the cause in the right testcases, and leave nothing behind.
import { readFileSync } from 'node:fs';
import { rmSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { labDown, labLeftovers, labUp } from '../../lib/vlab/lab.js';
import { dutlabRun, failedCases } from '../helpers/cli.js';

const ID = 'fault';
const NS = (role: string) => `dutlab-${ID}-${role}`;
const STATE = `/run/dutlab-${ID}`;
const inGuest = (c: string) => `ip netns exec ${NS('guest')} ${c}`;
const reports: string[] = [];
afterAll(async () => {
  await labDown({ id: ID });
  for (const r of reports) rmSync(r, { recursive: true, force: true });
});

interface Fault {
  name: string;
  hook: string;
  exitCode: 1 | 2;
  /** Testcases that must fail, with a pattern their diagnosis must match. */
  fails: Record<string, RegExp>;
  /** Testcases that must still pass: the fault is named where it is, not everywhere. */
  passes?: string[];
}

const FAULTS: Fault[] = [
  {
    name: 'a flow removed (the egress flow)',
    hook: `ip netns exec ${NS('host')} env OVS_RUNDIR=${STATE}/ovs ovs-ofctl del-flows br0 ip,in_port=33`,
    exitCode: 1,
    fails: {
      'check.packets': /none of the 1000 packets sent came back/,
      'check.counters': /lost between "port 33 \(port33\) received" \(1000\) and "the egress flow matched" \(0\) \(no flow matched them\)/,
      'check.flows': /flow in_port=33,nw_src=1\.1\.1\.1,nw_dst=6\.6\.6\.2 -> output:17 is not installed/,
    },
    passes: ['check.arp', 'check.sysctl', 'check.ifconfig', 'check.route', 'check.switch'],
  },
  {
    // The case the packet check exists for: packets come back, but never saw the guest.
    name: 'port 16 switched straight to port 17 (a flow above the guide\'s)',
    hook: `ip netns exec ${NS('host')} env OVS_RUNDIR=${STATE}/ovs ovs-ofctl add-flow br0 priority=40000,in_port=16,actions=output:17`,
    exitCode: 1,
    fails: {
      'check.packets': /seq 0, 1, 2 and 997 more: came back exactly as sent \(dst MAC 00:4b:4e:49:30:00, TTL 64\): it did not cross the guest's router/,
      'check.flows': /unexpected flow\(s\) in the table: .*in_port=16.* actions=output:17/,
      'check.counters': /^counters: port 17 \(port17\) sent 1000 but the egress flow matched 0: 1000 packets reached port 17 \(port17\) without crossing the guest/,
    },
    passes: ['check.arp', 'check.sysctl', 'check.ifconfig', 'check.route', 'check.switch'],
  },
  {
    name: 'the ARP entry set to another MAC',
    hook: inGuest('arp -s 3.3.3.2 00:11:22:33:44:55'),
    exitCode: 1,
    fails: {
      'check.packets': /1000 mismatched.*: seq 0, 1, 2 and 997 more: dst MAC 00:11:22:33:44:55, expected de:ad:be:ef:ca:fe: the guest did not send it to the gateway's static ARP MAC/,
      'check.arp': /the gateway 3\.3\.3\.2 resolves to 00:11:22:33:44:55, expected de:ad:be:ef:ca:fe/,
    },
    passes: ['check.counters', 'check.flows', 'check.sysctl'],
  },
  {
    name: 'ip_forward=0',
    hook: inGuest('sysctl -qw net.ipv4.ip_forward=0'),
    exitCode: 1,
    fails: {
      'check.packets': /none of the 1000 packets sent came back/,
      'check.counters': /the guest did not forward them/,
      'check.sysctl': /net\.ipv4\.ip_forward is 0, expected 1/,
    },
    passes: ['check.flows', 'check.arp', 'check.route'],
  },
  {
    name: 'rp_filter=1 on vEth_port32',
    hook: inGuest('sysctl -qw net.ipv4.conf.vEth_port32.rp_filter=1'),
    exitCode: 1,
    fails: {
      'check.packets': /none of the 1000 packets sent came back/,
      'check.counters': /the guest did not forward them/,
      'check.sysctl': /net\.ipv4\.conf\.vEth_port32\.rp_filter is 1, expected 0/,
    },
    passes: ['check.flows', 'check.arp'],
  },
  {
    name: 'vEth_port33 down',
    hook: inGuest('ip link set vEth_port33 down'),
    exitCode: 1,
    fails: {
      'check.packets': /none of the 1000 packets sent came back/,
      'check.ifconfig': /vEth_port33 is not UP/,
      'check.route': /no default route/,
    },
    passes: ['check.flows', 'check.sysctl'],
  },
  {
    // The lab's hosts share this machine's kernel, so a line in its log is a line in both.
    // The line says what it is, for whoever reads this machine's dmesg later.
    name: 'a kernel BUG logged during the run',
    hook: `echo '<4>dutlab fault injection (tests/integration/faults.test.ts), not a real fault: BUG: soft lockup - CPU#0 stuck for 23s' > /dev/kmsg`,
    exitCode: 1,
    fails: {
      'check.dmesg-kernel': /^dmesg \(kernel\): host kernel logged: \[[\d.]+\] dutlab fault injection .*BUG: soft lockup - CPU#0 stuck for 23s; guest kernel logged: /,
    },
    passes: ['check.packets', 'check.counters', 'check.flows', 'check.switch', 'check.ifconfig', 'check.sysctl', 'check.route', 'check.arp'],
  },
  {
    name: 'ovs-vswitchd killed mid-run',
    hook: `kill -9 $(cat ${STATE}/ovs/ovs-vswitchd.pid)`,
    exitCode: 1,
    fails: {
      'check.packets': /none of the 1000 packets sent came back/,
      'check.switch': /^switch: ovs-vswitchd does not answer \(.*ovs-vswitchd/,
      'check.counters': /ovs-ofctl dump-ports br0` exited 1: .*br0\.mgmt: failed to open socket/,
      'check.flows': /ovs-ofctl dump-flows br0` exited 1/,
    },
    passes: ['check.sysctl', 'check.arp'],
  },
  {
    name: "the guest's sshd killed mid-run",
    // The listener by its recorded pid, and its per-connection children by parent pid.
    hook: `p=$(node -e 'console.log(require("${STATE}/state.json").processes.find(p => p.name === "sshd-guest").pid)'); for c in $(ps -o pid= --ppid $p); do kill -9 $c; done; kill -9 $p`,
    exitCode: 2,
    fails: {
      'check.counters': /^\[guest\] connection (lost|closed)/,
      'check.ifconfig': /^\[guest\] connection (lost|closed)/,
    },
    passes: ['check.packets', 'check.flows', 'check.switch'],
  },
];

describe('fault injection', () => {
  it.each(FAULTS)('$name: exit $exitCode, the named diagnosis, a clean lab after', async (f) => {
    const lab = await labUp({ id: ID });
    const r = await dutlabRun(['--testbed', lab.testbedFile, '--profile', 'virtual', '--hook-before-traffic', f.hook]);
    reports.push(r.reports);
    await labDown({ id: ID });
    expect(await labLeftovers(ID, lab.processes)).toEqual([]);
    expect(r.exitCode, `${r.summary.reason}\n${r.stderr}`).toBe(f.exitCode);
    expect(r.summary.verdict).toBe(f.exitCode === 1 ? 'fail' : 'infra-error');
    const failed = failedCases(r.summary);
    for (const [id, pattern] of Object.entries(f.fails)) expect(failed[id], `${id} in ${JSON.stringify(failed, null, 1)}`).toMatch(pattern);
    for (const id of f.passes ?? []) expect(r.summary.cases.find((c) => c.id === id)?.status, id).toBe('passed');
    // Every setup step passed: the fault came after the setup, as injected.
    expect(r.summary.cases.filter((c) => c.group === 'setup' && c.status !== 'passed')).toEqual([]);
    expect(readFileSync(`${r.reports}/latest/summary.md`, 'utf8')).toContain(f.exitCode === 1 ? '# FAIL' : '# INFRA-ERROR');
  }, 240_000);
});
