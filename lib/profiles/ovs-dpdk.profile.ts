// The guide's topology on what replaced its lab: upstream Open vSwitch's
// netdev-dpdk (the Intel DPDK vSwitch fork was folded into it), phy ports as
// DPDK devices, and the tap PMD in place of KNI (removed in DPDK 23.11) for
// the guest's side. The run starts the DPDK build of ovs-vswitchd and stops it.
import type { Testbed, VmPortSpec } from '../testbed/schema.js';
import type { Profile } from './profile.js';
import * as S from './steps/index.js';
import { selectedBuild, vswitchdLaunch } from './steps/build.js';

/**
 * How OVS takes a VM port of each kind. A tap wants as many RX queues as the
 * TX queues OVS gives it: one per PMD thread, plus one. A vhost-user port is
 * OVS's client of the socket QEMU listens on (QEMU may restart; OVS reconnects).
 */
function vmDevice(k: VmPortSpec, pmdThreads: number): { type: string; options: Record<string, string> } {
  if (k.kind === 'tap') return { type: 'dpdk', options: { 'dpdk-devargs': `net_tap${k.ofport},iface=${k.guestIf}`, n_rxq: String(pmdThreads + 1) } };
  if (k.kind === 'vhost-user') return { type: 'dpdkvhostuserclient', options: { 'vhost-server-path': k.vhostSocket ?? '' } };
  throw new Error(`the ovs-dpdk profile does not take VM ports of kind ${k.kind} (${k.name}); use kind: tap or vhost-user`);
}

/** What a QEMU option value may hold: a comma would split it (QEMU wants it doubled), so the testbed may not use one. */
const qemuSafe = (what: string, v: string | undefined) => (v?.includes(',') ? [`${what}: no comma in a path QEMU takes (${v})`] : []);

function vmProblems(tb: Testbed): string[] {
  const kinds = new Set(tb.vmPorts.map((k) => k.kind));
  if (kinds.size > 1) return [`vmPorts: all tap or all vhost-user, not ${[...kinds].join(' and ')}`];
  const problems = tb.vmPorts.flatMap((k, i) => {
    if (k.kind === 'tap') return [];
    if (k.kind !== 'vhost-user') return [`vmPorts.${i}.kind: the ovs-dpdk profile takes tap or vhost-user ports, not ${k.kind}`];
    return [
      ...(k.vhostSocket ? [] : [`vmPorts.${i}.vhostSocket: a vhost-user port needs the socket QEMU listens on`]),
      ...qemuSafe(`vmPorts.${i}.vhostSocket`, k.vhostSocket),
    ];
  });
  if (kinds.has('vhost-user')) {
    if (!tb.vm) problems.push('vm: vhost-user ports need the VM that the profile starts on them (qemu, kernel, initrd, disk, ...)');
    else for (const f of ['kernel', 'initrd', 'disk', 'consoleLog', 'pidfile'] as const) problems.push(...qemuSafe(`vm.${f}`, tb.vm[f]));
  }
  return problems;
}

const bits = (mask: string) => [...BigInt(mask).toString(2)].filter((b) => b === '1').length;
const options = (o: Record<string, string>) => Object.entries(o).map(([k, v]) => `options:${k}=${v}`);

/** The switch, whatever is behind its VM ports: the DPDK ovs-vswitchd started for the run, the bridge, its ports. */
const SWITCH_STEPS = [S.hostStopPreviousVswitchd, S.hostDpdkConfig, S.hostStartVswitchdDpdk, S.hostAddBridge, S.hostAddPorts, S.hostWaitPorts];

export const ovsDpdk: Profile = {
  name: 'ovs-dpdk',
  title: 'upstream OVS with DPDK (netdev-dpdk): DPDK phy ports, the tap PMD to the guest; the run starts the DPDK ovs-vswitchd',
  features: ['guest', 'guest-router', 'dpdk', 'dpdk-ports', 'tap'],
  requires: [],
  defaultSuites: ['pvp'],
  datapathType: 'netdev',
  tool: (t) => t,
  hostContext: (tb) => ({ env: { OVS_RUNDIR: tb.paths.ovsRunDir, OVS_DBDIR: tb.paths.ovsEtcDir, OVS_LOGDIR: tb.paths.ovsLogDir } }),
  appctlTarget: (tb) => S.dpdkVswitchdCtl(tb),
  phySettings: (p) => ['type=dpdk', ...options({ 'dpdk-devargs': p.dpdkDevargs ?? '' }), `ofport_request=${p.ofport}`],
  vmSettings: (k) => {
    const d = vmDevice(k, 1);
    return [`type=${d.type}`, ...options(d.options), `ofport_request=${k.ofport}`];
  },
  phyShown: (p) => ({ type: 'dpdk', options: { 'dpdk-devargs': p.dpdkDevargs ?? '' } }),
  vmShown: (k) => vmDevice(k, 1),
  checkTestbed: (tb) => [
    ...tb.phyPorts.flatMap((p, i) => (p.dpdkDevargs ? [] : [`phyPorts.${i}.dpdkDevargs: the ovs-dpdk profile needs the port's DPDK device`])),
    ...vmProblems(tb),
    // Tap ports' queues are sized for one PMD thread; vhost-user ports take as many as the lab has.
    ...(bits(tb.ovsDpdk.pmdCpuMask) === 1 || !tb.vmPorts.some((k) => k.kind === 'tap')
      ? []
      : [`ovsDpdk.pmdCpuMask: one PMD core with tap VM ports (their queues are sized for one), not ${tb.ovsDpdk.pmdCpuMask}`]),
  ],
  steps: [...SWITCH_STEPS, S.hostMoveTaps, S.hostConfirmPorts, S.hostFlows, ...S.GUEST_ROUTER_STEPS],
  // A new daemon makes its tap ports anew, their kernel side in the host's namespace: moved and addressed again.
  restartSteps: [S.hostWaitPorts, S.hostMoveTaps, S.hostConfirmPorts, S.guestInterfaces, S.guestForwarding, S.guestRouteArp, S.guestCheckInterfaces],
  // The DPDK the DPDK build of ovs-vswitchd is linked with ("DPDK 22.11.11"), before it runs.
  // The build's libraries where the run names one (its mount namespace and library path, as it starts).
  dpdkVersionCommand: (tb) => `${vswitchdLaunch(tb, selectedBuild(tb), '--version')} | grep -m1 '^DPDK'`,
  forTestbed: (tb) => (tb.vmPorts.some((k) => k.kind === 'vhost-user') ? (tb.vm?.forwarding === 'testpmd' ? ovsDpdkVmTestpmd : ovsDpdkVm) : ovsDpdk),
};

/**
 * The same profile with vhost-user VM ports: the modern form of the guide's
 * VM (QEMU on the DUT host, its NICs on the switch's ports, as OPNFV VSPERF
 * and FD.io CSIT run PVP). The run starts QEMU after the ports, waits for
 * the guest while watching QEMU, and stops it before ovs-vswitchd.
 */
const ovsDpdkVm: Profile = {
  ...ovsDpdk,
  title: 'upstream OVS with DPDK (netdev-dpdk): DPDK phy ports, vhost-user ports to a QEMU guest the run starts',
  features: ['guest', 'guest-router', 'vm', 'dpdk', 'dpdk-ports', 'vhost-user'],
  steps: [
    ...SWITCH_STEPS,
    S.hostStartVm,
    S.hostPinVcpus,
    S.hostFlows,
    S.guestConnect,
    S.hostWaitVhostUser,
    S.hostConfirmPorts,
    ...S.GUEST_ROUTER_STEPS.filter((s) => s !== S.guestConnect),
  ],
  // QEMU keeps its sockets; OVS, their client, reconnects: the guest's side is untouched.
  restartSteps: [S.hostWaitPorts, S.hostWaitVhostUser, S.hostConfirmPorts],
  forTestbed: undefined,
};

/**
 * The VM forwarding with DPDK's testpmd (vm.forwarding: testpmd) instead of
 * its kernel: its NICs given to DPDK and testpmd started in MAC-forwarding
 * mode where the kernel guest's interface, forwarding, route and ARP steps
 * were. What judges the guest's kernel routing is blocked on it.
 */
const ovsDpdkVmTestpmd: Profile = {
  ...ovsDpdkVm,
  title: 'upstream OVS with DPDK (netdev-dpdk): DPDK phy ports, vhost-user ports to a QEMU guest forwarding with testpmd',
  features: ['guest', 'vm', 'dpdk', 'dpdk-ports', 'vhost-user', 'testpmd'],
  steps: [
    ...ovsDpdkVm.steps.slice(0, ovsDpdkVm.steps.indexOf(S.guestConnect) + 1),
    S.hostWaitVhostUser,
    S.hostConfirmPorts,
    ...S.GUEST_TESTPMD_STEPS.filter((s) => s !== S.guestConnect),
  ],
};
export default ovsDpdk;
