// Reading the lab's state back through the parsers: what the checks judge.
import { parseDmesg, since, type DmesgLine } from '../parsers/dmesg.js';
import { parseIfconfig, parseIpJson, parseNeighbours, parseRoutes, parseSysctl, type Iface, type IpLink, type Neighbour, type Route } from '../parsers/net.js';
import {
  INTERFACE_STATISTICS_ARGS,
  parseDumpFlows,
  parseDumpPorts,
  parseFdbShow,
  parseInterfaceStatistics,
  parseOvsVsctlShow,
  type FdbEntry,
  type FlowEntry,
  type OvsShow,
  type PortCounters,
} from '../parsers/ovs.js';
import { GUEST_DROP_COUNTERS_COMMAND, parseGuestDropCounters, type GuestDropCounters } from '../parsers/kernel-counters.js';
import { CheckFailure, ParseError } from '../errors.js';
import type { Versions } from '../results/run.js';
import { shq } from '../transport/quote.js';
import type { HostRole } from '../testbed/schema.js';
import type { Session } from './session.js';
import { countDatapathFlows, INTERFACE_STATES_ARGS, parseInterfaceStates, parsePmdStatsShow, type InterfaceState, type PmdStats } from '../parsers/ovs-dpdk.js';
import { sysctlExpected } from '../profiles/expected.js';
import { vswitchdLogSinceStart as logSinceStart } from '../profiles/steps/ovs-dpdk.js';
import { TESTPMD_DIR, TESTPMD_PREFIX } from '../profiles/steps/guest-testpmd.js';
import { parseEthdevStats, parseTestpmdPorts, testpmdLinks } from '../parsers/testpmd.js';

async function onHost(s: Session, line: string): Promise<string> {
  return (await s.shell('host').run(line, s.profile.hostContext(s.tb))).stdout;
}

export async function ovsShow(s: Session): Promise<OvsShow> {
  return parseOvsVsctlShow(await onHost(s, `${s.profile.tool('ovs-vsctl')} show`));
}

export async function flows(s: Session): Promise<FlowEntry[]> {
  return parseDumpFlows(await onHost(s, `${s.profile.tool('ovs-ofctl')} dump-flows ${shq(s.tb.bridge)}`));
}

export async function ports(s: Session): Promise<Map<string, PortCounters>> {
  return parseDumpPorts(await onHost(s, `${s.profile.tool('ovs-ofctl')} dump-ports ${shq(s.tb.bridge)}`));
}

export async function guestIfconfig(s: Session): Promise<Iface[]> {
  return parseIfconfig((await s.shell('guest').run('ifconfig -a')).stdout);
}

/** The guest's interfaces with their addresses (ip -j addr). */
export async function guestAddresses(s: Session): Promise<IpLink[]> {
  return parseIpJson((await s.shell('guest').run('ip -j addr')).stdout);
}

/**
 * Link counters of the guest's vEth interfaces (ip -s -j link; a testpmd guest's from DPDK's telemetry, its NICs
 * being DPDK's), with the guest's clock (µs) just before and after.
 */
export async function guestLinks(s: Session): Promise<{ links: IpLink[]; fromUs: number; toUs: number }> {
  const testpmd = s.tb.vm?.forwarding === 'testpmd';
  const read = testpmd ? `cat ${TESTPMD_DIR}/ports; echo ${TELEMETRY_MARK}; ${telemetryQuery(s.tb.vmPorts.length)}` : 'ip -s -j link';
  const out = (await s.shell('guest').run(`date +%s%N; ${read}; date +%s%N`)).stdout.trim().split('\n');
  const [from, to] = [out[0] ?? '', out.at(-1) ?? ''];
  if (out.length < 3 || !/^\d{16,}$/.test(from) || !/^\d{16,}$/.test(to))
    throw new ParseError("the guest's link counters", `a time, \`${read}\` and a time`, out.join('\n'));
  const body = out.slice(1, -1).join('\n');
  if (!testpmd) return { links: parseIpJson(body), fromUs: Math.floor(Number(from) / 1000), toUs: Math.ceil(Number(to) / 1000) };
  const [ports, answers] = [body.split(TELEMETRY_MARK)[0]!, body.split(TELEMETRY_MARK)[1] ?? ''];
  const stats = parseEthdevStats(answers);
  // No answer at all: no socket, no testpmd. The guest's forwarder is part of the path under test, as its kernel is.
  if (stats.length === 0)
    throw new CheckFailure(
      'guest forwarder',
      `testpmd does not answer on its telemetry socket in the guest (DPDK file prefix ${TESTPMD_PREFIX}): it is not running`,
    );
  return { links: testpmdLinks(parseTestpmdPorts(ports), stats), fromUs: Math.floor(Number(from) / 1000), toUs: Math.ceil(Number(to) / 1000) };
}

const TELEMETRY_MARK = '--telemetry--';
/** Each port's counters from testpmd's telemetry socket, a JSON answer a line. */
export const telemetryQuery = (ports: number): string =>
  `printf '${Array.from({ length: ports }, (_, i) => `/ethdev/stats,${i}\\n`).join('')}' | dpdk-telemetry.py -f ${TESTPMD_PREFIX}`;

export async function guestSysctl(s: Session): Promise<Record<string, string>> {
  const keys = Object.keys(sysctlExpected(s.topology));
  return parseSysctl((await s.shell('guest').run(`sysctl ${keys.map(shq).join(' ')}`)).stdout, keys);
}

export async function guestRoutes(s: Session): Promise<Route[]> {
  return parseRoutes((await s.shell('guest').run('ip route')).stdout, { required: true });
}

export async function guestNeighbours(s: Session): Promise<Neighbour[]> {
  return parseNeighbours((await s.shell('guest').run('arp -n')).stdout);
}

export async function dmesgText(s: Session, role: HostRole): Promise<string> {
  return (await s.shell(role).run('dmesg')).stdout;
}

/** The driver bound to each of the guest's interfaces ('' when there is no such NIC or no driver). */
export async function guestDrivers(s: Session, ifaces: string[]): Promise<Array<{ iface: string; driver: string }>> {
  // A testpmd guest's NICs are DPDK's: no longer the kernel's links, found by the PCI address the bind step recorded.
  const device = (i: string) =>
    s.tb.vm?.forwarding === 'testpmd'
      ? `/sys/bus/pci/devices/$(awk -v n=${shq(i)} '$1 == n {print $2}' ${TESTPMD_DIR}/ports 2>/dev/null)`
      : `/sys/class/net/${shq(i)}/device`;
  const script = ifaces.map((i) => `d=$(readlink ${device(i)}/driver) && basename "$d" || echo`).join('; ');
  const out = (await s.shell('guest').run(script, { okExitCodes: [0, 1] })).stdout.split('\n');
  return ifaces.map((iface, n) => ({ iface, driver: (out[n] ?? '').trim() }));
}

/** Kernel messages logged on a host since the run took its baseline. */
export async function dmesgSinceStart(s: Session, role: HostRole): Promise<DmesgLine[]> {
  return since(parseDmesg(await dmesgText(s, role)), s.dmesgBaseline.get(role));
}

/** What the report records of the lab's software; a version that cannot be read says so. */
export async function versions(s: Session, roles: readonly HostRole[] = ['host', 'guest']): Promise<Partial<Versions>> {
  const out: Partial<Versions> = {};
  const tryRead = async (role: HostRole, line: string, opts = {}) =>
    s.connected(role)
      ? (
          await s
            .shell(role)
            .run(line, { ...opts, okExitCodes: [0, 1, 2, 127] })
            .catch(() => null)
        )?.stdout
          .trim()
          .split('\n')[0] || 'unknown'
      : 'not connected';
  if (roles.includes('host')) {
    out.ovs = await tryRead('host', `${s.profile.tool('ovs-vsctl')} --version`, s.profile.hostContext(s.tb));
    const dpdk = s.profile.dpdkVersionCommand?.(s.tb);
    out.dpdk = dpdk ? await tryRead('host', dpdk) : `none (profile ${s.profile.name}: no DPDK)`;
    out.hostKernel = await tryRead('host', 'uname -r');
  }
  if (roles.includes('guest')) out.guestKernel = await tryRead('guest', 'uname -r');
  return out;
}

/** An ovs-appctl command line to the run's ovs-vswitchd (the profile's tool and target). */
export const appctl = (s: Pick<Session, 'profile' | 'tb'>, args: string) =>
  `${s.profile.tool('ovs-appctl')} -t ${shq(s.profile.appctlTarget?.(s.tb) ?? 'ovs-vswitchd')} ${args}`;

export async function interfaceStates(s: Session): Promise<InterfaceState[]> {
  return parseInterfaceStates(await onHost(s, `${s.profile.tool('ovs-vsctl')} --timeout=10 ${INTERFACE_STATES_ARGS}`));
}

export async function pmdStats(s: Session): Promise<PmdStats> {
  return parsePmdStatsShow(await onHost(s, appctl(s, 'dpif-netdev/pmd-stats-show')));
}

/** The bridge's MAC table (`rules: normal` keeps the path's MACs in it as static entries). */
export async function fdb(s: Session): Promise<FdbEntry[]> {
  return parseFdbShow(await onHost(s, appctl(s, `fdb/show ${shq(s.tb.bridge)}`)));
}

/** The userspace datapath's flows (megaflows) now: the dump, and how many distinct ones it holds. */
export async function datapathFlows(s: Session): Promise<{ text: string; count: number }> {
  const text = await onHost(s, appctl(s, 'dpctl/dump-flows'));
  return { text, count: countDatapathFlows(text) };
}

/** OVS's max-idle (ms): how long an unused datapath flow lives; 10000 where other_config does not set it. */
export async function datapathMaxIdleMs(s: Session): Promise<number> {
  const out = (await onHost(s, `${s.profile.tool('ovs-vsctl')} --timeout=10 --if-exists get Open_vSwitch . other_config:max-idle`)).trim();
  const ms = Number(out.replace(/^"|"$/g, ''));
  return out === '' ? 10_000 : Number.isFinite(ms) && ms > 0 ? ms : 10_000;
}

/** What ovs-vswitchd logged since the run started it (from the offset its start step noted). */
export async function vswitchdLogSinceStart(s: Session): Promise<string> {
  return onHost(s, logSinceStart(s.tb.paths));
}

/** The guest kernel's own drop counters: its IP stack's, its neighbour table's, its nftables rules'. */
export async function guestDropCounters(s: Session): Promise<GuestDropCounters> {
  return parseGuestDropCounters((await s.shell('guest').run(GUEST_DROP_COUNTERS_COMMAND)).stdout);
}

/** Every Interface's statistics map as ovs-vswitchd keeps it (the drops dump-ports does not show). */
export async function interfaceStatistics(s: Session): Promise<Map<string, Record<string, number>>> {
  return parseInterfaceStatistics(await onHost(s, `${s.profile.tool('ovs-vsctl')} --timeout=10 ${INTERFACE_STATISTICS_ARGS}`));
}
