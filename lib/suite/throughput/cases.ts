// The throughput suite's stages: on the profile's setup, the generator's own
// limit measured with the guest bypassed, then an NDR/PDR search per frame
// size (lib/throughput/search.ts) through the guest, as the PVP stream goes.
// The result is a measurement; the gate is `dutlab compare` against a baseline.
import { join } from 'node:path';
import { CheckFailure, GeneratorShortError } from '../../errors.js';
import type { ThroughputMeasured, ThroughputResult } from '../../results/throughput.js';
import { throughputTable } from './result.js';
import { type Goal, type GoalResult, bitsPerSecond, searchThroughput, type SearchConfig } from '../../throughput/search.js';
import { shq } from '../../transport/quote.js';
import { writeStreamPcap } from '../../traffic/pcap.js';
import { reverseStreamFromTestbed, sizePattern, streamFromTestbed, streamSeed } from '../../traffic/stream.js';
import { searchCeiling } from '../../testbed/sizing.js';
import type { MeasuringTrafficGenerator, TrialResult } from '../../traffic/tg.js';
import type { LatencyResult } from '../../results/latency.js';
import type { LabRun, Stage } from '../../scenario/lab-run.js';
import { LATENCY_STREAM_ID, latencyAtLoads, streamAloneLatency } from './latency.js';
import { DatapathWarmth } from './warm-up.js';
import { StealWatch } from './steal.js';
import { lossCurve, lossCurveTable } from './loss-curve.js';
import { backToBack, backToBackTable } from './back-to-back.js';
import { recovery, recoveryTable } from './recovery.js';
import { DatapathTelemetry } from './telemetry.js';
import { latencyTables, telemetryTables } from './result.js';
import { byFrame, type FrameKey, frameKey, framesPhrase, meanFrame, smallestFrame, weightsOf } from '../../testbed/frame-mix.js';

/** The bypass flow's cookie: what the calibration adds, and removes by it alone. */
const BYPASS_COOKIE = '0xd17ab';

export class ThroughputTest {
  private tg: MeasuringTrafficGenerator | null = null;
  /** The search trials' watch on the TG host's steal time: a trial whose loss the generator's stall explains is measured again. */
  private steal: StealWatch | null = null;
  /** What the calibration found the generator and its wires carry (frames/s), where it ran. */
  private calibrated: number | null = null;
  private calibration: ThroughputResult['calibration'] = null;
  /** One search per frame size, as they finish. */
  private results: ThroughputResult[] = [];

  constructor(private readonly run: LabRun) {}

  /** The highest load of a search at a frame size: the testbed's ceiling, and no more than the calibration saw carried. */
  private maxRateAt(frame: FrameKey): number {
    const ceiling = searchCeiling(this.run.tb, frame);
    return this.calibrated === null ? ceiling : Math.min(ceiling, this.calibrated);
  }

  stages(): Stage[] {
    const t = this.run.tb.throughput;
    if (t.fixedLoad !== undefined) return this.fixedLoadStages(t.fixedLoad);
    return [
      this.prepareStage(),
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
      ...t.frameSizes.map(frameKey).map(
        (frame): Stage => ({
          id: `throughput.ndr-pdr-${frame}`,
          title: `NDR and PDR (loss ratio ${t.pdr.lossRatio}) at ${framesPhrase(frame)}`,
          group: 'checks',
          needs: [t.calibrate === 'bypass-flow' ? 'throughput.calibrate' : 'throughput.prepare'],
          run: () => this.search(frame),
        }),
      ),
      ...(t.telemetry
        ? t.frameSizes.map(frameKey).map(
            (frame): Stage => ({
              id: `throughput.telemetry-${frame}`,
              title: `Datapath telemetry in a trial at the PDR at ${framesPhrase(frame)}`,
              group: 'checks',
              needs: [`throughput.ndr-pdr-${frame}`],
              run: () => this.telemetry(frame),
            }),
          )
        : []),
      ...this.afterSearch(
        t.lossCurve,
        'loss-curve',
        (f) => `Frame loss rate at ${t.lossCurve!.loads.join(', ')} x the NDR at ${f}`,
        (f) => this.lossCurve(f),
      ),
      ...this.afterSearch(
        t.backToBack,
        'back-to-back',
        (f) => `Back-to-back frames at the generator's utmost rate at ${f}, ${t.backToBack!.repeats} times`,
        (f) => this.backToBack(f),
      ),
      ...this.afterSearch(
        t.recovery,
        'recovery',
        (f) => `System recovery from ${t.recovery!.overload} x the NDR to ${t.recovery!.recover} x at ${f}`,
        (f) => this.recovery(f),
      ),
      ...(t.latency.loads.length
        ? t.frameSizes.map(frameKey).map(
            (frame): Stage => ({
              id: `throughput.latency-${frame}`,
              title: `One-way latency at ${t.latency.loads.map((l) => `${Math.round(l * 100)} %`).join(', ')} of the PDR at ${framesPhrase(frame)}`,
              group: 'checks',
              needs: [`throughput.ndr-pdr-${frame}`],
              run: () => this.latency(frame),
            }),
          )
        : []),
    ];
  }

  /** A stage a frame size after its search, where the testbed asks for the test (`on`). */
  private afterSearch(on: unknown, id: string, title: (frames: string) => string, run: (frame: FrameKey) => Promise<void>): Stage[] {
    if (on === undefined) return [];
    return this.run.tb.throughput.frameSizes.map(frameKey).map((frame) => ({
      id: `throughput.${id}-${frame}`,
      title: title(framesPhrase(frame)),
      group: 'checks',
      needs: [`throughput.ndr-pdr-${frame}`],
      run: () => run(frame),
    }));
  }

  private prepareStage(): Stage {
    return {
      id: 'throughput.prepare',
      title: 'Prepare the traffic generator for trials',
      group: 'traffic',
      needs: [this.run.setupDone],
      run: () => this.prepare(),
    };
  }

  /** throughput.fixedLoad: no search, only the telemetry trial at the load, at each frame size. */
  private fixedLoadStages(rate: number): Stage[] {
    return [
      this.prepareStage(),
      ...this.run.tb.throughput.frameSizes.map(frameKey).map(
        (frame): Stage => ({
          id: `throughput.telemetry-${frame}`,
          title: `Datapath telemetry in a trial at the fixed load of ${rate} frames/s at ${framesPhrase(frame)}`,
          group: 'checks',
          needs: ['throughput.prepare'],
          run: () => this.fixedLoadTrial(frame, rate),
        }),
      ),
    ];
  }

  private async prepare(): Promise<void> {
    this.tg = await this.run.trafficGenerator();
    this.steal = new StealWatch(this.run.session.shell('tg'), this.run.tb.tg.steal, (line) => this.run.note(line));
    // Before the first trial (the calibration's, then the searches'): a fault injected there is what the search measures.
    await this.run.runHookBeforeTraffic();
    const t = this.run.tb.throughput;
    if (t.fixedLoad !== undefined && t.latency.loads.length > 0)
      this.run.note('latency not measured: throughput.fixedLoad runs no search, and the latency loads are shares of its PDR');
  }

  /** The trial frames at a size (a mix's in rounds of its weights), on the generator. */
  private async useFrame(frame: FrameKey): Promise<void> {
    const file = join(this.run.dir, `trial-${frame}.pcap`);
    // Every flow of the testbed's traffic at least once in the looped pcap (a trial exercises them all), unless the
    // generator makes the flows itself from the first frame.
    const flows = this.tg!.makesFlows ? 1 : (this.run.tb.traffic.flows?.count ?? 1);
    const sizes = sizePattern(weightsOf(frame));
    // Whole rounds of a mix: each size its share of every trial.
    const count = Math.ceil(Math.max(this.run.tb.throughput.trialFrames, flows) / sizes.length) * sizes.length;
    const spec = streamFromTestbed(this.run.tb, 1, { count, sizes });
    writeStreamPcap(file, spec);
    // Both ways: the reverse stream's trial frames beside (traffic.direction both).
    const reverse = this.run.tb.traffic.direction === 'both' ? join(this.run.dir, `trial-${frame}-reverse.pcap`) : undefined;
    if (reverse) writeStreamPcap(reverse, reverseStreamFromTestbed(this.run.tb, 1, { count, sizes }));
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
    const frame = frameKey(this.run.tb.throughput.frameSizes[0]!);
    await this.useFrame(frame);
    await this.ovs(`add-flow ${bridge} cookie=${BYPASS_COOKIE},priority=65535,in_port=${phyIngress.ofport},actions=output:${phyEgress.ofport}`);
    // Both ways: the reverse stream bypasses the guest too.
    if (this.run.tb.traffic.direction === 'both')
      await this.ovs(`add-flow ${bridge} cookie=${BYPASS_COOKIE},priority=65535,in_port=${phyEgress.ofport},actions=output:${phyIngress.ofport}`);
    const rate = searchCeiling(this.run.tb, frame);
    let r: TrialResult;
    let latency: LatencyResult | undefined;
    try {
      // Not watched for steal: at the generator's utmost the lab's CPUs are all busy, and what a stall costs is part of what it can do.
      r = await this.tg!.measure({ rate, durationS: 1, frame: smallestFrame(frame) });
      // The generator's own latency, back to back but for the switch: what every figure of the DUT's includes.
      if (this.run.tb.throughput.latency.loads.length) latency = await streamAloneLatency(this.tg!, this.run, smallestFrame(frame));
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
      `calibration, guest bypassed: the generator offered ${rate} frames/s${r.directions ? ' each way' : ''}, reached ${Math.round(r.achievedRate)}, ${back}: the search stays at or below ${this.calibrated} frames/s`,
    );
  }

  /** One frame size's result, kept and shown as it grows. */
  private keep(out: ThroughputResult): void {
    this.results = [...this.results.filter((x) => x.frame !== out.frame), out].sort((a, b) => byFrame(a.frame, b.frame));
    this.run.measured({ kind: 'throughput', results: this.results } as ThroughputMeasured);
    this.run.table(throughputTable(this.results));
    for (const t of latencyTables(this.results)) this.run.table(t);
    for (const t of telemetryTables(this.results)) this.run.table(t);
    for (const table of [lossCurveTable(this.results), backToBackTable(this.results), recoveryTable(this.results)]) if (table) this.run.table(table);
  }

  /** This frame size's search and its NDR (its lower bound), or null, noted as the reason `what` was not measured. */
  private ndrOf(frame: FrameKey, what: string): { out: ThroughputResult; ndr: number | null } {
    const out = this.results.find((r) => r.frame === frame)!;
    const ndr = out.goals.find((g) => g.goal === 'NDR')?.lowerBound ?? null;
    if (ndr === null) this.run.note(`${what} at ${framesPhrase(frame)} not measured: the search found no NDR`);
    return { out, ndr };
  }

  /** RFC 2544's frame loss rate at the testbed's shares of this frame size's NDR. */
  private async lossCurve(frame: FrameKey): Promise<void> {
    const { out, ndr } = this.ndrOf(frame, 'loss curve');
    if (ndr === null) return;
    await this.useFrame(frame);
    const stream = { streamId: LATENCY_STREAM_ID, rate: this.run.tb.throughput.latency.rate };
    const points = await lossCurve(
      this.tg!,
      smallestFrame(frame),
      ndr,
      this.run.tb.throughput.lossCurve!,
      this.maxRateAt(frame),
      (l) => this.run.note(l),
      stream,
    );
    this.keep({ ...out, lossCurve: points });
  }

  /** RFC 2544's back-to-back frames at this frame size, corrected with its NDR (RFC 9004). */
  private async backToBack(frame: FrameKey): Promise<void> {
    const { out, ndr } = this.ndrOf(frame, "back-to-back's correction");
    await this.useFrame(frame);
    this.keep({ ...out, backToBack: await backToBack(this.tg!, this.run.tb.throughput.backToBack!, ndr === null ? null : Math.round(ndr)) });
  }

  /** RFC 2544's system recovery at this frame size: from an overload of its NDR to a load below it. */
  private async recovery(frame: FrameKey): Promise<void> {
    const { out, ndr } = this.ndrOf(frame, 'system recovery');
    if (ndr === null) return;
    const o = { frame: smallestFrame(frame), ndr: Math.round(ndr), runWord: streamSeed(this.run.config.runId), dir: join(this.run.dir, `recovery-${frame}`) };
    this.keep({ ...out, recovery: await recovery(await this.run.trafficGenerator(), this.run.tb, o, this.run.tb.throughput.recovery!) });
  }

  /** The latency at the testbed's loads of this frame size's PDR. */
  private async latency(frame: FrameKey): Promise<void> {
    const out = this.results.find((r) => r.frame === frame)!;
    const pdr = out.goals.find((g) => g.goal === 'PDR')?.lowerBound ?? null;
    if (pdr === null) {
      this.run.note(`latency at ${framesPhrase(frame)} not measured: the search found no PDR`);
      return;
    }
    const stream = this.run.tb.throughput.latency.rate;
    // CSIT's latency streams are a few frames a second against millions: one that is a share of the load changes what it measures.
    if (stream > pdr * 0.05)
      this.run.note(
        `latency at ${framesPhrase(frame)}: the latency stream (${stream} frames/s) is ${((stream / pdr) * 100).toFixed(0)} % of the PDR (${Math.round(pdr)} frames/s) and adds to every load; throughput.latency.rate at most ${Math.floor(pdr * 0.05)} keeps it under 5 %`,
      );
    // This frame size's trial frames as the load (a later search's, or the recovery's stream, may be on the generator).
    await this.useFrame(frame);
    this.keep({ ...out, latency: await latencyAtLoads(this.tg!, this.run, smallestFrame(frame), pdr) });
  }

  /**
   * The telemetry trial at this frame size's PDR (its lower bound), as long as the search's final trials; at the NDR's
   * where the search stopped before it bounded the PDR (a cap), noted: a load the DUT was shown to carry.
   */
  private async telemetry(frame: FrameKey): Promise<void> {
    const out = this.results.find((r) => r.frame === frame)!;
    const at = (goal: string) => out.goals.find((g) => g.goal === goal)?.lowerBound ?? null;
    const goal = at('PDR') !== null ? 'PDR' : 'NDR';
    const rate = at(goal);
    if (rate === null) {
      this.run.note(`telemetry at ${framesPhrase(frame)} not measured: the search found neither a PDR nor an NDR`);
      return;
    }
    if (goal === 'NDR') this.run.note(`telemetry at ${framesPhrase(frame)} measured at the NDR's lower bound: the search found no PDR`);
    await this.useFrame(frame);
    const trial = await new DatapathTelemetry(this.run, this.tg!, frame).trial(Math.round(rate), goal, this.run.tb.throughput.pdr.finalTrialS);
    this.keep({ ...out, telemetry: trial });
  }

  /**
   * throughput.fixedLoad at a frame size: a warm-up (the flows set up before anything is read), then the telemetry
   * trial at the load, as long as the PDR's final trials; its loss judged against the PDR's loss ratio.
   */
  private async fixedLoadTrial(frame: FrameKey, rate: number): Promise<void> {
    const t = this.run.tb.throughput;
    await this.useFrame(frame);
    const warmth = new DatapathWarmth(this.run, this.tg!, frame);
    // The warm-up alone: the telemetry trial reads the PMD's counters around itself.
    await warmth.warmUpIfIdle(rate);
    const trial = await new DatapathTelemetry(this.run, this.tg!, frame).trial(rate, 'fixed load', t.pdr.finalTrialS);
    const { warmUp, notes } = warmth.record([]);
    for (const n of notes) this.run.note(n);
    const out: ThroughputResult = {
      frame,
      calibration: null,
      generatorLimit: trial.generatorShort ? Math.round(trial.sent / trial.durationS) : null,
      maxRate: rate,
      goals: [],
      trials: [],
      warmUp,
      fixedLoad: rate,
      telemetry: trial,
      ...(this.run.tb.traffic.direction === 'both' ? { direction: 'both' as const } : {}),
    };
    this.keep(out);
    const at = `at the fixed load of ${rate} frames/s at ${framesPhrase(frame)}`;
    // The generator's shortfall says nothing of the DUT: the load was not offered.
    if (trial.generatorShort || trial.sent === 0)
      throw new GeneratorShortError(`${at} the generator sent ${trial.sent} frames in ${trial.durationS} s: it could not offer the load`);
    const lost = Math.max(0, trial.sent - trial.received);
    if (lost / trial.sent > t.pdr.lossRatio)
      throw new CheckFailure(
        'throughput',
        `${at} ${lost} of ${trial.sent} frames were lost (loss ratio ${Number((lost / trial.sent).toPrecision(2))}; the PDR's ${t.pdr.lossRatio})`,
        out,
      );
  }

  private async search(frame: FrameKey): Promise<void> {
    const t = this.run.tb.throughput;
    await this.useFrame(frame);
    const goals: Goal[] = [
      { name: 'NDR', ...t.ndr },
      { name: 'PDR', ...t.pdr },
    ];
    const maxRate = this.maxRateAt(frame);
    const config: SearchConfig = { goals, minRate: t.minRate, maxRate, maxTrials: t.maxTrials, maxSearchS: t.maxSearchS };
    const warmth = new DatapathWarmth(this.run, this.tg!, frame);
    const result = await searchThroughput(config, (rate, durationS) =>
      this.steal!.trial(rate, `a ${durationS} s trial`, async () => {
        await warmth.beforeTrial(maxRate);
        const m = await this.tg!.measure({ rate, durationS, frame: smallestFrame(frame) });
        const upcalls = await warmth.afterTrial();
        return { rate, durationS, ...m, ...(upcalls !== null ? { upcalls } : {}) };
      }),
    );
    const { warmUp, notes } = warmth.record(result.trials);
    for (const n of notes) this.run.note(n);
    const out: ThroughputResult = {
      frame,
      calibration: this.calibration,
      generatorLimit: result.generatorLimit,
      maxRate,
      goals: result.goals.map((g) => ({ ...g, lowerBps: g.lowerBound !== null ? bitsPerSecond(g.lowerBound, meanFrame(frame)) : null })),
      trials: result.trials,
      warmUp,
      ...(this.run.tb.traffic.direction === 'both' ? { direction: 'both' as const } : {}),
    };
    this.keep(out);
    const ndr = out.goals.find((g) => g.goal === 'NDR');
    if (ndr && ndr.lowerBound === null) throw new CheckFailure('throughput', noNdr(frame, ndr, t.minRate), out);
  }
}

/**
 * Why a search found no NDR, in what its trials show: every load down to the minimum lost frames, or (a cap stopped
 * it first) every load it got to try, down to the lowest, did.
 */
export function noNdr(frame: FrameKey, ndr: Pick<GoalResult, 'stoppedBy' | 'spread'>, minRate: number): string {
  if (!ndr.stoppedBy) return `at ${framesPhrase(frame)} no load down to ${minRate} frames/s was forwarded without loss (NDR below the minimum load)`;
  const lowest = ndr.spread.lowestExceed;
  return `at ${framesPhrase(frame)} every load tried${lowest !== null ? `, down to ${Math.round(lowest)} frames/s,` : ''} lost frames; the search was ${ndr.stoppedBy} before it tried one down to ${minRate} frames/s (NDR not bounded)`;
}
