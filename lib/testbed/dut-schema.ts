// The DUT host's side of the testbed: upstream OVS-DPDK's settings (ovsDpdk:)
// and the VM the ovs-dpdk profile starts (vm:). lib/testbed/schema.ts holds the rest.
import { z } from 'zod';
import { absPath, compiles, cpuListText, hexMask, hugepageSize, mac, port, toolPath, word } from './words.js';

/**
 * The VM the ovs-dpdk profile starts on the DUT host for vhost-user ports
 * (the virtual lab's: `lab up --guest vm`): QEMU's binary and machine, the
 * guest's kernel, initrd and disk, its memory on shared hugepages (vhost-user
 * needs the guest's memory shared with ovs-vswitchd), the management NIC
 * the harness reaches the guest through, and where its console goes.
 */
export const Vm = z.strictObject({
  qemu: toolPath().default('qemu-system-x86_64'),
  // tcg where the host has no /dev/kvm (the virtual lab here); kvm on a real DUT host.
  accel: z.enum(['kvm', 'tcg']).default('kvm'),
  machine: word().default('q35'),
  cpu: word().default('host'),
  memoryMb: z.number().int().min(128).max(1_048_576).default(1024),
  cpus: z.number().int().positive().max(256).default(1),
  kernel: absPath(),
  initrd: absPath(),
  disk: absPath(),
  // The guest's memory: a memfd of hugepages of this size, shared with ovs-vswitchd (so the same
  // size as ovsDpdk.hugepageSizeKb: the load refuses another), and a whole number of them.
  hugepageSizeKb: hugepageSize(),
  // QEMU's user-mode NIC for the harness, forwarded from the DUT host's loopback only.
  mgmtMac: mac().default('52:54:00:00:00:02'),
  mgmtForwardPort: port().default(2222),
  // MSI-X vectors of the vhost-user NICs; 0 under TCG, where QEMU 7.2 crashes (SIGSEGV) as the
  // guest starts a vhost-user NIC with MSI-X. null: QEMU's default (KVM).
  nicVectors: z.number().int().nonnegative().max(2048, 'at most 2048: the most MSI-X vectors a PCI function has').nullable().default(0),
  pidfile: absPath(),
  consoleLog: absPath(),
  // A line the guest prints on its console once its sshd listens: SSH is tried only then. Through QEMU's
  // user networking an earlier attempt hangs in its SYN retries (seconds) after the guest is up.
  readyLine: z
    .string()
    .regex(/^[A-Za-z0-9 _.:,=/-]{1,100}$/, 'expected a console line of letters, digits, spaces and . _ : , = / -')
    .optional(),
  // Words added to QEMU's command line as they are (validated: no shell characters).
  extraArgs: z.array(z.string().regex(/^[A-Za-z0-9_.,:=/+-]+$/, 'expected a QEMU argument of letters, digits and . _ , : = / + -')).default([]),
  // How long the guest may take from QEMU's start to answering SSH.
  bootTimeoutS: z.number().int().positive().default(120),
  // The guest's memory taken whole at QEMU's start (prealloc=on): a hugepage shortfall is a failed start, not a
  // SIGBUS in the middle of a trial.
  prealloc: z.boolean().default(true),
  // How the guest forwards: its kernel routes (the guide's; the default), or DPDK's testpmd in MAC-forwarding mode on
  // its vhost-user NICs (taken from its kernel with uio_pci_generic), as upstream's PHY-VM-PHY howto, VSPERF and
  // NFVbench run it: a kernel guest tops out below the switch and hides its regressions. testpmd polls a vCPU of its
  // own (vm.cpus 2 at least: the guest's sshd needs the other) and takes 2 MB hugepages of the guest's memory.
  forwarding: z.enum(['kernel', 'testpmd']).default('kernel'),
  testpmd: z
    .strictObject({
      hugepages: z.number().int().min(16).max(65536).default(64),
      mbufs: z.number().int().min(512).max(1_048_576).default(2048),
    })
    .prefault({}),
  // Where the guest's threads run (upstream's howto and VSPERF pin them): vCPU i on vcpus[i], QEMU's other threads on
  // emulator, both apart from ovsDpdk.pmdCpuMask and lcoreMask; floating vCPUs make NDR noisy and the gate flap. A KVM
  // guest (a real DUT host) must say: its CPUs, or none to let them float.
  pin: z
    .union([
      z.literal('none'),
      z.strictObject({
        vcpus: z.array(z.number().int().nonnegative().max(4095)).min(1),
        emulator: cpuListText(),
      }),
    ])
    .optional(),
});

/**
 * Upstream Open vSwitch with DPDK (the ovs-dpdk profile): the DPDK build of
 * ovs-vswitchd, started by the run for the run, and its DPDK settings.
 */
/** Megabytes on one NUMA node: at most 1 TiB (no host has more on one node; dutlab doctor reads what this host can hold). */
const nodeMb = () => z.number().int().nonnegative().max(1_048_576, 'at most 1048576 MB (1 TiB) on one NUMA node');

/** A size per NUMA node: one number (node 0's), or a list in ascending node order with at least one node's memory. */
const perNode = (field: string) =>
  z.union([
    nodeMb().refine((v) => v > 0, `${field}: 0 MB gives DPDK no memory`),
    z
      .array(nodeMb())
      .min(1)
      .max(8, 'at most 8 NUMA nodes')
      .refine((l) => l.some((v) => v > 0), 'every node at 0 MB gives DPDK no memory'),
  ]);

/**
 * One named build of OVS and DPDK on the DUT host (issue 43): what its
 * ovs-vswitchd must turn out to be, and where its files are. A build side by
 * side with the system's has a directory of DPDK libraries (first on the
 * library path) and one of DPDK drivers, which the daemon's own mount
 * namespace stands over the system's driver directory: DPDK's EAL loads every
 * driver there whatever the library path, so a swapped library path alone
 * gives one build's core with the other's drivers.
 */
export const Build = z
  .strictObject({
    // The DPDK version its ovs-vswitchd must report (dpdk_version, "DPDK 22.11.7"): what the build claims.
    dpdkVersion: z.string().regex(/^\d+\.\d+(\.\d+)*$/, 'a DPDK version like 22.11.7'),
    // Its ovs-vswitchd; absent: ovsDpdk.vswitchd.
    vswitchd: absPath().optional(),
    // Side by side: its DPDK libraries (librte_*.so.*) and its drivers; absent both: the system's, as the loader finds them.
    libDir: absPath().optional(),
    pmdDir: absPath().optional(),
    // A throughput regression of known size, to prove a gate (docs/upgrade.md): with this build, the phy ingress port
    // policed by OVS to this rate (Interface ingress_policing_rate, kbit/s). Never on a build being gated for real.
    policeIngressKbps: z.number().int().positive().max(100_000_000).optional(),
  })
  .refine((b) => (b.libDir === undefined) === (b.pmdDir === undefined), {
    path: ['pmdDir'],
    message: 'libDir and pmdDir go together: a build side by side has both, the system’s neither',
  });

export const OvsDpdk = z.strictObject({
  // Run by its path: the system's ovs-vswitchd alternative is never switched.
  vswitchd: absPath().default('/usr/lib/openvswitch-switch-dpdk/ovs-vswitchd-dpdk'),
  lcoreMask: hexMask().default('0x1'),
  pmdCpuMask: hexMask().default('0x2'),
  // DPDK's memory per NUMA node, in ascending node order ([0, 2048]: node 1's 2 GB, for a NIC on node 1), as
  // other_config:dpdk-socket-mem takes it. One number is node 0's alone (read, with a note on a real lab).
  socketMemMb: perNode('socketMemMb').default(256),
  // Per node too, each at least that node's socketMemMb (DPDK's EAL refuses a limit below what it is to take at start).
  socketLimitMb: perNode('socketLimitMb').default(256),
  // The driver the NICs in pciDevices are bound to for DPDK (dutlab doctor checks it).
  pciDriver: word().default('vfio-pci'),
  // The PMD cores are the lab's alone (a measuring lab): doctor expects them isolated (isolcpus,
  // nohz_full) and at the performance governor. false on a shared box (the virtual lab).
  dedicatedCores: z.boolean().default(true),
  // The PCI devices DPDK may probe; none: `--no-pci`, so that DPDK never touches the machine's own NICs.
  pciDevices: z.array(z.string().regex(/^[0-9a-fA-F]{4}:[0-9a-fA-F]{2}:[0-9a-fA-F]{2}\.[0-7]$/, 'expected a PCI address like 0000:01:00.0')).default([]),
  // Further EAL arguments, one word each (--in-memory keeps DPDK's files out of /var/run/dpdk).
  extraArgs: z.array(z.string().regex(/^--?[A-Za-z0-9][A-Za-z0-9_.=,:/-]*$/, 'expected one EAL option like --in-memory')).default(['--in-memory']),
  // Unique per lab on a shared box: DPDK's runtime directory is /var/run/dpdk/<prefix>.
  filePrefix: word().default('dutlab'),
  // Lets an idle PMD thread sleep (microseconds): without it a PMD takes a whole core.
  pmdMaxSleepUs: z.number().int().nonnegative().default(10000),
  hugepageSizeKb: hugepageSize(),
  // Named builds (issue 43), and the one a run starts; without one, ovs-vswitchd above with the system's DPDK, not read back.
  builds: z.record(word(), Build).default({}),
  build: word().optional(),
  // Where this host's EAL loads DPDK drivers from (RTE_EAL_PMD_PATH of Debian's DPDK 22.11): what a build's pmdDir stands over.
  systemPmdDir: absPath().default('/usr/lib/x86_64-linux-gnu/dpdk/pmds-23.0'),
  // Where the system's DPDK libraries are (a build without libDir is read back against them).
  systemLibDir: absPath().default('/usr/lib/x86_64-linux-gnu'),
  // ovs-vswitchd log lines at ERR or EMER that are expected here (regular expressions), as make check-dpdk allows them.
  logAllowlist: z.array(z.string().min(1).refine(compiles, 'not a regular expression JavaScript can compile')).default([]),
});
