// The telemetry trial, as FD.io CSIT runs it: after a search, one more trial
// at its PDR's lower bound, as long as the search's final trials, and only it
// read around: OVS's PMD counters (pmd-stats-show and pmd-perf-show, deltas;
// never pmd-stats-clear, which other readers share), pmd-perf-metrics turned
// on for this trial alone, the receive queues' shares (pmd-rxq-show), the
// upcall threads' view (upcall/show), the coverage counters, and each thread
// of ovs-vswitchd and QEMU from /proc. Collecting it inside the search's
// trials would move the number it explains. The raw readings stay in the run
// directory; the figures (telemetry-metrics.ts) go in the result.
import { mkdirSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { CommandError, errorMessage } from '../../errors.js';
import { type PmdStats, parsePmdStatsShow } from '../../parsers/ovs-dpdk.js';
import {
  parseCoverageShow,
  parsePmdPerfShow,
  parsePmdRxqShow,
  parseTaskStats,
  parseUpcallShow,
  parseVmRssKb,
  taskStatsCommand,
} from '../../parsers/ovs-telemetry.js';
import type { TelemetryTrial } from '../../results/telemetry.js';
import type { LabRun } from '../../scenario/lab-run.js';
import { appctl } from '../../scenario/readback.js';
import { type FrameKey, smallestFrame } from '../../testbed/frame-mix.js';
import { shq } from '../../transport/quote.js';
import type { MeasuringTrafficGenerator } from '../../traffic/tg.js';
import { type TelemetryAfter, type TelemetryReading, telemetryMetrics } from './telemetry-metrics.js';

/** Whether pmd-stats-show has a PMD thread (the main thread counts no cycles): the PMD-only commands are read then. */
const hasPmd = (s: PmdStats | null) => s?.threads.some((t) => t.cycles) ?? false;

/** pmd-rxq-show's window is whole multiples of 5 s (OVS rounds up), up to a minute. */
const rxqWindowS = (durationS: number) => Math.min(60, Math.max(5, Math.ceil(durationS / 5) * 5));

export class DatapathTelemetry {
  private readonly files: string[] = [];
  private readonly dir: string;

  constructor(
    private readonly run: LabRun,
    private readonly tg: MeasuringTrafficGenerator,
    private readonly frame: FrameKey,
  ) {
    this.dir = join(run.dir, `telemetry-${frame}`);
  }

  /** A command's output on the DUT host, kept as a file of the run (unless `name` is null); null where it was refused (the reason kept). */
  private async raw(name: string | null, command: string, what = name ?? command): Promise<string | null> {
    try {
      const r = await this.run.session.shell('host').run(command, this.run.profile.hostContext(this.run.tb));
      if (name === null) return r.stdout;
      writeFileSync(join(this.dir, name), r.stdout);
      // Relative to the run's directory: the suite's directory, then this trial's.
      this.files.push(join(basename(this.run.dir), `telemetry-${this.frame}`, name));
      return r.stdout;
    } catch (err) {
      if (!(err instanceof CommandError)) throw err;
      this.lastRefusal = `${what.replace(/^(before|after)-|\.txt$/g, '')}: ${errorMessage(err)}`;
      return null;
    }
  }

  /** The last command the DUT host refused, and why. */
  private lastRefusal = '';
  /** Why the PMD's figures are not offered: the DUT host refused pmd-stats-show (a datapath without dpif-netdev). */
  private notOffered: string | null = null;

  /** The processes read per thread: ovs-vswitchd always, QEMU where the guest is a VM. */
  private processes(): Record<string, string> {
    const { tb } = this.run;
    return { 'ovs-vswitchd': tb.paths.vswitchdPidfile, ...(tb.vm ? { qemu: tb.vm.pidfile } : {}) };
  }

  private async reading(when: 'before' | 'after'): Promise<TelemetryReading> {
    const stats = await this.raw(`${when}-pmd-stats-show.txt`, appctl(this.run.session, 'dpif-netdev/pmd-stats-show'));
    if (stats === null) this.notOffered ??= this.lastRefusal;
    const pmdStats = stats === null ? null : parsePmdStatsShow(stats);
    const perf = hasPmd(pmdStats) ? await this.raw(`${when}-pmd-perf-show.txt`, appctl(this.run.session, 'dpif-netdev/pmd-perf-show -nh')) : null;
    const coverage = await this.raw(`${when}-coverage-show.txt`, appctl(this.run.session, 'coverage/show'));
    const threads: TelemetryReading['threads'] = {};
    for (const [process, pidfile] of Object.entries(this.processes())) {
      const text = await this.raw(`${when}-${process}-task-stat.txt`, taskStatsCommand(shq(pidfile)));
      if (text !== null) threads[process] = parseTaskStats(text);
    }
    return { pmdStats, pmdPerf: perf === null ? null : parsePmdPerfShow(perf), coverage: coverage === null ? null : parseCoverageShow(coverage), threads };
  }

  private async afterReading(durationS: number): Promise<TelemetryAfter> {
    const base = await this.reading('after');
    const rxq = hasPmd(base.pmdStats)
      ? await this.raw('after-pmd-rxq-show.txt', appctl(this.run.session, `dpif-netdev/pmd-rxq-show -secs ${rxqWindowS(durationS)}`))
      : null;
    const upcall = await this.raw('after-upcall-show.txt', appctl(this.run.session, 'upcall/show'));
    const rssKb: Record<string, number | null> = {};
    for (const [process, pidfile] of Object.entries(this.processes())) {
      const status = await this.raw(`after-${process}-status.txt`, `cat /proc/$(cat ${shq(pidfile)})/status`);
      rssKb[process] = status === null ? null : parseVmRssKb(status);
    }
    return { ...base, rxq: rxq === null ? null : parsePmdRxqShow(rxq), upcall: upcall === null ? null : parseUpcallShow(upcall), rssKb };
  }

  /** pmd-perf-metrics on for the trial alone: returns how to put it back as it was, or null where OVS refused it. */
  private async perfMetricsOn(): Promise<(() => Promise<unknown>) | null> {
    const vsctl = (args: string) => this.raw(null, `${this.run.profile.tool('ovs-vsctl')} --timeout=10 ${args}`, 'pmd-perf-metrics');
    const answer = await vsctl('--if-exists get Open_vSwitch . other_config:pmd-perf-metrics');
    if (answer === null) return null;
    const was = answer.trim();
    if (was === '"true"' || was === 'true') return async () => undefined;
    if ((await vsctl('set Open_vSwitch . other_config:pmd-perf-metrics=true')) === null) return null;
    return () => vsctl(was === '' ? 'remove Open_vSwitch . other_config pmd-perf-metrics' : `set Open_vSwitch . other_config:pmd-perf-metrics=${shq(was)}`);
  }

  /** The trial at `rate` frames/s for `durationS`, read around; its figures. */
  async trial(rate: number, goal: TelemetryTrial['goal'], durationS: number): Promise<TelemetryTrial> {
    mkdirSync(this.dir, { recursive: true });
    const hz = Number((await this.run.session.shell('host').run('getconf CLK_TCK')).stdout.trim()) || 100;
    const putBack = await this.perfMetricsOn();
    let m: Awaited<ReturnType<MeasuringTrafficGenerator['measure']>>;
    let before: TelemetryReading;
    let after: TelemetryAfter;
    try {
      before = await this.reading('before');
      m = await this.tg.measure({ rate, durationS, frame: smallestFrame(this.frame) });
      after = await this.afterReading(durationS);
    } finally {
      await putBack?.();
    }
    const metrics = telemetryMetrics(before, after, { durationS, hz, notOffered: this.notOffered });
    return {
      rate,
      goal,
      durationS,
      sent: m.sent,
      received: m.received,
      ...(m.generatorShort ? { generatorShort: true } : {}),
      perfMetrics: putBack !== null,
      metrics,
      files: [...this.files],
    };
  }
}
