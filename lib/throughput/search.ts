// The throughput search, after FD.io CSIT's MLRsearch (draft-ietf-bmwg-mlrsearch):
// for each goal (NDR: no loss; PDR: a small loss ratio) the highest load the
// DUT forwards within the goal's loss ratio, as a lower and an upper bound
// whose relative width is at most the goal's. Pure: the trials come from a
// `measure` function, the time from a `now` function, so that the search can
// be tested on simulated DUTs without a lab.
//
// How a load is judged for a goal (MLRsearch's rule): its trials' durations
// are summed apart for those whose loss ratio exceeds the goal's and those
// whose does not. A load is an upper bound once the exceeding time alone is
// more than `exceedRatio` of `durationSumS`, a lower bound once even if every
// trial still to come exceeded it could not be; undecided in between.
// Short trials (`initialTrialS`) only find where to look; the bounds reported
// are decided by full-length trials (`finalTrialS`).

export interface Goal {
  name: string;
  /** A trial exceeds the goal when its loss ratio is above this (NDR: 0). */
  lossRatio: number;
  /** The share of the duration sum exceeding trials may take at a lower bound. */
  exceedRatio: number;
  /** Stop when (upper - lower) / upper is at most this. */
  relativeWidth: number;
  initialTrialS: number;
  finalTrialS: number;
  /** The trial time a load is judged on. */
  durationSumS: number;
}

export interface SearchConfig {
  goals: Goal[];
  /** Frames per second: the search never goes below it. */
  minRate: number;
  /** Frames per second: the most the generator is asked for. */
  maxRate: number;
  /** Caps on the whole search: trials, and seconds by `now`. */
  maxTrials: number;
  maxSearchS: number;
}

/** One trial, as the measuring traffic generator reports it. */
export interface Measurement {
  rate: number;
  durationS: number;
  offered: number;
  sent: number;
  received: number;
  lossRatio: number;
  /** The generator put out fewer frames than asked, or slower: the trial says nothing of the DUT. */
  generatorShort: boolean;
  /** Frames per second the generator reached, where it says. */
  achievedRate?: number;
  /** The datapath's upcalls during the trial (flow setup paid for inside it), where the datapath offers them. */
  upcalls?: number;
  /** Each direction's own count, where the trial went both ways (the rate is each direction's; the counts above their sums). */
  directions?: Record<'forward' | 'reverse', { sent: number; received: number; lossRatio: number }>;
}

export type Measure = (rate: number, durationS: number) => Promise<Measurement>;

export interface GoalResult {
  goal: string;
  lossRatio: number;
  /** The highest load judged a lower bound (frames/s), or null if even the minimum load exceeded the goal. */
  lowerBound: number | null;
  /** The lowest load judged an upper bound above it, or null if none was found (the maximum load passed). */
  upperBound: number | null;
  /** (upper - lower) / upper, when both exist. */
  relativeWidth: number | null;
  /** The forwarding rate at the lower bound: the mean of received / duration over its non-exceeding trials. */
  conditionalThroughput: number | null;
  /** The lower bound is the most the generator could offer: the DUT may do more. */
  limitedByGenerator: boolean;
  /** Why the search for this goal stopped early, if it did. */
  stoppedBy?: string;
  /**
   * What the trials themselves show, whatever their length: the highest load
   * any trial passed at, the lowest any trial exceeded the goal at. On a
   * noisy DUT the two overlap; `compare` judges a drop against this spread.
   */
  spread: { highestPass: number | null; lowestExceed: number | null };
}

export interface SearchResult {
  goals: GoalResult[];
  trials: Measurement[];
  /** The most the generator could offer, if a trial showed it falling short. */
  generatorLimit: number | null;
}

type Verdict = 'lower' | 'upper' | 'undecided';

class Trials {
  readonly all: Measurement[] = [];
  private readonly byRate = new Map<number, Measurement[]>();

  add(m: Measurement): void {
    this.all.push(m);
    this.byRate.set(m.rate, [...(this.byRate.get(m.rate) ?? []), m]);
  }

  /** The load judged for a goal on its full-length trials (generator-short ones do not count). */
  judge(rate: number, g: Goal): Verdict {
    const ts = (this.byRate.get(rate) ?? []).filter((t) => !t.generatorShort && t.durationS >= g.finalTrialS);
    const exceed = ts.filter((t) => t.lossRatio > g.lossRatio).reduce((a, t) => a + t.durationS, 0);
    const total = ts.reduce((a, t) => a + t.durationS, 0);
    const allowed = g.exceedRatio * g.durationSumS;
    if (exceed > allowed) return 'upper';
    if (exceed + Math.max(0, g.durationSumS - total) <= allowed) return 'lower';
    return 'undecided';
  }

  /** The latest short trial at the load, for a first guess. */
  latest(rate: number): Measurement | undefined {
    return this.byRate.get(rate)?.at(-1);
  }

  goodRates(rate: number, g: Goal): number[] {
    return (this.byRate.get(rate) ?? []).filter((t) => !t.generatorShort && t.lossRatio <= g.lossRatio).map((t) => t.received / t.durationS);
  }
}

class CapReached extends Error {}

/** One search's state: its trials, the highest load it may offer (lowered when the generator falls short), its clock. */
class Search {
  readonly trials = new Trials();
  maxRate: number;
  generatorLimit: number | null = null;
  private readonly started: number;

  constructor(
    private readonly config: SearchConfig,
    private readonly measure: Measure,
    private readonly now: () => number,
  ) {
    this.maxRate = Math.floor(config.maxRate);
    this.started = now();
  }

  /** One trial, within the caps; a generator that falls short lowers the highest load from now on. */
  async trial(rate: number, durationS: number): Promise<Measurement> {
    const c = this.config;
    if (this.trials.all.length >= c.maxTrials) throw new CapReached(`the cap of ${c.maxTrials} trials`);
    if (this.now() - this.started + durationS > c.maxSearchS) throw new CapReached(`the cap of ${c.maxSearchS} s on the search`);
    const m = await this.measure(rate, durationS);
    this.trials.add(m);
    if (m.generatorShort) {
      // The generator cannot offer this load: from now on the most it can.
      const reached = Math.floor((m.achievedRate ?? m.sent / m.durationS) * 0.98);
      this.generatorLimit = Math.min(this.generatorLimit ?? Number.POSITIVE_INFINITY, reached);
      this.maxRate = Math.max(c.minRate, Math.min(this.maxRate, reached));
    }
    return m;
  }

  clamp(r: number): number {
    return Math.round(Math.min(this.maxRate, Math.max(this.config.minRate, r)));
  }

  /** Full-length trials at a load until it is judged. */
  async decide(rate: number, g: Goal): Promise<Verdict> {
    for (let v = this.trials.judge(rate, g); ; v = this.trials.judge(rate, g)) {
      if (v !== 'undecided') return v;
      const m = await this.trial(rate, g.finalTrialS);
      if (m.generatorShort) return 'upper';
    }
  }

  /**
   * 1. Short trials (MLRsearch's expander): bracket the goal's load, starting where the last goal left off; expand
   * down from a failing load toward the rate the DUT forwarded, up from a passing one, in steps that double; bisect
   * in log space once bracketed.
   */
  async bracket(g: Goal, hint: Bounds): Promise<Bounds> {
    let rate = this.clamp(hint.upper ?? this.maxRate);
    let lo: number | null = hint.lower;
    let hi: number | null = null;
    for (let i = 0; i < 64; i++) {
      const latest = this.trials.latest(rate);
      const m = latest?.durationS === g.initialTrialS ? latest : await this.trial(rate, g.initialTrialS);
      if (!m.generatorShort && m.lossRatio <= g.lossRatio) lo = Math.max(lo ?? 0, rate);
      else hi = Math.min(hi ?? Number.POSITIVE_INFINITY, m.generatorShort ? this.clamp(this.maxRate) + 1 : rate);
      if (lo !== null && lo >= this.maxRate) break;
      if (lo !== null && hi !== null && (hi - lo) / hi <= g.relativeWidth) break;
      const step = g.relativeWidth * 2 ** i;
      const next =
        lo === null ? this.clamp(hi! * Math.min(1 - m.lossRatio, 1) * (1 - step)) : hi === null ? this.clamp(lo * (1 + step)) : this.clamp(Math.sqrt(lo * hi));
      if (next === rate || (lo === null && next <= this.config.minRate && rate === this.config.minRate)) break;
      rate = next;
    }
    return { lower: lo, upper: hi !== null && hi <= this.maxRate ? hi : null };
  }

  /**
   * 2. Full-length trials (MLRsearch's selector): judge the candidate bounds by the duration sum, bisecting in log
   * space until narrow enough. The bounds change in place: where a cap stops it, they are what was found so far.
   */
  async select(g: Goal, b: Bounds): Promise<void> {
    for (let i = 0; i < 64; i++) {
      if (b.lower !== null && (await this.decide(b.lower, g)) === 'upper') [b.upper, b.lower] = [b.lower, null];
      if (b.upper !== null && (await this.decide(b.upper, g)) === 'lower') [b.lower, b.upper] = [b.upper, null];
      const widen = g.relativeWidth * 2 ** Math.min(i, 6);
      if (b.lower === null) {
        if (b.upper === null || b.upper <= this.config.minRate) break;
        b.lower = this.clamp(b.upper * (1 - Math.min(0.5, widen)));
        if (b.lower === b.upper) break;
        continue;
      }
      if (b.upper === null) {
        if (b.lower >= this.maxRate) break;
        b.upper = this.clamp(b.lower * (1 + widen));
        if (b.upper === b.lower) break;
        continue;
      }
      if ((b.upper - b.lower) / b.upper <= g.relativeWidth) break;
      const mid = this.clamp(Math.sqrt(b.lower * b.upper));
      if (mid === b.lower || mid === b.upper) break;
      if ((await this.decide(mid, g)) === 'lower') b.lower = mid;
      else b.upper = mid;
    }
  }

  /** A goal's result from its bounds and every trial so far. */
  result(g: Goal, { lower, upper }: Bounds, stoppedBy: string | undefined): GoalResult {
    const good = lower !== null ? this.trials.goodRates(lower, g) : [];
    const fair = this.trials.all.filter((t) => !t.generatorShort);
    const passes = fair.filter((t) => t.lossRatio <= g.lossRatio).map((t) => t.rate);
    const exceeds = fair.filter((t) => t.lossRatio > g.lossRatio).map((t) => t.rate);
    return {
      goal: g.name,
      lossRatio: g.lossRatio,
      lowerBound: lower,
      upperBound: upper,
      relativeWidth: lower !== null && upper !== null ? (upper - lower) / upper : null,
      conditionalThroughput: good.length > 0 ? good.reduce((a, r) => a + r, 0) / good.length : null,
      limitedByGenerator: lower !== null && upper === null && lower >= this.maxRate,
      ...(stoppedBy ? { stoppedBy } : {}),
      spread: { highestPass: passes.length > 0 ? Math.max(...passes) : null, lowestExceed: exceeds.length > 0 ? Math.min(...exceeds) : null },
    };
  }
}

interface Bounds {
  lower: number | null;
  upper: number | null;
}

export async function searchThroughput(config: SearchConfig, measure: Measure, now: () => number = () => performance.now() / 1000): Promise<SearchResult> {
  const search = new Search(config, measure, now);
  const results: GoalResult[] = [];
  let hint: Bounds = { lower: null, upper: null };
  for (const g of config.goals) {
    let bounds: Bounds = { lower: null, upper: null };
    let stoppedBy: string | undefined;
    try {
      bounds = await search.bracket(g, hint);
      await search.select(g, bounds);
    } catch (err) {
      if (!(err instanceof CapReached)) throw err;
      stoppedBy = `stopped by ${err.message}`;
      // What was decided stands; an undecided candidate does not.
      if (bounds.lower !== null && search.trials.judge(bounds.lower, g) !== 'lower') bounds = { ...bounds, lower: null };
      if (bounds.upper !== null && search.trials.judge(bounds.upper, g) !== 'upper') bounds = { ...bounds, upper: null };
    }
    results.push(search.result(g, bounds, stoppedBy));
    hint = bounds;
    if (stoppedBy) break;
  }
  return { goals: results, trials: search.trials.all, generatorLimit: search.generatorLimit };
}

/** Bits per second of a frame rate: at L2 (the frame) and at L1 (+ preamble, start delimiter and gap: 20 bytes). */
export function bitsPerSecond(fps: number, frameBytes: number): { l2: number; l1: number } {
  return { l2: fps * frameBytes * 8, l1: fps * (frameBytes + 20) * 8 };
}

/** The nightly defaults (issue 16); CSIT's release settings are width 0.005, 1 s final trials and a 21 s sum. */
export const DEFAULT_GOALS: Goal[] = [
  { name: 'NDR', lossRatio: 0, exceedRatio: 0.5, relativeWidth: 0.05, initialTrialS: 1, finalTrialS: 2, durationSumS: 6 },
  { name: 'PDR', lossRatio: 0.005, exceedRatio: 0.5, relativeWidth: 0.05, initialTrialS: 1, finalTrialS: 2, durationSumS: 6 },
];
