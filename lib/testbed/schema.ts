// The testbed file: one lab, described once. Every value the scenario uses
// comes from here; the defaults are the values of the PVP KNI guide
// (shared/seeds/dpdk-vswitch-kni-pvp-guide.md), so a file only states what
// differs in its lab.
import { z } from 'zod';
import { Throughput } from './throughput-schema.js';

const MAC = /^[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){5}$/;
const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
const HEX_MASK = /^0x[0-9A-Fa-f]+$/;
const SHA256_FP = /^SHA256:[A-Za-z0-9+/]{43}=?$/;

/** The hugepage sizes of x86-64 (2 MB, 1 GB), in KiB. */
const hugepageSize = () =>
  z
    .number()
    .int()
    .refine((v) => v === 2048 || v === 1048576, 'expected a hugepage size of 2048 (2 MB) or 1048576 (1 GB) KiB')
    .default(2048);

/** A regular expression the ovs-vswitchd log check can use. */
function compiles(re: string): boolean {
  try {
    new RegExp(re);
    return true;
  } catch {
    return false;
  }
}

export const mac = () =>
  z
    .string()
    .regex(MAC, 'expected a MAC address like 00:4B:4E:49:30:00')
    .refine((v) => !/^(00:){5}00$/.test(v), 'an all-zero MAC address is no interface address')
    // The group bit: the first octet's lowest bit set is a multicast (or broadcast) address, never one interface's.
    .refine(
      (v) => (Number.parseInt(v.slice(0, 2), 16) & 1) === 0,
      'a multicast or broadcast MAC address is no interface address (the first octet must be even)',
    );
export const ipv4 = () => z.string().regex(IPV4, 'expected an IPv4 address like 1.1.1.1');
export const cidr = () =>
  z.string().refine((v) => {
    const [ip, len, ...rest] = v.split('/');
    return rest.length === 0 && IPV4.test(ip ?? '') && /^\d+$/.test(len ?? '') && Number(len) <= 32;
  }, 'expected an IPv4 address with prefix length like 2.2.2.1/24');
export const hexMask = () =>
  z
    .string()
    .regex(HEX_MASK, 'expected a hex core mask like 0x0F')
    .refine((v) => !/^0x0+$/i.test(v), 'a core mask of 0 selects no core');

// ---- Words that reach a root shell on a lab machine --------------------------
// Every value below is also quoted where it is used (lib/transport/quote.ts);
// the grammars make sure that what cannot be right is refused with the field's
// name, before anything runs.

/**
 * Linux's rules for a network interface (and an OVS bridge or port) name,
 * dev_valid_name(): 1 to 15 characters, not "." or "..", no '/', ':' or
 * whitespace; and here, of the characters a shell takes literally.
 */
export const ifName = () =>
  z
    .string()
    .min(1, 'expected an interface name')
    .max(15, 'an interface name has at most 15 characters (IFNAMSIZ)')
    .refine((v) => v !== '.' && v !== '..', 'an interface name cannot be "." or ".."')
    .refine((v) => !/[/:\s]/.test(v), "an interface name cannot hold '/', ':' or whitespace")
    .refine((v) => /^[A-Za-z0-9_.@%+=,-]*$/.test(v), 'an interface name here holds letters, digits and _ . - @ % + = , only');

const PATH_CHARS = /^[A-Za-z0-9._/+@:,=~-]+$/;
/** An absolute, normalised path other than /: what reaches rm -rf, mkdir, cp and chmod. */
export const absPath = () =>
  z
    .string()
    .min(1, 'expected an absolute path')
    .refine((v) => v.startsWith('/'), 'expected an absolute path (starting with /)')
    .refine((v) => v !== '/' && !/^\/+$/.test(v), 'refusing / itself: this path reaches rm -rf and mkdir on a lab machine')
    .refine((v) => PATH_CHARS.test(v), 'a path here holds only letters, digits and . _ / + @ : , = ~ -')
    .refine(
      (v) => !v.endsWith('/') && !v.includes('//') && !v.split('/').some((seg) => seg === '.' || seg === '..'),
      'expected a normalised path: no trailing /, no //, no . or .. segments',
    );

/** A program to run: a name on PATH or a path (the guide's ./qemu/x86_64-softmmu/qemu-system-x86_64). */
export const toolPath = () =>
  z
    .string()
    .regex(/^(\.{0,2}\/)?[A-Za-z0-9_+-][A-Za-z0-9._/+-]*$/, 'expected a program name or path of letters, digits and . _ / + -')
    .refine((v) => !v.split('/').includes('..') || v.startsWith('../'), 'expected a normalised path');

/** A file name with no directory: rte_kni_module_1_6.patch. */
export const fileName = () => z.string().regex(/^[A-Za-z0-9_+-][A-Za-z0-9._+-]*$/, 'expected a file name of letters, digits and . _ + - (no directory)');

/** One word of a command line: a build target, a metadata name. */
/** A DPDK device argument: a PCI address or a vdev with its options, no spaces or shell characters. */
export const devargs = () =>
  z.string().regex(/^[A-Za-z0-9_.:-]+(,[A-Za-z0-9_]+=[A-Za-z0-9_.:/-]+)*$/, 'expected DPDK devargs like 0000:01:00.0 or net_af_packet0,iface=port16');
export const word = () => z.string().regex(/^[A-Za-z0-9_][A-Za-z0-9._+-]*$/, 'expected one word of letters, digits and . _ + -');
const port = () => z.number().int().min(1).max(65535);

const Auth = z.union([
  z.strictObject({ privateKeyFile: z.string().min(1) }),
  z.strictObject({ agent: z.literal(true) }),
  z.strictObject({
    passwordEnv: z.string().regex(/^[A-Z_][A-Z0-9_]*$/, 'expected the name of an environment variable, like DUTLAB_HOST_PASSWORD'),
  }),
]);

const HostKey = z.union([
  z.strictObject({ fingerprint: z.string().regex(SHA256_FP, 'expected an OpenSSH SHA256 fingerprint like SHA256:abc…') }),
  z.strictObject({ knownHosts: z.string().min(1) }),
  // The one explicit opt-out. It is warned about loudly on every connection.
  z.strictObject({ insecureAcceptAny: z.literal(true) }),
]);

const HostBase = {
  address: z.string().min(1),
  port: port().default(22),
  user: z.string().min(1).default('root'),
  auth: Auth,
  sudo: z.boolean().default(false),
  hostKey: HostKey,
  connectTimeoutMs: z.number().int().positive().default(60_000),
};

export const HostSchema = z.strictObject(HostBase);
export const GuestHostSchema = z.strictObject({ ...HostBase, jump: z.literal('host').optional() });

/** A physical port on the DUT: cabled to a TG port, owned by ovs_dpdk as `option:port`. */
const PhyPort = z.strictObject({
  name: ifName(),
  ofport: z.number().int().positive(),
  dpdkPort: z.number().int().nonnegative(),
  tgPort: ifName(),
  // Upstream OVS-DPDK (the ovs-dpdk profile): the port's DPDK device, a PCI
  // address on a real lab (0000:01:00.0), a virtual device on the virtual lab
  // (net_af_packet0,iface=port16).
  dpdkDevargs: devargs().optional(),
});

/**
 * What stands between the switch and the guest's interface: a KNI vport (the
 * guide), a veth pair (the virtual lab); the DPDK and VM profiles add the tap
 * PMD and vhost-user.
 */
export const VM_PORT_KINDS = ['kni', 'veth', 'tap', 'vhost-user'] as const;

/** A VM port: an OVS port on the host and the interface the guest sees for it (vEth_portNN). */
const VmPort = z.strictObject({
  name: ifName(),
  ofport: z.number().int().positive(),
  kind: z.enum(VM_PORT_KINDS).default('kni'),
  guestIf: ifName(),
  mac: mac(),
  cidr: cidr(),
  // A tap port's kernel side (the tap PMD creates it on the host): the network
  // namespace it moves into, where a namespace (a container) is the guest.
  netns: word().optional(),
  // A vhost-user port's socket: QEMU listens on it (server=on), OVS's dpdkvhostuserclient connects.
  vhostSocket: absPath().optional(),
});

/**
 * The VM the ovs-dpdk profile starts on the DUT host for vhost-user ports
 * (the virtual lab's: `lab up --guest vm`): QEMU's binary and machine, the
 * guest's kernel, initrd and disk, its memory on shared hugepages (vhost-user
 * needs the guest's memory shared with ovs-vswitchd), the management NIC
 * the harness reaches the guest through, and where its console goes.
 */
const Vm = z.strictObject({
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
});

/**
 * Upstream Open vSwitch with DPDK (the ovs-dpdk profile): the DPDK build of
 * ovs-vswitchd, started by the run for the run, and its DPDK settings.
 */
const OvsDpdk = z.strictObject({
  // Run by its path: the system's ovs-vswitchd alternative is never switched.
  vswitchd: absPath().default('/usr/lib/openvswitch-switch-dpdk/ovs-vswitchd-dpdk'),
  lcoreMask: hexMask().default('0x1'),
  pmdCpuMask: hexMask().default('0x2'),
  // Per NUMA socket; at most 1 TiB (no host has more on one socket; dutlab doctor reads what this host can hold).
  socketMemMb: z.number().int().positive().max(1_048_576, 'at most 1048576 MB (1 TiB) on one socket').default(256),
  // At least socketMemMb (DPDK's EAL refuses a limit below what it is to take at start).
  socketLimitMb: z.number().int().positive().max(1_048_576, 'at most 1048576 MB (1 TiB) on one socket').default(256),
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
  // ovs-vswitchd log lines at ERR or EMER that are expected here (regular expressions), as make check-dpdk allows them.
  logAllowlist: z.array(z.string().min(1).refine(compiles, 'not a regular expression JavaScript can compile')).default([]),
});

const Flow = z.strictObject({
  inPort: z.number().int().positive(),
  dlType: z
    .string()
    .regex(/^0x[0-9A-Fa-f]{4}$/, 'expected an EtherType like 0x0800')
    .default('0x0800'),
  nwSrc: ipv4(),
  nwDst: ipv4(),
  idleTimeout: z.number().int().nonnegative().default(0),
  output: z.number().int().positive(),
});

const Paths = z.strictObject({
  // Where the guide's `cd openvswitch` lands: $OPENVSWITCH_DIR.
  ovsDir: absPath().default('/root/openvswitch'),
  ovsRunDir: absPath().default('/usr/local/var/run/openvswitch'),
  ovsEtcDir: absPath().default('/usr/local/etc/openvswitch'),
  ovsLogDir: absPath().default('/usr/local/var/log/openvswitch'),
  ovsSchema: absPath().optional(),
  staleConfDb: absPath().default('/tmp/conf.db'),
  vswitchdPidfile: absPath().default('/tmp/vswitchd.pid'),
  ovsdbPidfile: absPath().default('/usr/local/var/run/openvswitch/ovsdb-server.pid'),
  ovsDpdkPidfile: absPath().default('/usr/local/var/run/openvswitch/ovs_dpdk.pid'),
  dpdkDir: absPath().default('/root/DPDK'),
  qemuBinary: toolPath().default('./qemu/x86_64-softmmu/qemu-system-x86_64'),
  guestImage: absPath().default('/root/images/client.qcow2'),
  shareDir: absPath().default('/tmp/qemu_share'),
  qemuPidfile: absPath().default('/tmp/vm1.pid'),
  qemuMonitor: absPath().default('/tmp/vm1monitor'),
  // Remote directory for the harness's own files (logs of background processes, pcaps).
  workDir: absPath().default('/tmp/dutlab'),
});

const Dpdk = z.strictObject({
  ovsDpdk: z
    .strictObject({
      coreMask: hexMask().default('0x0F'),
      memChannels: z.number().int().positive().default(4),
      // The guide's <virt_addr>: the host's own (where the primary maps its memory, free in every process that attaches),
      // so no default: the legacy-kni profile refuses a testbed without it.
      baseVirtAddr: z
        .string()
        .regex(/^0x[0-9A-Fa-f]+$/, 'expected a hex address like 0x2aaa2aa0000')
        .optional(),
      portMask: hexMask().default('0x03'),
      kniPorts: z.number().int().nonnegative().default(2),
      stats: z.number().int().nonnegative().default(5),
      vswitchdCore: z.number().int().nonnegative().default(0),
      clientSwitchingCore: z.number().int().nonnegative().default(1),
      config: z
        .string()
        .regex(/^(\(\d+,\d+,\d+\),?)+$/, 'expected (port,queue,core) tuples like (0,0,2),(1,0,3)')
        .default('(0,0,2),(1,0,3)'),
    })
    .prefault({}),
  vswitchd: z.strictObject({ coreMask: hexMask().default('0x100') }).prefault({}),
  ivshmMngr: z.strictObject({ coreMask: hexMask().default('0x1'), metadata: word().default('vm_1') }).prefault({}),
  qemu: z
    .strictObject({
      coreMask: hexMask().default('0x30'),
      memChannels: z.number().int().positive().default(4),
      memory: z
        .string()
        .regex(/^\d+[KMGT]?$/, 'expected a size like 8192M')
        .default('8192M'),
      smp: z.number().int().positive().default(2),
      name: z
        .string()
        .regex(/^[A-Za-z0-9 _.,:+-]{1,64}$/, 'expected a VM name of letters, digits, spaces and . _ , : + -')
        .default('client 1'),
      vnc: z
        .string()
        .regex(/^[A-Za-z0-9.-]*:\d+$/, 'expected a VNC display like :1')
        .default(':1'),
      // The guide leaves open how one reaches the guest; a user-mode NIC with a
      // port forward on the host loopback is what this harness adds.
      mgmtForwardPort: port().default(2222),
    })
    .prefault({}),
  kniClient: z.strictObject({ coreMask: hexMask().default('0x1'), memChannels: z.number().int().positive().default(4) }).prefault({}),
});

const GuestBuild = z.strictObject({
  mountDevice: absPath().default('/dev/sdb1'),
  mountPoint: absPath().default('/mnt/kni'),
  kniDir: absPath().default('/root/kni'),
  rteTarget: word().default('x86_64-ivshmem-linuxapp-gcc'),
  patch: fileName().default('rte_kni_module_1_6.patch'),
});

const Traffic = z.strictObject({
  srcIp: ipv4().default('1.1.1.1'),
  dstIp: ipv4().default('6.6.6.2'),
  srcMac: mac().default('02:00:00:00:00:01'),
  // Default: the MAC of the first KNI vport, so the guest accepts the frames.
  dstMac: mac().optional(),
  srcPort: port().default(1024),
  dstPort: port().default(1024),
  ttl: z.number().int().min(2).max(255).default(64),
  tos: z.number().int().min(0).max(255).default(0),
  frameSize: z
    .union([
      z.number().int().min(64).max(1518),
      z.array(z.strictObject({ size: z.number().int().min(64).max(1518), weight: z.number().int().positive() })).min(1),
    ])
    .default(64),
  count: z.number().int().positive().max(10_000_000).default(1000),
  rate: z.number().int().positive().max(1_000_000).default(1000),
});

const Verify = z.strictObject({
  lossTolerance: z.number().min(0).max(1).default(0),
  // Packets other than the stream's that a port may count (ARP, LLDP on a real lab).
  counterSlack: z.number().int().nonnegative().default(0),
  quietMs: z.number().int().positive().default(1500),
  maxProblems: z.number().int().positive().default(20),
});

/** The traffic generator's driver (lib/traffic/tg.ts); the host it runs on is hosts.tg. */
/** A TRex server on the TG (tg.type: trex): where it listens as the TG sees it (reached through a forward on the TG's SSH), its ports by role, where pcaps go on the TG. */
const Trex = z.strictObject({
  server: z.strictObject({ address: ipv4().default('127.0.0.1'), port: port().default(4501) }).prefault({}),
  ports: z
    .strictObject({ transmit: z.number().int().min(0).max(63), receive: z.number().int().min(0).max(63) })
    .refine((p) => p.transmit !== p.receive, 'the transmit and receive ports are two ports'),
  pcapDir: absPath().default('/tmp/dutlab-trex'),
  /** The bound on one RPC call, retries of a busy server included. */
  callTimeoutMs: z.number().int().positive().default(10_000),
});

const Tg = z
  .strictObject({
    type: z.enum(['linux', 'trex']).default('linux'),
    trex: Trex.optional(),
    // The linux TG's CPUs for tcpreplay and its captures (taskset -c), apart from the DUT's: "1", "2-3", "1,3".
    cpus: z
      .string()
      .regex(/^\d{1,4}(-\d{1,4})?(,\d{1,4}(-\d{1,4})?)*$/, 'a CPU list as taskset -c takes it: 1, 2-3 or 1,3')
      .optional(),
  })
  .refine((t) => t.type !== 'trex' || t.trex !== undefined, {
    message: 'tg.type trex needs tg.trex (the server, its ports, the pcap directory)',
    path: ['trex'],
  });

/** The lab's lease on the DUT host (docs/pool.md): its directory, and how long it lives unrenewed (its run renews it every third of that). */
const Lock = z.strictObject({
  path: absPath().default('/tmp/dutlab.lock'),
  ttlSeconds: z.number().int().min(3, 'at least 3 seconds: the lease is renewed every third of it').max(3600).default(120),
});

export const TestbedSchema = z.strictObject({
  name: z.string().min(1),
  hosts: z.strictObject({ host: HostSchema, guest: GuestHostSchema, tg: HostSchema }),
  bridge: ifName().default('br0'),
  // The order is the path's: ingress (from the TG's transmit port), then egress (to its receive port).
  phyPorts: z.tuple([PhyPort, PhyPort]).default([
    { name: 'port16', ofport: 16, dpdkPort: 1, tgPort: 'tg0' },
    { name: 'port17', ofport: 17, dpdkPort: 2, tgPort: 'tg1' },
  ]),
  // The order is the path's: ingress (the TG's side of the guest), then egress (lib/testbed/topology.ts).
  vmPorts: z.tuple([VmPort, VmPort]).default([
    { name: 'port32', ofport: 32, kind: 'kni', guestIf: 'vEth_port32', mac: '00:4B:4E:49:30:00', cidr: '2.2.2.1/24' },
    { name: 'port33', ofport: 33, kind: 'kni', guestIf: 'vEth_port33', mac: '00:4B:4E:49:30:01', cidr: '3.3.3.1/24' },
  ]),
  gateway: z.strictObject({ ip: ipv4(), mac: mac() }).default({ ip: '3.3.3.2', mac: 'DE:AD:BE:EF:CA:FE' }),
  // Empty means: the guide's two flows, derived from the ports and the stream.
  flows: z.array(Flow).default([]),
  paths: Paths.prefault({}),
  dpdk: Dpdk.prefault({}),
  ovsDpdk: OvsDpdk.prefault({}),
  vm: Vm.optional(),
  guestBuild: GuestBuild.prefault({}),
  traffic: Traffic.prefault({}),
  verify: Verify.prefault({}),
  tg: Tg.prefault({}),
  throughput: Throughput.prefault({}),
  lock: Lock.prefault({}),
});

export type Testbed = z.infer<typeof TestbedSchema>;
export type HostSpec = z.infer<typeof HostSchema> & { jump?: 'host' };
export type HostRole = keyof Testbed['hosts'];
export type VmPortSpec = Testbed['vmPorts'][number];
export type VmPortKind = (typeof VM_PORT_KINDS)[number];
export type PhyPortSpec = Testbed['phyPorts'][number];
export type VmSpec = z.infer<typeof Vm>;
export type FlowSpec = z.infer<typeof Flow>;
export type TrafficSpec = Testbed['traffic'];
export const HOST_ROLES: HostRole[] = ['host', 'guest', 'tg'];
