// What a testbed's setup takes of a machine: its hugepages (ovs-vswitchd's
// socket memory, and a VM's memory on vhost-user). The virtual lab reserves
// them; the hugepage step checks them.
import type { Testbed } from './schema.js';

/** The VM ports on vhost-user: the profile starts a VM for them. */
export const vhostUserPorts = (tb: Testbed) => tb.vmPorts.filter((k) => k.kind === 'vhost-user');

/** The hugepages the setup takes: ovs-vswitchd's socket memory at DPDK's initialisation, and a VM's memory (shared with it for vhost-user). */
/** Where the kernel counts the free hugepages of a size. */
export const freeHugepagesFile = (sizeKb: number): string => `/sys/kernel/mm/hugepages/hugepages-${sizeKb}kB/free_hugepages`;

export const hugepagesNeeded = (tb: Testbed): number => Math.ceil((tb.ovsDpdk.socketMemMb * 1024) / tb.ovsDpdk.hugepageSizeKb) + vmHugepages(tb);

export const vmHugepages = (tb: Testbed): number => (tb.vm && vhostUserPorts(tb).length > 0 ? Math.ceil((tb.vm.memoryMb * 1024) / tb.vm.hugepageSizeKb) : 0);
