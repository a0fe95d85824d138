// The setup of shared/seeds/dpdk-vswitch-kni-pvp-guide.md as steps, in the
// guide's order and words. Each command line is the guide's, with the values
// taken from the testbed; grep for a command of the guide to find its step.
import { KniGateError, CheckFailure } from '../errors.js';
import { ivshmemState, parseDmesg } from '../parsers/dmesg.js';
import { parseIfconfig, parseNeighbours, parseRoutes, parseSysctl } from '../parsers/net.js';
import { parseDumpFlows, parseOvsVsctlShow } from '../parsers/ovs.js';
import { parseIvshmCmdline } from '../parsers/ivshm.js';
import { flowsOf } from '../testbed/load.js';
import { topologyOf } from '../testbed/topology.js';
import type { Testbed } from '../testbed/schema.js';
import { shq } from '../transport/quote.js';
import {
  checkDefaultRoute,
  checkFlowsInstalled,
  checkGuestIfaces,
  checkOvsShow,
  checkStaticArp,
  checkSysctl,
  type ExpectedIface,
  type ExpectedPort,
} from '../verify/state.js';
import type { Profile } from './profiles.js';
import type { Cmd, StepContext, StepDef } from './step.js';

export type { Cmd, StepContext, StepDef } from './step.js';

const t = (c: StepContext, tool: Parameters<Profile['tool']>[0]) => c.profile.tool(tool);
const host = (c: StepContext, line: string, extra: Partial<Cmd> = {}): Cmd => ({ line, ...c.profile.hostContext(c.tb), ...extra });

/** The guide's `pkill -9 ovs`, done by pidfile: kill only a process that is what the pidfile says. */
function killByPidfile(pidfile: string, comm: string): Cmd {
  return {
    line: `p=$(cat ${shq(pidfile)} 2>/dev/null) && [ "$(cat /proc/$p/comm 2>/dev/null)" = ${shq(comm)} ] && kill -9 "$p"; rm -f ${shq(pidfile)}`,
    okExitCodes: [0, 1],
  };
}

export function sysctlExpected(tb: Testbed): Record<string, string> {
  return {
    'net.ipv4.ip_forward': '1',
    'net.ipv4.conf.all.rp_filter': '0',
    [`net.ipv4.conf.${topologyOf(tb).vmIngress.guestIf}.rp_filter`]: '0',
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

export const STEPS: StepDef[] = [
  // ---- Initial Switch Setup -------------------------------------------------
  {
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
  },
  {
    id: 'host.clean-previous-bridge',
    title: 'Remove the bridge a previous run left',
    host: 'host',
    commands: (c) => [host(c, `${t(c, 'ovs-vsctl')} --no-wait --if-exists del-br ${shq(c.tb.bridge)}`)],
  },
  {
    id: 'host.check-daemons',
    title: 'Check that ovsdb-server and ovs-vswitchd answer',
    host: 'host',
    commands: (c) => [host(c, `${t(c, 'ovs-vsctl')} show`), host(c, `${t(c, 'ovs-appctl')} version`)],
  },
  {
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
  },
  {
    id: 'host.add-bridge',
    title: 'Add a bridge to the switch',
    host: 'host',
    commands: (c) => [
      host(c, `${t(c, 'ovs-vsctl')} --no-wait add-br ${shq(c.tb.bridge)} -- set Bridge ${shq(c.tb.bridge)} datapath_type=${c.profile.datapathType}`),
    ],
    undo: (c) => [host(c, `${t(c, 'ovs-vsctl')} --no-wait --if-exists del-br ${shq(c.tb.bridge)}`)],
  },
  {
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
  },
  {
    // ovs-vswitchd writes a port's ofport once it has added it, in the same pass that creates the
    // bridge's OpenFlow socket: a condition to wait on, where --no-wait returned before either.
    id: 'host.wait-ports',
    title: 'Wait until ovs-vswitchd has added the ports (their ofport set)',
    host: 'host',
    commands: (c) =>
      [...c.tb.phyPorts, ...c.tb.vmPorts].map((p) =>
        host(c, `${t(c, 'ovs-vsctl')} --timeout=20 wait-until Interface ${shq(p.name)} ofport=${p.ofport}`, { timeoutMs: 30_000 }),
      ),
  },
  {
    id: 'host.confirm-ports',
    title: 'Confirm the ports have been successfully added',
    host: 'host',
    commands: (c) => [host(c, `${t(c, 'ovs-vsctl')} show`)],
    after: async (s, [out]) => {
      const show = parseOvsVsctlShow(out!);
      CheckFailure.ifAny('ovs-vsctl show', checkOvsShow(show, s.tb.bridge, s.profile.datapathType, expectedPorts(s.tb, s.profile)), show);
    },
  },
  {
    id: 'host.start-ovs-dpdk',
    title: 'Start ovs_dpdk',
    host: 'host',
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
  },
  {
    id: 'host.start-vswitchd',
    title: 'Start the Open vSwitch daemon',
    host: 'host',
    commands: (c) => [
      host(c, `${t(c, 'ovs-vswitchd')} -c ${c.tb.dpdk.vswitchd.coreMask} --proc-type=secondary -- --pidfile=${shq(c.tb.paths.vswitchdPidfile)}`, {
        background: { name: 'ovs-vswitchd', ready: `test -s ${shq(c.tb.paths.vswitchdPidfile)}` },
      }),
    ],
  },
  // ---- Flow Table Setup -----------------------------------------------------
  {
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
  },
  // ---- Guest Setup (on the host) --------------------------------------------
  {
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
  },
  {
    id: 'host.ivshm-metadata',
    title: 'Create IVSHMEM metadata',
    host: 'host',
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
  },
  {
    id: 'host.start-qemu',
    title: 'Create VM',
    host: 'host',
    commands: (c) => {
      const q = c.tb.dpdk.qemu;
      const p = c.tb.paths;
      return [
        host(
          c,
          `${p.qemuBinary} -c ${q.coreMask} --proc-type secondary -n ${q.memChannels} -- -cpu host -boot c -hda ${shq(p.guestImage)} -snapshot -m ${q.memory} -smp ${q.smp} --enable-kvm -name ${shq(q.name)} -nographic -vnc ${q.vnc} -pidfile ${shq(p.qemuPidfile)} -drive file=fat:rw:${shq(p.shareDir)},snapshot=off -monitor unix:${shq(p.qemuMonitor)},server,nowait ${c.value('ivshmem-device')}` +
            // The harness's way into the guest: a user-mode NIC forwarded from the host's loopback.
            ` -netdev user,id=mgmt,hostfwd=tcp:127.0.0.1:${q.mgmtForwardPort}-:22 -device e1000,netdev=mgmt`,
          { background: { name: 'qemu' } },
        ),
      ];
    },
  },
  // ---- Guest Configuration --------------------------------------------------
  {
    id: 'guest.connect',
    title: "Login to the VM (wait for the guest's SSH)",
    host: 'guest',
    commands: () => [],
    after: async (s) => {
      await s.connect('guest');
    },
  },
  {
    id: 'dmesg.baseline',
    title: 'Note where the kernel logs stand before the run',
    host: 'guest',
    commands: () => [],
    after: async (s) => {
      await s.takeDmesgBaseline();
    },
  },
  {
    id: 'guest.clean-previous-run',
    title: 'Remove the addresses, route and ARP entry a previous run left',
    host: 'guest',
    commands: (c) => [
      ...c.tb.vmPorts.map((k) => ({ line: `ip addr flush dev ${shq(k.guestIf)}` })),
      { line: `route del default gw ${c.tb.gateway.ip} ${shq(topologyOf(c.tb).vmEgress.guestIf)}`, okExitCodes: [0, 7] },
      { line: `arp -d ${c.tb.gateway.ip}`, okExitCodes: [0, 255] },
    ],
  },
  {
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
  },
  {
    id: 'guest.build-dpdk',
    title: 'Build DPDK on the Guest',
    host: 'guest',
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
  },
  {
    id: 'guest.build-kni-client',
    title: 'Build kni_client App',
    host: 'guest',
    commands: (c) => {
      const ctx = { cwd: `${c.tb.guestBuild.kniDir}/kni_client`, env: { RTE_SDK: `${c.tb.guestBuild.kniDir}/DPDK`, RTE_TARGET: c.tb.guestBuild.rteTarget } };
      return [
        { line: 'make clean', ...ctx },
        { line: 'make', ...ctx, timeoutMs: 600_000 },
      ];
    },
  },
  {
    id: 'guest.insmod',
    title: 'Insert rte_kni Module',
    host: 'guest',
    commands: (c) => [{ line: `insmod ${shq(`${c.tb.guestBuild.kniDir}/DPDK/${c.tb.guestBuild.rteTarget}/kmod/rte_kni.ko`)}` }],
  },
  {
    // The guide: bringing up a virtual interface without the IVSHMEM metadata
    // found panics the guest. Nothing touches a vEth interface unless this passes.
    id: 'guest.kni-gate',
    title: 'Check dmesg for "IVSHMEM metadata found" before any vEth interface is touched',
    host: 'guest',
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
  },
  {
    id: 'guest.start-kni-client',
    title: 'Execute kni_client App',
    host: 'guest',
    commands: (c) => [
      {
        line: `./kni_client -c ${c.tb.dpdk.kniClient.coreMask} -n ${c.tb.dpdk.kniClient.memChannels} -- ${c.tb.vmPorts.map((k) => `-p ${shq(k.name)}`).join(' ')}`,
        cwd: `${c.tb.guestBuild.kniDir}/kni_client`,
        background: { name: 'kni_client', ready: c.tb.vmPorts.map((k) => `ip link show ${shq(k.guestIf)}`).join(' && ') },
      },
    ],
  },
  {
    id: 'guest.interfaces',
    title: 'Bring up virtual interfaces',
    host: 'guest',
    commands: (c) => [
      ...c.tb.vmPorts.map((k) => ({ line: `ifconfig ${shq(k.guestIf)} hw ether ${k.mac}` })),
      ...c.tb.vmPorts.map((k) => ({ line: `ifconfig ${shq(k.guestIf)} ${k.cidr} up` })),
    ],
    undo: (c) => c.tb.vmPorts.flatMap((k) => [{ line: `ip addr flush dev ${shq(k.guestIf)}` }, { line: `ip link set ${shq(k.guestIf)} down` }]),
  },
  {
    id: 'guest.forwarding',
    title: 'Turn on IP forwarding and turn off reverse path filtering',
    host: 'guest',
    commands: (c) => [
      { line: 'sysctl -w net.ipv4.ip_forward=1' },
      { line: 'sysctl -w net.ipv4.conf.all.rp_filter=0' },
      { line: `sysctl -w ${shq(`net.ipv4.conf.${topologyOf(c.tb).vmIngress.guestIf}.rp_filter=0`)}` },
    ],
  },
  {
    id: 'guest.route-arp',
    title: 'Add a default gateway and an ARP entry for it',
    host: 'guest',
    commands: (c) => [
      { line: `route add default gw ${c.tb.gateway.ip} ${shq(topologyOf(c.tb).vmEgress.guestIf)}` },
      { line: `arp -s ${c.tb.gateway.ip} ${c.tb.gateway.mac}` },
    ],
    undo: (c) => [
      { line: `route del default gw ${c.tb.gateway.ip} ${shq(topologyOf(c.tb).vmEgress.guestIf)}`, okExitCodes: [0, 7] },
      { line: `arp -d ${c.tb.gateway.ip}`, okExitCodes: [0, 255] },
    ],
  },
  {
    id: 'guest.check-interfaces',
    title: 'Check both virtual interfaces are up and running',
    host: 'guest',
    commands: (c) => [
      { line: 'ifconfig -a' },
      { line: `sysctl ${Object.keys(sysctlExpected(c.tb)).map(shq).join(' ')}` },
      { line: 'ip route' },
      { line: 'arp -n' },
    ],
    after: async (s, [ifc, sysctl, route, arp]) => {
      const tb = s.tb;
      CheckFailure.ifAny('guest interfaces', [
        ...checkGuestIfaces(parseIfconfig(ifc!), expectedVeths(tb)),
        ...checkSysctl(parseSysctl(sysctl!), sysctlExpected(tb)),
        ...checkDefaultRoute(parseRoutes(route!, { required: true }), tb.gateway.ip, topologyOf(tb).vmEgress.guestIf),
        ...checkStaticArp(parseNeighbours(arp!), tb.gateway.ip, tb.gateway.mac, topologyOf(tb).vmEgress.guestIf),
      ]);
    },
  },
];

export function stepById(id: string): StepDef {
  const s = STEPS.find((x) => x.id === id);
  if (!s) throw new Error(`no step ${id}`);
  return s;
}

export function stepsOf(profile: Profile): StepDef[] {
  return profile.steps.map(stepById);
}
