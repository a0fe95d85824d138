import { join } from 'node:path';
import { CheckFailure, errorMessage } from '../../errors.js';
import type { GuestDropCounters } from '../../parsers/kernel-counters.js';
import type { HopId } from '../../testbed/path.js';
import { topologyOf } from '../../testbed/topology.js';
import { captureOf, directionsOf, type Direction } from './direction.js';
import type { PvpMeasured } from '../../results/pvp.js';
import { countersRecord, countersTable, dropsTable, packetsTable } from './result.js';
import { writeStreamPcap } from '../../traffic/pcap.js';
import { sentBytes, streamSeed, type StreamSpec } from '../../traffic/stream.js';
import { checkCounters, whereLost, type ForeignFrames, type PathCounts } from '../../verify/counters.js';
import { describeDrops, findDrops, type Findings } from '../../verify/drops.js';
import { allowedLoss, verifyCapture, type PacketVerdict } from '../../verify/packets.js';
import { checkPmdStats } from '../../verify/state.js';
import type { LabRun, Stage } from '../../scenario/lab-run.js';
import * as read from '../../scenario/readback.js';
import { GuestCaptures } from './guest-captures.js';
import * as stateChecks from './state-checks.js';
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
  /** The stream's directions: the forward one, and the reverse one where traffic.direction is both (direction.ts). */
  private readonly directions: Direction[];
  /** Each direction's packet verdict, once judged. */
  private readonly verdicts = new Map<Direction['name'], PacketVerdict>();
  private before: Readout<Snapshot> | null = null;
  private after: Readout<Snapshot> | null = null;
  /** Each direction's rules' counts before the stream. */
  private readonly flowCounts = new Map<Direction['name'], Readout<FlowCounts>>();
  /** The lab's own drop counters around the stream (the guest's kernel, the switch's Interface statistics). */
  private drops: { before: DropCounters; after: DropCounters } | null = null;
  /** The guest's links, captured during the traffic where it has tcpdump. */
  private readonly guestCaptures: GuestCaptures;

  /** What this suite measured so far, handed to the engine's record as it grows. */
  private readonly result: PvpMeasured = { kind: 'pvp' };

  constructor(private readonly run: LabRun) {
    this.directions = directionsOf(run.tb, streamSeed(run.config.runId));
    this.guestCaptures = new GuestCaptures(run);
  }

  /** The forward stream (the guide's). */
  private get stream(): StreamSpec {
    return this.directions[0]!.stream;
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
    // The guide's kernel router in the guest: its interfaces, sysctls, route and ARP entry (a testpmd guest has none).
    const router: Requirement[] = [{ feature: 'guest-router' }];
    return [
      { id: TRAFFIC_PREPARE, title: 'Prepare the traffic generator', group: 'traffic', needs: [done], run: () => this.prepareTraffic() },
      {
        id: TRAFFIC_SEND,
        title: `Send ${this.stream.count} packets ${this.stream.srcIp} -> ${this.stream.dstIp}${this.directions.length > 1 ? ' and back' : ''} and capture the return port`,
        group: 'traffic',
        needs: [TRAFFIC_PREPARE],
        run: () => this.sendTraffic(),
      },
      check('check.packets', 'Return packets: every packet crossed the guest router once, unchanged', [TRAFFIC_SEND], () => this.checkPackets()),
      check('check.counters', 'Counters: flows, OVS ports, guest vEth and TG ports agree with the stream', [TRAFFIC_SEND], () => this.checkCounters()),
      check('check.switch', 'Open vSwitch: ovsdb-server and ovs-vswitchd still answer', [done], () => stateChecks.checkSwitch(this.run)),
      check('check.flows', 'Flow table: the two flows are installed', [done], () => stateChecks.checkFlowTable(this.run)),
      check('check.dmesg-kni', 'dmesg: the KNI module loaded with IVSHMEM metadata found', [done], () => stateChecks.checkKniDmesg(this.run), [
        { feature: 'kni' },
      ]),
      check('check.dmesg-kernel', 'dmesg: no Oops, BUG, panic or call trace since the run began', [DMESG_BASELINE_STEP_ID], () =>
        stateChecks.checkKernel(this.run),
      ),
      check(
        'check.ifconfig',
        'ifconfig: both vEth interfaces UP and RUNNING with the testbed MAC, address and netmask',
        [done],
        () => stateChecks.checkIfconfig(this.run),
        router,
      ),
      check('check.sysctl', 'sysctl: ip_forward=1 and rp_filter=0', [done], () => stateChecks.checkSysctl(this.run), router),
      check('check.route', 'Route: the default route via the gateway on the egress vEth', [done], () => stateChecks.checkRoute(this.run), router),
      check('check.arp', "ARP: the gateway's static entry", [done], () => stateChecks.checkArp(this.run), router),
      ...this.dpdkChecks(check),
      check(
        'check.guest-boot',
        "The VM's kernel since boot: no Oops, BUG, panic or call trace; each vEth NIC on virtio_net",
        [done],
        () => stateChecks.checkGuestBoot(this.run),
        [{ feature: 'vm' }],
      ),
    ];
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
        () => stateChecks.checkDpdkPorts(this.run),
        dpdk,
      ),
      check(
        'check.pmd-stats',
        "PMD threads: the stream's packets counted twice, once each way through the switch",
        [TRAFFIC_SEND],
        () => this.checkPmdStats(),
        dpdk,
      ),
      check('check.vswitchd-log', "ovs-vswitchd's log: no ERR or EMER line but the allowed ones", [done], () => stateChecks.checkVswitchdLog(this.run), dpdk),
    ];
  }

  private async checkPmdStats(): Promise<void> {
    for (const r of [this.before, this.after]) if (r && failed(r)) throw r.error;
    const before = this.before as Snapshot;
    const after = this.after as Snapshot;
    const received = (after.pmdReceived ?? 0) - (before.pmdReceived ?? 0);
    let foreign = 0;
    for (const d of this.directions)
      foreign += Object.values(await this.foreignFrames(d, before, after)).reduce((a, f) => a + (f ? f.subtracted + f.unsure : 0), 0);
    const count = this.directions.reduce((a, d) => a + d.stream.count, 0);
    CheckFailure.ifAny('pmd stats', checkPmdStats(received, count, foreign + this.run.tb.verify.counterSlack));
  }

  private async prepareTraffic(): Promise<void> {
    await (await this.run.trafficGenerator()).prepare();
    for (const d of this.directions) writeStreamPcap(join(this.run.dir, d.files.sent), d.stream);
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
      await this.guestCaptures.start(this.directions);
      const into = (d: Direction) => ({ rx: join(this.run.dir, d.files.rx), tx: join(this.run.dir, d.files.tx) });
      const reverse = this.directions[1];
      const r = await tg.sendAndCapture({
        pcap: join(this.run.dir, 'tx.pcap'),
        packets: this.stream.count,
        rate: this.stream.rate,
        into: into(this.directions[0]!),
        ...(reverse ? { reverse: { pcap: join(this.run.dir, reverse.files.sent), packets: reverse.stream.count, into: into(reverse) } } : {}),
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
              for (const d of this.directions)
                this.flowCounts.set(d.name, await reading(() => readFlowCounts(this.run.session, this.run.tb, topologyOf(d.tb))));
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
      this.record({ tgSent: r.sent.packetsSent, ...(r.reverseSent ? { tgSentReverse: r.reverseSent.packetsSent } : {}) });
      const short = this.directions.flatMap((d, i) => {
        const s = i === 0 ? r.sent : r.reverseSent;
        if (!s) return [`the generator did not send the ${d.name} stream`];
        return s.packetsSent !== d.stream.count || s.failed > 0
          ? [`the generator sent ${s.packetsSent} of ${d.stream.count} packets${d.suffix} (${s.failed} failed)`]
          : [];
      });
      CheckFailure.ifAny('traffic', short);
    } finally {
      await this.guestCaptures.remove();
    }
  }

  /** The return capture judged against the stream: what the guest's router (or testpmd) must have sent back. */
  private verifyReturn(d: Direction, lossTolerance = this.run.tb.verify.lossTolerance, maxProblems = this.run.tb.verify.maxProblems): Promise<PacketVerdict> {
    return verifyCapture(pcapFrames(join(this.run.dir, d.files.rx)), {
      stream: d.stream,
      dstMac: d.tb.gateway.mac,
      srcMac: topologyOf(d.tb).vmEgress.mac,
      lossTolerance,
      maxProblems,
      macForwarding: d.tb.vm?.forwarding === 'testpmd',
    });
  }

  /** Each direction's return judged apart: a direction that lost is named as that one. */
  private async checkPackets(): Promise<void> {
    const failures: CheckFailure[] = [];
    for (const d of this.directions) {
      const v = await this.verifyReturn(d);
      this.verdicts.set(d.name, v);
      this.record(d.name === 'forward' ? { packets: v } : { packetsReverse: v });
      this.run.table({ ...packetsTable(v), title: `Packets${d.suffix}` });
      if (!v.ok) failures.push(new CheckFailure(`return packets${d.suffix}`, `${v.summary}: ${v.problems.slice(0, 5).join('; ')}`, v));
    }
    if (failures.length === 1) throw failures[0]!;
    if (failures.length > 1)
      throw new CheckFailure(
        'return packets',
        failures.map((f) => f.message).join('; '),
        failures.map((f) => f.details),
      );
  }

  /** The counters along each direction's path, walked apart (a direction's hops are the other counter of each port). */
  private async checkCounters(): Promise<void> {
    for (const r of [this.before, this.after, ...this.flowCounts.values()]) if (r && failed(r)) throw r.error;
    const problems: string[] = [];
    for (const d of this.directions) problems.push(...(await this.countersOf(d)).map((p) => (d.suffix ? `${d.name}: ${p}` : p)));
    CheckFailure.ifAny('counters', problems);
  }

  /** One direction's walk: its table, its record, its problems (with why, where the lab's own counters say). */
  private async countersOf(d: Direction): Promise<string[]> {
    const before = this.before as Snapshot;
    const after = this.after as Snapshot;
    const flowsBefore = this.flowCounts.get(d.name) as FlowCounts;
    const flowsAfter = await readFlowCounts(this.run.session, this.run.tb, topologyOf(d.tb));
    const path = d.path.hops;
    // The packet check's count of the stream's packets that came back; if it did not run, the capture's own.
    const v = this.verdicts.get(d.name) ?? (await this.verifyReturn(d, 1, 1));
    const stream = { sent: d.stream.count, sentBytes: sentBytes(d.stream), returned: v.received, returnedBytes: v.receivedBytes };
    const foreign = await this.foreignFrames(d, before, after);
    const counts = countsAlongPath(path, { before, after }, { before: flowsBefore, after: flowsAfter }, foreign, stream);
    this.record(d.name === 'forward' ? { counters: countersRecord(counts) } : { countersReverse: countersRecord(counts) });
    const limits = { slack: this.run.tb.verify.counterSlack, allowedLoss: allowedLoss(counts.sent, this.run.tb.verify.lossTolerance) };
    // The reverse table's rows are the reverse stream's roles: its notes say which counter each one is.
    const roles = { title: `Counters along the path${d.suffix} (deltas over the run)`, notes: [path.map((h) => `${h.label}: ${h.counter}`).join('; ')] };
    this.run.table({ ...countersTable(path, counts, limits.slack), ...(d.suffix ? roles : {}) });
    const problems = checkCounters(path, counts, limits);
    const lost = counts.sent - counts.returned;
    // Where packets went missing, the lab's own counters say why, where they can.
    const why = problems.length > 0 || lost > 0 ? this.whyDropped(d, before, after, counts) : null;
    // Passed with some loss: within the tolerance, but whoever reads the report should know where it happened.
    if (problems.length === 0 && lost > 0)
      this.run.note(
        `${lost} of ${counts.sent} packets${d.suffix} lost, within the tolerance (${limits.allowedLoss} allowed): ${whereLost(path, counts) ?? 'no counter along the path shows where'}${why ? `; ${why}` : ''}`,
      );
    return why && problems.length > 0 ? [...problems, why] : problems;
  }

  /** The drop counters that grew over the stream, named in words (a table of them in the report); null when none grew and all were read. */
  private whyDropped(way: Direction, before: Snapshot, after: Snapshot, counts: PathCounts): string | null {
    const t = topologyOf(way.tb);
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
        guestLinks: [t.vmIngress.guestIf, t.vmEgress.guestIf],
        egressLink: t.vmEgress.guestIf,
        switchPorts: [t.phyIngress, t.vmIngress, t.vmEgress, t.phyEgress],
        stream: { count: counts.sent, sizes: way.stream.sizes },
      },
    );
    this.record(way.name === 'forward' ? { drops: findings } : { dropsReverse: findings });
    if (findings.drops.length > 0) this.run.table({ ...dropsTable(findings), title: `${dropsTable(findings).title}${way.suffix}` });
    return describeDrops(findings);
  }

  /**
   * What each counter counted that was not the stream, from the captures on
   * its wire: the TG's ports and the guest's links on their own clocks, the
   * switch's ports from their peers' captures (foreign.ts).
   */
  private readonly foreignMemo = new Map<Direction['name'], Promise<Partial<Record<HopId, ForeignFrames>>>>();
  private foreignFrames(d: Direction, before: Snapshot, after: Snapshot): Promise<Partial<Record<HopId, ForeignFrames>>> {
    if (!this.foreignMemo.has(d.name)) {
      // Each direction's captures are of its own direction of each wire: the other stream is not in them.
      const wires = d.path.hops.filter((h) => h.wire && (h.wire.capturedOn === 'tg' || this.guestCaptures.captured));
      this.foreignMemo.set(
        d.name,
        foreignAlongPath(wires, { before, after }, d.stream.runId, (w) => join(this.run.dir, captureOf(d, w))),
      );
    }
    return this.foreignMemo.get(d.name)!;
  }
}
