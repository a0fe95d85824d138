// The PVP suite's traffic and checks: send the testbed's stream from the TG
// through phy ingress, the guest's router and phy egress, capture the return,
// and judge return packets, counters along the path, the switch, the flow
// table, dmesg and the guest's interface state. Its testcase ids are frozen:
// the fault tests and users' dashboards read them.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CheckFailure, errorMessage } from '../../errors.js';
import type { GuestDropCounters } from '../../parsers/kernel-counters.js';
import { parseDmesg } from '../../parsers/dmesg.js';
import { parseOvsLog } from '../../parsers/ovs-dpdk.js';
import { expectedVeths, sysctlExpected } from '../../profiles/expected.js';
import { vhostUserPorts } from '../../testbed/sizing.js';
import type { HopId, Wire } from '../../testbed/path.js';
import type { PvpMeasured } from '../../results/pvp.js';
import { countersRecord, countersTable, dropsTable, packetsTable } from './result.js';
import { flowsOf, staticMacsOf } from '../../testbed/rules.js';
import { shq } from '../../transport/quote.js';
import { writeStreamPcap } from '../../traffic/pcap.js';
import { sentBytes, streamFromTestbed, type StreamSpec } from '../../traffic/stream.js';
import { checkCounters, whereLost, type ForeignFrames, type PathCounts } from '../../verify/counters.js';
import { describeDrops, findDrops, type Findings } from '../../verify/drops.js';
import { allowedLoss, verifyCapture, type PacketVerdict } from '../../verify/packets.js';
import {
  checkDefaultRoute,
  checkDpdkPorts,
  checkGuestBoot,
  checkPmdStats,
  checkVswitchdLog,
  vhostPeerGoneLines,
  checkFlowsInstalled,
  checkGuestIfaces,
  checkKernelHealthy,
  checkKniDmesg,
  checkStaticArp,
  checkStaticMacs,
  checkSysctl,
} from '../../verify/state.js';
import type { LabRun, Stage } from '../../scenario/lab-run.js';
import * as read from '../../scenario/readback.js';
import { GuestCaptures } from './guest-captures.js';
import {
  controllerUs,
  countsAlongPath,
  failed,
  foreignAlongPath,
  reading,
  readFlowCounts,
  stamped,
  type FlowCounts,
  type Readout,
  type Snapshot,
  snapshotOf,
  type Stamp,
} from './readings.js';
import { pcapFrames } from '../../traffic/pcap.js';
import type { Requirement } from '../../capabilities.js';
import { DMESG_BASELINE_STEP_ID } from '../../profiles/steps/guest-router.js';

/** The traffic's stages, which the checks of what came back need. */
export const TRAFFIC_PREPARE = 'traffic.prepare';
export const TRAFFIC_SEND = 'traffic.send';

/** The lab's own drop counters at one moment; a reading that failed is kept as its error. */
interface DropCounters {
  guest: Readout<GuestDropCounters>;
  stats: Readout<Map<string, Record<string, number>>>;
}

export class PvpTest {
  private readonly stream: StreamSpec;
  private verdict: PacketVerdict | null = null;
  private before: Readout<Snapshot> | null = null;
  private after: Readout<Snapshot> | null = null;
  private flowCounts: Readout<FlowCounts> = { ingress: null, egress: null };
  /** The lab's own drop counters around the stream (the guest's kernel, the switch's Interface statistics). */
  private drops: { before: DropCounters; after: DropCounters } | null = null;
  /** The guest's links, captured during the traffic where it has tcpdump. */
  private readonly guestCaptures: GuestCaptures;

  /** What this suite measured so far, handed to the engine's record as it grows. */
  private readonly result: PvpMeasured = { kind: 'pvp' };

  constructor(private readonly run: LabRun) {
    this.stream = streamFromTestbed(run.tb, parseInt(run.config.runId.replace(/\D/g, '').slice(-9) || '1', 10));
    this.guestCaptures = new GuestCaptures(run);
  }

  private record(part: Omit<Partial<PvpMeasured>, 'kind'>): void {
    Object.assign(this.result, part);
    this.run.measured(this.result);
  }

  /**
   * The traffic and the checks, after the setup's stages. A check of what a
   * profile may lack (KNI, DPDK ports, a VM) requires it: on a lab without it
   * the check is blocked with its reason, never silently absent.
   */
  stages(): Stage[] {
    const done = this.run.setupDone;
    type Check = (id: string, title: string, needs: string[], run: () => Promise<void>, requires?: Requirement[]) => Stage;
    const check: Check = (id, title, needs, run, requires) => ({ id, title, group: 'checks', needs, run, ...(requires ? { requires } : {}) });
    return [
      { id: TRAFFIC_PREPARE, title: 'Prepare the traffic generator', group: 'traffic', needs: [done], run: () => this.prepareTraffic() },
      {
        id: TRAFFIC_SEND,
        title: `Send ${this.stream.count} packets ${this.stream.srcIp} -> ${this.stream.dstIp} and capture the return port`,
        group: 'traffic',
        needs: [TRAFFIC_PREPARE],
        run: () => this.sendTraffic(),
      },
      check('check.packets', 'Return packets: every packet crossed the guest router once, unchanged', [TRAFFIC_SEND], () => this.checkPackets()),
      check('check.counters', 'Counters: flows, OVS ports, guest vEth and TG ports agree with the stream', [TRAFFIC_SEND], () => this.checkCounters()),
      check('check.switch', 'Open vSwitch: ovsdb-server and ovs-vswitchd still answer', [done], () => this.checkSwitch()),
      check('check.flows', 'Flow table: the two flows are installed', [done], () => this.checkFlowTable()),
      check('check.dmesg-kni', 'dmesg: the KNI module loaded with IVSHMEM metadata found', [done], () => this.checkKniDmesg(), [{ feature: 'kni' }]),
      check('check.dmesg-kernel', 'dmesg: no Oops, BUG, panic or call trace since the run began', [DMESG_BASELINE_STEP_ID], () => this.checkKernel()),
      check('check.ifconfig', 'ifconfig: both vEth interfaces UP and RUNNING with the testbed MAC, address and netmask', [done], () => this.checkIfconfig()),
      check('check.sysctl', 'sysctl: ip_forward=1 and rp_filter=0', [done], () => this.checkSysctl()),
      check('check.route', 'Route: the default route via the gateway on the egress vEth', [done], () => this.checkRoute()),
      check('check.arp', "ARP: the gateway's static entry", [done], () => this.checkArp()),
      ...this.dpdkChecks(check),
      check(
        'check.guest-boot',
        "The VM's kernel since boot: no Oops, BUG, panic or call trace; each vEth NIC on virtio_net",
        [done],
        () => this.checkGuestBoot(),
        [{ feature: 'vm' }],
      ),
    ];
  }

  private async checkGuestBoot(): Promise<void> {
    const text = await read.dmesgText(this.run.session, 'guest');
    writeFileSync(join(this.run.dir, 'dmesg-guest-since-boot.txt'), text);
    const drivers = await read.guestDrivers(
      this.run.session,
      this.run.tb.vmPorts.map((k) => k.guestIf),
    );
    CheckFailure.ifAny('guest boot', checkGuestBoot(parseDmesg(text), drivers));
  }

  /** What a DPDK datapath adds to judge: DPDK itself, its ports, its PMD threads, its daemon's log (blocked on a lab without DPDK ports). */
  private dpdkChecks(check: (id: string, title: string, needs: string[], run: () => Promise<void>, requires?: Requirement[]) => Stage): Stage[] {
    const done = this.run.setupDone;
    const dpdk: Requirement[] = [{ feature: 'dpdk-ports' }];
    return [
      check(
        'check.dpdk-ports',
        'DPDK ports: no error, link up (a tap port: its kernel side in the guest; a vhost-user port: the guest driver started it)',
        [done],
        () => this.checkDpdkPorts(),
        dpdk,
      ),
      check(
        'check.pmd-stats',
        "PMD threads: the stream's packets counted twice, once each way through the switch",
        [TRAFFIC_SEND],
        () => this.checkPmdStats(),
        dpdk,
      ),
      check('check.vswitchd-log', "ovs-vswitchd's log: no ERR or EMER line but the allowed ones", [done], () => this.checkVswitchdLog(), dpdk),
    ];
  }

  private async checkDpdkPorts(): Promise<void> {
    const states = await read.interfaceStates(this.run.session);
    const ports = [
      ...this.run.tb.phyPorts.map((p) => ({ name: p.name, kernelSideElsewhere: false })),
      ...this.run.tb.vmPorts.map((k) => ({
        name: k.name,
        kernelSideElsewhere: k.kind === 'tap' && k.netns !== undefined,
        type: this.run.profile.vmShown(k).type,
      })),
    ];
    CheckFailure.ifAny('dpdk ports', checkDpdkPorts(states, ports), states);
  }

  private async checkPmdStats(): Promise<void> {
    for (const r of [this.before, this.after]) if (r && failed(r)) throw r.error;
    const before = this.before as Snapshot;
    const after = this.after as Snapshot;
    const received = (after.pmdReceived ?? 0) - (before.pmdReceived ?? 0);
    const foreign = Object.values(await this.foreignFrames(before, after)).reduce((a, f) => a + (f ? f.subtracted + f.unsure : 0), 0);
    CheckFailure.ifAny('pmd stats', checkPmdStats(received, this.stream.count, foreign + this.run.tb.verify.counterSlack));
  }

  private async checkVswitchdLog(): Promise<void> {
    const text = await read.vswitchdLogSinceStart(this.run.session);
    writeFileSync(join(this.run.dir, 'ovs-vswitchd-since-start.log'), text);
    const lines = parseOvsLog(text);
    const vmGone = await this.run.session.vmGone().catch(() => null);
    const sockets = vhostUserPorts(this.run.tb).map((k) => k.vhostSocket ?? '');
    const explained = vmGone ? vhostPeerGoneLines(lines, sockets) : [];
    if (explained.length > 0)
      this.run.note(
        `ovs-vswitchd logged ${explained.length} ERR line(s) about the vhost-user sockets of the guest's VM, which is gone (not counted against the switch): ${explained.map((l) => l.line).join('; ')}`,
      );
    CheckFailure.ifAny('ovs-vswitchd log', checkVswitchdLog(lines, this.run.tb.ovsDpdk.logAllowlist, explained));
  }

  private async prepareTraffic(): Promise<void> {
    await (await this.run.trafficGenerator()).prepare();
    const txPcap = join(this.run.dir, 'tx.pcap');
    writeStreamPcap(txPcap, this.stream);
  }

  /** The switch's ports (and the PMD threads' count on a DPDK datapath), stamped with the controller's clock. */
  private readSwitch(): Promise<Readout<{ value: { ports: Snapshot['ports']; pmd?: number }; at: Stamp }>> {
    const dpdk = this.run.profile.features.includes('dpdk-ports');
    return reading(() =>
      stamped(async () => ({
        ports: await read.ports(this.run.session),
        ...(dpdk ? { pmd: (await read.pmdStats(this.run.session)).packetsReceived } : {}),
      })),
    );
  }

  private readGuest(): Promise<Readout<{ value: Snapshot['guest']; at: Stamp }>> {
    return reading(() => stamped(() => read.guestLinks(this.run.session)));
  }

  private async readDropCounters(): Promise<DropCounters> {
    const [guest, stats] = await Promise.all([
      reading(() => read.guestDropCounters(this.run.session)),
      reading(() => read.interfaceStatistics(this.run.session)),
    ]);
    return { guest, stats };
  }

  /**
   * The stream through the generator's one capturing call, with every other
   * counter along the path read while its captures run (so that every frame
   * counted is in a capture): the switch outside the TG's and the guest's
   * readings (first before the stream, last after it), so that the frames
   * its peers captured can be placed in its window (foreign.ts).
   */
  private async sendTraffic(): Promise<void> {
    await this.run.runHookBeforeTraffic();
    const tg = await this.run.trafficGenerator();
    const at = { before: { first: 0, last: 0 }, after: { first: 0, last: 0 } };
    const notRead = { error: new Error('not read: the traffic did not get that far') };
    let switchBefore: Awaited<ReturnType<PvpTest['readSwitch']>> = notRead;
    let switchAfter: Awaited<ReturnType<PvpTest['readSwitch']>> = notRead;
    let guestBefore: Awaited<ReturnType<PvpTest['readGuest']>> = notRead;
    let guestAfter: Awaited<ReturnType<PvpTest['readGuest']>> = notRead;
    const drops = { before: { guest: notRead, stats: notRead } as DropCounters, after: { guest: notRead, stats: notRead } as DropCounters };
    this.drops = drops;
    try {
      await this.guestCaptures.start();
      const r = await tg.sendAndCapture({
        pcap: join(this.run.dir, 'tx.pcap'),
        packets: this.stream.count,
        rate: this.stream.rate,
        into: { rx: join(this.run.dir, 'rx.pcap'), tx: join(this.run.dir, 'tx-capture.pcap') },
        around: {
          before: {
            first: async () => {
              // Outside the readings whose times place the foreign frames: these only say why, not how many.
              drops.before = await this.readDropCounters();
              switchBefore = await this.readSwitch();
              at.before.first = controllerUs();
            },
            last: async () => {
              at.before.last = controllerUs();
              guestBefore = await this.readGuest();
              this.flowCounts = await reading(() => readFlowCounts(this.run.session, this.run.tb));
            },
          },
          after: {
            first: async () => {
              at.after.first = controllerUs();
            },
            last: async () => {
              at.after.last = controllerUs();
              guestAfter = await this.readGuest();
              switchAfter = await this.readSwitch();
              drops.after = await this.readDropCounters();
            },
          },
        },
      });
      await this.guestCaptures.stop();
      // The TG's own reading lies between the two hooks around it, on the controller's clock.
      this.before = snapshotOf(r.counters.before, { fromUs: at.before.first, toUs: at.before.last }, switchBefore, guestBefore);
      this.after = snapshotOf(r.counters.after, { fromUs: at.after.first, toUs: at.after.last }, switchAfter, guestAfter);
      this.record({ tgSent: r.sent.packetsSent });
      if (r.sent.packetsSent !== this.stream.count || r.sent.failed > 0)
        throw new CheckFailure('traffic', `the generator sent ${r.sent.packetsSent} of ${this.stream.count} packets (${r.sent.failed} failed)`);
    } finally {
      await this.guestCaptures.remove();
    }
  }

  /** The return capture judged against the stream: what the guest's router must have sent back. */
  private verifyReturn(lossTolerance = this.run.tb.verify.lossTolerance, maxProblems = this.run.tb.verify.maxProblems): Promise<PacketVerdict> {
    return verifyCapture(pcapFrames(join(this.run.dir, 'rx.pcap')), {
      stream: this.stream,
      dstMac: this.run.tb.gateway.mac,
      srcMac: this.run.topology.vmEgress.mac,
      lossTolerance,
      maxProblems,
    });
  }

  private async checkPackets(): Promise<void> {
    this.verdict = await this.verifyReturn();
    this.record({ packets: this.verdict });
    this.run.table(packetsTable(this.verdict));
    if (!this.verdict.ok) throw new CheckFailure('return packets', `${this.verdict.summary}: ${this.verdict.problems.slice(0, 5).join('; ')}`, this.verdict);
  }

  private async checkCounters(): Promise<void> {
    for (const r of [this.before, this.after, this.flowCounts]) if (r && failed(r)) throw r.error;
    const before = this.before as Snapshot;
    const after = this.after as Snapshot;
    const flowsBefore = this.flowCounts as FlowCounts;
    const flowsAfter = await readFlowCounts(this.run.session, this.run.tb);
    const path = this.run.path.hops;
    // The packet check's count of the stream's packets that came back; if it did not run, the capture's own.
    const v = this.verdict ?? (await this.verifyReturn(1, 1));
    const stream = { sent: this.stream.count, sentBytes: sentBytes(this.stream), returned: v.received, returnedBytes: v.receivedBytes };
    const counts = countsAlongPath(path, { before, after }, { before: flowsBefore, after: flowsAfter }, await this.foreignFrames(before, after), stream);
    this.record({ counters: countersRecord(counts) });
    const limits = { slack: this.run.tb.verify.counterSlack, allowedLoss: allowedLoss(counts.sent, this.run.tb.verify.lossTolerance) };
    this.run.table(countersTable(path, counts, limits.slack));
    const problems = checkCounters(path, counts, limits);
    const lost = counts.sent - counts.returned;
    // Where packets went missing, the lab's own counters say why, where they can.
    const why = problems.length > 0 || lost > 0 ? this.whyDropped(before, after, counts) : null;
    CheckFailure.ifAny('counters', why && problems.length > 0 ? [...problems, why] : problems, counts);
    // Passed with some loss: within the tolerance, but whoever reads the report should know where it happened.
    if (lost > 0)
      this.run.note(
        `${lost} of ${counts.sent} packets lost, within the tolerance (${limits.allowedLoss} allowed): ${whereLost(path, counts) ?? 'no counter along the path shows where'}${why ? `; ${why}` : ''}`,
      );
  }

  /** The drop counters that grew over the stream, named in words (a table of them in the report); null when none grew and all were read. */
  private whyDropped(before: Snapshot, after: Snapshot, counts: PathCounts): string | null {
    const d = this.drops;
    if (!d) return null;
    const asRead = <T>(r: Readout<T>) => (failed(r) ? { notRead: errorMessage(r.error) } : r);
    const findings: Findings = findDrops(
      {
        guestKernel: { before: asRead(d.before.guest), after: asRead(d.after.guest) },
        guestLinks: { before: before.guest.links, after: after.guest.links },
        switchPorts: { before: before.ports, after: after.ports },
        interfaceStatistics: { before: asRead(d.before.stats), after: asRead(d.after.stats) },
      },
      {
        guestLinks: [this.run.topology.vmIngress.guestIf, this.run.topology.vmEgress.guestIf],
        egressLink: this.run.topology.vmEgress.guestIf,
        switchPorts: [this.run.topology.phyIngress, this.run.topology.vmIngress, this.run.topology.vmEgress, this.run.topology.phyEgress],
        stream: { count: counts.sent, sizes: this.stream.sizes },
      },
    );
    this.record({ drops: findings });
    if (findings.drops.length > 0) this.run.table(dropsTable(findings));
    return describeDrops(findings);
  }

  /**
   * What each counter counted that was not the stream, from the captures on
   * its wire: the TG's ports and the guest's links on their own clocks, the
   * switch's ports from their peers' captures (foreign.ts).
   */
  private foreignMemo: Promise<Partial<Record<HopId, ForeignFrames>>> | null = null;
  private foreignFrames(before: Snapshot, after: Snapshot): Promise<Partial<Record<HopId, ForeignFrames>>> {
    this.foreignMemo ??= this.countForeignFrames(before, after);
    return this.foreignMemo;
  }

  private countForeignFrames(before: Snapshot, after: Snapshot): Promise<Partial<Record<HopId, ForeignFrames>>> {
    const wires = this.run.path.hops.filter((h) => h.wire && (h.wire.capturedOn === 'tg' || this.guestCaptures.captured));
    return foreignAlongPath(wires, { before, after }, this.stream.runId, (w) => join(this.run.dir, this.captureOf(w)));
  }

  /** The run directory's capture of a wire: the TG's send and return ports, the guest's links. */
  private captureOf(w: Wire): string {
    if (w.capturedOn === 'guest') return `guest-${w.iface}.pcap`;
    return w.iface === this.run.topology.tgTx ? 'tx-capture.pcap' : 'rx.pcap';
  }

  private async checkSwitch(): Promise<void> {
    const problems: string[] = [];
    for (const [daemon, line] of [
      ['ovsdb-server', `${this.run.profile.tool('ovs-vsctl')} --timeout=10 show`],
      ['ovs-vswitchd', `${this.run.profile.tool('ovs-appctl')} -t ${shq(this.run.profile.appctlTarget?.(this.run.tb) ?? 'ovs-vswitchd')} version`],
    ] as const) {
      const r = await this.run.session.shell('host').run(line, { ...this.run.profile.hostContext(this.run.tb), okExitCodes: [0, 1] });
      if (r.exitCode !== 0) problems.push(`${daemon} does not answer (${r.stderr.trim().split('\n').pop()})`);
    }
    CheckFailure.ifAny('switch', problems);
  }

  /** The rules, and with `rules: normal` the path's MACs where the setup put them in the switch's table. */
  private async checkFlowTable(): Promise<void> {
    const [s, macs] = [this.run.session, staticMacsOf(this.run.tb)];
    const table = macs.length > 0 ? checkStaticMacs(await read.fdb(s), macs) : [];
    CheckFailure.ifAny('flow table', [...checkFlowsInstalled(await read.flows(s), flowsOf(this.run.tb)), ...table]);
  }

  private async checkKniDmesg(): Promise<void> {
    const text = await read.dmesgText(this.run.session, 'guest');
    writeFileSync(join(this.run.dir, 'dmesg-guest.txt'), text);
    CheckFailure.ifAny('dmesg (KNI)', checkKniDmesg(parseDmesg(text)));
  }

  private async checkKernel(): Promise<void> {
    const problems: string[] = [];
    for (const role of ['host', 'guest'] as const) {
      const lines = await read.dmesgSinceStart(this.run.session, role);
      writeFileSync(
        join(this.run.dir, `dmesg-${role}-since-start.txt`),
        lines.map((l) => (l.time !== undefined ? `[${l.time.toFixed(6)}] ` : '') + l.text).join('\n'),
      );
      problems.push(...checkKernelHealthy(lines, role));
    }
    CheckFailure.ifAny('dmesg (kernel)', problems);
  }

  private async checkIfconfig(): Promise<void> {
    CheckFailure.ifAny('ifconfig', checkGuestIfaces(await read.guestIfconfig(this.run.session), expectedVeths(this.run.tb)));
  }

  private async checkSysctl(): Promise<void> {
    CheckFailure.ifAny('sysctl', checkSysctl(await read.guestSysctl(this.run.session), sysctlExpected(this.run.topology)));
  }

  private async checkRoute(): Promise<void> {
    CheckFailure.ifAny('route', checkDefaultRoute(await read.guestRoutes(this.run.session), this.run.tb.gateway.ip, this.run.topology.vmEgress.guestIf));
  }

  private async checkArp(): Promise<void> {
    CheckFailure.ifAny(
      'arp',
      checkStaticArp(await read.guestNeighbours(this.run.session), this.run.tb.gateway.ip, this.run.tb.gateway.mac, this.run.topology.vmEgress.guestIf),
    );
  }
}
