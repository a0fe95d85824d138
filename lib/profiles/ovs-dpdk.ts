// The guide's topology on what replaced its lab: upstream Open vSwitch's
// netdev-dpdk (the Intel DPDK vSwitch fork was folded into it), phy ports as
// DPDK devices, and the tap PMD in place of KNI (removed in DPDK 23.11) for
// the guest's side. The run starts the DPDK build of ovs-vswitchd and stops it.
import type { VmPortSpec } from '../testbed/schema.js';
import { shq } from '../transport/quote.js';
import type { Profile } from './profile.js';
import * as S from './steps.js';

/** How OVS takes a VM port of each kind. A tap wants as many RX queues as the TX queues OVS gives it: one per PMD thread, plus one. */
function vmDevice(k: VmPortSpec, pmdThreads: number): { type: string; options: Record<string, string> } {
  if (k.kind === 'tap') return { type: 'dpdk', options: { 'dpdk-devargs': `net_tap${k.ofport},iface=${k.guestIf}`, n_rxq: String(pmdThreads + 1) } };
  throw new Error(`the ovs-dpdk profile does not take VM ports of kind ${k.kind} (${k.name}); use kind: tap`);
}

const bits = (mask: string) => [...BigInt(mask).toString(2)].filter((b) => b === '1').length;
const options = (o: Record<string, string>) => Object.entries(o).map(([k, v]) => `options:${k}=${v}`);

export const ovsDpdk: Profile = {
  name: 'ovs-dpdk',
  title: 'upstream OVS with DPDK (netdev-dpdk): DPDK phy ports, the tap PMD to the guest; the run starts the DPDK ovs-vswitchd',
  features: ['guest', 'dpdk', 'dpdk-ports', 'tap'],
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
    ...tb.vmPorts.flatMap((k, i) => (k.kind === 'tap' ? [] : [`vmPorts.${i}.kind: the ovs-dpdk profile takes tap ports, not ${k.kind}`])),
    ...(bits(tb.ovsDpdk.pmdCpuMask) === 1 ? [] : [`ovsDpdk.pmdCpuMask: one PMD core (the tap ports' queues are sized for one), not ${tb.ovsDpdk.pmdCpuMask}`]),
  ],
  steps: [
    S.hostStopPreviousVswitchd,
    S.hostCheckHugepages,
    S.hostDpdkConfig,
    S.hostStartVswitchdDpdk,
    S.hostAddBridge,
    S.hostAddPorts,
    S.hostWaitPorts,
    S.hostMoveTaps,
    S.hostConfirmPorts,
    S.hostFlows,
    ...S.GUEST_ROUTER_STEPS,
  ],
  // The DPDK the DPDK build of ovs-vswitchd is linked with ("DPDK 22.11.11"), before it runs.
  dpdkVersionCommand: (tb) => `${shq(tb.ovsDpdk.vswitchd)} --version | grep -m1 '^DPDK'`,
};
