// The `trex` traffic generator (tg.ts): a TRex server on the TG, driven
// through its stateless API (rpc.ts) over a local forward on the TG's SSH
// connection. Both faces:
// - capturing: the run's stream pcap copied to the TG and replayed by TRex
//   (push_remote), the receive port's RX and the transmit port's TX captured
//   with TRex's capture API and written here as the run's rx and tx pcaps;
// - measuring: one STL stream of the trial's frame (a stream per size of a
//   mix, each at its share), continuous at the trial's rate for its duration
//   (start_traffic), the ports' counters around it.
// What TRex says it sent is the generator's own word: a trial it fell short
// on is flagged, never assumed away.
// What a real TRex does unless told otherwise, and what the driver asks
// (../shared/trex/README.md, trex-core's docs): it rewrites both MACs of
// every frame (streams go with flags 3, push_remote with the count's bits
// 31 and 30: the frames leave as the suite built them); a NIC port takes only
// frames to its own MAC (the receive port is made promiscuous for the run);
// a TX capture needs service mode (on around each capture, off before any
// measuring: port-modes.ts).
import { ParseError } from '../../errors.js';
import type { Testbed } from '../../testbed/schema.js';
import { ipInt, reverseOf, reverseRanges } from '../../testbed/flows.js';
import { topologyOf } from '../../testbed/topology.js';
import { localForward, type Forwarder, type LocalForward } from '../../transport/forward.js';
import { shq } from '../../transport/quote.js';
import type { Shell } from '../../transport/shell.js';
import type { Transcript } from '../../transport/transcript.js';
import { waitUntil, waitUntilSteady } from '../../wait.js';
import { readPcap } from '../pcap.js';
import {
  bunchOf,
  type CaptureRequest,
  type CaptureResult,
  type CapturingTrafficGenerator,
  type MeasuringTrafficGenerator,
  type SendResult,
  type TgPortCounters,
  type TgSnapshot,
  type Trial,
  type TrialResult,
} from '../tg.js';
import { PortModes, portStatus } from './port-modes.js';
import { TrexError, TrexPorts, TrexRpc } from './rpc.js';
import { generatorHealth, readLatency, type PortErrors } from './stats.js';
import { flowProgram, MAX_LATENCY_PPS, PCAP_KEEP_MACS, pgIdOf, stlStream, trexUser } from './streams.js';
import { loadStreamId, type MixPart, smallestOf, trialCounts, trialMix } from './trial.js';
import { collectCapture } from './capture.js';

/** What the driver reports beside its measurements: notes for the run's record, and the generator's version. */
export interface TgHooks {
  note(line: string): void;
  version(text: string): void;
}

type TrexConfig = NonNullable<Testbed['tg']['trex']>;

interface PortStats {
  opackets: number;
  ipackets: number;
  obytes: number;
  ibytes: number;
  oerrors?: number;
  ierrors?: number;
}

/** Both ports read at once: the counters as every driver gives them, and TRex's error counters from the same answers. */
interface PortsReading {
  snap: TgSnapshot;
  errors: PortErrors;
}

const nowUs = () => Date.now() * 1000;

export class TrexTrafficGenerator implements CapturingTrafficGenerator, MeasuringTrafficGenerator {
  private readonly cfg: TrexConfig;
  /** The testbed's names for the two ports (the TG snapshot's keys, as every driver's). */
  private readonly names: { transmit: string; receive: string };
  private readonly remotePcap: string;
  private readonly remoteReversePcap: string;
  private rpc: TrexRpc | null = null;
  private ports: TrexPorts | null = null;
  private forward: LocalForward | null = null;
  private readonly captures = new Set<number>();
  /** The trial's frames by size (one, or a mix's), each a stream. */
  private trialFrames: MixPart[] | null = null;
  /** The field engine's programs that make the trial streams carry every flow of traffic.flows, each way (empty for one flow). */
  private readonly flows: { forward: Array<Record<string, unknown>>; reverse: Array<Record<string, unknown>> };
  /** traffic.direction both: the receive port sends the reverse stream and the transmit port counts its return. */
  private readonly bothWays: boolean;
  private reverseFrames: MixPart[] | null = null;
  /** The trial pcap needs one frame only: the field engine makes the flows from it. */
  readonly makesFlows = true;
  private modes: PortModes | null = null;
  /** How long the receive port must be quiet for the stream to have ended (verify.quietMs). */
  private readonly quietMs: number;

  constructor(
    private readonly shell: Shell,
    tb: Testbed,
    private readonly runId: string,
    private readonly transcript?: Transcript,
    private readonly hooks: TgHooks = { note: () => undefined, version: () => undefined },
  ) {
    if (!tb.tg.trex) throw new TrexError('tg.type trex needs tg.trex');
    this.cfg = tb.tg.trex;
    const t = topologyOf(tb);
    this.names = { transmit: t.tgTx, receive: t.tgRx };
    this.remotePcap = `${this.cfg.pcapDir}/${runId}-tx.pcap`;
    this.remoteReversePcap = `${this.cfg.pcapDir}/${runId}-tx-reverse.pcap`;
    this.quietMs = tb.verify.quietMs;
    const f = tb.traffic.flows;
    const base = { srcIp: ipInt(tb.traffic.srcIp), dstIp: ipInt(tb.traffic.dstIp), srcPort: tb.traffic.srcPort, dstPort: tb.traffic.dstPort };
    this.flows = f ? { forward: flowProgram(f, base), reverse: flowProgram(reverseRanges(f), reverseOf(base)) } : { forward: [], reverse: [] };
    this.bothWays = tb.traffic.direction === 'both';
  }

  private get server(): string {
    return `TRex on the TG (${this.cfg.server.address}:${this.cfg.server.port} there)`;
  }

  /**
   * The server reached, its API checked, its version recorded, both ports
   * taken for this run and set as the run needs them (port-modes.ts): once.
   * Ports a dead run of this controller left are taken back only because
   * this run holds the lab's lease (the engine takes it before anything
   * reaches the generator), and what it left (streams, captures) is removed,
   * named.
   */
  private async session(): Promise<{ rpc: TrexRpc; ports: TrexPorts }> {
    if (this.rpc && this.ports) return { rpc: this.rpc, ports: this.ports };
    if (!this.shell.forwardOut) throw new TrexError(`${this.server}: the TG's shell is not an SSH connection, so nothing can be forwarded to the server`);
    this.forward = await localForward(this.shell as Forwarder, this.cfg.server.address, this.cfg.server.port);
    const rpc = new TrexRpc({
      endpoint: `tcp://127.0.0.1:${this.forward.port}`,
      name: this.server,
      callTimeoutMs: this.cfg.callTimeoutMs,
      ...(this.transcript ? { transcript: this.transcript } : {}),
    });
    this.rpc = rpc;
    await rpc.connect();
    const v = await rpc.call<{ version?: string; mode?: string }>('get_version');
    this.hooks.version(`TRex ${v.version ?? '?'} (${v.mode ?? '?'})`);
    const ports = new TrexPorts(rpc, trexUser(), process.pid);
    const roles = { transmit: this.cfg.ports.transmit, receive: this.cfg.ports.receive };
    const takenBack = await ports.acquire(roles, () => `this run holds the lab's lease, so the run that took it is over`);
    this.ports = ports;
    takenBack.forEach((l) => this.hooks.note(l));
    if (takenBack.length > 0) await this.removeLeftovers(rpc, ports);
    this.modes = new PortModes(rpc, ports, roles, (l) => this.hooks.note(l), this.bothWays);
    await this.modes.takeOver();
    return { rpc, ports };
  }

  /** What a dead run of this controller left on the ports it took back: its streams, and the captures on its ports (TRex keeps at most 10). */
  private async removeLeftovers(rpc: TrexRpc, ports: TrexPorts): Promise<void> {
    const mine = [this.cfg.ports.transmit, this.cfg.ports.receive];
    for (const port of mine) await rpc.call('remove_all_streams', { handler: ports.handler(port), port_id: port });
    const status = await rpc.call<Array<{ id: number; filter?: { rx?: number; tx?: number } }>>('capture', { command: 'status' });
    const onMine = (mask = 0) => mine.some((p) => (mask & (1 << p)) !== 0);
    for (const c of status.filter((x) => onMine(x.filter?.rx) || onMine(x.filter?.tx))) {
      await rpc.call('capture', { command: 'remove', capture_id: c.id });
      this.hooks.note(`TRex capture ${c.id} on this lab's ports, left by that run: removed`);
    }
  }

  /** The generator reached and its ports taken before the setup changes anything (the preflight's). */
  async reach(): Promise<void> {
    await this.session();
  }

  async prepare(): Promise<void> {
    const { rpc } = await this.session();
    for (const role of ['transmit', 'receive'] as const) {
      const port = this.cfg.ports[role];
      const st = await portStatus(rpc, port);
      if (!st.linkUp) throw new TrexError(`TRex port ${port} (the ${role} port, ${this.names[role]}) is down (state ${st.state})`);
    }
    await this.shell.run(`mkdir -p ${shq(this.cfg.pcapDir)}`);
  }

  private async stats(port: number): Promise<PortStats> {
    const s = await this.rpc!.call<Partial<PortStats>>('get_port_stats', { port_id: port });
    const fields = ['opackets', 'ipackets', 'obytes', 'ibytes'] as const;
    if (fields.some((f) => typeof s[f] !== 'number'))
      throw new ParseError(`${this.server}'s get_port_stats of port ${port}`, fields.join(', '), JSON.stringify(s));
    return s as PortStats;
  }

  /** Both ports' counters, on this machine's clock around the reading (the capture's times are placed on the same clock). */
  private async counters(): Promise<TgSnapshot> {
    return (await this.readPorts()).snap;
  }

  private async readPorts(): Promise<PortsReading> {
    const fromUs = nowUs();
    const { transmit, receive } = this.cfg.ports;
    const tx = await this.stats(transmit);
    const rx = await this.stats(receive);
    const toUs = nowUs();
    const of = (s: PortStats): TgPortCounters => ({ rxPackets: s.ipackets, rxBytes: s.ibytes, txPackets: s.opackets, txBytes: s.obytes });
    const errs = (s: PortStats) => ({ oerrors: s.oerrors ?? 0, ierrors: s.ierrors ?? 0 });
    return {
      snap: { ports: { [this.names.transmit]: of(tx), [this.names.receive]: of(rx) }, fromUs, toUs },
      errors: { [transmit]: errs(tx), [receive]: errs(rx) },
    };
  }

  private async state(port: number): Promise<string> {
    return (await portStatus(this.rpc!, port)).state;
  }

  /** Until the transmit port has stopped sending (its state leaves `busy`), within a bound. */
  private async awaitTransmitEnd(busy: string, boundMs: number, port = this.cfg.ports.transmit): Promise<void> {
    await waitUntil(`TRex port ${port} to finish sending (state ${busy})`, async () => (await this.state(port)) !== busy, {
      timeoutMs: boundMs,
      intervalMs: 100,
    });
  }

  /** The counters once the receive port has not counted for `quietMs` (within a bound: a DUT that keeps sending cannot hold the run). */
  private quietCounters(quietMs: number, boundMs: number): Promise<PortsReading> {
    return waitUntilSteady(
      `TRex port ${this.cfg.ports.receive}'s counters`,
      () => this.readPorts(),
      // Both ways: the transmit port's receive counter too (the reverse stream's return).
      (r) => r.snap.ports[this.names.receive]!.rxPackets + (this.bothWays ? r.snap.ports[this.names.transmit]!.rxPackets : 0),
      {
        quietMs,
        timeoutMs: boundMs,
        intervalMs: 100,
      },
    );
  }

  async sendAndCapture(req: CaptureRequest): Promise<CaptureResult> {
    // push_remote paces a pcap by one gap; a stream whose rate changes is not offered (the testbed refuses it first).
    if (req.timed) throw new TrexError("a timed stream (the pcap's own timestamps) is not offered by the TRex driver");
    const { rpc } = await this.session();
    const { transmit: tx, receive: rx } = this.cfg.ports;
    const reverse = req.reverse;
    await this.shell.put(req.pcap, this.remotePcap);
    if (reverse) await this.shell.put(reverse.pcap, this.remoteReversePcap);
    const limit = Math.max(10_000, (req.packets + (reverse?.packets ?? 0)) * 4);
    // Service mode first: without it TRex copies nothing it sends into the TX capture.
    await this.modes!.serviceOn();
    const asked = nowUs();
    // What each port sends and receives (both ways, the reverse stream leaves the receive port and returns to the transmit port).
    const [sending, returning] = reverse
      ? [
          [tx, rx],
          [rx, tx],
        ]
      : [[tx], [rx]];
    const started = await rpc.call<{ capture_id: number; start_ts: number }>('capture', {
      command: 'start',
      limit,
      mode: 'fixed',
      tx: sending,
      rx: returning,
      filter: '',
    });
    // The server's capture clock placed on this machine's: its start is between the request and the answer.
    const anchorUs = (asked + nowUs()) / 2;
    this.captures.add(started.capture_id);
    try {
      await req.around?.before?.first?.();
      const before = await this.counters();
      await req.around?.before?.last?.();
      await this.pushPcap(tx, this.remotePcap, req.rate);
      if (reverse) await this.pushPcap(rx, this.remoteReversePcap, req.rate);
      const most = Math.max(req.packets, reverse?.packets ?? 0);
      for (const port of sending) await this.awaitTransmitEnd('PCAP_TX', Math.ceil((most / req.rate) * 2000) + 30_000, port);
      await this.quietCounters(this.quietMs, 30_000);
      await req.around?.after?.first?.();
      const after = await this.counters();
      await req.around?.after?.last?.();
      const at = { id: started.capture_id, startTs: started.start_ts, anchorUs, limit };
      const splits = [
        { origin: 'RX', port: rx, file: req.into.rx },
        { origin: 'TX', port: tx, file: req.into.tx },
        ...(reverse ? [{ origin: 'RX', port: tx, file: reverse.into.rx } as const, { origin: 'TX', port: rx, file: reverse.into.tx } as const] : []),
      ] as const;
      const frames = await collectCapture(rpc, this.server, at, splits);
      const sent = await this.sentOf(tx, req.pcap, this.remotePcap, before, after, frames[1]!);
      const reverseSent = reverse ? await this.sentOf(rx, reverse.pcap, this.remoteReversePcap, before, after, frames[3]!) : undefined;
      return { sent, ...(reverseSent ? { reverseSent } : {}), counters: { before, after } };
    } finally {
      // The capture before service mode: TRex refuses to leave service mode while a capture on the port exists.
      await this.dropCaptures();
      await this.modes!.serviceOff();
    }
  }

  /** A pcap on the TG replayed once from a port at the rate (push_remote), the pcap's own MACs kept. */
  private async pushPcap(port: number, pcap: string, rate: number): Promise<void> {
    await this.rpc!.call('push_remote', {
      handler: this.ports!.handler(port),
      port_id: port,
      pcap_filename: pcap,
      ipg_usec: 1e6 / rate,
      min_ipg_usec: 0,
      speedup: 1,
      count: (PCAP_KEEP_MACS | 1) >>> 0,
      duration: -1,
      is_dual: false,
      slave_handler: '',
    });
  }

  /**
   * What a port sent of its stream: its counter's growth less what service
   * mode itself put on the wire (TRex answering ARP: in the count and the TX
   * capture, not the stream; the counter check takes it off as foreign frames).
   * Nothing sent is the generator's failure: TRex answers push_remote OK for a
   * pcap it cannot read, and sends nothing.
   */
  private async sentOf(port: number, localPcap: string, remotePcap: string, before: TgSnapshot, after: TgSnapshot, txFrames: Buffer[]): Promise<SendResult> {
    const name = port === this.cfg.ports.transmit ? this.names.transmit : this.names.receive;
    const sentNow = after.ports[name]!.txPackets - before.ports[name]!.txPackets;
    if (sentNow === 0)
      throw new TrexError(`${this.server} sent nothing of ${remotePcap} (push_remote answered OK; TRex could not read the pcap, or its port would not send)`);
    const stream = new Set<string>();
    await readPcap(localPcap, (d) => void stream.add(d.toString('hex')));
    const own = txFrames.filter((f) => !stream.has(f.toString('hex'))).length;
    const raw = `TRex port ${port}: opackets grew by ${sentNow}${own ? `, ${own} of them TRex's own (service mode: not the stream's)` : ''}`;
    return { packetsSent: sentNow - own, failed: 0, raw };
  }

  private async dropCaptures(): Promise<void> {
    for (const id of [...this.captures]) {
      this.captures.delete(id);
      await this.rpc?.call('capture', { command: 'remove', capture_id: id }).catch(() => undefined);
    }
  }

  async prepareTrials(localPcap: string, frames: number, reversePcap?: string): Promise<void> {
    await this.prepare();
    if (frames < 1) throw new TrexError(`the trial pcap ${localPcap} has no frame to build TRex's stream from`);
    this.trialFrames = await trialMix(localPcap);
    this.reverseFrames = reversePcap ? await trialMix(reversePcap) : null;
  }

  /** The trial's streams: the load (and the reverse load, from the receive port, both ways), and the latency stream. */
  private async addTrialStreams(rpc: TrexRpc, ports: TrexPorts, trial: Trial): Promise<void> {
    const { transmit: tx, receive: rx } = this.cfg.ports;
    const add = (port: number, id: number, stream: Record<string, unknown>) =>
      rpc.call('add_stream', { handler: ports.handler(port), port_id: port, stream_id: id, stream });
    for (const port of this.reverseFrames ? [tx, rx] : [tx]) await rpc.call('remove_all_streams', { handler: ports.handler(port), port_id: port });
    // No load (the latency stream alone): no load stream, which TRex would refuse at 0 packets a second.
    const load = async (port: number, mix: MixPart[], program: Array<Record<string, unknown>>) => {
      for (const [i, p] of mix.entries()) await add(port, loadStreamId(i), stlStream(p.frame, trial.rate * p.share, undefined, program));
    };
    if (trial.rate > 0) await load(tx, this.trialFrames!, this.flows.forward);
    if (trial.rate > 0 && this.reverseFrames) await load(rx, this.reverseFrames, this.flows.reverse);
    if (trial.latency) await add(tx, 2, stlStream(smallestOf(this.trialFrames!), trial.latency.rate, pgIdOf(this.runId, trial.latency.streamId)));
  }

  /**
   * A trial: the trial's frame as one continuous STL stream at the rate, for
   * the duration, TRex's own counters around it (read again once the
   * receive port is quiet). What TRex sent in that time is its achieved
   * rate; short of the rate, the trial is flagged.
   */
  async measure(trial: Trial): Promise<TrialResult> {
    // A bunched load would be a multi-burst stream, which this driver does not make yet: refused, never sent evenly instead.
    if (bunchOf(trial) > 1) throw new TrexError(`the TRex driver sends no bunched load (a trial asked for bunches of ${trial.bunch} frames)`);
    if (!this.trialFrames) throw new Error('measure before prepareTrials');
    if (trial.latency && trial.latency.rate > MAX_LATENCY_PPS)
      throw new TrexError(`a latency stream of ${trial.latency.rate} frames/s: TRex's RX core handles about ${MAX_LATENCY_PPS} a second of them`);
    const { rpc, ports } = await this.session();
    await this.addTrialStreams(rpc, ports, trial);
    const sending = this.reverseFrames ? [this.cfg.ports.transmit, this.cfg.ports.receive] : [this.cfg.ports.transmit];
    const before = await this.readPorts();
    // Each stream at its own rate (raw 1): a pps multiplier would share the rate among the load and the latency stream.
    const mul = { type: 'raw', op: 'abs', value: 1 };
    for (const port of sending) await rpc.call('start_traffic', { handler: ports.handler(port), port_id: port, mul, duration: trial.durationS, force: false });
    for (const port of sending) await this.awaitTransmitEnd('TX', Math.ceil(trial.durationS * 3000) + 10_000, port);
    const after = await this.quietCounters(200, 2000);
    const latency = trial.latency
      ? await readLatency(this.rpc!, pgIdOf(this.runId, trial.latency.streamId), this.cfg.ports, trial.latency.streamId)
      : undefined;
    // TRex's CPU load, beside the error counters the port readings carried.
    const cpu = (await rpc.call<{ m_cpu_util?: number }>('get_global_stats')).m_cpu_util ?? 0;
    const erred = generatorHealth(before.errors, { ...after.errors, cpu }, this.cfg.ports);
    // The ports count the latency stream too: the trial's load is the rest.
    const counts = trialCounts(before.snap, after.snap, this.names, latency, this.reverseFrames !== null);
    const ways = counts.reverse ? [counts.forward, counts.reverse] : [counts.forward];
    const sent = ways.reduce((x, w) => x + w.sent, 0);
    const received = ways.reduce((x, w) => x + w.received, 0);
    // Each direction offered the rate: the slower one's is the rate reached.
    const achievedRate = Math.min(...ways.map((w) => w.sent)) / trial.durationS;
    return {
      offered: Math.round(trial.rate * trial.durationS) * ways.length,
      sent,
      received,
      lossRatio: sent > 0 ? Math.max(0, sent - received) / sent : trial.rate > 0 ? 1 : 0,
      generatorShort: achievedRate < trial.rate * 0.97 || erred !== null,
      ...(erred ? { generatorNote: erred } : {}),
      achievedRate,
      ...(latency ? { latency } : {}),
      ...(counts.reverse ? { directions: { forward: counts.forward, reverse: counts.reverse } } : {}),
    };
  }

  /**
   * Stops what this run started on TRex, removes its streams and captures,
   * puts the ports' modes back as found, gives its ports back, closes the
   * forward, removes its pcap on the TG. Safe at any time, any number of times.
   */
  async cleanup(): Promise<void> {
    // A TRex that stopped answering (killed, hung) is asked nothing more: each call would wait out its bound.
    if (this.rpc && !this.rpc.silent) await this.giveBack(this.rpc);
    this.modes = null;
    this.ports = null;
    this.captures.clear();
    this.rpc?.close();
    this.rpc = null;
    await this.forward?.close();
    this.forward = null;
    await this.shell.run(`rm -f ${shq(this.remotePcap)} ${shq(this.remoteReversePcap)}`, { okExitCodes: [0, 1] }).catch(() => undefined);
  }

  private async giveBack(rpc: TrexRpc): Promise<void> {
    const ask = (f: () => Promise<unknown>) => (rpc.silent ? Promise.resolve() : f().catch(() => undefined));
    // Both ports: the receive port sends too where the trials go both ways.
    for (const port of [this.cfg.ports.transmit, this.cfg.ports.receive])
      if (this.ports?.holds(port)) {
        const handler = this.ports.handler(port);
        await ask(() => rpc.call('stop_traffic', { handler, port_id: port }));
        await ask(() => rpc.call('remove_all_streams', { handler, port_id: port }));
      }
    if (!rpc.silent) await this.dropCaptures();
    if (!rpc.silent) ((await this.modes?.restore()) ?? []).forEach((p) => this.hooks.note(`TRex: could not put back ${p}`));
    if (!rpc.silent) await this.ports?.release();
  }
}
