// The testbed file: one lab, described once. Every value the scenario uses
// comes from here; the defaults are the values of the PVP KNI guide
// (shared/seeds/dpdk-vswitch-kni-pvp-guide.md), so a file only states what
// differs in its lab.
import { z } from 'zod';
import { Throughput } from './throughput-schema.js';
import { Traffic } from './traffic-schema.js';
import { Gate, Restart } from './upgrade-schema.js';
import { Soak } from './soak-schema.js';
import { OvsDpdk, Vm } from './dut-schema.js';
import { absPath, cidr, cpuListText, devargs, fileName, hexMask, ifName, ipv4, mac, port, SHA256_FP, toolPath, word } from './words.js';
export { absPath, cidr, hexMask, ifName, ipv4, mac, toolPath, word } from './words.js';

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
  // kni_client's sources, copied to the guest: where the dpdk-ovs tree has them (<ovsDir>/guest/kni/kni_client) unless said.
  kniClientDir: absPath().optional(),
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
    cpus: cpuListText().optional(),
    // tcpreplay's pacing (its --timer; the linux TG's): gtod, its default, spins a CPU per stream; nano sleeps between
    // frames, for a generator that shares its CPUs with the DUT (the virtual lab's), where a spinning one takes the switch's.
    timer: z.enum(['gtod', 'nano']).optional(),
    // A search's trial during which a CPU of the TG's host lost more than maxMs to its hypervisor (steal time), and whose
    // loss that stall explains, is measured again, up to `tries` tries in all (lib/suite/throughput/steal.ts).
    steal: z.strictObject({ maxMs: z.number().int().min(0).max(60_000).default(10), tries: z.number().int().min(1).max(10).default(3) }).prefault({}),
  })
  .refine((t) => t.type !== 'trex' || t.trex !== undefined, {
    message: 'tg.type trex needs tg.trex (the server, its ports, the pcap directory)',
    path: ['trex'],
  })
  .refine((t) => t.type !== 'trex' || t.timer === undefined, {
    message: "tcpreplay's pacing, for tg.type linux; TRex paces its own streams",
    path: ['timer'],
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
  // traffic.direction both: the next hop the guest routes the reverse stream to, behind its ingress interface
  // (default: the address after the ingress interface's, with the stream's source MAC: the TG's transmit port).
  reverseGateway: z.strictObject({ ip: ipv4(), mac: mac() }).optional(),
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
  restart: Restart.prefault({}),
  gate: Gate.prefault({}),
  soak: Soak.prefault({}),
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
