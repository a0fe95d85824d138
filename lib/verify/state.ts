// Checks of the lab's state against what the testbed implies. Pure functions
// of parsed output: each returns the problems in words, empty when all is well.
import type { DmesgLine } from '../parsers/dmesg.js';
import { IVSHMEM_FOUND, IVSHMEM_NOT_FOUND, KNI_LOADED, KNI_LOADING, kernelTrouble } from '../parsers/dmesg.js';
import type { Iface, IpLink, Neighbour, Route } from '../parsers/net.js';
import { prefixToNetmask } from '../parsers/net.js';
import type { FdbEntry, FlowEntry, OvsShow } from '../parsers/ovs.js';
import type { InterfaceState, LogLine } from '../parsers/ovs-dpdk.js';

export interface ExpectedPort {
  name: string;
  ofport: number;
  type: string;
  options: Record<string, string>;
}

export function checkOvsShow(show: OvsShow, bridge: string, datapathType: string | undefined, ports: ExpectedPort[]): string[] {
  const br = show.bridges.find((b) => b.name === bridge);
  if (!br) return [`bridge ${bridge} is missing (bridges: ${show.bridges.map((b) => b.name).join(', ') || 'none'})`];
  const problems: string[] = [];
  if (datapathType && br.datapathType !== undefined && br.datapathType !== datapathType) {
    problems.push(`bridge ${bridge} has datapath_type ${br.datapathType}, expected ${datapathType}`);
  }
  for (const want of ports) {
    const iface = br.ports.find((p) => p.name === want.name)?.interfaces.find((i) => i.name === want.name);
    if (!iface) {
      problems.push(`port ${want.name} is not on bridge ${bridge}`);
      continue;
    }
    if (iface.type !== want.type) problems.push(`interface ${want.name} has type "${iface.type || 'system'}", expected "${want.type || 'system'}"`);
    for (const [k, v] of Object.entries(want.options)) {
      if (iface.options[k] !== v) problems.push(`interface ${want.name} has option ${k}=${iface.options[k] ?? '(unset)'}, expected ${v}`);
    }
    if (iface.error) problems.push(`interface ${want.name} reports an error: ${iface.error}`);
  }
  return problems;
}

/** A flow the switch must hold; a rule without addresses (traffic.rules: port) matches any, one with `udp` (rules: flow) one 5-tuple. */
export interface ExpectedFlow {
  inPort: number;
  nwSrc?: string | undefined;
  nwDst?: string | undefined;
  udp?: { src: number; dst: number } | undefined;
  output: number | 'NORMAL';
}

/** What tells one rule of the stream from another: its match fields and its output. */
const expectedKey = (f: ExpectedFlow, output: number | 'NORMAL') =>
  [f.inPort, f.nwSrc ?? '', f.nwDst ?? '', f.udp?.src ?? '', f.udp?.dst ?? '', output].join('|');

/** An installed entry's key for each port it outputs to; none for an entry that is not IPv4 (ARP, the default NORMAL flow). */
function entryKeys(e: FlowEntry): string[] {
  const udp = 'udp' in e.fields || e.fields.nw_proto === '17';
  if (!('ip' in e.fields || udp || e.fields.dl_type === '0x0800')) return [];
  const match = [e.fields.in_port ?? '', e.fields.nw_src ?? '', e.fields.nw_dst ?? '', e.fields.tp_src ?? '', e.fields.tp_dst ?? ''].join('|');
  return e.actions
    .split(',')
    .filter((a) => a.startsWith('output:') || a === 'NORMAL')
    .map((a) => `${match}|${a.replace(/^output:/, '')}`);
}

/** For each expected flow, the installed entry that is it (or undefined), found through one index: a table of 20,000 rules is read once. */
export function matchFlows(flows: FlowEntry[], expected: readonly ExpectedFlow[]): Array<FlowEntry | undefined> {
  const installed = new Map<string, FlowEntry>();
  for (const e of flows) for (const k of entryKeys(e)) if (!installed.has(k)) installed.set(k, e);
  return expected.map((f) => installed.get(expectedKey(f, f.output)));
}

export function findFlow(flows: FlowEntry[], f: ExpectedFlow): FlowEntry | undefined {
  return matchFlows(flows, [f])[0];
}

export function describeFlow(f: ExpectedFlow): string {
  const udp = f.udp ? `,udp,tp_src=${f.udp.src},tp_dst=${f.udp.dst}` : '';
  return `in_port=${f.inPort}${f.nwSrc ? `,nw_src=${f.nwSrc}` : ''}${f.nwDst ? `,nw_dst=${f.nwDst}` : ''}${udp} -> ${f.output === 'NORMAL' ? 'NORMAL' : `output:${f.output}`}`;
}

/** Every expected flow installed, and no other (the first few of each named: a table of thousands says how many). */
export function checkFlowsInstalled(flows: FlowEntry[], expected: ExpectedFlow[]): string[] {
  const matched = matchFlows(flows, expected);
  const missing = expected.filter((_, i) => !matched[i]);
  const used = new Set(matched.filter((e): e is FlowEntry => e !== undefined));
  const extra = flows.filter((e) => !used.has(e));
  const more = (n: number, shown: number) => (n > shown ? ` and ${n - shown} more` : '');
  const problems = missing.slice(0, 10).map((f) => `flow ${describeFlow(f)} is not installed`);
  if (missing.length > 10) problems.push(`${missing.length} of the ${expected.length} flows are not installed${more(missing.length, 10)}`);
  if (extra.length > 0)
    problems.push(
      `unexpected flow(s) in the table: ${extra
        .slice(0, 10)
        .map((e) => `${e.match} actions=${e.actions}`)
        .join('; ')}${more(extra.length, 10)}`,
    );
  return problems;
}

export interface ExpectedIface {
  name: string;
  mac: string;
  cidr: string;
}

/** Both vEth interfaces UP and RUNNING with the testbed's MAC, address and netmask. */
export function checkGuestIfaces(ifaces: Iface[], expected: ExpectedIface[]): string[] {
  const problems: string[] = [];
  for (const want of expected) {
    const got = ifaces.find((i) => i.name === want.name);
    if (!got) {
      problems.push(`${want.name} does not exist in the guest`);
      continue;
    }
    for (const flag of ['UP', 'RUNNING']) if (!got.flags.includes(flag)) problems.push(`${want.name} is not ${flag} (flags: ${got.flags.join(',') || 'none'})`);
    if (got.mac !== want.mac.toLowerCase()) problems.push(`${want.name} has MAC ${got.mac ?? '(none)'}, expected ${want.mac.toLowerCase()}`);
    const [addr, len] = want.cidr.split('/');
    const mask = prefixToNetmask(Number(len));
    if (got.inet?.address !== addr) problems.push(`${want.name} has address ${got.inet?.address ?? '(none)'}, expected ${addr}`);
    else if (got.inet && got.inet.netmask !== mask) problems.push(`${want.name} has netmask ${got.inet.netmask}, expected ${mask}`);
  }
  return problems;
}

/** The same check from `ip -j addr`: operstate UP and LOWER_UP stand for RUNNING. */
export function checkGuestLinks(links: IpLink[], expected: ExpectedIface[]): string[] {
  return checkGuestIfaces(
    links.map((l) => {
      const a = l.addrs.find((x) => x.family === 'inet');
      return {
        name: l.name,
        flags: [...(l.flags.includes('UP') ? ['UP'] : []), ...(l.flags.includes('LOWER_UP') ? ['RUNNING'] : [])],
        ...(l.mac ? { mac: l.mac } : {}),
        ...(a ? { inet: { address: a.local, netmask: prefixToNetmask(a.prefixlen) } } : {}),
      };
    }),
    expected,
  );
}

export function checkSysctl(values: Record<string, string>, expected: Record<string, string>): string[] {
  return Object.entries(expected)
    .filter(([k, v]) => values[k] !== v)
    .map(([k, v]) => `${k} is ${values[k] ?? '(not read)'}, expected ${v}`);
}

export function checkDefaultRoute(routes: Route[], gateway: string, dev: string): string[] {
  const defaults = routes.filter((r) => r.dst === 'default' || r.dst === '0.0.0.0/0');
  if (defaults.length === 0) return [`no default route (expected via ${gateway} dev ${dev})`];
  const ok = defaults.find((r) => r.gateway === gateway && r.dev === dev);
  if (!ok) return [`the default route is ${defaults.map((r) => `via ${r.gateway ?? '-'} dev ${r.dev ?? '-'}`).join(', ')}, expected via ${gateway} dev ${dev}`];
  return [];
}

export function checkStaticArp(neigh: Neighbour[], ip: string, mac: string, dev: string): string[] {
  const entry = neigh.find((n) => n.ip === ip && n.dev === dev);
  if (!entry) return [`no ARP entry for the gateway ${ip} on ${dev}`];
  const problems: string[] = [];
  if (entry.mac !== mac.toLowerCase()) problems.push(`the gateway ${ip} resolves to ${entry.mac ?? '(incomplete)'}, expected ${mac.toLowerCase()}`);
  if (!entry.permanent) problems.push(`the ARP entry for ${ip} is not static (PERMANENT)`);
  return problems;
}

/** traffic.direction both: the route to the forward stream's sources via the reverse next hop, out of the ingress interface, and its static ARP entry. */
export function checkReverseRoute(routes: Route[], neigh: Neighbour[], want: { ip: string; mac: string; route: string }, dev: string): string[] {
  // `ip route` prints a /32 route as the bare address.
  const route = routes.find((r) => r.dst === want.route || `${r.dst}/32` === want.route);
  const problems = !route
    ? [`no route to ${want.route} (the reverse stream's destinations; expected via ${want.ip} dev ${dev})`]
    : route.gateway !== want.ip || route.dev !== dev
      ? [`the route to ${want.route} is via ${route.gateway ?? '-'} dev ${route.dev ?? '-'}, expected via ${want.ip} dev ${dev}`]
      : [];
  return [...problems, ...checkStaticArp(neigh, want.ip, want.mac, dev).map((p) => p.replace('the gateway', 'the reverse next hop'))];
}

/** The KNI module's load messages, as the guide shows them. */
export function checkKniDmesg(lines: DmesgLine[]): string[] {
  const problems: string[] = [];
  if (!lines.some((l) => KNI_LOADING.test(l.text))) problems.push('dmesg lacks "KNI: ######## DPDK kni module loading ########"');
  if (!lines.some((l) => IVSHMEM_FOUND.test(l.text))) problems.push('dmesg lacks "KNI: IVSHMEM metadata found"');
  if (lines.some((l) => IVSHMEM_NOT_FOUND.test(l.text))) problems.push('dmesg says "KNI: IVSHMEM metadata NOT found"');
  if (!lines.some((l) => KNI_LOADED.test(l.text))) problems.push('dmesg lacks "KNI: ######## DPDK kni module loaded ########"');
  return problems;
}

export function checkKernelHealthy(lines: DmesgLine[], where: string): string[] {
  return kernelTrouble(lines).map((l) => `${where} kernel logged: ${l.time !== undefined ? `[${l.time.toFixed(6)}] ` : ''}${l.text}`);
}

/**
 * A VM guest's kernel since it booted (what only a real guest kernel shows):
 * no Oops, BUG, panic or call trace at any time, and each vEth NIC bound to
 * virtio_net (the driver the vhost-user NICs need).
 */
export function checkGuestBoot(lines: DmesgLine[], drivers: Array<{ iface: string; driver: string }>, expected = 'virtio_net'): string[] {
  const problems = checkKernelHealthy(lines, 'guest (since boot)');
  for (const { iface, driver } of drivers)
    if (driver !== expected)
      problems.push(`guest ${iface}: ${driver === '' ? 'no such NIC, or no driver bound to it' : `driver ${driver}`}, expected ${expected}`);
  return problems;
}

/** DPDK initialised in ovs-vswitchd, and its version. */
export function checkDpdkInitialized(initialized: string, version: string): string[] {
  const problems: string[] = [];
  if (initialized.trim() !== 'true') problems.push(`DPDK is not initialised in ovs-vswitchd (dpdk_initialized=${initialized.trim() || 'empty'})`);
  if (!/^"?DPDK \d/.test(version.trim())) problems.push(`ovs-vswitchd reports no DPDK version (dpdk_version=${version.trim() || 'empty'})`);
  return problems;
}

/**
 * Every DPDK port (a vhost-user port is one: its link is up once the guest's
 * virtio driver started it) without an error and with its link up. A tap port whose
 * kernel side has moved into another namespace is reported down by OVS while
 * it forwards: its kernel side is judged in the guest instead (check.ifconfig).
 */
export function checkDpdkPorts(states: InterfaceState[], ports: Array<{ name: string; kernelSideElsewhere: boolean; type?: string }>): string[] {
  const problems: string[] = [];
  for (const p of ports) {
    const s = states.find((x) => x.name === p.name);
    if (!s) {
      problems.push(`DPDK port ${p.name} is not in the Interface table`);
      continue;
    }
    const type = p.type ?? 'dpdk';
    if (s.type !== type) problems.push(`port ${p.name} has type "${s.type}", expected "${type}"`);
    if (s.error) problems.push(`DPDK port ${p.name} reports an error: ${s.error}`);
    if (!p.kernelSideElsewhere && s.linkState !== 'up') problems.push(`DPDK port ${p.name} has link_state ${s.linkState || 'unset'}, expected up`);
  }
  for (const s of states)
    if (s.type.startsWith('dpdk') && s.error && !ports.some((p) => p.name === s.name))
      problems.push(`DPDK port ${s.name} (not the testbed's) reports an error: ${s.error}`);
  return problems;
}

/**
 * The PMD threads saw the stream twice, once each way through the switch:
 * their packets received over the run at least twice the stream's, and no
 * more than that plus the other frames the captures saw on the switch's wires.
 */
export function checkPmdStats(received: number, sent: number, foreignAtMost: number): string[] {
  const want = 2 * sent;
  if (received < want)
    return [
      `the PMD threads received ${received} packets over the run, fewer than the ${want} of the stream's ${sent} packets crossing the switch twice: ${want - received} did not come back through it`,
    ];
  if (received > want + foreignAtMost)
    return [
      `the PMD threads received ${received} packets over the run, ${received - want} more than the stream's two passes (${want}) and the ${foreignAtMost} other frames seen on the switch's wires`,
    ];
  return [];
}

/**
 * The ERR lines DPDK's vhost library writes when the QEMU at the other end of
 * one of these vhost-user sockets dies: killed with a message it had not read
 * yet, its socket is reset ("recvmsg failed … Connection reset by peer", then
 * "vhost read message failed"). Whether they appear depends on that timing;
 * they are the peer's death, not the switch's error.
 */
export function vhostPeerGoneLines(lines: LogLine[], sockets: readonly string[]): LogLine[] {
  return lines.filter(
    (l) =>
      l.level === 'ERR' && sockets.some((s) => l.line.includes(`VHOST_CONFIG: (${s}) `)) && /Connection reset by peer|vhost read message failed/.test(l.line),
  );
}

/**
 * ovs-vswitchd's log since it started: no ERR or EMER line the allowlist does
 * not expect (as `make check-dpdk` does), nor one already explained (a dead
 * VM's vhost-user sockets).
 */
export function checkVswitchdLog(lines: LogLine[], allowlist: readonly string[], explained: readonly LogLine[] = []): string[] {
  const allowed = allowlist.map((a) => new RegExp(a));
  const bad = lines.filter((l) => (l.level === 'ERR' || l.level === 'EMER') && !explained.includes(l) && !allowed.some((a) => a.test(l.line)));
  if (bad.length === 0) return [];
  return [
    `${bad.length} unexpected ERR/EMER line(s) in ovs-vswitchd's log, first: ${bad
      .slice(0, 3)
      .map((l) => JSON.stringify(l.line))
      .join('; ')}`,
  ];
}

/**
 * What a case changed of the lab, from two readings of its state (each a
 * named list of lines: the guest's vEths, routes and neighbours, the TG's
 * ports, the flow table): each line that appeared or went, by aspect.
 */
export function stateChanges(before: Record<string, string[]>, after: Record<string, string[]>): string[] {
  const changes: string[] = [];
  for (const aspect of new Set([...Object.keys(before), ...Object.keys(after)])) {
    const b = new Set(before[aspect] ?? []);
    const a = new Set(after[aspect] ?? []);
    const gone = [...b].filter((l) => !a.has(l));
    const came = [...a].filter((l) => !b.has(l));
    if (gone.length > 0) changes.push(`${aspect}: gone: ${gone.join('; ')}`);
    if (came.length > 0) changes.push(`${aspect}: new: ${came.join('; ')}`);
  }
  return changes;
}

/** Each MAC of `rules: normal` in the switch's table, static, on its port (fdb/show's port is the OpenFlow port number). */
export function checkStaticMacs(table: FdbEntry[], expected: Array<{ mac: string; port: string; ofport: number }>): string[] {
  const problems: string[] = [];
  for (const want of expected) {
    const got = table.filter((e) => e.mac === want.mac);
    const right = got.find((e) => e.port === String(want.ofport));
    if (right?.static) continue;
    if (right) problems.push(`MAC ${want.mac} is on ${want.port} (port ${want.ofport}) but learned (age ${right.age}), not static: it can move and age out`);
    else if (got.length > 0) problems.push(`MAC ${want.mac} is on port ${got.map((e) => e.port).join(', ')}, expected ${want.port} (port ${want.ofport})`);
    else problems.push(`MAC ${want.mac} is not in the switch's MAC table (expected static on ${want.port}, port ${want.ofport}): its frames are flooded`);
  }
  return problems;
}
