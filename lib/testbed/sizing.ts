// What a testbed's setup takes of a machine: its hugepages (ovs-vswitchd's
// socket memory on each NUMA node, and a VM's memory on vhost-user), and the
// loads a throughput search may offer. The virtual lab reserves the pages;
// the hugepage step and the doctor check them.
import { type FrameKey, meanFrame } from './frame-mix.js';
import type { Testbed } from './schema.js';

// ---- CPUs ----

/** The CPUs of a hex core mask (0x6 -> [1, 2]). */
export function coresOf(mask: string): number[] {
  const bits = BigInt(mask).toString(2).split('').reverse();
  return bits.flatMap((b, i) => (b === '1' ? [i] : []));
}

/** The CPUs of a kernel CPU list ("1-3,8" -> [1, 2, 3, 8]; empty -> []). */
export function cpuList(text: string): number[] {
  return text
    .trim()
    .split(',')
    .filter(Boolean)
    .flatMap((part) => {
      const [a, b] = part.split('-').map(Number);
      if (!Number.isInteger(a)) return [];
      return b === undefined ? [a!] : Array.from({ length: b - a! + 1 }, (_, i) => a! + i);
    });
}

// ---- Memory ----

/** The VM ports on vhost-user: the profile starts a VM for them. */
export const vhostUserPorts = (tb: Testbed) => tb.vmPorts.filter((k) => k.kind === 'vhost-user');

/** Where the kernel counts the free hugepages of a size. */
export const freeHugepagesFile = (sizeKb: number): string => `/sys/kernel/mm/hugepages/hugepages-${sizeKb}kB/free_hugepages`;

/** DPDK's socket memory per NUMA node, node 0 first (one number in the testbed is node 0's). */
export const socketMemPerNode = (tb: Testbed): number[] => perNode(tb.ovsDpdk.socketMemMb);
export const socketLimitPerNode = (tb: Testbed): number[] => perNode(tb.ovsDpdk.socketLimitMb);
const perNode = (v: number | number[]): number[] => (Array.isArray(v) ? v : [v]);

/** As other_config:dpdk-socket-mem and dpdk-socket-limit take it: "0,2048". */
export const perNodeText = (mbs: number[]): string => mbs.join(',');

/** The hugepages DPDK takes on each NUMA node at its initialisation. */
export const socketPagesPerNode = (tb: Testbed): number[] => socketMemPerNode(tb).map((mb) => Math.ceil((mb * 1024) / tb.ovsDpdk.hugepageSizeKb));

/** The hugepages the setup takes: ovs-vswitchd's socket memory at DPDK's initialisation, and a VM's memory (shared with it for vhost-user). */
export const hugepagesNeeded = (tb: Testbed): number => socketPagesPerNode(tb).reduce((a, b) => a + b, 0) + vmHugepages(tb);

export const vmHugepages = (tb: Testbed): number => (tb.vm && vhostUserPorts(tb).length > 0 ? Math.ceil((tb.vm.memoryMb * 1024) / tb.vm.hugepageSizeKb) : 0);

/** What the linux TG (tcpreplay) is offered at most when the testbed names no ceiling: far above what it reaches, below any line rate. */
export const LINUX_TG_CEILING = 1_000_000;

/** Ethernet's line rate in frames/s at a frame size (FCS included; a mix's mean): each frame takes 20 more bytes of preamble and gap. */
export const lineRate = (gbps: number, frame: number): number => Math.floor((gbps * 1e9) / ((frame + 20) * 8));

/**
 * The highest load a search offers at a frame size: throughput.maxRate, or the
 * ports' line rate (throughput.linkSpeedGbps), or, for the linux TG, its own
 * ceiling; a TRex testbed names one of the first two (the load refuses it otherwise).
 */
export function searchCeiling(tb: Testbed, frame: FrameKey): number {
  const t = tb.throughput;
  if (t.maxRate !== undefined) return t.linkSpeedGbps !== undefined ? Math.min(t.maxRate, lineRate(t.linkSpeedGbps, meanFrame(frame))) : t.maxRate;
  if (t.linkSpeedGbps !== undefined) return lineRate(t.linkSpeedGbps, meanFrame(frame));
  return LINUX_TG_CEILING;
}

/** Where kni_client's sources are on the DUT host: the testbed's paths.kniClientDir, or the dpdk-ovs tree's. */
export const kniClientDirOf = (tb: Testbed): string => tb.paths.kniClientDir ?? `${tb.paths.ovsDir}/guest/kni/kni_client`;
