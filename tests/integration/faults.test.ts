// Fault injection on the virtual lab: each fault breaks the lab in one way,
// just before the traffic. The run must fail (exit 1 for the DUT, 2 for the
// infrastructure), name the cause in the right testcases, and leave nothing behind.
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { afterAll, describe, it, type ExpectStatic } from 'vitest';
import { parseDocument } from 'yaml';
import { labDown, labLeftovers, labUp } from '../../lib/vlab/lab.js';
import { dutlabRun, failedCases } from '../helpers/cli.js';
import { injectForeignFrames } from '../helpers/foreign.js';

/** Where a fault's hook acts: the lab it runs on (several faults run at once, each on a lab of its own). */
interface Lab {
  ns(role: string): string;
  state: string;
}
const labOf = (id: string): Lab => ({ ns: (role) => `dutlab-${id}-${role}`, state: `/run/dutlab-${id}` });
const inGuest = (lab: Lab, c: string) => `ip netns exec ${lab.ns('guest')} ${c}`;
/**
 * One nftables rule in the guest's forward path, for the stream's packets only:
 * a fault of the guest's router that iproute2 cannot make. The table goes with
 * the guest's namespace at lab down.
 */
const guestForwardRule = (rule: string) => (lab: Lab) =>
  inGuest(lab, `nft 'add table ip dutlab_fault; add chain ip dutlab_fault forwarding { type filter hook forward priority 0; }; add rule ip dutlab_fault forwarding ip saddr 1.1.1.1 udp dport 1024 ${rule}'`);
const reports: string[] = [];
const labIds = new Set<string>();
afterAll(async () => {
  for (const id of labIds) await labDown({ id });
  for (const r of reports) rmSync(r, { recursive: true, force: true });
});

interface Fault {
  name: string;
  hook: (lab: Lab) => string;
  exitCode: 0 | 1 | 2;
  /** Testcases that must fail, with a pattern their diagnosis must match. */
  fails: Record<string, RegExp>;
  /** Testcases that must still pass: the fault is named where it is, not everywhere. */
  passes?: string[] | 'every other check';
  /** The lab's testbed with these `verify` settings instead. */
  verify?: Record<string, number>;
  /** What the run's notes must say. */
  notes?: RegExp;
  /** It touches what all labs share (the kernel's log): it runs alone, after the others. */
  alone?: true;
  /** Foreign frames were sent on every link: the counters must show them told apart. */
  foreign?: true;
}

/** The virtual profile's checks (it loads no KNI module, so no check.dmesg-kni). */
const CHECKS = ['check.packets', 'check.counters', 'check.switch', 'check.flows', 'check.dmesg-kernel', 'check.ifconfig', 'check.sysctl', 'check.route', 'check.arp'];

const FAULTS: Fault[] = [
  {
    name: 'a flow removed (the egress flow)',
    hook: (lab) => `ip netns exec ${lab.ns('host')} env OVS_RUNDIR=${lab.state}/ovs ovs-ofctl del-flows br0 ip,in_port=33`,
    exitCode: 1,
    fails: {
      'check.packets': /none of the 1000 packets sent came back/,
      'check.counters': /lost between "port 33 \(port33\) received" \(1000\) and "port 17 \(port17\) sent" \(0\) \(no flow matched them\).*the egress flow is missing from the flow table/,
      'check.flows': /flow in_port=33,nw_src=1\.1\.1\.1,nw_dst=6\.6\.6\.2 -> output:17 is not installed/,
    },
    passes: ['check.arp', 'check.sysctl', 'check.ifconfig', 'check.route', 'check.switch'],
  },
  {
    // The case the packet check exists for: packets come back, but never saw the guest.
    name: 'port 16 switched straight to port 17 (a flow above the guide\'s)',
    hook: (lab) => `ip netns exec ${lab.ns('host')} env OVS_RUNDIR=${lab.state}/ovs ovs-ofctl add-flow br0 priority=40000,in_port=16,actions=output:17`,
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
    hook: (lab) => inGuest(lab, 'arp -s 3.3.3.2 00:11:22:33:44:55'),
    exitCode: 1,
    fails: {
      'check.packets': /1000 mismatched.*: seq 0, 1, 2 and 997 more: dst MAC 00:11:22:33:44:55, expected de:ad:be:ef:ca:fe: the guest did not send it to the gateway's static ARP MAC/,
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
      'check.counters': /the guest did not forward them/,
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
      'check.counters': /the guest did not forward them/,
      'check.sysctl': /net\.ipv4\.conf\.vEth_port32\.rp_filter is 1, expected 0/,
    },
    passes: ['check.flows', 'check.arp'],
  },
  {
    // Partial loss, the commonest real failure: the run fails and the counters say it was the guest.
    name: 'the guest drops one packet in ten',
    hook: guestForwardRule('numgen inc mod 10 == 0 drop'),
    exitCode: 1,
    fails: {
      'check.packets': /^return packets: 900\/1000 returned, 100 lost.*: 100 of 1000 packets lost \(allowed: 0\); first lost: seq 0, 10, 20, 30/,
      'check.counters': /^counters: packets were lost between "the guest's vEth_port32 received" \(1000\) and "the guest's vEth_port33 sent" \(900\) \(the guest did not forward them/,
    },
    passes: 'every other check',
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
      'check.counters': /^counters: packets were lost between "the guest's vEth_port32 received" \(1000\) and "the guest's vEth_port33 sent" \(900\) \(the guest did not forward them/,
    },
    passes: 'every other check',
    foreign: true,
  },
  {
    // The same loss within the testbed's tolerance: the run passes, and the report still says where it happened.
    name: 'the guest drops one packet in ten, within a loss tolerance of 10%',
    hook: guestForwardRule('numgen inc mod 10 == 0 drop'),
    verify: { lossTolerance: 0.1 },
    exitCode: 0,
    fails: {},
    passes: 'every other check',
    notes: /100 of 1000 packets lost, within the tolerance \(100 allowed\): packets were lost between "the guest's vEth_port32 received" \(1000\) and "the guest's vEth_port33 sent" \(900\)/,
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
      'check.counters': /^counters: packets were multiplied between "the guest's vEth_port32 received" \(1000\) and "the guest's vEth_port33 sent" \(2000\): 1000 more came out than went in \(the guest sent more than it received/,
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
    },
    passes: ['check.flows', 'check.sysctl'],
  },
  {
    // The lab's hosts share this machine's kernel, so a line in its log is a line in both.
    // The line says what it is, for whoever reads this machine's dmesg later.
    name: 'a kernel BUG logged during the run',
    alone: true,
    hook: () => `echo '<4>dutlab fault injection (tests/integration/faults.test.ts), not a real fault: BUG: soft lockup - CPU#0 stuck for 23s' > /dev/kmsg`,
    exitCode: 1,
    fails: {
      'check.dmesg-kernel': /^dmesg \(kernel\): host kernel logged: \[[\d.]+\] dutlab fault injection .*BUG: soft lockup - CPU#0 stuck for 23s; guest kernel logged: /,
    },
    passes: ['check.packets', 'check.counters', 'check.flows', 'check.switch', 'check.ifconfig', 'check.sysctl', 'check.route', 'check.arp'],
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
    hook: (lab) => `p=$(node -e 'console.log(require("${lab.state}/state.json").processes.find(p => p.name === "sshd-guest").pid)'); for c in $(ps -o pid= --ppid $p); do kill -9 $c; done; kill -9 $p`,
    exitCode: 2,
    fails: {
      'check.counters': /^\[guest\] connection (lost|closed)/,
      'check.ifconfig': /^\[guest\] connection (lost|closed)/,
    },
    passes: ['check.packets', 'check.flows', 'check.switch'],
  },
];

const VERDICTS = { 0: 'pass', 1: 'fail', 2: 'infra-error' } as const;

/** A copy of the lab's testbed with other `verify` settings, in the lab's state dir (lab down removes it). */
function withVerify(lab: Lab, testbedFile: string, verify: Record<string, number>): string {
  const doc = parseDocument(readFileSync(testbedFile, 'utf8'));
  for (const [k, v] of Object.entries(verify)) doc.setIn(['verify', k], v);
  const file = `${lab.state}/testbed-verify.yaml`;
  writeFileSync(file, doc.toString());
  return file;
}

/** At most this many faults at once (each on a lab of its own): the machine has two cores. */
const AT_ONCE = 3;
const slots = Array.from({ length: AT_ONCE }, (_, i) => `fault${i}`);
async function withLabSlot<T>(work: (id: string) => Promise<T>): Promise<T> {
  while (slots.length === 0) await new Promise((r) => setTimeout(r, 50));
  const id = slots.pop()!;
  try {
    return await work(id);
  } finally {
    slots.push(id);
  }
}

/** One fault on a lab of its own: the run's verdict, the named diagnoses, what still passes, a clean lab after. */
async function checkFault(f: Fault, expect: ExpectStatic): Promise<void> {
    const { r, leftovers } = await withLabSlot(async (id) => {
      labIds.add(id);
      const lab = await labUp({ id });
      const at = labOf(id);
      const testbed = f.verify ? withVerify(at, lab.testbedFile, f.verify) : lab.testbedFile;
      const run = await dutlabRun(['--testbed', testbed, '--profile', 'virtual', '--hook-before-traffic', f.hook(at)]);
      reports.push(run.reports);
      await labDown({ id });
      return { r: run, leftovers: await labLeftovers(id, lab.processes) };
    });
    expect(leftovers).toEqual([]);
    expect(r.exitCode, `${r.summary.reason}\n${r.stderr}`).toBe(f.exitCode);
    expect(r.summary.verdict).toBe(VERDICTS[f.exitCode]);
    const failed = failedCases(r.summary);
    for (const [id, pattern] of Object.entries(f.fails)) expect(failed[id], `${id} in ${JSON.stringify(failed, null, 1)}`).toMatch(pattern);
    const mustPass = f.passes === 'every other check' ? CHECKS.filter((id) => !(id in f.fails)) : (f.passes ?? []);
    for (const id of mustPass) expect(r.summary.cases.find((c) => c.id === id)?.status, id).toBe('passed');
    // Every setup step passed: the fault came after the setup, as injected.
    expect(r.summary.cases.filter((c) => c.group === 'setup' && c.status !== 'passed')).toEqual([]);
    const summaryMd = readFileSync(`${r.reports}/latest/summary.md`, 'utf8');
    expect(summaryMd).toContain(`# ${VERDICTS[f.exitCode].toUpperCase()}`);
    if (f.notes) {
      expect(r.summary.notes.join('\n')).toMatch(f.notes);
      expect(summaryMd).toMatch(f.notes);
    }
    if (f.foreign) {
      // They were there, and counted apart: on the TG's ports, the guest's links and (from their peers) the switch's.
      const foreign = r.summary.counters?.foreign ?? {};
      for (const counter of ['tgTx', 'tgRx', 'hostPhyEgressTx', 'guestIngressRx', 'hostKniIngressTx', 'guestEgressTx', 'hostKniEgressRx'] as const) {
        expect(foreign[counter]?.subtracted, `${counter} in ${JSON.stringify(foreign)}`).toBeGreaterThan(0);
      }
      expect(r.summary.packets?.other).toBeGreaterThan(0);
    }
}

describe('fault injection', () => {
  const cases = (alone: boolean): Array<Fault & { verdict: string }> => FAULTS.filter((f) => !!f.alone === alone).map((f) => ({ ...f, verdict: VERDICTS[f.exitCode] }));
  // Concurrent tests assert with their own context's expect.
  it.concurrent.for(cases(false))('$name: $verdict, the named diagnosis, a clean lab after', { timeout: 240_000 }, (f, { expect }) => checkFault(f, expect));
  // After the concurrent ones, one at a time.
  it.for(cases(true))('$name: $verdict, the named diagnosis, a clean lab after', { timeout: 240_000 }, (f, { expect }) => checkFault(f, expect));
});
