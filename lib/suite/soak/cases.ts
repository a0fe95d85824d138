// The soak: one steady stream for minutes or hours (soak.durationS at
// soak.rate), sampled every soak.intervalS while it flows: the resident
// memory and open files of ovs-vswitchd, QEMU (where the run started one) and
// the processes the testbed watches, and the free hugepages. Judged once the
// stream ended: its loss events from the sequence numbers (each with when it
// began and how long it lasted) within soak.maxLossEvents, and no watched
// process growing beyond soak.maxGrowthMbPerHour (a fitted slope with its
// confidence, after the settling time). What it sampled is in the record as
// it goes: an interrupted soak keeps it.
import { join } from 'node:path';
import { CaptureError, CheckFailure, errorMessage } from '../../errors.js';
import type { PmdStats } from '../../parsers/ovs-dpdk.js';
import { pmdStats } from '../../scenario/readback.js';
import { pmdIntervals, type SoakMeasured, type SoakSample } from '../../results/soak.js';
import type { LabRun, Stage } from '../../scenario/lab-run.js';
import { freeHugepagesFile } from '../../testbed/sizing.js';
import { readPcap, writeStreamPcap } from '../../traffic/pcap.js';
import { isStreamFrame, OFF_SEQ, streamFromTestbed, streamSeed, type StreamSpec } from '../../traffic/stream.js';
import { checkSentAll, steadyStream, type StreamClock } from '../steady-stream.js';
import { shq } from '../../transport/quote.js';
import { memoryGrowth } from '../../verify/growth.js';
import { WindowLatency } from '../../verify/latency-windows.js';
import { waitUntil } from '../../wait.js';

/** The processes a soak samples: ovs-vswitchd, QEMU where the testbed has a VM, and the testbed's own. */
export function watchedOf(run: LabRun): Array<{ name: string; pidfile: string }> {
  const tb = run.tb;
  return [{ name: 'ovs-vswitchd', pidfile: tb.paths.vswitchdPidfile }, ...(tb.vm ? [{ name: 'qemu', pidfile: tb.vm.pidfile }] : []), ...tb.soak.watch];
}

/** One command that prints, a line each, `<rss kB> <open files>` of each pidfile's process (`- -` where it is gone), then the free hugepages. */
export function sampleCommand(pidfiles: string[], hugepageSizeKb: number): string {
  const each = `for f in ${pidfiles.map(shq).join(' ')}; do p=$(cat "$f" 2>/dev/null); if [ -n "$p" ] && [ -r "/proc/$p/status" ]; then echo "$(awk '/^VmRSS:/ { print $2 }' "/proc/$p/status") $(ls "/proc/$p/fd" 2>/dev/null | wc -l)"; else echo '- -'; fi; done`;
  return `${each}; cat ${shq(freeHugepagesFile(hugepageSizeKb))} 2>/dev/null || echo -`;
}

/** A sample read from sampleCommand's output. */
export function parseSample(t: number, names: string[], out: string): SoakSample {
  const lines = out.trim().split('\n');
  const num = (s: string | undefined) => (s !== undefined && /^\d+$/.test(s) ? Number(s) : null);
  const processes = Object.fromEntries(
    names.map((n, i) => {
      const [rss, fds] = (lines[i] ?? '').trim().split(/\s+/);
      return [n, { rssKb: num(rss), fds: num(fds) }];
    }),
  );
  return { t, hugepagesFree: num(lines[names.length]?.trim()), processes };
}

export class SoakTest {
  private readonly stream: StreamSpec;
  private readonly result: SoakMeasured;

  constructor(private readonly run: LabRun) {
    const s = run.tb.soak;
    const rate = s.rate ?? run.tb.traffic.rate;
    this.stream = streamFromTestbed(run.tb, streamSeed(run.config.runId), { rate, count: Math.round(rate * s.durationS) });
    this.result = {
      kind: 'soak',
      rate,
      durationS: s.durationS,
      intervalS: s.intervalS,
      frames: this.stream.count,
      samples: [],
      maxLossEvents: s.maxLossEvents,
      maxGrowthMbPerHour: s.maxGrowthMbPerHour,
      windowS: s.windowS,
      ...(s.maxP99Us !== undefined ? { maxP99Us: s.maxP99Us } : {}),
    };
  }

  stages(): Stage[] {
    const m = this.result;
    return [
      {
        id: 'soak.prepare',
        title: 'Prepare the traffic generator and the steady stream',
        group: 'traffic',
        needs: [this.run.setupDone],
        run: () => this.prepare(),
      },
      {
        id: 'soak.stream',
        title: `A steady stream of ${m.rate} frames/s for ${m.durationS} s, sampled every ${m.intervalS} s`,
        group: 'traffic',
        needs: ['soak.prepare'],
        run: () => this.soak(),
      },
      {
        id: 'check.loss-events',
        title: `Loss events: at most ${m.maxLossEvents} over the soak`,
        group: 'checks',
        needs: ['soak.stream'],
        run: () => this.checkLossEvents(),
      },
      {
        id: 'check.latency-windows',
        title:
          m.maxP99Us === undefined
            ? `Latency per window of ${m.windowS} s: p50, p99 and the maximum (no bound: soak.maxP99Us)`
            : `Latency per window of ${m.windowS} s: p99 at most ${m.maxP99Us} µs in every window`,
        group: 'checks',
        needs: ['soak.stream'],
        run: () => this.checkLatencyWindows(),
      },
      {
        id: 'check.memory',
        title: `Memory: no watched process grows beyond ${m.maxGrowthMbPerHour} MB/h`,
        group: 'checks',
        needs: ['soak.stream'],
        run: () => this.checkMemory(),
      },
    ];
  }

  private async prepare(): Promise<void> {
    await (await this.run.trafficGenerator()).prepare();
    writeStreamPcap(join(this.run.dir, 'tx.pcap'), this.stream);
  }

  /** The stream, sampled every interval while it flows; then its return read by interval. */
  private async soak(): Promise<void> {
    // Fault injection (an outage helper's script) begins here, as the PVP suite's does.
    await this.run.runHookBeforeTraffic();
    const { sent, verdict: v } = await steadyStream(this.run, this.stream, (clock) => this.sampleWhileStreaming(clock), {
      intervalS: this.result.intervalS,
      eventSample: 100,
    });
    Object.assign(this.result, {
      sent: sent.packetsSent,
      received: v.received,
      ...(v.gaps ? { gaps: v.gaps } : {}),
      ...(v.lostPerInterval ? { lostPerInterval: v.lostPerInterval } : {}),
    });
    this.run.measured(this.result);
    this.run.table(this.pmdTable());
    checkSentAll(sent, this.stream, "the soak's loss cannot be read");
  }

  /** The PMDs' busy share and cycles per packet over the intervals: lowest, median, highest; or why not offered. */
  private pmdTable() {
    const per = pmdIntervals(this.result.samples);
    const spread = (xs: number[]) => {
      const s = [...xs].sort((a, b) => a - b);
      return s.length ? [s[0]!, s[Math.floor(s.length / 2)]!, s.at(-1)!].map(String) : ['not measured', 'not measured', 'not measured'];
    };
    const of = (k: 'busyPct' | 'cyclesPerPacket') => per.flatMap((x) => (x[k] === null ? [] : [x[k]!]));
    return {
      title: 'Soak: the PMD threads per interval',
      columns: ['figure', 'intervals', 'lowest', 'median', 'highest'],
      rows: this.result.pmdNotOffered
        ? [['busy share (%)', '0', 'not offered', 'not offered', 'not offered']]
        : [
            ['busy share (%)', String(of('busyPct').length), ...spread(of('busyPct'))],
            ['processing cycles per packet', String(of('cyclesPerPacket').length), ...spread(of('cyclesPerPacket'))],
          ],
      notes: [
        this.result.pmdNotOffered
          ? `not offered: ${this.result.pmdNotOffered}`
          : "pmd-stats-show read at every sample (never cleared): each interval the PMDs' processing cycles over their processing and idle cycles, and over the packets they received",
      ],
    };
  }

  /** A sample every interval until the stream ends; the record saved every tenth (an interrupted soak keeps them). */
  private async sampleWhileStreaming(clock: StreamClock): Promise<void> {
    const watched = watchedOf(this.run);
    const command = sampleCommand(
      watched.map((w) => w.pidfile),
      this.run.tb.ovsDpdk.hugepageSizeKb,
    );
    const shell = this.run.session.shell('host');
    const names = watched.map((w) => w.name);
    const once = async () => {
      if (clock.ended()) return true;
      const t = (Date.now() - clock.startedAt) / 1000;
      const out = await shell.run(command, { timeoutMs: 10_000 });
      const sample = parseSample(Math.round(t * 1000) / 1000, names, out.stdout);
      const pmd = await this.pmdCycles();
      this.result.samples.push(pmd ? { ...sample, pmd } : sample);
      if (this.result.samples.length % 10 === 1) this.run.measured(this.result);
      return false;
    };
    await waitUntil(`the soak's ${this.result.durationS} s stream to end`, once, {
      timeoutMs: (this.result.durationS + 120) * 1000,
      intervalMs: this.result.intervalS * 1000,
    });
  }

  /**
   * The PMD threads' cycles and packets now (pmd-stats-show, summed over the PMDs), or null where not offered: the
   * first refusal or a datapath without PMD threads is said once, and not asked again.
   */
  private async pmdCycles(): Promise<SoakSample['pmd'] | null> {
    if (this.result.pmdNotOffered) return null;
    let stats: PmdStats;
    try {
      stats = await pmdStats(this.run.session);
    } catch (err) {
      this.result.pmdNotOffered = `pmd-stats-show: ${errorMessage(err).split('\n')[0]}`;
      return null;
    }
    const pmds = stats.threads.filter((th) => th.cycles);
    if (pmds.length === 0) {
      this.result.pmdNotOffered = 'the datapath has no PMD thread (pmd-stats-show lists the main thread only)';
      return null;
    }
    const sum = (f: (th: (typeof pmds)[number]) => number) => pmds.reduce((a, th) => a + f(th), 0);
    return { processing: sum((th) => th.cycles!.processing), idle: sum((th) => th.cycles!.idle), packets: sum((th) => th.packetsReceived) };
  }

  private async checkLossEvents(): Promise<void> {
    const g = this.result.gaps;
    if (!g) throw new Error('the return capture was not read');
    const events = g.sample.map((e) => `${e.frames} frames from ${(e.startMs / 1000).toFixed(2)} s (${e.lengthMs} ms)`);
    const line = `${g.events} loss event${g.events === 1 ? '' : 's'} over ${this.result.durationS} s (${g.lost} of ${this.result.frames} frames lost)${events.length > 0 ? `: ${events.join('; ')}${g.events > events.length ? '; ...' : ''}` : ''}`;
    this.run.table(this.lossTable());
    CheckFailure.ifAny('loss events', g.events > this.result.maxLossEvents ? [`${line}: more than soak.maxLossEvents ${this.result.maxLossEvents}`] : [], g);
    this.run.note(`soak: ${line}`);
  }

  /** The stream's latency per window, from its two captures on the generator; windows above soak.maxP99Us fail. */
  private async checkLatencyWindows(): Promise<void> {
    const m = this.result;
    const w = new WindowLatency(this.stream.count, m.rate, m.windowS!);
    const seqOf = (d: Buffer) => (d.length >= OFF_SEQ + 4 && isStreamFrame(d, this.stream.runId) ? d.readUInt32BE(OFF_SEQ) : null);
    await readPcap(join(this.run.dir, 'tx-capture.pcap'), (d, us) => {
      const seq = seqOf(d);
      if (seq !== null) w.sent(seq, us);
    });
    await readPcap(join(this.run.dir, 'rx.pcap'), (d, us) => {
      const seq = seqOf(d);
      if (seq !== null) w.received(seq, us);
    });
    m.latencyWindows = w.windows();
    const invalid = w.invalid();
    if (invalid) m.latencyInvalid = invalid;
    this.run.measured(m);
    const ms = (us: number | null) => (us === null ? 'not measured' : (us / 1000).toFixed(3));
    this.run.table({
      title: 'Soak: one-way latency per window',
      columns: ['window from', 'frames', 'p50 (ms)', 'p99 (ms)', 'max (ms)'],
      rows: m.latencyWindows.slice(0, 60).map((x) => [`${x.fromS} s`, String(x.n), ms(x.p50Us), ms(x.p99Us), ms(x.maxUs)]),
      notes: [
        `windows of ${m.windowS} s by when each frame was sent; the stream captured leaving and coming back on the generator (one clock)${m.latencyWindows.length > 60 ? '; the first 60 shown' : ''}`,
        ...(invalid ? [`not measured: ${invalid}`] : []),
      ],
    });
    // A capture that missed what left says nothing of the DUT's latency: the lab's.
    if (invalid && m.maxP99Us !== undefined) throw new CaptureError(`the soak's latency: ${invalid}`);
    const over = m.maxP99Us === undefined ? [] : m.latencyWindows.filter((x) => x.p99Us !== null && x.p99Us > m.maxP99Us!);
    CheckFailure.ifAny(
      'latency',
      over.length
        ? [
            `p99 above soak.maxP99Us ${m.maxP99Us} µs in ${over.length} of ${m.latencyWindows.length} windows of ${m.windowS} s: ${over
              .slice(0, 5)
              .map((x) => `from ${x.fromS} s ${x.p99Us} µs`)
              .join('; ')}${over.length > 5 ? '; ...' : ''}`,
          ]
        : [],
      over,
    );
  }

  private async checkMemory(): Promise<void> {
    const s = this.run.tb.soak;
    const growth = watchedOf(this.run).map((w) =>
      memoryGrowth(
        w.name,
        this.result.samples.flatMap((x) => (x.processes[w.name]?.rssKb !== null && x.processes[w.name] ? [[x.t, x.processes[w.name]!.rssKb!] as const] : [])),
        s.settleS,
        s.maxGrowthMbPerHour,
      ),
    );
    this.result.growth = growth;
    this.run.measured(this.result);
    this.run.table({
      title: 'Soak: resident memory of the watched processes',
      columns: ['process', 'samples fitted', 'first (kB)', 'last (kB)', 'growth (MB/h, 95 %)', 'verdict'],
      rows: growth.map((g) => [
        g.name,
        String(g.fitted),
        String(g.firstKb ?? '-'),
        String(g.lastKb ?? '-'),
        g.slopeMbPerHour === null ? 'not measured' : `${g.slopeMbPerHour.toFixed(2)} (${g.lowMbPerHour!.toFixed(2)} to ${g.highMbPerHour!.toFixed(2)})`,
        g.flagged ? 'GROWS' : 'steady',
      ]),
      notes: [
        `fitted after ${s.settleS} s (a step at start-up is not growth); flagged where the slope's lower 95 % bound is above ${s.maxGrowthMbPerHour} MB/h`,
      ],
    });
    CheckFailure.ifAny(
      'memory',
      growth.filter((g) => g.flagged).map((g) => g.text),
      growth,
    );
  }

  /** The intervals that lost frames, with when they began. */
  private lossTable() {
    const per = this.result.lostPerInterval ?? [];
    const rows = per.flatMap((lost, i) => (lost > 0 ? [[`${(i * this.result.intervalS).toFixed(1)} s`, String(lost)]] : []));
    return {
      title: 'Soak: frames lost per interval',
      columns: ['interval from', 'frames lost'],
      rows: rows.slice(0, 50),
      notes: [
        `${per.length} intervals of ${this.result.intervalS} s, ${rows.length} with loss${rows.length > 50 ? ' (the first 50 shown)' : ''}; an interval is the frames sent in it (sequence number over the rate)`,
      ],
    };
  }
}
