// The datapath's state around the search's trials, as CSIT's ramp-up and
// ovs_perf's warm-up keep it: a warm-up trial (every flow sent at least once,
// its loss never judged) before the first measured trial and again whenever
// the datapath's flows may have expired since the last one (OVS's max-idle),
// then the megaflows the datapath holds, against what the rules imply; and
// each measured trial's upcalls (pmd-stats-show, read before and after), so
// that a trial that paid for flow setup is named, not silently measured.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CommandError, errorMessage } from '../../errors.js';
import type { DatapathLookups, ThroughputResult } from '../../results/throughput.js';
import type { PmdCounters, PmdStats } from '../../parsers/ovs-dpdk.js';
import * as read from '../../scenario/readback.js';
import type { LabRun } from '../../scenario/lab-run.js';
import type { Testbed } from '../../testbed/schema.js';
import { type FrameKey, framesPhrase, frameText, smallestFrame } from '../../testbed/frame-mix.js';
import type { MeasuringTrafficGenerator } from '../../traffic/tg.js';
import { orOnTimeout, waitUntil } from '../../wait.js';

/** A warm-up again once this share of max-idle has passed since the last trial: the revalidator's sweep is not to the millisecond. */
const IDLE_MARGIN = 0.8;
/** Warm-ups in a row at half the rate of the one before, for a datapath that set up fewer megaflows than the rules imply. */
const HALVINGS = 3;
/**
 * Warm-ups go on past the halvings while the datapath's megaflows still grow,
 * for at most this long in all: OVS starts its flow limit at 10,000 and
 * raises it by 1,000 a revalidation round (ofproto-dpif-upcall.c), so forty
 * thousand megaflows take tens of seconds of flows knocking, whatever the rate.
 */
const WARM_UP_BOUND_MS = 45_000;

/**
 * The megaflows the testbed's rules imply for its stream: one per hop
 * through the switch (ingress, egress) of each direction for each flow the rules tell
 * apart (the guide's match the address pair; `port` rules nothing; `flow`
 * rules the whole 5-tuple; `normal` the MACs and VLAN, one pair for the stream), null where the testbed lists its own flows.
 */
export function expectedMegaflows(tb: Testbed): number | null {
  if (tb.flows.length > 0) return null;
  const f = tb.traffic.flows;
  const apart = { guide: f ? f.srcIps * f.dstIps : 1, port: 1, flow: f?.count ?? 1, normal: 1 }[tb.traffic.rules];
  return 2 * apart * (tb.traffic.direction === 'both' ? 2 : 1);
}

/** Whether the datapath's flows may have expired: no trial yet, or more than the margin of max-idle since the last one ended. */
export const needsWarmUp = (lastTrialEndMs: number | null, nowMs: number, maxIdleMs: number): boolean =>
  lastTrialEndMs === null || nowMs - lastTrialEndMs > maxIdleMs * IDLE_MARGIN;

export class DatapathWarmth {
  private lastTrialEnd: number | null = null;
  private maxIdleMs: number | null = null;
  private warmUps = 0;
  private megaflows: number | null = null;
  /** Why the datapath's counters cannot be read here (a datapath without dpif-netdev), once found. */
  private notOffered: string | null = null;
  /** pmd-stats-show as the measured trial now running started. */
  private atTrialStart: PmdStats | null = null;
  /** The lookups of every measured trial, summed: which stage of the datapath served the packets. */
  private readonly lookups: DatapathLookups = { packets: 0, simpleMatch: 0, emc: 0, smc: 0, megaflow: 0, upcalls: 0 };

  constructor(
    private readonly run: LabRun,
    private readonly tg: MeasuringTrafficGenerator,
    private readonly frame: FrameKey,
  ) {}

  private get config() {
    return this.run.tb.throughput.warmUp;
  }

  /** Before a measured trial: the warm-up, where the datapath's flows may have expired; then the datapath's counters. */
  async beforeTrial(maxRate: number): Promise<void> {
    await this.warmUpIfIdle(maxRate);
    this.atTrialStart = this.notOffered ? null : await this.offered(() => read.pmdStats(this.run.session));
  }

  /** After a measured trial: its upcalls (null where the datapath does not offer them), its lookups added to the search's. */
  async afterTrial(): Promise<number | null> {
    const before = this.atTrialStart;
    const after = before && !this.notOffered ? await this.offered(() => read.pmdStats(this.run.session)) : null;
    this.lastTrialEnd = Date.now();
    if (!before || !after) return null;
    const d = (k: keyof PmdCounters) => after[k] - before[k];
    this.lookups.packets += d('packetsReceived');
    this.lookups.simpleMatch += d('simpleMatchHits');
    this.lookups.emc += d('emcHits');
    this.lookups.smc += d('smcHits');
    this.lookups.megaflow += d('megaflowHits');
    const upcalls = d('upcalls') + d('failedUpcalls');
    this.lookups.upcalls += upcalls;
    return upcalls;
  }

  /**
   * The warm-up, where the flows may have expired. A datapath that set up
   * fewer megaflows than the rules imply (its upcalls could not keep up with
   * every flow's first frame at once) is warmed again at half the rate, each
   * flow still sent once, HALVINGS times, then again while its megaflows
   * still grow (within WARM_UP_BOUND_MS); what it then holds is
   * recorded, and a trial that still paid for flow setup is named.
   */
  async warmUpIfIdle(maxRate: number): Promise<void> {
    if (this.config.durationS === 0 || this.notOffered) return;
    this.maxIdleMs ??= await this.offered(() => read.datapathMaxIdleMs(this.run.session));
    if (this.maxIdleMs === null || !needsWarmUp(this.lastTrialEnd, Date.now(), this.maxIdleMs)) return;
    const flows = this.run.tb.traffic.flows?.count ?? 1;
    const expected = expectedMegaflows(this.run.tb);
    let rate = Math.min(maxRate, Math.max(this.run.tb.throughput.minRate, Math.ceil(flows / this.config.durationS)));
    let round = 0;
    /** One warm-up; true once no other is due: the rules' megaflows held, none offered, or (past the halvings) none gained. */
    const warmUp = async (): Promise<boolean> => {
      round++;
      await this.tg.measure({ rate, durationS: Math.max(this.config.durationS, Math.ceil(flows / rate)), frame: smallestFrame(this.frame) });
      this.warmUps++;
      const before = this.megaflows;
      const dp = await this.offered(() => read.datapathFlows(this.run.session));
      if (!dp) return true;
      this.megaflows = dp.count;
      writeFileSync(join(this.run.dir, `datapath-flows-${this.frame}-warm-up-${this.warmUps}.txt`), dp.text);
      if (expected === null || dp.count >= expected) return true;
      if (round >= HALVINGS) return before !== null && dp.count <= before;
      rate = Math.max(1, Math.floor(rate / 2));
      return false;
    };
    // Past the bound, what the datapath then holds is what is recorded.
    await waitUntil('the datapath to hold the megaflows the rules imply', warmUp, { timeoutMs: WARM_UP_BOUND_MS, intervalMs: 0 }).catch(
      orOnTimeout(() => undefined),
    );
  }

  /** A reading, or null (and the reason kept) where this datapath does not offer it: its command refused. Anything else is the run's error. */
  private async offered<T>(reading: () => Promise<T>): Promise<T | null> {
    try {
      return await reading();
    } catch (err) {
      if (!(err instanceof CommandError)) throw err;
      this.notOffered = errorMessage(err);
      return null;
    }
  }

  /** What the result keeps of the warm-ups and the datapath, and the notes a reader needs. */
  record(trials: ThroughputResult['trials']): { warmUp: NonNullable<ThroughputResult['warmUp']>; notes: string[] } {
    const expected = expectedMegaflows(this.run.tb);
    const allowed = this.config.allowedUpcalls;
    const paid = trials.filter((t) => t.upcalls !== undefined && t.upcalls !== null && t.upcalls > allowed);
    const notes = [
      ...(this.notOffered ? [`warm-up and upcalls at ${framesPhrase(this.frame)}: not offered by this datapath (${this.notOffered})`] : []),
      ...(this.megaflows !== null && expected !== null && this.megaflows !== expected
        ? [`after the warm-up at ${framesPhrase(this.frame)} the datapath held ${this.megaflows} megaflows; the testbed's rules imply ${expected}`]
        : []),
      ...paid.map(
        (t) =>
          `a trial at ${Math.round(t.rate)} frames/s for ${t.durationS} s (${frameText(this.frame)}) paid for flow setup: ${t.upcalls} upcalls (allowed ${allowed})`,
      ),
    ];
    return {
      warmUp: {
        durationS: this.config.durationS,
        warmUps: this.warmUps,
        megaflows: this.megaflows,
        expectedMegaflows: expected,
        allowedUpcalls: allowed,
        trialsOverAllowed: paid.length,
        ...(this.notOffered ? { notOffered: this.notOffered } : { lookups: { ...this.lookups } }),
      },
      notes,
    };
  }
}
