// Which DUT-host probes a testbed needs, by what its profile runs: each says
// why not (the doctor's n/a line), or null when the probe applies.
import type { ProbeContext } from './probe.js';

/** The probes of upstream OVS-DPDK apply to the ovs-dpdk profile (the guide's fork sizes its own). */
export const upstreamDpdk = (c: ProbeContext): string | null =>
  c.profile.features.includes('dpdk-ports') ? null : `the ${c.profile.name} profile does not start upstream OVS-DPDK`;
export const nics = (c: ProbeContext): string | null =>
  upstreamDpdk(c) ?? (c.tb.ovsDpdk.pciDevices.length > 0 ? null : 'no NIC in ovsDpdk.pciDevices (DPDK runs --no-pci)');
export const dedicated = (c: ProbeContext): string | null =>
  upstreamDpdk(c) ?? (c.tb.ovsDpdk.dedicatedCores ? null : 'ovsDpdk.dedicatedCores is false: the PMD cores share the machine');
export const vmStarted = (c: ProbeContext): string | null => (c.profile.features.includes('vm') && c.tb.vm ? null : 'the run starts no VM from vm:');
/** The guide's lab: the Intel DPDK vSwitch fork, its own ovsdb-server and bridge. */
export const legacyLab = (c: ProbeContext): string | null =>
  c.profile.features.includes('ovs-dpdk-fork') ? null : `the ${c.profile.name} profile is not the guide's lab`;
/** The netdev profiles switch on the lab's running ovs-vswitchd (they neither start nor stop it). */
export const runningSwitch = (c: ProbeContext): string | null =>
  c.profile.features.includes('dpdk') ? `the ${c.profile.name} profile starts its own ovs-vswitchd` : null;

/** Kernel drivers of bifurcated NICs: DPDK's PMD (mlx5, mlx4) drives the port beside them, never through vfio-pci. */
export const BIFURCATED = new Set(['mlx5_core', 'mlx4_core']);
