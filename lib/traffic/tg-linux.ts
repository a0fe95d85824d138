// The `linux` traffic generator (tg.ts): a Linux box with tcpreplay and
// tcpdump, driven over the transport. Both faces: capturing (one stream, its
// return captured) and measuring (tcpreplay at a rate, looped for a duration,
// the ports' counters around it).
import { CommandError, errorMessage, ParseError } from '../errors.js';
import type { Testbed } from '../testbed/schema.js';
import { topologyOf } from '../testbed/topology.js';
import { shq } from '../transport/quote.js';
import type { Shell } from '../transport/shell.js';
import { captureRecordOf, streamCaptures, Tcpdump, type CaptureSpec } from './tcpdump.js';
import { type Loads, loadOf, trialResultOf } from './tcpreplay.js';
import { latencyOfPackets, type LatencyResult } from '../results/latency.js';
import { latencyFilter, latencyStream, LATENCY_SNAPLEN, seenInCapture } from './latency-stream.js';
import { readPcap, writeStreamPcap } from './pcap.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  bunchOf,
  type CaptureFiles,
  type CaptureRequest,
  type CaptureResult,
  type CapturingTrafficGenerator,
  type MeasuringTrafficGenerator,
  type BurstResult,
  type SendResult,
  type TgSnapshot,
  type Trial,
  type TrialResult,
} from './tg.js';
import { waitUntilSteady } from '../wait.js';

export class LinuxTrafficGenerator implements CapturingTrafficGenerator, MeasuringTrafficGenerator {
  private captures: Tcpdump[] = [];
  private readonly txPort: string;
  private readonly rxPort: string;
  private readonly remoteTx: string;
  private readonly remote: Record<RemoteFile, string>;
  /** The trials also send the reverse stream (traffic.direction both): prepareTrials put its pcap on the TG. */
  private reverseTrials = false;
  /** Where the latency stream's pcaps are written here before they go to the TG (made on the first latency trial). */
  private localDir: string | null = null;

  constructor(
    private readonly shell: Shell,
    private readonly tb: Testbed,
    runId: string,
  ) {
    const t = topologyOf(tb);
    this.txPort = t.tgTx;
    this.rxPort = t.tgRx;
    const at = (what: string) => `${tb.paths.workDir}/${runId}-${what}.pcap`;
    this.remoteTx = at('tx');
    this.remote = {
      rx: at('rx'),
      tx: at('txcap'),
      watch: at('watch'),
      latency: at('latency'),
      loadOut: `${tb.paths.workDir}/${runId}-load.out`,
      latencyTx: at('latency-tx'),
      burstTx: at('burst-tx'),
      latencyRx: at('latency-rx'),
      reverse: at('reverse'),
      reverseOut: `${tb.paths.workDir}/${runId}-reverse.out`,
      reverseRx: at('reverse-rx'),
      reverseTx: at('reverse-txcap'),
      reverseWatch: at('reverse-watch'),
    };
  }

  /** tcpreplay as this TG runs it: on the testbed's tg.cpus where it names them (apart from the DUT's), paced by its tg.timer. */
  private tcpreplay(args: string, timer = this.tb.tg.timer): string {
    return `${this.tb.tg.cpus ? `taskset -c ${shq(this.tb.tg.cpus)} ` : ''}tcpreplay ${timer ? `-T ${timer} ` : ''}${args}`;
  }

  async prepare(): Promise<void> {
    const missing = await this.shell.run('for t in tcpreplay tcpdump; do command -v $t >/dev/null || echo $t; done');
    if (missing.stdout.trim()) {
      throw new CommandError(
        'tg',
        'command -v tcpreplay tcpdump',
        127,
        null,
        `missing on the traffic generator: ${missing.stdout.trim().split('\n').join(', ')}`,
      );
    }
    await this.shell.run(`mkdir -p ${shq(this.tb.paths.workDir)}`);
    for (const port of [this.txPort, this.rxPort]) await this.shell.run(`ip link set dev ${shq(port)} up`);
  }

  async counters(): Promise<TgSnapshot> {
    const ports = [this.txPort, this.rxPort];
    const files = ['rx_packets', 'rx_bytes', 'tx_packets', 'tx_bytes'];
    const reads = ports.map((p) => files.map((f) => `cat /sys/class/net/${shq(p)}/statistics/${f}`).join('; ')).join('; ');
    const r = await this.shell.run(`date +%s%N; ${reads}; date +%s%N`);
    const n = r.stdout.trim().split('\n');
    const nums = n.slice(1, -1).map(Number);
    if (n.length !== ports.length * files.length + 2 || nums.some((x) => !Number.isFinite(x)) || !/^\d{16,}$/.test(n[0]!) || !/^\d{16,}$/.test(n.at(-1)!)) {
      throw new ParseError('the TG port counters', `a time, ${ports.length * files.length} numbers and a time, one a line`, r.stdout);
    }
    return {
      ports: Object.fromEntries(
        ports.map((p, i) => [p, { rxPackets: nums[i * 4]!, rxBytes: nums[i * 4 + 1]!, txPackets: nums[i * 4 + 2]!, txBytes: nums[i * 4 + 3]! }]),
      ),
      fromUs: Math.floor(Number(n[0]) / 1000),
      toUs: Math.ceil(Number(n.at(-1)) / 1000),
    };
  }

  async sendAndCapture(req: CaptureRequest): Promise<CaptureResult> {
    await this.startCapture(req.reverse !== undefined);
    try {
      await req.around?.before?.first?.();
      const before = await this.counters();
      await req.around?.before?.last?.();
      const { sent, reverseSent } = await this.send(req);
      await this.awaitStreamEnd(req.reverse !== undefined);
      await req.around?.after?.first?.();
      const after = await this.counters();
      await req.around?.after?.last?.();
      await this.stopCapture(req.into, req.reverse?.into);
      return { sent, ...(reverseSent ? { reverseSent } : {}), counters: { before, after } };
    } finally {
      await Promise.all(this.captures.splice(0).map((c) => c.abandon()));
    }
  }

  private async startCapture(bothWays: boolean): Promise<void> {
    this.captures.push(...(await Tcpdump.startAll(this.shell, this.captureSpecs(bothWays))));
  }

  /** A capture as this TG runs it: recorded for the next run of the lab, on the testbed's tg.cpus where it names them. */
  private onTg(spec: Omit<CaptureSpec, 'logFile' | 'record' | 'cpus'>): CaptureSpec {
    const cpus = this.tb.tg.cpus;
    return { ...spec, logFile: `${this.tb.paths.workDir}/${spec.name}.log`, record: captureRecordOf(this.tb, 'tg'), ...(cpus ? { cpus } : {}) };
  }

  /** The captures of a stream; both ways, the reverse stream's too (the other port of each, the other direction). */
  private captureSpecs(bothWays: boolean): CaptureSpec[] {
    const t = this.tb.traffic;
    const { rx, tx, watch, reverseRx, reverseTx, reverseWatch } = this.remote;
    return [
      ...streamCaptures('tcpdump', { send: this.txPort, back: this.rxPort }, { rx, tx, watch }, { src: t.srcIp, dst: t.dstIp }),
      ...(bothWays
        ? streamCaptures(
            'tcpdump-reverse',
            { send: this.rxPort, back: this.txPort },
            { rx: reverseRx, tx: reverseTx, watch: reverseWatch },
            { src: t.dstIp, dst: t.srcIp },
          )
        : []),
    ].map((spec) => this.onTg(spec));
  }

  /** The latency stream's two captures: leaving the transmit port, arriving on the receive port, the stream alone (BPF). */
  private latencyCaptureSpecs(): CaptureSpec[] {
    const only = { filter: latencyFilter(this.tb), snaplen: LATENCY_SNAPLEN };
    return [
      this.onTg({ name: 'latency-tx', iface: this.txPort, direction: 'out', file: this.remote.latencyTx, ...only }),
      this.onTg({ name: 'latency-rx', iface: this.rxPort, direction: 'in', file: this.remote.latencyRx, ...only }),
    ];
  }

  /** The stream from the transmit port; both ways, the reverse stream from the receive port at the same time, its output after a separator. */
  private async send(req: CaptureRequest): Promise<{ sent: SendResult; reverseSent?: SendResult }> {
    await this.shell.put(req.pcap, this.remoteTx);
    if (req.reverse) await this.shell.put(req.reverse.pcap, this.remote.reverse);
    const timeoutMs = Math.ceil((Math.max(req.packets, req.reverse?.packets ?? 0) / req.rate) * 1000) * 2 + 30_000;
    // Timed: as the pcap's timestamps say (tcpreplay's default speed), on its busy-waiting timer: following timestamps,
    // tcpreplay sleeps each gap without catching up, and nanosleep's overshoot made a 2 s stream at 7500 frames/s last
    // 3 s here (with --pps it catches up: the testbed's timer serves).
    const pace = req.timed ? '' : `--pps=${req.rate} `;
    const timer = req.timed ? 'gtod' : this.tb.tg.timer;
    const forward = this.tcpreplay(`-i ${shq(this.txPort)} ${pace}${shq(this.remoteTx)}`, timer);
    const reverse = req.reverse ? this.tcpreplay(`-i ${shq(this.rxPort)} ${pace}${shq(this.remote.reverse)}`, timer) : undefined;
    const r = await this.shell.run(this.replayLine(forward, reverse), { timeoutMs });
    const [forwardOut, reverseOut] = r.stdout.split(`\n${REVERSE_OUTPUT}\n`);
    const resultOf = (text: string): SendResult => {
      const sent = /Successful packets:\s+(\d+)/.exec(text);
      const failed = /Failed packets:\s+(\d+)/.exec(text);
      if (!sent) throw new CommandError('tg', 'tcpreplay', r.exitCode, null, `could not read "Successful packets" from tcpreplay's output`, text);
      return { packetsSent: Number(sent[1]), failed: Number(failed?.[1] ?? 0), raw: text };
    };
    return { sent: resultOf(forwardOut!), ...(req.reverse ? { reverseSent: resultOf(reverseOut ?? '') } : {}) };
  }

  private trialFrames = 0;

  async prepareTrials(localPcap: string, frames: number, reversePcap?: string): Promise<void> {
    await this.prepare();
    await this.shell.put(localPcap, this.remoteTx);
    if (reversePcap) await this.shell.put(reversePcap, this.remote.reverse);
    this.reverseTrials = reversePcap !== undefined;
    this.trialFrames = frames;
  }

  /**
   * A trial: the trial pcap looped at the rate for the duration (tcpreplay
   * --preload-pcap, so that the disk is not in the way), the receive port's
   * counter around it, read again once nothing more arrives. The generator's
   * own shortfall is measured: what tcpreplay says it sent, and how fast.
   */
  async measure(trial: Trial): Promise<TrialResult> {
    if (this.trialFrames === 0) throw new Error('measure before prepareTrials');
    if (trial.latency) return this.measureWithLatency(trial, trial.latency);
    const before = await this.counters();
    const load = await this.replayLoad(trial, trial.durationS);
    const after = await this.drained();
    return trialResultOf(trial, load, this.rxDelta(before, after), this.rxDelta(before, after, this.txPort));
  }

  /**
   * A burst: `frames` of the trial pcap back to back (tcpreplay --topspeed
   * from memory, --limit), captured leaving the transmit port (how long it
   * lasted on the wire: tcpreplay's own time includes its start, a large part
   * of a short burst's), the receive port's counter around it, read again
   * once nothing more arrives.
   */
  async burst(frames: number): Promise<BurstResult> {
    if (this.trialFrames === 0) throw new Error('burst before prepareTrials');
    const loops = Math.ceil(frames / this.trialFrames);
    const capture = await Tcpdump.start(this.shell, this.burstCaptureSpec());
    let sent: number;
    let received: number;
    try {
      const before = await this.counters();
      const r = await this.shell.run(
        this.tcpreplay(`-i ${shq(this.txPort)} --topspeed --limit=${frames} --loop=${loops} --preload-pcap ${shq(this.remoteTx)}`),
        {
          timeoutMs: 30_000,
        },
      );
      sent = loadOf(r.stdout, frames).sent;
      received = this.rxDelta(before, await this.drained());
    } catch (err) {
      await capture.abandon();
      throw err;
    }
    await capture.stop();
    const local = join(this.local(), 'burst-tx.pcap');
    await this.shell.get(this.remote.burstTx, local);
    const times: number[] = [];
    await readPcap(local, (_d, us) => times.push(us));
    // A burst's length on the wire: its first frame to its last, and one frame's interval more.
    const seconds = times.length > 1 ? ((times.at(-1)! - times[0]!) / 1e6) * (times.length / (times.length - 1)) : 0;
    return { frames, sent, received, seconds, captured: times.length };
  }

  /** The capture of a burst leaving the transmit port: the UDP frames only, their headers. */
  private burstCaptureSpec(): CaptureSpec {
    return this.onTg({ name: 'burst-tx', iface: this.txPort, direction: 'out', file: this.remote.burstTx, filter: 'udp', snaplen: 64 });
  }

  /** What a port received between two readings (the receive port's: the forward stream's return). */
  private rxDelta(before: TgSnapshot, after: TgSnapshot, port = this.rxPort): number {
    return (after.ports[port]?.rxPackets ?? 0) - (before.ports[port]?.rxPackets ?? 0);
  }

  /**
   * The trial pcap looped at the rate for about the duration: what tcpreplay
   * says it sent, and in how long. `alongside`: a command run while the load
   * runs, in the same command line (replayLine).
   */
  private async replayLoad(trial: Pick<Trial, 'rate' | 'bunch'>, durationS: number, alongside?: string): Promise<Loads> {
    const loops = Math.max(1, Math.round((trial.rate * durationS) / this.trialFrames));
    const bunch = bunchOf(trial);
    const multi = bunch > 1 ? ` --pps-multi=${bunch}` : '';
    const replay = (port: string, pcap: string) =>
      this.tcpreplay(`-i ${shq(port)} --pps=${Math.round(trial.rate)}${multi} --loop=${loops} --preload-pcap ${shq(pcap)}`);
    // Both ways: the reverse stream from the receive port at the same time.
    const reverse = this.reverseTrials ? replay(this.rxPort, this.remote.reverse) : undefined;
    const line = this.replayLine(replay(this.txPort, this.remoteTx), reverse, alongside);
    const r = await this.shell.run(line, { timeoutMs: Math.ceil(durationS * 3000) + 30_000 });
    const [forwardOut, reverseOut] = r.stdout.split(`\n${REVERSE_OUTPUT}\n`);
    const offered = loops * this.trialFrames;
    return { forward: loadOf(forwardOut!, offered), ...(this.reverseTrials ? { reverse: loadOf(reverseOut ?? '', offered) } : {}) };
  }

  /**
   * One command line (a lab machine's shell runs one command at a time): the forward tcpreplay, the reverse one at
   * the same time and `alongside` while they run, where given; their outputs in turn, the reverse one's after a
   * separator line; the exit status the first failure's. The forward one alone as it is.
   */
  private replayLine(forward: string, reverse?: string, alongside?: string): string {
    if (!reverse && !alongside) return forward;
    const [out, rout] = [shq(this.remote.loadOut), shq(this.remote.reverseOut)];
    const start = reverse ? `${reverse} >${rout} 2>&1 & q=$!; ` : '';
    const end = reverse ? ` wait $q; s=$?; echo ${shq(REVERSE_OUTPUT)}; cat ${rout}; rm -f ${rout}; [ $s = 0 ] || r=$s;` : '';
    return `${forward} >${out} 2>&1 & p=$!; ${start}${alongside ? `${alongside}; ` : ''}wait $p; r=$?; cat ${out}; rm -f ${out};${end} exit $r`;
  }

  /**
   * A trial with the latency stream: its frames (numbered, a UDP port of their
   * own) replayed at their low rate over the middle of the load, captured
   * leaving the transmit port and arriving on the receive port with a BPF
   * filter (the load itself is not captured: at 90 % of a PDR it would drop).
   * Both ports are this box's: one clock. A capture that dropped makes the
   * latency invalid, and the result says why.
   */
  private async measureWithLatency(trial: Trial, asked: NonNullable<Trial['latency']>): Promise<TrialResult> {
    const count = Math.max(1, Math.round(asked.rate * trial.durationS));
    await this.putLatencyStream(trial.frame, asked.rate, count);
    const captures = await Tcpdump.startAll(this.shell, this.latencyCaptureSpecs());
    try {
      const before = await this.counters();
      // The latency stream's own output is not read: the captures say what it sent.
      const stream = `${this.tcpreplay(`-i ${shq(this.txPort)} --pps=${asked.rate} ${shq(this.remote.latency)}`)} >/dev/null`;
      let load: Loads = { forward: { offered: 0, sent: 0, seconds: 0 } };
      if (trial.rate > 0) load = await this.replayLoad(trial, trial.durationS + 2 * LOAD_LEAD_S, `sleep ${LOAD_LEAD_S}; ${stream}`);
      else await this.shell.run(stream, { timeoutMs: Math.ceil(trial.durationS * 3000) + 30_000 });
      const after = await this.drained();
      const complete = await Tcpdump.stopAll(captures.splice(0)).then(
        () => null,
        (err: unknown) => errorMessage(err),
      );
      const latency = await this.latencyFromCaptures(asked.streamId, complete);
      // The ports count the latency stream too: the load is the rest.
      return {
        ...trialResultOf(
          trial,
          load,
          Math.max(0, this.rxDelta(before, after) - latency.result.received - latency.result.duplicated),
          this.rxDelta(before, after, this.txPort),
        ),
        ...latency.trial,
      };
    } finally {
      await Promise.all(captures.map((c) => c.abandon()));
    }
  }

  /** The latency stream's pcap on the TG: `count` frames at `rate` (written once per size and count). */
  private async putLatencyStream(frame: number, rate: number, count: number): Promise<void> {
    const key = `${frame}-${count}`;
    if (this.latencyPut === key) return;
    const file = join(this.local(), `latency-${key}.pcap`);
    writeStreamPcap(file, latencyStream(this.tb, frame, rate, count));
    await this.shell.put(file, this.remote.latency);
    this.latencyPut = key;
  }

  private latencyPut = '';

  /** The directory here for the latency stream's pcaps, made when first needed; cleanup removes it. */
  private local(): string {
    this.localDir ??= mkdtempSync(join(tmpdir(), 'dutlab-latency-'));
    return this.localDir;
  }

  private async latencyFromCaptures(
    streamId: number,
    incomplete: string | null,
  ): Promise<{ result: LatencyResult; trial: Pick<TrialResult, 'latency' | 'latencyPackets'> }> {
    const local = { tx: join(this.local(), 'latency-tx.pcap'), rx: join(this.local(), 'latency-rx.pcap') };
    await this.shell.get(this.remote.latencyTx, local.tx);
    await this.shell.get(this.remote.latencyRx, local.rx);
    const sent = await seenInCapture(local.tx);
    const received = await seenInCapture(local.rx);
    const result = latencyOfPackets(streamId, sent, received);
    if (incomplete) result.invalid = [`a capture of the latency stream was incomplete (${incomplete})`, result.invalid].filter(Boolean).join('; ');
    return { result, trial: { latency: result, latencyPackets: { sent, received } } };
  }

  /** The counters once the receive port has stopped counting for 200 ms (at most 2 s): frames in flight are counted. */
  private drained(): Promise<TgSnapshot> {
    return waitUntilSteady(
      `the counters of ${this.rxPort}`,
      () => this.counters(),
      // Both ways: the transmit port's receive counter too (the reverse stream's return).
      (snap) => (snap.ports[this.rxPort]?.rxPackets ?? 0) + (this.reverseTrials ? (snap.ports[this.txPort]?.rxPackets ?? 0) : 0),
      {
        quietMs: 200,
        timeoutMs: 2000,
        intervalMs: 200,
      },
    );
  }

  private async stopCapture(files: CaptureFiles, reverse?: CaptureFiles): Promise<void> {
    if (this.captures.length === 0) throw new Error('no capture running');
    await Tcpdump.stopAll(this.captures.splice(0));
    await this.shell.get(this.remote.rx, files.rx);
    await this.shell.get(this.remote.tx, files.tx);
    if (reverse) await this.shell.get(this.remote.reverseRx, reverse.rx);
    if (reverse) await this.shell.get(this.remote.reverseTx, reverse.tx);
  }

  /**
   * Until no packet of the stream has arrived for the quiet period (the watch
   * capture stopped growing), within a bound: a DUT that keeps sending the
   * stream back (a loop) cannot hold the run forever. Never a byte budget:
   * a DUT that multiplies packets sends more bytes than the stream.
   */
  private async awaitStreamEnd(bothWays: boolean): Promise<void> {
    const quietMs = this.tb.verify.quietMs;
    // Both ways: both watch captures, summed.
    const watches = [this.remote.watch, ...(bothWays ? [this.remote.reverseWatch] : [])].map(shq).join(' ');
    const size = async () =>
      (await this.shell.run(`stat -c %s ${watches}`, { okExitCodes: [0, 1] })).stdout
        .trim()
        .split('\n')
        .reduce((a, l) => a + (Number(l) || 0), 0);
    // Never quiet within the bound: the captures are stopped all the same, and the checks judge what came back.
    await waitUntilSteady("the return port's watch capture", size, (n) => n, { quietMs, timeoutMs: Math.max(30_000, quietMs * 10), intervalMs: 100 });
  }

  async cleanup(): Promise<void> {
    await Promise.all(this.captures.splice(0).map((c) => c.abandon()));
    const captures = [...this.captureSpecs(true), ...this.latencyCaptureSpecs(), this.burstCaptureSpec()];
    const files = [
      this.remoteTx,
      this.remote.latency,
      this.remote.loadOut,
      this.remote.reverse,
      this.remote.reverseOut,
      ...captures.flatMap((c) => [c.file, c.logFile]),
    ];
    if (this.localDir) rmSync(this.localDir, { recursive: true, force: true });
    this.localDir = null;
    this.latencyPut = '';
    await this.shell.run(`rm -f ${files.map(shq).join(' ')}`, {
      okExitCodes: [0, 1],
    });
  }
}

/** The run's files on the TG (the reverse stream's where the run goes both ways). */
type RemoteFile = 'rx' | 'tx' | 'watch' | 'latency' | 'loadOut' | 'latencyTx' | 'latencyRx' | 'burstTx' | ReverseFile;
type ReverseFile = 'reverse' | 'reverseOut' | 'reverseRx' | 'reverseTx' | 'reverseWatch';

/** The line between the forward and the reverse tcpreplay's output in a two-way load's transcript. */
const REVERSE_OUTPUT = '--- the reverse stream (from the receive port) ---';

/** The load runs this long before and after the latency stream: the latency packets see the load, never its start or end. */
const LOAD_LEAD_S = 0.3;
