// The built-in virtual lab (lib/vlab): upstream Open vSwitch's userspace
// datapath on veth pairs that stand in for the cables and the KNI vports,
// and a network namespace as the guest's router. No DPDK.
import type { Profile } from './profile.js';
import * as S from './steps/index.js';

export const virtual: Profile = {
  name: 'virtual',
  title: "the virtual lab: upstream OVS's netdev datapath on veth, a namespace as the guest",
  features: ['guest', 'guest-router'],
  requires: [],
  defaultSuites: ['pvp'],
  datapathType: 'netdev',
  tool: (t) => t,
  hostContext: (tb) => ({ env: { OVS_RUNDIR: tb.paths.ovsRunDir, OVS_DBDIR: tb.paths.ovsEtcDir, OVS_LOGDIR: tb.paths.ovsLogDir } }),
  // System ports: the veth pairs that stand in for the cables and the KNI vports already exist.
  phySettings: (p) => [`ofport_request=${p.ofport}`],
  vmSettings: (k) => [`ofport_request=${k.ofport}`],
  phyShown: () => ({ type: '', options: {} }),
  vmShown: () => ({ type: '', options: {} }),
  steps: [
    S.hostCleanPreviousBridge,
    S.hostCheckDaemons,
    S.hostAddBridge,
    S.hostAddPorts,
    S.hostWaitPorts,
    S.hostConfirmPorts,
    S.hostFlows,
    ...S.GUEST_ROUTER_STEPS,
  ],
};
export default virtual;
