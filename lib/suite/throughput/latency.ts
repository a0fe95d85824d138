// One-way latency after a search, as FD.io CSIT measures it: the latency
// stream alone, then on top of 10, 50 and 90 % of that search's PDR (the
// testbed's throughput.latency.loads), one trial each; the generator's own,
// the guest bypassed, beside it; and at the stream-alone load, where the
// guest shares the generator's clock (one kernel: the namespace lab), the
// same packets caught on the guest's links, so the end-to-end figure splits
// into the path's hops.
import { errorMessage } from '../../errors.js';
import { latencyOfPackets, type LatencyResult, type SeenPacket } from '../../results/latency.js';
import type { HopLatency, LatencyAtLoad, ThroughputLatency } from '../../results/throughput.js';
import type { LabRun } from '../../scenario/lab-run.js';
import type { Hop } from '../../testbed/path.js';
import { shq } from '../../transport/quote.js';
import { latencyFilter, LATENCY_SNAPLEN, seenInCapture } from '../../traffic/latency-stream.js';
import { captureRecordOf, Tcpdump, type CaptureSpec } from '../../traffic/tcpdump.js';
import type { MeasuringTrafficGenerator, TrialResult } from '../../traffic/tg.js';
import { join } from 'node:path';

/** The latency stream's id (TRex's pg_id). */
export const LATENCY_STREAM_ID = 7;

/** A trial's latency figures: a generator that returns none for a trial that asked is a fault of the driver's. */
function figures(r: TrialResult): LatencyResult {
  if (!r.latency) throw new Error('the generator returned no latency for a trial that asked for it');
  return r.latency;
}

/** The generator's own latency: the stream alone, whatever carries it (the bypass flow of the calibration). */
export async function streamAloneLatency(tg: MeasuringTrafficGenerator, run: LabRun, frame: number): Promise<LatencyResult> {
  const l = run.tb.throughput.latency;
  return figures(await tg.measure({ rate: 0, durationS: l.durationS, frame, latency: { streamId: LATENCY_STREAM_ID, rate: l.rate } }));
}

/** The latency at each of the testbed's loads of the PDR found at `frame`. */
export async function latencyAtLoads(tg: MeasuringTrafficGenerator, run: LabRun, frame: number, pdr: number): Promise<ThroughputLatency> {
  const l = run.tb.throughput.latency;
  const out: ThroughputLatency = { rate: l.rate, durationS: l.durationS, pdr, loads: [] };
  for (const load of l.loads) {
    const rate = Math.round(load * pdr);
    const started = load === 0 ? await GuestLatencyCaptures.start(run) : null;
    if (typeof started === 'string') out.hopsNot = started;
    const hops = typeof started === 'string' ? null : started;
    const r = await tg.measure({ rate, durationS: l.durationS, frame, latency: { streamId: LATENCY_STREAM_ID, rate: l.rate } }).catch(async (err: unknown) => {
      // No capture on the guest outlives a trial that failed.
      await hops?.abandon();
      throw err;
    });
    const at: LatencyAtLoad = { load, rate, lossRatio: r.lossRatio, generatorShort: rate > 0 && r.generatorShort, latency: figures(r) };
    if (hops) {
      const split = await hops.split(r);
      if (typeof split === 'string') out.hopsNot = split;
      else at.hops = split;
    }
    out.loads.push(at);
  }
  return out;
}

/** The latency stream caught on the guest's two links, for one trial. */
class GuestLatencyCaptures {
  private constructor(
    private readonly run: LabRun,
    private readonly captures: Tcpdump[],
    private readonly points: Hop[],
  ) {}

  /** Started on the guest's links; or why not (a string), the trial goes on without them. */
  static async start(run: LabRun): Promise<GuestLatencyCaptures | string> {
    const points = run.path.hops.filter((h) => h.at.on === 'guest');
    try {
      const guest = run.session.shell('guest');
      const tg = run.session.shell('tg');
      const boot = 'cat /proc/sys/kernel/random/boot_id';
      const [g, t] = [(await guest.run(boot)).stdout.trim(), (await tg.run(boot)).stdout.trim()];
      if (g !== t) return "the guest runs on another kernel than the generator (another clock): its links' times cannot be set against the generator's";
      if ((await guest.run('command -v tcpdump', { okExitCodes: [0, 1, 127] })).exitCode !== 0) return 'the guest has no tcpdump';
      const work = run.tb.paths.workDir;
      const specs: CaptureSpec[] = points.map((h) => {
        const iface = (h.at as { iface: string }).iface;
        return {
          name: `latency-guest-${iface}`,
          iface,
          direction: (h.at as { dir: 'rx' | 'tx' }).dir === 'rx' ? 'in' : 'out',
          file: `${work}/${run.config.runId}-latency-guest-${iface}.pcap`,
          logFile: `${work}/latency-guest-${iface}.log`,
          filter: latencyFilter(run.tb),
          snaplen: LATENCY_SNAPLEN,
          record: captureRecordOf(run.tb, 'guest'),
        };
      });
      await guest.run(`mkdir -p ${shq(work)}`);
      run.teardown.defer('latency captures on the guest', () =>
        guest
          .run(
            `rm -f ${specs
              .flatMap((s) => [s.file, s.logFile])
              .map(shq)
              .join(' ')}`,
            { okExitCodes: [0, 1] },
          )
          .then(() => undefined),
      );
      return new GuestLatencyCaptures(run, await Tcpdump.startAll(guest, specs), points);
    } catch (err) {
      return `no capture on the guest's links: ${errorMessage(err)}`;
    }
  }

  /** Stops the captures without reading them. */
  async abandon(): Promise<void> {
    await Promise.all(this.captures.map((c) => c.abandon()));
  }

  /** The trial's latency packets at each point of the path, from the TG's transmit port to its receive port, hop by hop. */
  async split(r: TrialResult): Promise<HopLatency[] | string> {
    try {
      await Tcpdump.stopAll(this.captures);
      if (!r.latencyPackets) return 'the generator does not hand out its latency packets (only a capturing one does)';
      const seen: Array<{ label: string; packets: SeenPacket[] }> = [{ label: this.run.path.hops[0]!.label, packets: r.latencyPackets.sent }];
      for (const [i, c] of this.captures.entries()) {
        const local = join(this.run.dir, `${c.spec.name}.pcap`);
        await this.run.session.shell('guest').get(c.spec.file, local);
        seen.push({ label: this.points[i]!.label, packets: await seenInCapture(local) });
      }
      seen.push({ label: this.run.path.hops.at(-1)!.label, packets: r.latencyPackets.received });
      return seen.slice(1).map((to, i) => ({ from: seen[i]!.label, to: to.label, latency: latencyOfPackets(LATENCY_STREAM_ID, seen[i]!.packets, to.packets) }));
    } catch (err) {
      return `the guest's captures of the latency stream are not used: ${errorMessage(err)}`;
    } finally {
      await this.abandon();
    }
  }
}
