// The two ways to build the setup. Every difference between the real lab
// (legacy-kni: the guide's procedure, word for word) and the built-in virtual
// lab (virtual) lives here; steps and suites ask the profile, never the name.
import type { PhyPortSpec, Testbed, VmPortSpec } from '../testbed/schema.js';

export type ProfileName = 'legacy-kni' | 'virtual';
export const PROFILE_NAMES: ProfileName[] = ['legacy-kni', 'virtual'];

export type OvsTool = 'ovs-vsctl' | 'ovs-ofctl' | 'ovs-appctl' | 'ovsdb-tool' | 'ovsdb-server' | 'ovs-vswitchd' | 'ovs-ivshm-mngr';

export interface Profile {
  name: ProfileName;
  /** The bridge's datapath_type. */
  datapathType: string;
  /** How an OVS tool is invoked on the host. */
  tool(t: OvsTool): string;
  /** Working directory and environment of every OVS command on the host. */
  hostContext(tb: Testbed): { cwd?: string; env?: Record<string, string> };
  /** The `set Interface` settings of a phy port and of a VM port (a KNI vport in the guide). */
  phySettings(p: PhyPortSpec): string[];
  vmSettings(k: VmPortSpec): string[];
  /** What `ovs-vsctl show` prints as their type and options. */
  phyShown(p: PhyPortSpec): { type: string; options: Record<string, string> };
  vmShown(k: VmPortSpec): { type: string; options: Record<string, string> };
  /** The setup's steps, by id, in the guide's order. */
  steps: string[];
  /** The kernel log must show the KNI module loading with IVSHMEM metadata. */
  expectsKniModule: boolean;
}

const LEGACY_TOOLS: Record<OvsTool, string> = {
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
  datapathType: 'dpdk',
  tool: (t) => LEGACY_TOOLS[t],
  hostContext: (tb) => ({ cwd: tb.paths.ovsDir, env: { OPENVSWITCH_DIR: tb.paths.ovsDir } }),
  phySettings: (p) => ['type=dpdkphy', `ofport_request=${p.ofport}`, `option:port=${p.dpdkPort}`],
  vmSettings: (k) => ['type=dpdkkni', `ofport_request=${k.ofport}`],
  phyShown: (p) => ({ type: 'dpdkphy', options: { port: String(p.dpdkPort) } }),
  vmShown: () => ({ type: 'dpdkkni', options: {} }),
  steps: [
    'host.clean-previous-run',
    'host.ovsdb',
    'host.add-bridge',
    'host.add-ports',
    'host.confirm-ports',
    'host.start-ovs-dpdk',
    'host.start-vswitchd',
    'host.flows',
    'host.copy-files',
    'host.ivshm-metadata',
    'host.start-qemu',
    'guest.connect',
    'dmesg.baseline',
    'guest.copy-files',
    'guest.build-dpdk',
    'guest.build-kni-client',
    'guest.insmod',
    'guest.kni-gate',
    'guest.start-kni-client',
    'guest.interfaces',
    'guest.forwarding',
    'guest.route-arp',
    'guest.check-interfaces',
  ],
  expectsKniModule: true,
};

export const virtual: Profile = {
  name: 'virtual',
  datapathType: 'netdev',
  tool: (t) => t,
  hostContext: (tb) => ({ env: { OVS_RUNDIR: tb.paths.ovsRunDir, OVS_DBDIR: tb.paths.ovsEtcDir, OVS_LOGDIR: tb.paths.ovsLogDir } }),
  // System ports: the veth pairs that stand in for the cables and the KNI vports already exist.
  phySettings: (p) => [`ofport_request=${p.ofport}`],
  vmSettings: (k) => [`ofport_request=${k.ofport}`],
  phyShown: () => ({ type: '', options: {} }),
  vmShown: () => ({ type: '', options: {} }),
  steps: [
    'host.clean-previous-bridge',
    'host.check-daemons',
    'host.add-bridge',
    'host.add-ports',
    'host.wait-ports',
    'host.confirm-ports',
    'host.flows',
    'guest.connect',
    'dmesg.baseline',
    'guest.clean-previous-run',
    'guest.interfaces',
    'guest.forwarding',
    'guest.route-arp',
    'guest.check-interfaces',
  ],
  expectsKniModule: false,
};

export function profileByName(name: string): Profile {
  if (name === 'legacy-kni') return legacyKni;
  if (name === 'virtual') return virtual;
  throw new Error(`unknown profile ${JSON.stringify(name)}: use one of ${PROFILE_NAMES.join(', ')}`);
}
