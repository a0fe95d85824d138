// One run of the PVP KNI test: lock the lab, build the setup, send the stream,
// judge packets, counters, dmesg and interface state, and always tear down.
// The e2e suite (tests/e2e) makes each stage a testcase; this module holds
// what each stage does, what it depends on, and the run's data for the report.
import { existsSync, mkdirSync, readFileSync, renameSync, watch, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CheckFailure, errorMessage, failureKind, type FailureKind } from '../errors.js';
import { flowsOf, loadTestbed, testbedNotes } from '../testbed/load.js';
import { topologyOf, type Topology } from '../testbed/topology.js';
import type { Testbed } from '../testbed/schema.js';
import { LocalShell } from '../transport/local.js';
import { Transcript } from '../transport/transcript.js';
import { writeStreamPcap } from '../traffic/pcap.js';
import { sentBytes, streamFromTestbed, type StreamSpec } from '../traffic/stream.js';
import { capturingTrafficGenerator } from '../traffic/drivers.js';
import type { CapturingTrafficGenerator, TgSnapshot } from '../traffic/tg.js';
import { Tcpdump } from '../traffic/tcpdump.js';
import { shq } from '../transport/quote.js';
import { countForeign, ownWindow, peerWindow, type CounterWindow, type ForeignCount } from '../verify/foreign.js';
import type { RunData, StageRecord, StageStatus } from '../results/run.js';
import { checkCounters, whereLost, type PathCounts, type PortCounter } from '../verify/counters.js';
import { allowedLoss, verifyCapture, type PacketVerdict } from '../verify/packets.js';
import {
  checkDefaultRoute,
  checkFlowsInstalled,
  checkGuestIfaces,
  checkKernelHealthy,
  checkKniDmesg,
  checkStaticArp,
  checkSysctl,
  findFlow,
} from '../verify/state.js';
import { LabLock } from './lock.js';
import { profileByName, type Profile } from './profiles.js';
import * as read from './readback.js';
import { Session } from './session.js';
import { expectedVeths, stepsOf, sysctlExpected, type StepDef } from './steps.js';
import type { PortCounters } from '../parsers/ovs.js';
import { parseDmesg } from '../parsers/dmesg.js';
import type { IpLink } from '../parsers/net.js';

export interface RunConfig {
  testbedFile: string;
  profile: string;
  runId: string;
  runDir: string;
  /** A local command run just before the traffic: fault injection, debugging. */
  beforeTraffic?: string;
}

/** Configuration handed to the e2e suite by `dutlab run`, through the environment. */
export function configFromEnv(env = process.env): RunConfig {
  const need = (k: string) => {
    const v = env[k];
    if (!v) throw new Error(`${k} is not set: run the e2e suite through \`dutlab run\``);
    return v;
  };
  return {
    testbedFile: need('DUTLAB_TESTBED'),
    profile: need('DUTLAB_PROFILE'),
    runId: need('DUTLAB_RUN_ID'),
    runDir: need('DUTLAB_RUN_DIR'),
    ...(env.DUTLAB_HOOK_BEFORE_TRAFFIC ? { beforeTraffic: env.DUTLAB_HOOK_BEFORE_TRAFFIC } : {}),
  };
}

export function configToEnv(c: RunConfig): Record<string, string> {
  return {
    DUTLAB_TESTBED: c.testbedFile,
    DUTLAB_PROFILE: c.profile,
    DUTLAB_RUN_ID: c.runId,
    DUTLAB_RUN_DIR: c.runDir,
    ...(c.beforeTraffic ? { DUTLAB_HOOK_BEFORE_TRAFFIC: c.beforeTraffic } : {}),
  };
}

/** The file through which `dutlab run` tells the suite it was interrupted: it holds the signal's name. */
export const ABORT_FILE = 'abort';

/** Tells the suite of a run directory that a signal interrupted it (written whole, then renamed into place). */
export function writeAbortFile(runDir: string, signal: string): void {
  writeFileSync(join(runDir, `.${ABORT_FILE}`), signal);
  renameSync(join(runDir, `.${ABORT_FILE}`), join(runDir, ABORT_FILE));
}

/** Calls back once the abort file appears in the run directory; returns the function that stops watching. */
export function watchAbortFile(runDir: string, onAbort: (signal: string) => void): () => void {
  const file = join(runDir, ABORT_FILE);
  const check = () => {
    const signal = existsSync(file) ? readFileSync(file, 'utf8').trim() : '';
    if (!signal) return;
    watcher.close();
    onAbort(signal);
  };
  const watcher = watch(runDir, check);
  check();
  return () => watcher.close();
}

export interface Stage {
  id: string;
  title: string;
  group: StageRecord['group'];
  /** Stages that must have passed; otherwise this one is skipped with the reason. */
  needs: string[];
  run(): Promise<void>;
}

/** Controller clock (µs): when a reading was asked for and when it came back. */
interface Stamp {
  fromUs: number;
  toUs: number;
}

interface Snapshot {
  tg: TgSnapshot;
  ports: Map<string, PortCounters>;
  guest: { links: IpLink[]; fromUs: number; toUs: number };
  /** On the controller's clock: when each host was read. */
  at: { host: Stamp; tg: Stamp; guest: Stamp };
}

const controllerUs = () => Math.round(performance.timeOrigin * 1000 + performance.now() * 1000);
async function stamped<T>(f: () => Promise<T>): Promise<{ value: T; at: Stamp }> {
  const fromUs = controllerUs();
  const value = await f();
  return { value, at: { fromUs, toUs: controllerUs() } };
}

/** A reading that failed is kept as its error: the traffic still goes, and the counters check reports it. */
type Reading<T> = T | { error: unknown };
const failed = <T>(r: Reading<T>): r is { error: unknown } => typeof r === 'object' && r !== null && 'error' in r;
async function reading<T>(f: () => Promise<T>): Promise<Reading<T>> {
  try {
    return await f();
  } catch (error) {
    return { error };
  }
}

export class PvpRun {
  readonly tb: Testbed;
  /** The testbed's ports by role. */
  readonly topology: Topology;
  readonly profile: Profile;
  readonly session: Session;
  readonly data: RunData;
  readonly stages: Stage[];
  private readonly transcript: Transcript;
  private lock: LabLock | null = null;
  private stream: StreamSpec;
  private verdict: PacketVerdict | null = null;
  private before: Reading<Snapshot> | null = null;
  private after: Reading<Snapshot> | null = null;
  private flowCounts: Reading<PathCounts['flowIngress'][]> = [];
  private readonly guestCaptures: Tcpdump[] = [];
  /** Files the guest's captures may have left on the guest. */
  private readonly guestCaptureFiles: string[] = [];
  /** The guest's links were captured during the traffic (it has tcpdump). */
  private guestCaptured = false;

  constructor(readonly config: RunConfig) {
    this.tb = loadTestbed(config.testbedFile);
    this.topology = topologyOf(this.tb);
    this.profile = profileByName(config.profile);
    mkdirSync(config.runDir, { recursive: true });
    this.transcript = new Transcript(join(config.runDir, 'transcripts'));
    this.session = new Session(this.tb, this.profile, { transcript: this.transcript, warn: (m) => this.data.notes.push(m) });
    this.stream = streamFromTestbed(this.tb, parseInt(config.runId.replace(/\D/g, '').slice(-9) || '1', 10));
    this.data = {
      runId: config.runId,
      testbed: config.testbedFile,
      testbedName: this.tb.name,
      profile: this.profile.name,
      startedAt: new Date().toISOString(),
      versions: {},
      stages: [],
      teardownProblems: [],
      notes: [...testbedNotes(this.tb)],
    };
    this.stages = this.buildStages();
  }

  private buildStages(): Stage[] {
    const setup = stepsOf(this.profile);
    const setupIds = ['lab.lock', ...setup.map((s) => s.id)];
    const stages: Stage[] = [
      { id: 'lab.lock', title: 'Take the lab lock on the DUT host', group: 'setup', needs: [], run: () => this.takeLock() },
      ...setup.map(
        (step: StepDef, i): Stage => ({ id: step.id, title: step.title, group: 'setup', needs: [setupIds[i]!], run: () => this.session.runStep(step) }),
      ),
    ];
    const lastSetup = setupIds[setupIds.length - 1]!;
    const check = (id: string, title: string, needs: string[], run: () => Promise<void>): Stage => ({ id, title, group: 'checks', needs, run });
    stages.push(
      { id: 'traffic.prepare', title: 'Prepare the traffic generator', group: 'traffic', needs: [lastSetup], run: () => this.prepareTraffic() },
      {
        id: 'traffic.send',
        title: `Send ${this.stream.count} packets ${this.stream.srcIp} -> ${this.stream.dstIp} and capture the return port`,
        group: 'traffic',
        needs: ['traffic.prepare'],
        run: () => this.sendTraffic(),
      },
      check('check.packets', 'Return packets: every packet crossed the guest router once, unchanged', ['traffic.send'], () => this.checkPackets()),
      check('check.counters', 'Counters: flows, OVS ports, guest vEth and TG ports agree with the stream', ['traffic.send'], () => this.checkCounters()),
      check('check.switch', 'Open vSwitch: ovsdb-server and ovs-vswitchd still answer', [lastSetup], () => this.checkSwitch()),
      check('check.flows', 'Flow table: the two flows are installed', [lastSetup], () => this.checkFlowTable()),
      ...(this.profile.expectsKniModule
        ? [check('check.dmesg-kni', 'dmesg: the KNI module loaded with IVSHMEM metadata found', [lastSetup], () => this.checkKniDmesg())]
        : []),
      check('check.dmesg-kernel', 'dmesg: no Oops, BUG, panic or call trace since the run began', ['dmesg.baseline'], () => this.checkKernel()),
      check('check.ifconfig', 'ifconfig: both vEth interfaces UP and RUNNING with the testbed MAC, address and netmask', [lastSetup], () =>
        this.checkIfconfig(),
      ),
      check('check.sysctl', 'sysctl: ip_forward=1 and rp_filter=0', [lastSetup], () => this.checkSysctl()),
      check('check.route', 'Route: the default route via the gateway on the egress vEth', [lastSetup], () => this.checkRoute()),
      check('check.arp', "ARP: the gateway's static entry", [lastSetup], () => this.checkArp()),
    );
    return stages;
  }

  /** Why a stage cannot run, or null: the first stage it needs that did not pass. */
  blockedBy(stage: Stage): string | null {
    for (const need of stage.needs) {
      const rec = this.data.stages.find((s) => s.id === need);
      if (!rec) return `"${need}" did not run`;
      if (rec.status === 'failed') return `"${rec.title}" failed`;
      if (rec.status === 'skipped') return `"${rec.title}" was skipped`;
    }
    return null;
  }

  /** Runs a stage, recording its outcome. Returns the skip reason, or throws the stage's error. */
  async runStage(stage: Stage): Promise<string | null> {
    const started = Date.now();
    const blocked = this.data.aborted ? `the run was ${this.data.aborted}` : this.blockedBy(stage);
    if (blocked) {
      this.record(stage, 'skipped', Date.now() - started, undefined, `skipped: ${blocked}`);
      return `skipped: ${blocked}`;
    }
    try {
      await stage.run();
      this.record(stage, 'passed', Date.now() - started);
      return null;
    } catch (err) {
      this.record(stage, 'failed', Date.now() - started, failureKind(err), errorMessage(err));
      throw err;
    }
  }

  private record(stage: Stage, status: StageStatus, durationMs: number, kind?: FailureKind, diagnosis?: string): void {
    this.data.stages.push({
      id: stage.id,
      title: stage.title,
      group: stage.group,
      status,
      durationMs,
      ...(kind ? { kind } : {}),
      ...(diagnosis ? { diagnosis } : {}),
    });
    this.save();
  }

  save(): void {
    writeFileSync(join(this.config.runDir, 'run-data.json'), JSON.stringify(this.data, null, 2));
  }

  // ---- stages ---------------------------------------------------------------

  private async takeLock(): Promise<void> {
    const host = await this.session.connect('host');
    this.lock = new LabLock(host, this.tb.lock.path, this.tb.lock.ttlSeconds, this.config.runId);
    const note = await this.lock.acquire();
    if (note) this.data.notes.push(note);
  }

  private tg(): CapturingTrafficGenerator {
    return capturingTrafficGenerator(this.session.shell('tg'), this.tb, this.config.runId);
  }

  /** The traffic generator while it captures: an interrupted run stops its captures too. */
  private activeTg: CapturingTrafficGenerator | null = null;
  /** The local hook while it runs (fault injection): an interrupted run stops it. */
  private hook: LocalShell | null = null;

  private async prepareTraffic(): Promise<void> {
    await this.session.connect('tg');
    await this.tg().prepare();
    const txPcap = join(this.config.runDir, 'tx.pcap');
    writeStreamPcap(txPcap, this.stream);
  }

  /**
   * Every counter along the path. The switch is read outside the TG's and the
   * guest's readings (first at the start, last at the end), so that the
   * frames its peers captured can be placed in its window (foreign.ts).
   */
  private async snapshot(when: 'before' | 'after'): Promise<Reading<Snapshot>> {
    const readHost = () => stamped(() => read.ports(this.session));
    const host1 = when === 'before' ? await reading(readHost) : null;
    const tg = await stamped(() => this.tg().counters());
    const guest = await reading(() => stamped(() => read.guestLinks(this.session)));
    const host = host1 ?? (await reading(readHost));
    if (failed(host)) return host;
    if (failed(guest)) return guest;
    return { tg: tg.value, ports: host.value, guest: guest.value, at: { host: host.at, tg: tg.at, guest: guest.at } };
  }

  /**
   * The guest's side of each vEth, captured where the guest has tcpdump: what
   * crossed its links that was not the stream. Only the counters' accounting
   * of other frames depends on it, so whatever goes wrong here (no tcpdump, a
   * vEth that is down, the guest unreachable) is a note and the run goes on:
   * the checks judge the guest.
   */
  private async startGuestCaptures(): Promise<void> {
    const { vmIngress: vmIn, vmEgress: vmOut } = this.topology;
    const work = this.tb.paths.workDir;
    try {
      const guest = this.session.shell('guest');
      if ((await guest.run('command -v tcpdump', { okExitCodes: [0, 1, 127] })).exitCode !== 0) throw new Error('the guest has no tcpdump');
      await guest.run(`mkdir -p ${shq(work)}`);
      const specs = (
        [
          [vmIn.guestIf, 'in'],
          [vmOut.guestIf, 'out'],
        ] as const
      ).map(([iface, direction]) => ({
        name: `guest-${iface}`,
        iface,
        direction,
        file: `${work}/${this.config.runId}-guest-${iface}.pcap`,
        logFile: `${work}/guest-${iface}.log`,
      }));
      for (const spec of specs) this.guestCaptureFiles.push(spec.file, spec.logFile);
      this.guestCaptures.push(...(await Tcpdump.startAll(guest, specs)));
    } catch (err) {
      this.data.notes.push(
        `no capture on the guest's links (${errorMessage(err)}): frames other than the stream there are not told apart (only verify.counterSlack allows for them)`,
      );
    }
  }

  private async stopGuestCaptures(): Promise<void> {
    const captures = this.guestCaptures.splice(0);
    if (captures.length === 0) return;
    try {
      await Tcpdump.stopAll(captures);
      for (const c of captures) await this.session.shell('guest').get(c.spec.file, join(this.config.runDir, `${c.spec.name}.pcap`));
      this.guestCaptured = true;
    } catch (err) {
      this.data.notes.push(`the guest's captures are not used (${errorMessage(err)}): frames other than the stream on its links are not told apart`);
    }
  }

  /** Removes the guest's capture files and logs, if captures were started: nothing is sent to the guest otherwise. */
  private async removeGuestCaptures(): Promise<void> {
    await Promise.all(this.guestCaptures.splice(0).map((c) => c.abandon()));
    const files = this.guestCaptureFiles.splice(0);
    if (files.length === 0 || !this.session.connected('guest')) return;
    await this.session
      .shell('guest')
      .run(`rm -f ${files.map(shq).join(' ')}`, { okExitCodes: [0, 1] })
      .catch(() => undefined);
  }

  private async sendTraffic(): Promise<void> {
    if (this.config.beforeTraffic) {
      this.transcript.note('local', `hook before-traffic: ${this.config.beforeTraffic}`);
      this.hook = new LocalShell('local', this.transcript);
      try {
        await this.hook.run(this.config.beforeTraffic, { timeoutMs: 60_000 });
      } finally {
        this.hook = null;
      }
    }
    const tg = this.tg();
    this.activeTg = tg;
    try {
      // The captures run around both readings of the counters, so every frame counted is in a capture.
      await tg.startCapture();
      await this.startGuestCaptures();
      this.before = await this.snapshot('before');
      this.flowCounts = await reading(() => this.readFlowCounts());
      const sent = await tg.send(join(this.config.runDir, 'tx.pcap'), this.stream.count, this.stream.rate);
      this.data.tgSent = sent.packetsSent;
      if (sent.packetsSent !== this.stream.count || sent.failed > 0) {
        throw new CheckFailure('traffic', `the generator sent ${sent.packetsSent} of ${this.stream.count} packets (${sent.failed} failed)`);
      }
      await tg.awaitStreamEnd();
      this.after = await this.snapshot('after');
      await tg.stopCapture({ rx: join(this.config.runDir, 'rx.pcap'), tx: join(this.config.runDir, 'tx-capture.pcap') });
      await this.stopGuestCaptures();
    } finally {
      this.activeTg = null;
      await tg.cleanup();
      await this.removeGuestCaptures();
    }
  }

  private async readFlowCounts(): Promise<PathCounts['flowIngress'][]> {
    const flows = await read.flows(this.session);
    return flowsOf(this.tb).map((f) => {
      const e = findFlow(flows, f);
      return e ? { packets: e.nPackets, bytes: e.nBytes } : null;
    });
  }

  /** The return capture judged against the stream: what the guest's router must have sent back. */
  private verifyReturn(lossTolerance = this.tb.verify.lossTolerance, maxProblems = this.tb.verify.maxProblems): Promise<PacketVerdict> {
    return verifyCapture(join(this.config.runDir, 'rx.pcap'), {
      stream: this.stream,
      dstMac: this.tb.gateway.mac,
      srcMac: this.topology.vmEgress.mac,
      lossTolerance,
      maxProblems,
    });
  }

  private async checkPackets(): Promise<void> {
    this.verdict = await this.verifyReturn();
    this.data.packets = this.verdict;
    this.save();
    if (!this.verdict.ok) throw new CheckFailure('return packets', `${this.verdict.summary}: ${this.verdict.problems.slice(0, 5).join('; ')}`, this.verdict);
  }

  private async checkCounters(): Promise<void> {
    for (const r of [this.before, this.after, this.flowCounts]) if (r && failed(r)) throw r.error;
    const before = this.before as Snapshot;
    const after = this.after as Snapshot;
    const flowsBefore = this.flowCounts as PathCounts['flowIngress'][];
    const flowsAfter = await this.readFlowCounts();
    const delta = (a: number | undefined, b: number | undefined) => (a ?? 0) - (b ?? 0);
    const port = (s: Snapshot, ofport: number) => s.ports.get(String(ofport));
    const link = (s: Snapshot, name: string) => s.guest.links.find((l) => l.name === name)?.stats;
    const flowDelta = (i: number) => {
      const a = flowsAfter[i];
      const b = flowsBefore[i];
      return a && b ? { packets: a.packets - b.packets, bytes: a.bytes - b.bytes } : (a ?? null);
    };
    const { phyIngress: phyIn, phyEgress: phyOut } = this.topology;
    const { vmIngress: vmIn, vmEgress: vmOut } = this.topology;
    // The packet check's count of the stream's packets that came back; if it did not run, the capture's own.
    const v = this.verdict ?? (await this.verifyReturn(1, 1));
    const raw: Record<PortCounter, number> = {
      tgTx: delta(after.tg.ports[this.topology.tgTx]?.txPackets, before.tg.ports[this.topology.tgTx]?.txPackets),
      hostPhyIngressRx: delta(port(after, phyIn.ofport)?.rxPackets, port(before, phyIn.ofport)?.rxPackets),
      hostKniIngressTx: delta(port(after, vmIn.ofport)?.txPackets, port(before, vmIn.ofport)?.txPackets),
      guestIngressRx: delta(link(after, vmIn.guestIf)?.rxPackets, link(before, vmIn.guestIf)?.rxPackets),
      guestEgressTx: delta(link(after, vmOut.guestIf)?.txPackets, link(before, vmOut.guestIf)?.txPackets),
      hostKniEgressRx: delta(port(after, vmOut.ofport)?.rxPackets, port(before, vmOut.ofport)?.rxPackets),
      hostPhyEgressTx: delta(port(after, phyOut.ofport)?.txPackets, port(before, phyOut.ofport)?.txPackets),
      tgRx: delta(after.tg.ports[this.topology.tgRx]?.rxPackets, before.tg.ports[this.topology.tgRx]?.rxPackets),
    };
    const foreign = await this.foreignFrames(before, after);
    const counts: PathCounts = {
      sent: this.stream.count,
      sentBytes: sentBytes(this.stream),
      returned: v.received,
      returnedBytes: v.receivedBytes,
      flowIngress: flowDelta(0),
      flowEgress: flowDelta(1),
      ...raw,
    };
    for (const [k, f] of Object.entries(foreign) as Array<[PortCounter, { subtracted: number; unsure: number }]>) counts[k] -= f.subtracted;
    if (Object.values(foreign).some((f) => f.subtracted + f.unsure > 0)) counts.foreign = foreign;
    this.data.counters = counts;
    this.save();
    const names = {
      tgTxPort: this.topology.tgTx,
      phyIngress: `port ${phyIn.ofport} (${phyIn.name})`,
      kniIngress: `port ${vmIn.ofport} (${vmIn.name})`,
      guestIngress: vmIn.guestIf,
      guestEgress: vmOut.guestIf,
      kniEgress: `port ${vmOut.ofport} (${vmOut.name})`,
      phyEgress: `port ${phyOut.ofport} (${phyOut.name})`,
      tgRxPort: this.topology.tgRx,
    };
    const allowed = allowedLoss(counts.sent, this.tb.verify.lossTolerance);
    CheckFailure.ifAny('counters', checkCounters(counts, names, { slack: this.tb.verify.counterSlack, allowedLoss: allowed }), counts);
    // Passed with some loss: within the tolerance, but whoever reads the report should know where it happened.
    const lost = counts.sent - counts.returned;
    if (lost > 0)
      this.data.notes.push(
        `${lost} of ${counts.sent} packets lost, within the tolerance (${allowed} allowed): ${whereLost(counts, names) ?? 'no counter along the path shows where'}`,
      );
  }

  /**
   * What each counter counted that was not the stream, from the captures on
   * its wire: the TG's ports and the guest's links on their own clocks, the
   * switch's ports from their peers' captures (foreign.ts).
   */
  private async foreignFrames(before: Snapshot, after: Snapshot): Promise<Partial<Record<PortCounter, { subtracted: number; unsure: number }>>> {
    const runId = this.stream.runId;
    const tgWin = ownWindow(before.tg, after.tg);
    const guestWin = ownWindow(before.guest, after.guest);
    // How far the switch's readings reach outside its peer's, on the controller's clock.
    const lead = (peer: 'tg' | 'guest') => before.at[peer].toUs - before.at.host.fromUs;
    const lag = (peer: 'tg' | 'guest') => after.at.host.toUs - after.at[peer].fromUs;
    const count = async (file: string, own: PortCounter, peer: PortCounter, win: CounterWindow, peerRole: 'tg' | 'guest') => {
      const [o, p] = await countForeign(join(this.config.runDir, file), runId, [win, peerWindow(win, lead(peerRole), lag(peerRole))]);
      const f = (c: ForeignCount) => ({ subtracted: c.definite, unsure: c.possible - c.definite });
      return [
        [own, f(o!)],
        [peer, f(p!)],
      ] as const;
    };
    const { vmIngress: vmIn, vmEgress: vmOut } = this.topology;
    const pairs = [
      ...(await count('tx-capture.pcap', 'tgTx', 'hostPhyIngressRx', tgWin, 'tg')),
      ...(await count('rx.pcap', 'tgRx', 'hostPhyEgressTx', tgWin, 'tg')),
      ...(this.guestCaptured
        ? [
            ...(await count(`guest-${vmIn.guestIf}.pcap`, 'guestIngressRx', 'hostKniIngressTx', guestWin, 'guest')),
            ...(await count(`guest-${vmOut.guestIf}.pcap`, 'guestEgressTx', 'hostKniEgressRx', guestWin, 'guest')),
          ]
        : []),
    ];
    return Object.fromEntries(pairs);
  }

  private async checkSwitch(): Promise<void> {
    const problems: string[] = [];
    for (const [daemon, line] of [
      ['ovsdb-server', `${this.profile.tool('ovs-vsctl')} --timeout=10 show`],
      ['ovs-vswitchd', `${this.profile.tool('ovs-appctl')} -t ovs-vswitchd version`],
    ] as const) {
      const r = await this.session.shell('host').run(line, { ...this.profile.hostContext(this.tb), okExitCodes: [0, 1] });
      if (r.exitCode !== 0) problems.push(`${daemon} does not answer (${r.stderr.trim().split('\n').pop()})`);
    }
    CheckFailure.ifAny('switch', problems);
  }

  private async checkFlowTable(): Promise<void> {
    CheckFailure.ifAny('flow table', checkFlowsInstalled(await read.flows(this.session), flowsOf(this.tb)));
  }

  private async checkKniDmesg(): Promise<void> {
    const text = await read.dmesgText(this.session, 'guest');
    writeFileSync(join(this.config.runDir, 'dmesg-guest.txt'), text);
    CheckFailure.ifAny('dmesg (KNI)', checkKniDmesg(parseDmesg(text)));
  }

  private async checkKernel(): Promise<void> {
    const problems: string[] = [];
    for (const role of ['host', 'guest'] as const) {
      const lines = await read.dmesgSinceStart(this.session, role);
      writeFileSync(
        join(this.config.runDir, `dmesg-${role}-since-start.txt`),
        lines.map((l) => (l.time !== undefined ? `[${l.time.toFixed(6)}] ` : '') + l.text).join('\n'),
      );
      problems.push(...checkKernelHealthy(lines, role));
    }
    CheckFailure.ifAny('dmesg (kernel)', problems);
  }

  private async checkIfconfig(): Promise<void> {
    CheckFailure.ifAny('ifconfig', checkGuestIfaces(await read.guestIfconfig(this.session), expectedVeths(this.tb)));
  }

  private async checkSysctl(): Promise<void> {
    CheckFailure.ifAny('sysctl', checkSysctl(await read.guestSysctl(this.session), sysctlExpected(this.tb)));
  }

  private async checkRoute(): Promise<void> {
    CheckFailure.ifAny('route', checkDefaultRoute(await read.guestRoutes(this.session), this.tb.gateway.ip, this.topology.vmEgress.guestIf));
  }

  private async checkArp(): Promise<void> {
    CheckFailure.ifAny(
      'arp',
      checkStaticArp(await read.guestNeighbours(this.session), this.tb.gateway.ip, this.tb.gateway.mac, this.topology.vmEgress.guestIf),
    );
  }

  /**
   * A signal: stop what runs (the local hook at once; commands in flight are
   * waited for, briefly), start nothing new but the teardown, and tear down.
   * The stages still to come are skipped with the reason.
   */
  async abort(signal: string): Promise<void> {
    if (this.data.aborted) return this.finish();
    this.data.aborted = `interrupted by ${signal}`;
    this.data.notes.push(`the run was ${this.data.aborted}: the teardown ran, and the stages still to come were skipped`);
    this.save();
    this.hook?.killAll();
    await this.session.stop(this.data.aborted);
    await this.finish();
  }

  private finishing: Promise<void> | null = null;

  /** Always runs, once, whoever calls it first (the suite's afterAll or an abort): versions and logs for the report, undo, stop, unlock, disconnect. */
  finish(): Promise<void> {
    this.finishing ??= this.doFinish();
    return this.finishing;
  }

  private async doFinish(): Promise<void> {
    try {
      const tg = this.activeTg;
      this.activeTg = null;
      await tg?.cleanup().catch((e: unknown) => this.data.teardownProblems.push(`traffic generator: ${errorMessage(e)}`));
      await this.removeGuestCaptures().catch(() => undefined);
      this.data.versions = await read.versions(this.session).catch(() => ({}));
      this.data.teardownProblems.push(...(await this.session.collectLogs(join(this.config.runDir, 'logs'))));
      await this.collectOvsLogs();
      this.data.teardownProblems.push(...(await this.session.teardown()));
      if (this.lock && this.session.connected('host'))
        await this.lock.release().catch((e: unknown) => this.data.teardownProblems.push(`lock: ${errorMessage(e)}`));
    } finally {
      await this.session.close();
      this.data.finishedAt = new Date().toISOString();
      this.save();
    }
  }

  private async collectOvsLogs(): Promise<void> {
    if (!this.session.connected('host')) return;
    for (const name of ['ovs-vswitchd.log', 'ovsdb-server.log']) {
      const remote = `${this.tb.paths.ovsLogDir}/${name}`;
      const exists = await this.session
        .shell('host')
        .run(`test -f ${shq(remote)}`, { okExitCodes: [0, 1] })
        .catch(() => null);
      if (exists?.exitCode === 0)
        await this.session
          .shell('host')
          .get(remote, join(this.config.runDir, 'logs', `host-${name}`))
          .catch(() => undefined);
    }
  }
}
