import { switchPortNames } from '../../testbed/topology.js';
import { CheckFailure, CommandError, PreflightError } from '../../errors.js';
import { parseDumpFlows, parseFdbShow, parseOvsVsctlShow } from '../../parsers/ovs.js';
import { INTERFACE_STATES_ARGS, parseInterfaceStates } from '../../parsers/ovs-dpdk.js';
import { flowsOf, pathWays, staticMacsOf, type SwitchFlow, type Way } from '../../testbed/rules.js';
import { shq } from '../../transport/quote.js';
import { checkFlowsInstalled, checkOvsShow, checkStaticMacs } from '../../verify/state.js';
import type { Cmd, StepContext, StepDef, StepRuntime } from '../profile.js';
import { ipInt } from '../../testbed/flows.js';
import { vswitchdLogSinceStart } from './ovs-dpdk.js';
import { delOwnBridge, FOREIGN_BRIDGE_EXIT, foreignBridgeFix, host, killByPidfile, t } from './shared.js';
import { expectedPorts } from '../expected.js';
import { ingressPolicing, selectedBuild } from './build.js';
import type { PhyPortSpec } from '../../testbed/schema.js';

// ---- Initial Switch Setup -------------------------------------------------
export const hostCleanPreviousRun: StepDef = {
  id: 'host.clean-previous-run',
  cleans: true,
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
  cleans: true,
  title: 'Remove the bridge a previous run left (only one that holds no port the testbed does not name)',
  host: 'host',
  commands: (c) => [delOwnBridge(c)],
  explain: async (s, err) =>
    err instanceof CommandError && err.exitCode === FOREIGN_BRIDGE_EXIT
      ? new PreflightError(`${err.stdout.trim()}: left as it is; ${foreignBridgeFix(s.tb.bridge)}`, { cause: err })
      : err,
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

/** The ingress port's policing where the build is a known regression (policeIngressKbps); nothing otherwise. */
function policed(c: StepContext, p: PhyPortSpec): string[] {
  const b = selectedBuild(c.tb);
  return b?.policeIngressKbps !== undefined && p.name === c.topology.phyIngress.name ? ingressPolicing(b) : [];
}

export const hostAddPorts: StepDef = {
  id: 'host.add-ports',
  title: 'Add ports to the bridge',
  host: 'host',
  commands: (c) => [
    ...c.tb.phyPorts.map((p) =>
      host(
        c,
        `${t(c, 'ovs-vsctl')} --no-wait add-port ${shq(c.tb.bridge)} ${shq(p.name)} -- set Interface ${shq(p.name)} ${[...c.profile.phySettings(p), ...policed(c, p)].join(' ')}`,
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
  // A port that never came up: OVS says why in the Interface's error column and its log.
  explain: async (s, err) => {
    if (!(err instanceof CommandError)) return err;
    const said = await portRefusals(s);
    return said ? new CommandError(err.host, err.command, err.exitCode, err.signal, `${err.stderrTail ? `${err.stderrTail}; ` : ''}${said}`, err.stdout) : err;
  },
};

/** OVS's own words on the testbed's ports that it refused: each Interface's error, and its log's ERR/WARN lines naming them. */
async function portRefusals(s: StepRuntime): Promise<string | null> {
  const names = switchPortNames(s.tb);
  const shell = await s.connect('host');
  const ctx = s.profile.hostContext(s.tb);
  const opts = { ...(ctx.cwd ? { cwd: ctx.cwd } : {}), ...(ctx.env ? { env: ctx.env } : {}), timeoutMs: 15_000 };
  const list = await shell.run(`${s.profile.tool('ovs-vsctl')} --timeout=10 ${INTERFACE_STATES_ARGS}`, opts);
  const refused = parseInterfaceStates(list.stdout).filter((i) => names.includes(i.name) && i.error !== '');
  // The log's lines about the ports OVS refused (about every port, when none says so in its error column).
  const about = refused.length > 0 ? refused.map((i) => i.name) : names;
  const patterns = about.map((n) => `-e ${shq(`${n}:`)} -e ${shq(`'${n}'`)} -e ${shq(`${n},`)}`).join(' ');
  const grep = `${vswitchdLogSinceStart(s.tb.paths)} 2>/dev/null | grep -F ${patterns} | grep -E '\\|(EMER|ERR|WARN)\\|' | tail -n 3`;
  const lines = (await shell.run(grep, { okExitCodes: [0, 1], timeoutMs: 15_000 })).stdout.trim();
  if (refused.length === 0 && !lines) return null;
  const errors = refused.map((i) => `Interface ${i.name} error "${i.error}"`).join('; ');
  return `OVS says: ${errors || 'no Interface error'}${lines ? `; ovs-vswitchd.log: ${lines.split('\n').join(' | ')}` : ''}`;
}

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

/** The guide's add-flow line for one flow (with its 5-tuple where `rules: flow` gives it one). */
function addFlow(c: StepContext, f: SwitchFlow): string {
  const udp = f.udp ? `nw_proto=17,tp_src=${f.udp.src},tp_dst=${f.udp.dst},` : '';
  const action = f.output === 'NORMAL' ? 'NORMAL' : `output:${f.output}`;
  return `${t(c, 'ovs-ofctl')} add-flow ${shq(c.tb.bridge)} in_port=${f.inPort},dl_type=${f.dlType},${f.nwSrc ? `nw_src=${f.nwSrc},` : ''}${f.nwDst ? `nw_dst=${f.nwDst},` : ''}${udp}idle_timeout=${f.idleTimeout},action=${action}`;
}

/**
 * `rules: flow`: a rule per 5-tuple each way, made on the DUT host by awk (the
 * flows' mixed radix of lib/testbed/flows.ts: source port fastest, then
 * destination port, source address, destination address) and added in one
 * `ovs-ofctl add-flows`, so that ten thousand flows are one command, not
 * twenty thousand. The step's read-back holds the table to flowsOf(), rule by rule.
 */
function perFlowRules(c: StepContext): string {
  const { forward, reverse } = pathWays(c.tb);
  const tr = c.tb.traffic;
  const f = tr.flows ?? { count: 1, srcIps: 1, dstIps: 1, srcPorts: 1, dstPorts: 1 };
  const vars = { n: f.count, sp: f.srcPorts, dp: f.dstPorts, si: f.srcIps, s0: ipInt(tr.srcIp), d0: ipInt(tr.dstIp), p0: tr.srcPort, q0: tr.dstPort };
  const rule = (match: string) => (w: Way) => `print "in_port=${w.inPort}," ${match} ",idle_timeout=0,actions=output:${w.output}"`;
  const program = [
    'function ip(x) { return int(x / 16777216) "." int(x / 65536) % 256 "." int(x / 256) % 256 "." x % 256 }',
    'BEGIN { for (i = 0; i < n; i++) { j = i; a = p0 + j % sp; j = int(j / sp); b = q0 + j % dp; j = int(j / dp); s = s0 + j % si; d = d0 + int(j / si);',
    'm = "udp,nw_src=" ip(s) ",nw_dst=" ip(d) ",tp_src=" a ",tp_dst=" b; r = "udp,nw_src=" ip(d) ",nw_dst=" ip(s) ",tp_src=" b ",tp_dst=" a;',
    `${[...forward.map(rule('m')), ...reverse.map(rule('r'))].join('; ')} } }`,
  ].join(' ');
  const args = Object.entries(vars)
    .map(([k, v]) => `-v ${k}=${v}`)
    .join(' ');
  return `awk ${args} ${shq(program)} | ${t(c, 'ovs-ofctl')} add-flows ${shq(c.tb.bridge)} -`;
}
/** `rules: normal`: the path's MACs as static entries of the bridge's table (VLAN 0: untagged), then the table read back. */
function staticMacCommands(c: StepContext): Cmd[] {
  const macs = staticMacsOf(c.tb);
  if (macs.length === 0) return [];
  const appctl = `${t(c, 'ovs-appctl')} -t ${shq(c.profile.appctlTarget?.(c.tb) ?? 'ovs-vswitchd')}`;
  return [...macs.map((m) => host(c, `${appctl} fdb/add ${shq(c.tb.bridge)} ${shq(m.port)} 0 ${m.mac}`)), host(c, `${appctl} fdb/show ${shq(c.tb.bridge)}`)];
}

export const hostFlows: StepDef = {
  id: 'host.flows',
  title: 'Delete the default flow entries and add the ingress and egress flows',
  host: 'host',
  commands: (c) => {
    const flows = flowsOf(c.tb);
    const perFlow = c.tb.traffic.rules === 'flow' && c.tb.flows.length === 0;
    return [
      host(c, `${t(c, 'ovs-ofctl')} del-flows ${shq(c.tb.bridge)}`),
      // rules: flow, the stream's flows in one command (each way of each direction), then the latency stream's pair.
      ...(perFlow ? [host(c, perFlowRules(c)), ...flows.slice(-2).map((f) => host(c, addFlow(c, f)))] : flows.map((f) => host(c, addFlow(c, f)))),
      ...staticMacCommands(c),
      host(c, `${t(c, 'ovs-ofctl')} dump-flows ${shq(c.tb.bridge)}`),
    ];
  },
  after: async (s, outputs) => {
    const flows = parseDumpFlows(outputs[outputs.length - 1]!);
    CheckFailure.ifAny('flow table', checkFlowsInstalled(flows, flowsOf(s.tb)), flows);
    const macs = staticMacsOf(s.tb);
    if (macs.length === 0) return;
    const table = parseFdbShow(outputs[outputs.length - 2]!);
    CheckFailure.ifAny("the switch's MAC table", checkStaticMacs(table, macs), table);
  },
};
