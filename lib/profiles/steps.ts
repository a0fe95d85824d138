// The setup of shared/seeds/dpdk-vswitch-kni-pvp-guide.md as steps, in the
// guide's order and words. Each command line is the guide's, with the values
// taken from the testbed; grep for a command of the guide to find its step.
import { posix } from 'node:path';
import { IVSHMEM_REMOVED, KNI_REMOVED } from '../capabilities.js';
import { KniGateError, CheckFailure, PreflightError } from '../errors.js';
import { ivshmemState, parseDmesg } from '../parsers/dmesg.js';
import { parseIfconfig, parseNeighbours, parseRoutes, parseSysctl } from '../parsers/net.js';
import { parseDumpFlows, parseOvsVsctlShow } from '../parsers/ovs.js';
import { parseIvshmCmdline } from '../parsers/ivshm.js';
import { flowsOf } from '../testbed/load.js';
import type { Topology } from '../testbed/topology.js';
import type { Testbed } from '../testbed/schema.js';
import { shq } from '../transport/quote.js';
import {
  checkDefaultRoute,
  checkDpdkInitialized,
  checkFlowsInstalled,
  checkGuestIfaces,
  checkOvsShow,
  checkStaticArp,
  checkSysctl,
  type ExpectedIface,
  type ExpectedPort,
} from '../verify/state.js';
import { VM_PROCESS, type Cmd, type Profile, type StepContext, type StepDef } from './profile.js';

const t = (c: StepContext, tool: Parameters<Profile['tool']>[0]) => c.profile.tool(tool);
const host = (c: StepContext, line: string, extra: Partial<Cmd> = {}): Cmd => ({ line, ...c.profile.hostContext(c.tb), ...extra });

/** The guide's `pkill -9 ovs`, done by pidfile: kill only a process that is what the pidfile says. */
function killByPidfile(pidfile: string, comm: string): Cmd {
  return {
    line: `p=$(cat ${shq(pidfile)} 2>/dev/null) && [ "$(cat /proc/$p/comm 2>/dev/null)" = ${shq(comm)} ] && kill -9 "$p"; rm -f ${shq(pidfile)}`,
    okExitCodes: [0, 1],
  };
}

export function sysctlExpected(t: Topology): Record<string, string> {
  return {
    'net.ipv4.ip_forward': '1',
    'net.ipv4.conf.all.rp_filter': '0',
    [`net.ipv4.conf.${t.vmIngress.guestIf}.rp_filter`]: '0',
  };
}

export function expectedPorts(tb: Testbed, p: Profile): ExpectedPort[] {
  return [
    ...tb.phyPorts.map((x) => ({ name: x.name, ofport: x.ofport, ...p.phyShown(x) })),
    ...tb.vmPorts.map((x) => ({ name: x.name, ofport: x.ofport, ...p.vmShown(x) })),
  ];
}

/** The vEth interfaces the guest must show: the testbed's KNI vports as the guest names them. */
export function expectedVeths(tb: Testbed): ExpectedIface[] {
  return tb.vmPorts.map((k) => ({ name: k.guestIf, mac: k.mac, cidr: k.cidr }));
}

// ---- Initial Switch Setup -------------------------------------------------
export const hostCleanPreviousRun: StepDef = {
  id: 'host.clean-previous-run',
  title: 'Remove any configuration associated with a previous run of the switch',
  host: 'host',
  commands: (c) => [
    killByPidfile(c.tb.paths.vswitchdPidfile, 'ovs-vswitchd'),
    killByPidfile(c.tb.paths.ovsDpdkPidfile, 'ovs_dpdk'),
    killByPidfile(c.tb.paths.ovsdbPidfile, 'ovsdb-server'),
    killByPidfile(c.tb.paths.qemuPidfile, 'qemu-system-x86'),
    { line: `rm -rf ${shq(c.tb.paths.ovsRunDir)}/` },
    { line: `rm -rf ${shq(c.tb.paths.ovsEtcDir)}/` },
    { line: `mkdir -p ${shq(c.tb.paths.ovsRunDir)}/` },
    { line: `mkdir -p ${shq(c.tb.paths.ovsEtcDir)}/` },
    { line: `rm -f ${shq(c.tb.paths.staleConfDb)}` },
  ],
};

export const hostCleanPreviousBridge: StepDef = {
  id: 'host.clean-previous-bridge',
  title: 'Remove the bridge a previous run left',
  host: 'host',
  commands: (c) => [host(c, `${t(c, 'ovs-vsctl')} --no-wait --if-exists del-br ${shq(c.tb.bridge)}`)],
};

export const hostCheckDaemons: StepDef = {
  id: 'host.check-daemons',
  title: 'Check that ovsdb-server and ovs-vswitchd answer',
  host: 'host',
  commands: (c) => [host(c, `${t(c, 'ovs-vsctl')} show`), host(c, `${t(c, 'ovs-appctl')} version`)],
};

export const hostOvsdb: StepDef = {
  id: 'host.ovsdb',
  title: 'Initialise the Open vSwitch database server',
  host: 'host',
  commands: (c) => [
    host(
      c,
      `${t(c, 'ovsdb-tool')} create ${shq(c.tb.paths.ovsEtcDir)}/conf.db ${c.tb.paths.ovsSchema ? shq(c.tb.paths.ovsSchema) : '$OPENVSWITCH_DIR/vswitchd/vswitch.ovsschema'}`,
    ),
    host(c, `${t(c, 'ovsdb-server')} --remote=punix:${shq(c.tb.paths.ovsRunDir)}/db.sock --remote=db:Open_vSwitch,Open_vSwitch,manager_options`, {
      background: { name: 'ovsdb-server', pidfile: c.tb.paths.ovsdbPidfile, ready: `test -S ${shq(c.tb.paths.ovsRunDir)}/db.sock` },
    }),
  ],
};

export const hostAddBridge: StepDef = {
  id: 'host.add-bridge',
  title: 'Add a bridge to the switch',
  host: 'host',
  commands: (c) => [
    host(c, `${t(c, 'ovs-vsctl')} --no-wait add-br ${shq(c.tb.bridge)} -- set Bridge ${shq(c.tb.bridge)} datapath_type=${c.profile.datapathType}`),
  ],
  undo: (c) => [host(c, `${t(c, 'ovs-vsctl')} --no-wait --if-exists del-br ${shq(c.tb.bridge)}`)],
};

export const hostAddPorts: StepDef = {
  id: 'host.add-ports',
  title: 'Add ports to the bridge',
  host: 'host',
  commands: (c) => [
    ...c.tb.phyPorts.map((p) =>
      host(
        c,
        `${t(c, 'ovs-vsctl')} --no-wait add-port ${shq(c.tb.bridge)} ${shq(p.name)} -- set Interface ${shq(p.name)} ${c.profile.phySettings(p).join(' ')}`,
      ),
    ),
    ...c.tb.vmPorts.map((k) =>
      host(
        c,
        `${t(c, 'ovs-vsctl')} --no-wait add-port ${shq(c.tb.bridge)} ${shq(k.name)} -- set Interface ${shq(k.name)} ${c.profile.vmSettings(k).join(' ')}`,
      ),
    ),
  ],
};

export const hostWaitPorts: StepDef = {
  // ovs-vswitchd writes a port's ofport once it has added it, in the same pass that creates the
  // bridge's OpenFlow socket: a condition to wait on, where --no-wait returned before either.
  id: 'host.wait-ports',
  title: 'Wait until ovs-vswitchd has added the ports (their ofport set)',
  host: 'host',
  commands: (c) =>
    [...c.tb.phyPorts, ...c.tb.vmPorts].map((p) =>
      host(c, `${t(c, 'ovs-vsctl')} --timeout=20 wait-until Interface ${shq(p.name)} ofport=${p.ofport}`, { timeoutMs: 30_000 }),
    ),
};

export const hostConfirmPorts: StepDef = {
  id: 'host.confirm-ports',
  title: 'Confirm the ports have been successfully added',
  host: 'host',
  commands: (c) => [host(c, `${t(c, 'ovs-vsctl')} show`)],
  after: async (s, [out]) => {
    const show = parseOvsVsctlShow(out!);
    CheckFailure.ifAny('ovs-vsctl show', checkOvsShow(show, s.tb.bridge, s.profile.datapathType, expectedPorts(s.tb, s.profile)), show);
  },
};

export const hostStartOvsDpdk: StepDef = {
  id: 'host.start-ovs-dpdk',
  title: 'Start ovs_dpdk',
  host: 'host',
  requires: [{ feature: 'ovs-dpdk-fork' }],
  commands: (c) => {
    const d = c.tb.dpdk.ovsDpdk;
    return [
      host(
        c,
        `./datapath/dpdk/build/ovs_dpdk -c ${d.coreMask} -n ${d.memChannels} --proc-type primary --base-virtaddr=${d.baseVirtAddr} -- -p ${d.portMask} -k ${d.kniPorts} --stats=${d.stats} --vswitchd=${d.vswitchdCore} --client_switching_core=${d.clientSwitchingCore} --config="${d.config}"`,
        { background: { name: 'ovs_dpdk', pidfile: c.tb.paths.ovsDpdkPidfile } },
      ),
    ];
  },
};

export const hostStartVswitchd: StepDef = {
  id: 'host.start-vswitchd',
  title: 'Start the Open vSwitch daemon',
  host: 'host',
  commands: (c) => [
    host(c, `${t(c, 'ovs-vswitchd')} -c ${c.tb.dpdk.vswitchd.coreMask} --proc-type=secondary -- --pidfile=${shq(c.tb.paths.vswitchdPidfile)}`, {
      background: { name: 'ovs-vswitchd', ready: `test -s ${shq(c.tb.paths.vswitchdPidfile)}` },
    }),
  ],
};

// ---- Flow Table Setup -----------------------------------------------------
export const hostFlows: StepDef = {
  id: 'host.flows',
  title: 'Delete the default flow entries and add the ingress and egress flows',
  host: 'host',
  commands: (c) => [
    host(c, `${t(c, 'ovs-ofctl')} del-flows ${shq(c.tb.bridge)}`),
    ...flowsOf(c.tb).map((f) =>
      host(
        c,
        `${t(c, 'ovs-ofctl')} add-flow ${shq(c.tb.bridge)} in_port=${f.inPort},dl_type=${f.dlType},nw_src=${f.nwSrc},nw_dst=${f.nwDst},idle_timeout=${f.idleTimeout},action=output:${f.output}`,
      ),
    ),
    host(c, `${t(c, 'ovs-ofctl')} dump-flows ${shq(c.tb.bridge)}`),
  ],
  after: async (s, outputs) => {
    const flows = parseDumpFlows(outputs[outputs.length - 1]!);
    CheckFailure.ifAny('flow table', checkFlowsInstalled(flows, flowsOf(s.tb)), flows);
  },
};

// ---- Guest Setup (on the host) --------------------------------------------
export const hostCopyFiles: StepDef = {
  id: 'host.copy-files',
  title: 'Copy files to the VM (the share directory)',
  host: 'host',
  commands: (c) => {
    const share = shq(c.tb.paths.shareDir);
    return [
      { line: `rm -rf ${share}` },
      { line: `mkdir -p ${share}` },
      { line: `chmod 777 ${share}` },
      { line: `mkdir -p ${share}/DPDK` },
      { line: `mkdir -p ${share}/kni_client` },
      { line: `cp -aL ${shq(c.tb.paths.dpdkDir)}/* ${share}/DPDK` },
      // The guide makes the kni_client directory but leaves its source open; it ships with the vSwitch.
      { line: `cp -aL ${shq(c.tb.paths.ovsDir)}/kni_client/* ${share}/kni_client` },
    ];
  },
};

export const hostIvshmMetadata: StepDef = {
  id: 'host.ivshm-metadata',
  title: 'Create IVSHMEM metadata',
  host: 'host',
  requires: [IVSHMEM_REMOVED],
  commands: (c) => [
    host(
      c,
      `${t(c, 'ovs-ivshm-mngr')} -c ${c.tb.dpdk.ivshmMngr.coreMask} --proc-type=secondary -- ${shq(`${c.tb.dpdk.ivshmMngr.metadata}:${c.tb.vmPorts.map((k) => k.name).join(',')}`)}`,
    ),
  ],
  after: async (s, [out]) => {
    // Printed by the DUT, bound for QEMU's command line: kept as shell words, each quoted where it needs it.
    s.values.set('ivshmem-device', parseIvshmCmdline(out!, s.tb.dpdk.ivshmMngr.metadata).argument.split(/\s+/).map(shq).join(' '));
  },
};

export const hostStartQemu: StepDef = {
  id: 'host.start-qemu',
  title: 'Create VM',
  host: 'host',
  requires: [IVSHMEM_REMOVED],
  commands: (c) => {
    const q = c.tb.dpdk.qemu;
    const p = c.tb.paths;
    return [
      host(
        c,
        `${p.qemuBinary} -c ${q.coreMask} --proc-type secondary -n ${q.memChannels} -- -cpu host -boot c -hda ${shq(p.guestImage)} -snapshot -m ${q.memory} -smp ${q.smp} --enable-kvm -name ${shq(q.name)} -nographic -vnc ${q.vnc} -pidfile ${shq(p.qemuPidfile)} -drive file=fat:rw:${shq(p.shareDir)},snapshot=off -monitor unix:${shq(p.qemuMonitor)},server,nowait ${c.value('ivshmem-device')}` +
          // The harness's way into the guest: a user-mode NIC forwarded from the host's loopback.
          ` -netdev user,id=mgmt,hostfwd=tcp:127.0.0.1:${q.mgmtForwardPort}-:22 -device e1000,netdev=mgmt`,
        // -nographic: the console is QEMU's own output, its log; guest.connect waits on SSH while watching this pid.
        { background: { name: VM_PROCESS, reportExit: true } },
      ),
    ];
  },
};

// ---- Guest Configuration --------------------------------------------------
export const guestConnect: StepDef = {
  id: 'guest.connect',
  title: "Login to the VM (wait for the guest's SSH)",
  host: 'guest',
  commands: () => [],
  after: async (s) => {
    await s.connect('guest');
  },
};

export const dmesgBaseline: StepDef = {
  id: 'dmesg.baseline',
  title: 'Note where the kernel logs stand before the run',
  host: 'guest',
  commands: () => [],
  after: async (s) => {
    await s.takeDmesgBaseline();
  },
};

/** The guide's default route and static ARP entry for the gateway, removed (absent already is fine: route 7, arp 255). */
const removeGatewayRouteArp = (c: StepContext): Cmd[] => [
  { line: `route del default gw ${c.tb.gateway.ip} ${shq(c.topology.vmEgress.guestIf)}`, okExitCodes: [0, 7] },
  { line: `arp -d ${c.tb.gateway.ip}`, okExitCodes: [0, 255] },
];

export const guestCleanPreviousRun: StepDef = {
  id: 'guest.clean-previous-run',
  title: 'Remove the addresses, route and ARP entry a previous run left',
  host: 'guest',
  commands: (c) => [...c.tb.vmPorts.map((k) => ({ line: `ip addr flush dev ${shq(k.guestIf)}` })), ...removeGatewayRouteArp(c)],
};

export const guestCopyFiles: StepDef = {
  id: 'guest.copy-files',
  title: 'Login to the VM and copy across the files',
  host: 'guest',
  commands: (c) => {
    const g = c.tb.guestBuild;
    return [
      { line: `mkdir -p ${shq(g.mountPoint)}` },
      { line: `mount -o iocharset=utf8 ${shq(g.mountDevice)} ${shq(g.mountPoint)}` },
      { line: `mkdir -p ${shq(g.kniDir)}` },
      { line: `cp -a ${shq(g.mountPoint)}/* ${shq(g.kniDir)}` },
    ];
  },
  undo: (c) => [{ line: `umount ${shq(c.tb.guestBuild.mountPoint)}`, okExitCodes: [0, 1, 32] }],
};

export const guestBuildDpdk: StepDef = {
  id: 'guest.build-dpdk',
  title: 'Build DPDK on the Guest',
  host: 'guest',
  requires: [KNI_REMOVED],
  commands: (c) => {
    const g = c.tb.guestBuild;
    const ctx = { cwd: `${g.kniDir}/DPDK`, env: { RTE_SDK: `${g.kniDir}/DPDK`, RTE_TARGET: g.rteTarget } };
    return [
      // -N: a patch applied before is skipped, and patch exits 1 for it.
      { line: `patch -N -p1 < ${shq(g.patch)}`, okExitCodes: [0, 1], ...ctx },
      { line: 'make uninstall', ...ctx, timeoutMs: 600_000 },
      { line: `make install T=${shq(g.rteTarget)}`, ...ctx, timeoutMs: 1_800_000 },
    ];
  },
};

export const guestBuildKniClient: StepDef = {
  id: 'guest.build-kni-client',
  title: 'Build kni_client App',
  host: 'guest',
  requires: [KNI_REMOVED],
  commands: (c) => {
    const ctx = { cwd: `${c.tb.guestBuild.kniDir}/kni_client`, env: { RTE_SDK: `${c.tb.guestBuild.kniDir}/DPDK`, RTE_TARGET: c.tb.guestBuild.rteTarget } };
    return [
      { line: 'make clean', ...ctx },
      { line: 'make', ...ctx, timeoutMs: 600_000 },
    ];
  },
};

export const guestInsmod: StepDef = {
  id: 'guest.insmod',
  title: 'Insert rte_kni Module',
  host: 'guest',
  requires: [KNI_REMOVED],
  commands: (c) => [{ line: `insmod ${shq(`${c.tb.guestBuild.kniDir}/DPDK/${c.tb.guestBuild.rteTarget}/kmod/rte_kni.ko`)}` }],
};

export const guestKniGate: StepDef = {
  // The guide: bringing up a virtual interface without the IVSHMEM metadata
  // found panics the guest. Nothing touches a vEth interface unless this passes.
  id: 'guest.kni-gate',
  title: 'Check dmesg for "IVSHMEM metadata found" before any vEth interface is touched',
  host: 'guest',
  requires: [KNI_REMOVED],
  commands: () => [{ line: 'dmesg' }],
  after: async (_s, [out]) => {
    const state = ivshmemState(parseDmesg(out!));
    if (state !== 'found') {
      const said = {
        'not-found': 'dmesg says "KNI: IVSHMEM metadata NOT found"',
        absent: 'dmesg has no IVSHMEM message from the KNI module',
        contradictory: 'dmesg has both "IVSHMEM metadata found" and "NOT found"',
      }[state];
      throw new KniGateError(
        `${said}: no vEth interface was brought up, since that panics the guest. Uninstall all targets, re-apply the rte_kni_module patch and re-install (the guide)`,
        out!,
      );
    }
  },
};

export const guestStartKniClient: StepDef = {
  id: 'guest.start-kni-client',
  title: 'Execute kni_client App',
  host: 'guest',
  requires: [KNI_REMOVED],
  commands: (c) => [
    {
      line: `./kni_client -c ${c.tb.dpdk.kniClient.coreMask} -n ${c.tb.dpdk.kniClient.memChannels} -- ${c.tb.vmPorts.map((k) => `-p ${shq(k.name)}`).join(' ')}`,
      cwd: `${c.tb.guestBuild.kniDir}/kni_client`,
      background: { name: 'kni_client', ready: c.tb.vmPorts.map((k) => `ip link show ${shq(k.guestIf)}`).join(' && ') },
    },
  ],
};

export const guestInterfaces: StepDef = {
  id: 'guest.interfaces',
  title: 'Bring up virtual interfaces',
  host: 'guest',
  commands: (c) => [
    ...c.tb.vmPorts.map((k) => ({ line: `ifconfig ${shq(k.guestIf)} hw ether ${k.mac}` })),
    ...c.tb.vmPorts.map((k) => ({ line: `ifconfig ${shq(k.guestIf)} ${k.cidr} up` })),
  ],
  undo: (c) => c.tb.vmPorts.flatMap((k) => [{ line: `ip addr flush dev ${shq(k.guestIf)}` }, { line: `ip link set ${shq(k.guestIf)} down` }]),
};

export const guestForwarding: StepDef = {
  id: 'guest.forwarding',
  title: 'Turn on IP forwarding and turn off reverse path filtering',
  host: 'guest',
  commands: (c) => [
    { line: 'sysctl -w net.ipv4.ip_forward=1' },
    { line: 'sysctl -w net.ipv4.conf.all.rp_filter=0' },
    { line: `sysctl -w ${shq(`net.ipv4.conf.${c.topology.vmIngress.guestIf}.rp_filter=0`)}` },
  ],
};

export const guestRouteArp: StepDef = {
  id: 'guest.route-arp',
  title: 'Add a default gateway and an ARP entry for it',
  host: 'guest',
  commands: (c) => [
    { line: `route add default gw ${c.tb.gateway.ip} ${shq(c.topology.vmEgress.guestIf)}` },
    { line: `arp -s ${c.tb.gateway.ip} ${c.tb.gateway.mac}` },
  ],
  undo: removeGatewayRouteArp,
};

export const guestCheckInterfaces: StepDef = {
  id: 'guest.check-interfaces',
  title: 'Check both virtual interfaces are up and running',
  host: 'guest',
  commands: (c) => [
    { line: 'ifconfig -a' },
    { line: `sysctl ${Object.keys(sysctlExpected(c.topology)).map(shq).join(' ')}` },
    { line: 'ip route' },
    { line: 'arp -n' },
  ],
  after: async (s, [ifc, sysctl, route, arp]) => {
    const { tb, topology: t } = s;
    CheckFailure.ifAny('guest interfaces', [
      ...checkGuestIfaces(parseIfconfig(ifc!), expectedVeths(tb)),
      ...checkSysctl(parseSysctl(sysctl!, Object.keys(sysctlExpected(t))), sysctlExpected(t)),
      ...checkDefaultRoute(parseRoutes(route!, { required: true }), tb.gateway.ip, t.vmEgress.guestIf),
      ...checkStaticArp(parseNeighbours(arp!), tb.gateway.ip, tb.gateway.mac, t.vmEgress.guestIf),
    ]);
  },
};

/** The DPDK version of the tree the guide builds from (`$RTE_SDK`), or the installed library's. */
export function dpdkTreeVersion(tb: Testbed): string {
  return `cat ${shq(tb.paths.dpdkDir)}/VERSION || pkg-config --modversion libdpdk`;
}

// ---- Upstream Open vSwitch with DPDK (the ovs-dpdk profile) ---------------------
// The same topology on upstream OVS's netdev-dpdk: the run owns the DPDK build
// of ovs-vswitchd (its path from the testbed; the system's alternative is never
// switched) as the guide's steps own ovs_dpdk and ovs-vswitchd.

/** Where the run's DPDK ovs-vswitchd answers ovs-appctl (its program name is not ovs-vswitchd). */
export const dpdkVswitchdCtl = (tb: Testbed): string => `${tb.paths.ovsRunDir}/ovs-vswitchd.ctl`;

/** The EAL arguments of the run: `--no-pci` unless the testbed names the PCI devices DPDK may use. */
export function ealExtraArgs(tb: Testbed): string[] {
  const d = tb.ovsDpdk;
  return [...d.extraArgs, ...(d.pciDevices.length > 0 ? d.pciDevices.flatMap((p) => ['-a', p]) : ['--no-pci']), `--file-prefix=${d.filePrefix}`];
}

/** The VM ports on vhost-user: the profile starts a VM for them. */
export const vhostUserPorts = (tb: Testbed) => tb.vmPorts.filter((k) => k.kind === 'vhost-user');

/** The hugepages the setup takes: ovs-vswitchd's socket memory at DPDK's initialisation, and a VM's memory (shared with it for vhost-user). */
export const hugepagesNeeded = (tb: Testbed): number => Math.ceil((tb.ovsDpdk.socketMemMb * 1024) / tb.ovsDpdk.hugepageSizeKb) + vmHugepages(tb);

export const vmHugepages = (tb: Testbed): number => (tb.vm && vhostUserPorts(tb).length > 0 ? Math.ceil((tb.vm.memoryMb * 1024) / tb.vm.hugepageSizeKb) : 0);

const HUGEPAGES_FREE = (sizeKb: number) => `cat /sys/kernel/mm/hugepages/hugepages-${sizeKb}kB/free_hugepages`;
const DPDK_KEYS = ['dpdk-init', 'dpdk-lcore-mask', 'pmd-cpu-mask', 'dpdk-socket-mem', 'dpdk-socket-limit', 'dpdk-extra', 'pmd-maxsleep'];

export const hostStopPreviousVswitchd: StepDef = {
  id: 'host.stop-previous-vswitchd',
  title: 'Stop the DPDK ovs-vswitchd a previous run left, and remove the bridge it had',
  host: 'host',
  commands: (c) => [
    // The kernel names a process after its file's first 15 characters.
    killByPidfile(c.tb.paths.vswitchdPidfile, c.tb.ovsDpdk.vswitchd.replace(/^.*\//, '').slice(0, 15)),
    host(c, `${t(c, 'ovs-vsctl')} --no-wait --if-exists del-br ${shq(c.tb.bridge)}`),
  ],
};

export const hostCheckHugepages: StepDef = {
  id: 'host.check-hugepages',
  title: 'Check that the host has the free hugepages DPDK will take',
  host: 'host',
  commands: (c) => [{ line: HUGEPAGES_FREE(c.tb.ovsDpdk.hugepageSizeKb), okExitCodes: [0, 1] }],
  after: async (s, [out]) => {
    const free = Number(out!.trim());
    const need = hugepagesNeeded(s.tb);
    const size = `${s.tb.ovsDpdk.hugepageSizeKb / 1024} MB`;
    if (!/^\d+$/.test(out!.trim()))
      throw new PreflightError(
        `hugepages: the host has no ${size} hugepages (${HUGEPAGES_FREE(s.tb.ovsDpdk.hugepageSizeKb)} printed ${JSON.stringify(out!.trim())})`,
      );
    if (free < need)
      throw new PreflightError(
        `hugepages: needs ${need} free ${size} pages (ovsDpdk.socketMemMb ${s.tb.ovsDpdk.socketMemMb}${s.tb.vm && vmHugepages(s.tb) > 0 ? `, vm.memoryMb ${s.tb.vm.memoryMb}` : ''}), ${free} free: reserve them (echo N > /proc/sys/vm/nr_hugepages) or lower the socket memory`,
      );
  },
};

export const hostDpdkConfig: StepDef = {
  id: 'host.dpdk-config',
  title: "Set DPDK's configuration in the database: init, core masks, socket memory, EAL arguments",
  host: 'host',
  commands: (c) => {
    const d = c.tb.ovsDpdk;
    const set = [
      'other_config:dpdk-init=true',
      `other_config:dpdk-lcore-mask=${d.lcoreMask}`,
      `other_config:pmd-cpu-mask=${d.pmdCpuMask}`,
      `other_config:dpdk-socket-mem=${d.socketMemMb}`,
      `other_config:dpdk-socket-limit=${d.socketLimitMb}`,
      shq(`other_config:dpdk-extra=${ealExtraArgs(c.tb).join(' ')}`),
      `other_config:pmd-maxsleep=${d.pmdMaxSleepUs}`,
      // What the last daemon reported: the start step waits for this run's to say true.
      'dpdk_initialized=false',
    ];
    return [host(c, `${t(c, 'ovs-vsctl')} --no-wait set Open_vSwitch . ${set.join(' ')}`)];
  },
  undo: (c) => [host(c, `${t(c, 'ovs-vsctl')} --no-wait remove Open_vSwitch . other_config ${DPDK_KEYS.join(' ')}`)],
};

export const hostStartVswitchdDpdk: StepDef = {
  id: 'host.start-vswitchd-dpdk',
  title: 'Start the DPDK build of ovs-vswitchd and wait for DPDK to initialise',
  host: 'host',
  commands: (c) => {
    const p = c.tb.paths;
    return [
      // Where its log stands before it starts: the log check reads only what this run's daemon wrote.
      host(
        c,
        `mkdir -p ${shq(p.workDir)} && (stat -c %s ${shq(`${p.ovsLogDir}/ovs-vswitchd.log`)} 2>/dev/null || echo 0) > ${shq(`${p.workDir}/vswitchd-log-offset`)}`,
      ),
      host(c, `${HUGEPAGES_FREE(c.tb.ovsDpdk.hugepageSizeKb)} > ${shq(`${p.workDir}/hugepages-free-before`)}`),
      host(
        c,
        `${shq(c.tb.ovsDpdk.vswitchd)} unix:${shq(`${p.ovsRunDir}/db.sock`)} --pidfile=${shq(p.vswitchdPidfile)} --unixctl=${shq(dpdkVswitchdCtl(c.tb))} --no-chdir --log-file=${shq(`${p.ovsLogDir}/ovs-vswitchd.log`)}`,
        { background: { name: 'ovs-vswitchd', pidfile: p.vswitchdPidfile, ready: `test -S ${shq(dpdkVswitchdCtl(c.tb))}` } },
      ),
      // DPDK initialises in the background: wait (bounded) for the daemon to say so, then read what it says.
      host(c, `${t(c, 'ovs-vsctl')} --timeout=15 wait-until Open_vSwitch . dpdk_initialized=true`, { timeoutMs: 25_000, okExitCodes: [0, 142] }),
      host(c, `${t(c, 'ovs-vsctl')} get Open_vSwitch . dpdk_initialized dpdk_version`),
    ];
  },
  after: async (_s, outputs) => {
    const [initialized, version] = outputs.at(-1)!.trim().split('\n');
    CheckFailure.ifAny('dpdk', checkDpdkInitialized(initialized ?? '', (version ?? '').replace(/^"|"$/g, '')));
  },
  // Stopped through its own command, so that it removes the devices it made; then every hugepage it took must be back.
  undo: (c) => {
    const p = c.tb.paths;
    const before = shq(`${p.workDir}/hugepages-free-before`);
    return [
      host(c, `${t(c, 'ovs-appctl')} -t ${shq(dpdkVswitchdCtl(c.tb))} exit --cleanup`, { okExitCodes: [0, 1] }),
      host(
        c,
        `p=$(cat ${shq(p.vswitchdPidfile)} 2>/dev/null); i=0; while [ -n "$p" ] && kill -0 "$p" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done; ` +
          `b=$(cat ${before} 2>/dev/null); n=$(${HUGEPAGES_FREE(c.tb.ovsDpdk.hugepageSizeKb)}); rm -f ${before} ${shq(`${p.workDir}/vswitchd-log-offset`)}; ` +
          `if [ -n "$b" ] && [ "$n" -lt "$b" ]; then echo "hugepages: $b free before ovs-vswitchd started, $n after it stopped: $((b-n)) not given back" >&2; exit 1; fi`,
        { timeoutMs: 20_000 },
      ),
    ];
  },
};

export const hostMoveTaps: StepDef = {
  id: 'host.move-taps',
  title: "Move the tap ports' kernel side into the guest's network namespace",
  host: 'host',
  commands: (c) => c.tb.vmPorts.filter((k) => k.kind === 'tap' && k.netns).map((k) => ({ line: `ip link set dev ${shq(k.guestIf)} netns ${shq(k.netns!)}` })),
};

/**
 * The guest as a router that nothing is built in (a namespace, a container,
 * a prepared VM): reach it, note its kernel log, clear what a previous run
 * left, then the guide's interface, forwarding, route and ARP steps.
 */
export const GUEST_ROUTER_STEPS: readonly StepDef[] = [
  guestConnect,
  dmesgBaseline,
  guestCleanPreviousRun,
  guestInterfaces,
  guestForwarding,
  guestRouteArp,
  guestCheckInterfaces,
];

// ---- The VM on vhost-user (the ovs-dpdk profile with vhost-user VM ports) ----

/** Stops the process a pidfile names if it is what it should be (TERM, then KILL after 5 s), and removes the pidfile. */
function stopByPidfile(pidfile: string, comm: string): Cmd {
  const f = shq(pidfile);
  return {
    line:
      `p=$(cat ${f} 2>/dev/null); if [ -n "$p" ] && [ "$(cat /proc/$p/comm 2>/dev/null)" = ${shq(comm)} ]; then kill "$p"; i=0; ` +
      `while kill -0 "$p" 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i+1)); done; kill -9 "$p" 2>/dev/null; fi; rm -f ${f}`,
    okExitCodes: [0, 1],
    timeoutMs: 15_000,
  };
}

/** The kernel names QEMU's process after its file's first 15 characters. */
const QEMU_COMM = 'qemu-system-x86';

/**
 * QEMU's command line for the testbed's VM: guest memory a memfd of
 * hugepages shared with ovs-vswitchd (vhost-user needs it shared), the
 * guest's kernel booted directly with the NICs' names on its command line
 * (the guest's init names them by MAC), the disk read-only under a snapshot,
 * a user-mode NIC forwarded from the host's loopback only (restrict=on: the
 * guest reaches nothing), and one virtio-net NIC per vhost-user port, QEMU
 * listening on the port's socket for OVS's dpdkvhostuserclient.
 */
export function qemuCommand(tb: Testbed): string {
  const v = tb.vm!;
  const vhost = vhostUserPorts(tb);
  const append = [
    'root=/dev/vda',
    'rw',
    'console=ttyS0',
    'net.ifnames=0',
    'init=/sbin/dutlab-init',
    `dutlab.mgmt=${v.mgmtMac}`,
    ...vhost.map((k) => `dutlab.nic=${k.mac}/${k.guestIf}`),
  ].join(' ');
  const words = [
    v.qemu,
    ...['-name', 'dutlab-guest', '-accel', v.accel, '-machine', v.machine, '-cpu', v.cpu, '-m', `${v.memoryMb}M`, '-smp', String(v.cpus)],
    ...['-object', `memory-backend-memfd,id=mem,size=${v.memoryMb}M,share=on,hugetlb=on,hugetlbsize=${v.hugepageSizeKb}K`],
    ...['-numa', 'node,memdev=mem'],
    ...['-kernel', v.kernel, '-initrd', v.initrd, '-append', append],
    ...['-drive', `file=${v.disk},format=raw,if=virtio,snapshot=on`],
    ...['-nic', `user,model=virtio-net-pci,mac=${v.mgmtMac},restrict=on,hostfwd=tcp:127.0.0.1:${v.mgmtForwardPort}-:22`],
    ...vhost.flatMap((k, i) => [
      ...['-chardev', `socket,id=vhost${i},path=${k.vhostSocket},server=on,wait=off`],
      ...['-netdev', `vhost-user,id=net${i},chardev=vhost${i}`],
      ...['-device', `virtio-net-pci,netdev=net${i},mac=${k.mac}${v.nicVectors === null ? '' : `,vectors=${v.nicVectors}`}`],
    ]),
    ...['-serial', `file:${v.consoleLog}`, '-display', 'none', '-monitor', 'none', '-pidfile', v.pidfile],
    ...v.extraArgs,
  ];
  return words.map(shq).join(' ');
}

export const hostStartVm: StepDef = {
  id: 'host.start-vm',
  title: 'Create VM (QEMU on the vhost-user ports, guest memory on shared hugepages)',
  host: 'host',
  requires: [{ feature: 'vm' }],
  commands: (c) => {
    const v = c.tb.vm!;
    return [
      // A VM a killed run left: stopped by its pidfile, as the guide's clean-up does with the switch.
      stopByPidfile(v.pidfile, QEMU_COMM),
      {
        line: `mkdir -p ${[...new Set([v.consoleLog, ...vhostUserPorts(c.tb).map((k) => k.vhostSocket!)].map((f) => posix.dirname(f)))].map(shq).join(' ')}`,
      },
      { line: `rm -f ${shq(v.consoleLog)}` },
      { line: qemuCommand(c.tb), background: { name: VM_PROCESS, reportExit: true, console: v.consoleLog } },
    ];
  },
  // Before ovs-vswitchd stops: the guest's memory is hugepages that its stop step counts back.
  undo: (c) => [stopByPidfile(c.tb.vm!.pidfile, QEMU_COMM)],
};

export const hostWaitVhostUser: StepDef = {
  // OVS's dpdkvhostuserclient port is up once the guest's virtio driver has started the device.
  id: 'host.wait-vhost-user',
  title: "Wait until the vhost-user ports' link is up (the guest's virtio driver started them)",
  host: 'host',
  commands: (c) =>
    vhostUserPorts(c.tb).map((k) => host(c, `${t(c, 'ovs-vsctl')} --timeout=30 wait-until Interface ${shq(k.name)} link_state=up`, { timeoutMs: 40_000 })),
};
