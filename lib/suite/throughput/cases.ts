// The throughput suite's stages: on the profile's setup, the generator's own
// limit measured with the guest bypassed, then an NDR/PDR search per frame
// size (lib/throughput/search.ts) through the guest, as the PVP stream goes.
// The result is a measurement; the gate is `dutlab compare` against a baseline.
import { join } from 'node:path';
import { CheckFailure } from '../../errors.js';
import type { ThroughputMeasured, ThroughputResult } from '../../results/throughput.js';
import { throughputTable } from './result.js';
import { type Goal, bitsPerSecond, searchThroughput, type SearchConfig } from '../../throughput/search.js';
import { shq } from '../../transport/quote.js';
import { writeStreamPcap } from '../../traffic/pcap.js';
import { reverseStreamFromTestbed, streamFromTestbed } from '../../traffic/stream.js';
import { searchCeiling } from '../../testbed/sizing.js';
import type { MeasuringTrafficGenerator, TrialResult } from '../../traffic/tg.js';
import type { LatencyResult } from '../../results/latency.js';
import type { LabRun, Stage } from '../../scenario/lab-run.js';
import { latencyAtLoads, streamAloneLatency } from './latency.js';
import { DatapathWarmth } from './warm-up.js';
import { latencyTables } from './result.js';

/** The bypass flow's cookie: what the calibration adds, and removes by it alone. */
const BYPASS_COOKIE = '0xd17ab';

export class ThroughputTest {
  private tg: MeasuringTrafficGenerator | null = null;
  /** What the calibration found the generator and its wires carry (frames/s), where it ran. */
  private calibrated: number | null = null;
  private calibration: ThroughputResult['calibration'] = null;
  /** One search per frame size, as they finish. */
  private results: ThroughputResult[] = [];

  constructor(private readonly run: LabRun) {}

  /** The highest load of a search at a frame size: the testbed's ceiling, and no more than the calibration saw carried. */
  private maxRateAt(frame: number): number {
    const ceiling = searchCeiling(this.run.tb, frame);
    return this.calibrated === null ? ceiling : Math.min(ceiling, this.calibrated);
  }

  stages(): Stage[] {
    const t = this.run.tb.throughput;
    return [
      { id: 'throughput.prepare', title: 'Prepare the traffic generator for trials', group: 'traffic', needs: [this.run.setupDone], run: () => this.prepare() },
      ...(t.calibrate === 'bypass-flow'
        ? [
            {
              id: 'throughput.calibrate',
              title: "Measure the generator's own limit, the guest bypassed by a temporary flow",
              group: 'traffic' as const,
              needs: ['throughput.prepare'],
              run: () => this.calibrate(),
            },
          ]
        : []),
      ...t.frameSizes.map(
        (frame): Stage => ({
          id: `throughput.ndr-pdr-${frame}`,
          title: `NDR and PDR (loss ratio ${t.pdr.lossRatio}) at ${frame}-byte frames`,
          group: 'checks',
          needs: [t.calibrate === 'bypass-flow' ? 'throughput.calibrate' : 'throughput.prepare'],
          run: () => this.search(frame),
        }),
      ),
      ...(t.latency.loads.length
        ? t.frameSizes.map(
            (frame): Stage => ({
              id: `throughput.latency-${frame}`,
              title: `One-way latency at ${t.latency.loads.map((l) => `${Math.round(l * 100)} %`).join(', ')} of the PDR at ${frame}-byte frames`,
              group: 'checks',
              needs: [`throughput.ndr-pdr-${frame}`],
              run: () => this.latency(frame),
            }),
          )
        : []),
    ];
  }

  private async prepare(): Promise<void> {
    this.tg = await this.run.trafficGenerator();
    // Before the first trial (the calibration's, then the searches'): a fault injected there is what the search measures.
    await this.run.runHookBeforeTraffic();
  }

  /** The trial frames at a size, on the generator. */
  private async useFrame(frame: number): Promise<void> {
    const file = join(this.run.dir, `trial-${frame}.pcap`);
    // Every flow of the testbed's traffic at least once in the looped pcap (a trial exercises them all), unless the
    // generator makes the flows itself from the first frame.
    const flows = this.tg!.makesFlows ? 1 : (this.run.tb.traffic.flows?.count ?? 1);
    const count = Math.max(this.run.tb.throughput.trialFrames, flows);
    const spec = streamFromTestbed(this.run.tb, 1, { count, sizes: [frame] });
    writeStreamPcap(file, spec);
    // Both ways: the reverse stream's trial frames beside (traffic.direction both).
    const reverse = this.run.tb.traffic.direction === 'both' ? join(this.run.dir, `trial-${frame}-reverse.pcap`) : undefined;
    if (reverse) writeStreamPcap(reverse, reverseStreamFromTestbed(this.run.tb, 1, { count, sizes: [frame] }));
    await this.tg!.prepareTrials(file, spec.count, reverse);
  }

  private ovs(line: string): Promise<unknown> {
    return this.run.session.shell('host').run(`${this.run.profile.tool('ovs-ofctl')} ${line}`, this.run.profile.hostContext(this.run.tb));
  }

  /**
   * A flow straight from the ingress to the egress phy port, above the
   * guide's: a second at the maximum load shows what the generator (and the
   * switch alone) can do. The search's loads never go above it.
   */
  private async calibrate(): Promise<void> {
    const { phyIngress, phyEgress } = this.run.topology;
    const bridge = shq(this.run.tb.bridge);
    await this.useFrame(this.run.tb.throughput.frameSizes[0]!);
    await this.ovs(`add-flow ${bridge} cookie=${BYPASS_COOKIE},priority=65535,in_port=${phyIngress.ofport},actions=output:${phyEgress.ofport}`);
    // Both ways: the reverse stream bypasses the guest too.
    if (this.run.tb.traffic.direction === 'both')
      await this.ovs(`add-flow ${bridge} cookie=${BYPASS_COOKIE},priority=65535,in_port=${phyEgress.ofport},actions=output:${phyIngress.ofport}`);
    let r: TrialResult;
    let latency: LatencyResult | undefined;
    const frame = this.run.tb.throughput.frameSizes[0]!;
    try {
      r = await this.tg!.measure({ rate: searchCeiling(this.run.tb, frame), durationS: 1, frame });
      // The generator's own latency, back to back but for the switch: what every figure of the DUT's includes.
      if (this.run.tb.throughput.latency.loads.length) latency = await streamAloneLatency(this.tg!, this.run, frame);
    } finally {
      await this.ovs(`del-flows ${bridge} cookie=${BYPASS_COOKIE}/-1`);
    }
    this.calibration = { achievedRate: Math.round(r.achievedRate), received: r.received, sent: r.sent, durationS: 1, ...(latency ? { latency } : {}) };
    // What came back with the guest bypassed is what the generator and its wires can carry.
    // (Both ways: the slower direction's, each direction offered the rate.)
    const received = r.directions ? Math.min(r.directions.forward.received, r.directions.reverse.received) : r.received;
    this.calibrated = Math.max(this.run.tb.throughput.minRate, Math.floor(Math.min(r.achievedRate, received) * 0.98));
    const back = r.directions
      ? `forward ${r.directions.forward.received} of ${r.directions.forward.sent}, reverse ${r.directions.reverse.received} of ${r.directions.reverse.sent} came back`
      : `${r.received} of ${r.sent} came back`;
    this.run.note(
      `calibration, guest bypassed: the generator offered ${searchCeiling(this.run.tb, frame)} frames/s${r.directions ? ' each way' : ''}, reached ${Math.round(r.achievedRate)}, ${back}: the search stays at or below ${this.calibrated} frames/s`,
    );
  }

  /** One frame size's result, kept and shown as it grows. */
  private keep(out: ThroughputResult): void {
    this.results = [...this.results.filter((x) => x.frame !== out.frame), out].sort((a, b) => a.frame - b.frame);
    this.run.measured({ kind: 'throughput', results: this.results } as ThroughputMeasured);
    this.run.table(throughputTable(this.results));
    for (const t of latencyTables(this.results)) this.run.table(t);
  }

  /** The latency at the testbed's loads of this frame size's PDR. */
  private async latency(frame: number): Promise<void> {
    const out = this.results.find((r) => r.frame === frame)!;
    const pdr = out.goals.find((g) => g.goal === 'PDR')?.lowerBound ?? null;
    if (pdr === null) {
      this.run.note(`latency at ${frame}-byte frames not measured: the search found no PDR`);
      return;
    }
    const stream = this.run.tb.throughput.latency.rate;
    // CSIT's latency streams are a few frames a second against millions: one that is a share of the load changes what it measures.
    if (stream > pdr * 0.05)
      this.run.note(
        `latency at ${frame}-byte frames: the latency stream (${stream} frames/s) is ${((stream / pdr) * 100).toFixed(0)} % of the PDR (${Math.round(pdr)} frames/s) and adds to every load; throughput.latency.rate at most ${Math.floor(pdr * 0.05)} keeps it under 5 %`,
      );
    this.keep({ ...out, latency: await latencyAtLoads(this.tg!, this.run, frame, pdr) });
  }

  private async search(frame: number): Promise<void> {
    const t = this.run.tb.throughput;
    await this.useFrame(frame);
    const goals: Goal[] = [
      { name: 'NDR', ...t.ndr },
      { name: 'PDR', ...t.pdr },
    ];
    const maxRate = this.maxRateAt(frame);
    const config: SearchConfig = { goals, minRate: t.minRate, maxRate, maxTrials: t.maxTrials, maxSearchS: t.maxSearchS };
    const warmth = new DatapathWarmth(this.run, this.tg!, frame);
    const result = await searchThroughput(config, async (rate, durationS) => {
      await warmth.beforeTrial(maxRate);
      const m = await this.tg!.measure({ rate, durationS, frame });
      const upcalls = await warmth.afterTrial();
      return { rate, durationS, ...m, ...(upcalls !== null ? { upcalls } : {}) };
    });
    const { warmUp, notes } = warmth.record(result.trials);
    for (const n of notes) this.run.note(n);
    const out: ThroughputResult = {
      frame,
      calibration: this.calibration,
      generatorLimit: result.generatorLimit,
      maxRate,
      goals: result.goals.map((g) => ({ ...g, lowerBps: g.lowerBound !== null ? bitsPerSecond(g.lowerBound, frame) : null })),
      trials: result.trials,
      warmUp,
      ...(this.run.tb.traffic.direction === 'both' ? { direction: 'both' as const } : {}),
    };
    this.keep(out);
    const ndr = out.goals.find((g) => g.goal === 'NDR');
    if (ndr && ndr.lowerBound === null)
      throw new CheckFailure(
        'throughput',
        `at ${frame}-byte frames no load down to ${t.minRate} frames/s was forwarded without loss (NDR below the minimum load)`,
        out,
      );
  }
}
