// The PVP suite's checks of the lab's state after the traffic: the switch's
// daemons, rules and MAC table, the guest's interfaces, forwarding, routes and
// ARP entries, the kernels' logs, the DPDK ports and ovs-vswitchd's log. Each
// reads what it judges and throws a CheckFailure naming what is wrong; the
// traffic's own checks (packets, counters, PMD counts) are cases.ts's.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CheckFailure } from '../../errors.js';
import { parseDmesg } from '../../parsers/dmesg.js';
import { parseOvsLog } from '../../parsers/ovs-dpdk.js';
import { expectedVeths, sysctlExpected } from '../../profiles/expected.js';
import type { LabRun } from '../../scenario/lab-run.js';
import * as read from '../../scenario/readback.js';
import { flowsOf, staticMacsOf } from '../../testbed/rules.js';
import { reverseGatewayOf } from '../../testbed/topology.js';
import { vhostUserPorts } from '../../testbed/sizing.js';
import * as state from '../../verify/state.js';

export async function checkGuestBoot(run: LabRun): Promise<void> {
  const text = await read.dmesgText(run.session, 'guest');
  writeFileSync(join(run.dir, 'dmesg-guest-since-boot.txt'), text);
  const drivers = await read.guestDrivers(
    run.session,
    run.tb.vmPorts.map((k) => k.guestIf),
  );
  // A testpmd guest's NICs are uio_pci_generic's once its bind step has run (the PCI driver DPDK polls through).
  const expected = run.tb.vm?.forwarding === 'testpmd' ? 'uio_pci_generic' : 'virtio_net';
  CheckFailure.ifAny('guest boot', state.checkGuestBoot(parseDmesg(text), drivers, expected));
}

export async function checkDpdkPorts(run: LabRun): Promise<void> {
  const states = await read.interfaceStates(run.session);
  const ports = [
    ...run.tb.phyPorts.map((p) => ({ name: p.name, kernelSideElsewhere: false })),
    ...run.tb.vmPorts.map((k) => ({
      name: k.name,
      kernelSideElsewhere: k.kind === 'tap' && k.netns !== undefined,
      type: run.profile.vmShown(k).type,
    })),
  ];
  CheckFailure.ifAny('dpdk ports', state.checkDpdkPorts(states, ports), states);
}

export async function checkVswitchdLog(run: LabRun): Promise<void> {
  const text = await read.vswitchdLogSinceStart(run.session);
  writeFileSync(join(run.dir, 'ovs-vswitchd-since-start.log'), text);
  const lines = parseOvsLog(text);
  const vmGone = await run.session.vmGone().catch(() => null);
  const sockets = vhostUserPorts(run.tb).map((k) => k.vhostSocket ?? '');
  const explained = vmGone ? state.vhostPeerGoneLines(lines, sockets) : [];
  if (explained.length > 0)
    run.note(
      `ovs-vswitchd logged ${explained.length} ERR line(s) about the vhost-user sockets of the guest's VM, which is gone (not counted against the switch): ${explained.map((l) => l.line).join('; ')}`,
    );
  CheckFailure.ifAny('ovs-vswitchd log', state.checkVswitchdLog(lines, run.tb.ovsDpdk.logAllowlist, explained));
}

export async function checkSwitch(run: LabRun): Promise<void> {
  const problems: string[] = [];
  for (const [daemon, line] of [
    ['ovsdb-server', `${run.profile.tool('ovs-vsctl')} --timeout=10 show`],
    ['ovs-vswitchd', read.appctl(run.session, 'version')],
  ] as const) {
    const r = await run.session.shell('host').run(line, { ...run.profile.hostContext(run.tb), okExitCodes: [0, 1] });
    if (r.exitCode !== 0) problems.push(`${daemon} does not answer (${r.stderr.trim().split('\n').pop()})`);
  }
  CheckFailure.ifAny('switch', problems);
}

/** The rules, and with `rules: normal` the path's MACs where the setup put them in the switch's table. */
export async function checkFlowTable(run: LabRun): Promise<void> {
  const [s, macs] = [run.session, staticMacsOf(run.tb)];
  const table = macs.length > 0 ? state.checkStaticMacs(await read.fdb(s), macs) : [];
  CheckFailure.ifAny('flow table', [...state.checkFlowsInstalled(await read.flows(s), flowsOf(run.tb)), ...table]);
}

export async function checkKniDmesg(run: LabRun): Promise<void> {
  const text = await read.dmesgText(run.session, 'guest');
  writeFileSync(join(run.dir, 'dmesg-guest.txt'), text);
  CheckFailure.ifAny('dmesg (KNI)', state.checkKniDmesg(parseDmesg(text)));
}

export async function checkKernel(run: LabRun): Promise<void> {
  const problems: string[] = [];
  for (const role of ['host', 'guest'] as const) {
    const lines = await read.dmesgSinceStart(run.session, role);
    writeFileSync(
      join(run.dir, `dmesg-${role}-since-start.txt`),
      lines.map((l) => (l.time !== undefined ? `[${l.time.toFixed(6)}] ` : '') + l.text).join('\n'),
    );
    problems.push(...state.checkKernelHealthy(lines, role));
  }
  CheckFailure.ifAny('dmesg (kernel)', problems);
}

export async function checkIfconfig(run: LabRun): Promise<void> {
  CheckFailure.ifAny('ifconfig', state.checkGuestIfaces(await read.guestIfconfig(run.session), expectedVeths(run.tb)));
}

export async function checkSysctl(run: LabRun): Promise<void> {
  CheckFailure.ifAny('sysctl', state.checkSysctl(await read.guestSysctl(run.session), sysctlExpected(run.topology)));
}

export async function checkRoute(run: LabRun): Promise<void> {
  const routes = await read.guestRoutes(run.session);
  // Both ways: the route to the forward stream's sources too, and its next hop's static ARP entry.
  const reverse =
    run.tb.traffic.direction === 'both'
      ? state.checkReverseRoute(routes, await read.guestNeighbours(run.session), reverseGatewayOf(run.tb), run.topology.vmIngress.guestIf)
      : [];
  CheckFailure.ifAny('route', [...state.checkDefaultRoute(routes, run.tb.gateway.ip, run.topology.vmEgress.guestIf), ...reverse]);
}

export async function checkArp(run: LabRun): Promise<void> {
  CheckFailure.ifAny(
    'arp',
    state.checkStaticArp(await read.guestNeighbours(run.session), run.tb.gateway.ip, run.tb.gateway.mac, run.topology.vmEgress.guestIf),
  );
}
