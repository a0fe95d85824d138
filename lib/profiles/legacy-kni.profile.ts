// The guide's procedure, word for word: the Intel DPDK vSwitch fork
// (ovs_dpdk, dpdkphy and dpdkkni ports), IVSHMEM metadata handed to QEMU,
// and KNI in the guest. The plan test pins every command of it.
import { IVSHMEM_REMOVED, KNI_REMOVED } from '../capabilities.js';
import type { OvsTool, Profile } from './profile.js';
import * as S from './steps/index.js';

const TOOLS: Record<OvsTool, string> = {
  'ovs-vsctl': './utilities/ovs-vsctl',
  'ovs-ofctl': './utilities/ovs-ofctl',
  'ovs-appctl': './utilities/ovs-appctl',
  'ovsdb-tool': './ovsdb/ovsdb-tool',
  'ovsdb-server': './ovsdb/ovsdb-server',
  'ovs-vswitchd': './vswitchd/ovs-vswitchd',
  'ovs-ivshm-mngr': './utilities/ovs-ivshm-mngr',
};

export const legacyKni: Profile = {
  name: 'legacy-kni',
  title: "the guide's lab: the Intel DPDK vSwitch fork, IVSHMEM and KNI in a QEMU guest",
  features: ['guest', 'guest-router', 'vm', 'dpdk', 'kni', 'ivshmem', 'ovs-dpdk-fork'],
  requires: [IVSHMEM_REMOVED, KNI_REMOVED],
  defaultSuites: ['pvp'],
  datapathType: 'dpdk',
  // The guide's VM ports are KNI vports: a testbed of the virtual lab (veth, tap, vhost-user) is not this lab.
  checkTestbed: (tb) => [
    ...tb.vmPorts.flatMap((k, i) =>
      k.kind === 'kni'
        ? []
        : [`vmPorts.${i}.kind: ${k.kind}; the guide's lab has KNI vports (kind kni): a virtual-lab testbed runs with profile virtual or ovs-dpdk`],
    ),
    ...(tb.dpdk.ovsDpdk.baseVirtAddr
      ? []
      : [
          "dpdk.ovsDpdk.baseVirtAddr: missing; the guide's --base-virtaddr=<virt_addr> is the host's own (an address free in the primary and in every process that attaches to it), so dutlab has no default for it",
        ]),
    // The guide's vSwitch predates OVS's static MAC entries (fdb/add, OVS 2.16): its switch cannot be kept from flooding.
    ...(tb.traffic.direction === 'both'
      ? ["traffic.direction: both; the guide's setup is one way (its flows, its route and ARP entry): use one-way, or the virtual or ovs-dpdk profile"]
      : []),
    ...(tb.traffic.rules === 'normal'
      ? ["traffic.rules: normal; the guide's vSwitch has no static MAC entries (ovs-appctl fdb/add) to keep it from flooding: use guide, port or flow"]
      : []),
  ],
  tool: (t) => TOOLS[t],
  hostContext: (tb) => ({ cwd: tb.paths.ovsDir, env: { OPENVSWITCH_DIR: tb.paths.ovsDir } }),
  phySettings: (p) => ['type=dpdkphy', `ofport_request=${p.ofport}`, `option:port=${p.dpdkPort}`],
  vmSettings: (k) => ['type=dpdkkni', `ofport_request=${k.ofport}`],
  phyShown: (p) => ({ type: 'dpdkphy', options: { port: String(p.dpdkPort) } }),
  vmShown: () => ({ type: 'dpdkkni', options: {} }),
  steps: [
    S.hostCleanPreviousRun,
    S.hostOvsdb,
    S.hostAddBridge,
    S.hostAddPorts,
    S.hostConfirmPorts,
    S.hostStartOvsDpdk,
    S.hostStartVswitchd,
    S.hostFlows,
    S.hostCopyFiles,
    S.hostIvshmMetadata,
    S.hostStartQemu,
    S.guestConnect,
    S.dmesgBaseline,
    S.guestCopyFiles,
    S.guestBuildDpdk,
    S.guestBuildKniClient,
    S.guestInsmod,
    S.guestKniGate,
    S.guestStartKniClient,
    S.guestInterfaces,
    S.guestForwarding,
    S.guestRouteArp,
    S.guestCheckInterfaces,
  ],
  dpdkVersionCommand: (tb) => S.dpdkTreeVersion(tb),
};
export default legacyKni;
