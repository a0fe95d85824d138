// The telemetry trial's figures from its readings before and after: deltas of
// OVS's counters over the trial, never OVS's own averages since its start.
// Pure: lib/suite/throughput/telemetry.ts takes the readings.
import type { PmdStats, PmdThreadStats } from '../../parsers/ovs-dpdk.js';
import type { PmdPerfShow, PmdRxqShow, ThreadTicks, UpcallShow } from '../../parsers/ovs-telemetry.js';
import type { TelemetryMetric } from '../../results/telemetry.js';

/** One side of the trial: what was read before it, or after it. */
export interface TelemetryReading {
  /** null where the datapath does not offer it (the reason beside). */
  pmdStats: PmdStats | null;
  pmdPerf: PmdPerfShow | null;
  coverage: Record<string, number> | null;
  /** Each process's threads (ovs-vswitchd, QEMU), as /proc says. */
  threads: Record<string, ThreadTicks[]>;
}

export interface TelemetryAfter extends TelemetryReading {
  rxq: PmdRxqShow | null;
  upcall: UpcallShow[] | null;
  /** Each process's resident memory, kB. */
  rssKb: Record<string, number | null>;
}

export interface TelemetryContext {
  durationS: number;
  /** The kernel's clock ticks a second (CLK_TCK). */
  hz: number;
  /** Why the datapath offers no PMD figures, where it does not. */
  notOffered: string | null;
}

const metric = (id: string, scope: string, label: string, unit: string, value: number | null, notOffered?: string): TelemetryMetric => ({
  id,
  scope,
  label,
  unit,
  value: value === null || !Number.isFinite(value) ? null : Number(value.toPrecision(6)),
  ...(value === null || !Number.isFinite(value) ? { notOffered: notOffered ?? 'nothing to divide by: no packet in the trial' } : {}),
});

const coreOf = (t: PmdThreadStats) => /core_id (\d+)/.exec(t.name)?.[1];

/** The PMD figures whose names the gate knows, each "not offered" (with why) on a datapath without PMD threads. */
const PMD_METRICS: Array<[id: string, label: string, unit: string]> = [
  ['pmd.rx_packets', 'packets received', 'packets'],
  ['pmd.cycles_per_packet.processing', 'processing cycles per packet', 'cycles/packet'],
  ['pmd.cycles_per_packet.total', 'cycles per packet (idle included)', 'cycles/packet'],
  ['pmd.busy_share', 'share of the PMD busy processing', '%'],
  ['pmd.hits.simple_match', 'simple-match cache hits', '% of packets'],
  ['pmd.hits.emc', 'exact-match cache hits', '% of packets'],
  ['pmd.hits.smc', 'signature-match cache hits', '% of packets'],
  ['pmd.hits.megaflow', 'megaflow (dpcls) hits', '% of packets'],
  ['pmd.upcalls_per_s', 'upcalls', '/s'],
  ['pmd.lost_upcalls_per_s', 'lost upcalls', '/s'],
  ['pmd.packets_per_batch', 'packets per output batch', 'packets/batch'],
  ['pmd.us_per_upcall', 'time per upcall', 'µs'],
];

/** Per PMD thread: cycles per packet, the lookups' shares, upcalls, batching (pmd-stats-show and pmd-perf-show deltas). */
export function pmdMetrics(before: TelemetryReading, after: TelemetryReading, c: TelemetryContext): TelemetryMetric[] {
  const pmds = (after.pmdStats?.threads ?? []).filter((t) => t.cycles && coreOf(t) !== undefined);
  if (!before.pmdStats || pmds.length === 0) {
    const why = c.notOffered ?? 'this datapath has no PMD thread (its main thread polls, and OVS counts no cycles for it)';
    return PMD_METRICS.map(([id, label, unit]) => metric(id, 'PMD', label, unit, null, why));
  }
  return pmds.flatMap((a) => {
    const core = coreOf(a)!;
    const b = before.pmdStats!.threads.find((t) => t.name === a.name);
    const scope = `core ${core}`;
    if (!b?.cycles) return PMD_METRICS.map(([id, label, unit]) => metric(id, scope, label, unit, null, `PMD ${a.name} was not there before the trial`));
    const d = (k: 'packetsReceived' | 'simpleMatchHits' | 'emcHits' | 'smcHits' | 'megaflowHits' | 'upcalls' | 'failedUpcalls') => a[k] - b[k];
    const rx = d('packetsReceived');
    const processing = a.cycles!.processing - b.cycles.processing;
    const total = processing + a.cycles!.idle - b.cycles.idle;
    const share = (n: number) => (rx > 0 ? (100 * n) / rx : null);
    const perfA = after.pmdPerf?.pmds.find((p) => String(p.coreId) === core);
    const perfB = before.pmdPerf?.pmds.find((p) => String(p.coreId) === core);
    const txBatches = perfA && perfB ? perfA.txBatches - perfB.txBatches : null;
    const batch = perfA && perfB && txBatches ? (perfA.txPackets - perfB.txPackets) / txBatches : null;
    const noPerf = perfA && perfB ? 'no batch sent in the trial' : 'pmd-perf-show not read';
    const values: Array<[number | null, string?]> = [
      [rx],
      [rx > 0 ? processing / rx : null],
      [rx > 0 ? total / rx : null],
      [total > 0 ? (100 * processing) / total : null, 'no cycle counted in the trial'],
      [share(d('simpleMatchHits'))],
      [share(d('emcHits'))],
      [share(d('smcHits'))],
      [share(d('megaflowHits'))],
      [d('upcalls') / c.durationS],
      [d('failedUpcalls') / c.durationS],
      [batch, noPerf],
      [perfA?.usPerUpcall ?? null, perfA ? 'no upcall while pmd-perf-metrics was on' : 'pmd-perf-show not read'],
    ];
    return PMD_METRICS.map(([id, label, unit], i) => metric(id, scope, label, unit, values[i]![0], values[i]![1]));
  });
}

/** Each receive queue's share of its PMD's cycles over OVS's window (pmd-rxq-show -secs). */
export function rxqMetrics(rxq: PmdRxqShow | null): TelemetryMetric[] {
  if (!rxq) return [];
  const window = rxq.windowS === null ? "OVS's window" : `the last ${rxq.windowS} s`;
  return rxq.queues.map((q) =>
    metric(
      'rxq.pmd_usage',
      `core ${q.coreId} ${q.port} queue ${q.queue}`,
      `share of its PMD's cycles over ${window}`,
      '%',
      q.usagePct,
      'OVS says NOT AVAIL (the queue was polled too briefly)',
    ),
  );
}

/**
 * Each thread's share of a CPU over the trial (/proc's ticks before and after),
 * and the share of the trial it waited on a run queue for one (schedstat: a
 * CPU another process took from it, as pidstat's %wait); threads of one name summed.
 */
export function threadMetrics(before: TelemetryReading, after: TelemetryReading, c: TelemetryContext): TelemetryMetric[] {
  return Object.entries(after.threads).flatMap(([process, threads]) => {
    const was = new Map((before.threads[process] ?? []).map((t) => [t.tid, t]));
    const byName = new Map<string, { ticks: number; waitNs: number | null }>();
    for (const t of threads) {
      const b = was.get(t.tid);
      const sum = byName.get(t.name) ?? { ticks: 0, waitNs: 0 };
      // A thread born during the trial counts from zero; a wait the kernel did not keep makes the name's sum unknown.
      const waited = t.waitNs === undefined || (b && b.waitNs === undefined) ? null : t.waitNs - (b?.waitNs ?? t.waitNs);
      byName.set(t.name, { ticks: sum.ticks + t.ticks - (b?.ticks ?? t.ticks), waitNs: sum.waitNs === null || waited === null ? null : sum.waitNs + waited });
    }
    return [...byName].flatMap(([name, { ticks, waitNs }]) => [
      metric('thread.cpu', `${process} thread ${name}`, 'share of a CPU', '%', (100 * ticks) / c.hz / c.durationS),
      metric(
        'thread.wait',
        `${process} thread ${name}`,
        'share of the trial it waited for a CPU',
        '%',
        waitNs === null ? null : waitNs / 1e7 / c.durationS,
        'the kernel keeps no schedstat for it (CONFIG_SCHED_INFO)',
      ),
    ]);
  });
}

/** The datapath's flows, the revalidators' dump time, the processes' memory, and every coverage counter that moved (per second). */
export function daemonMetrics(before: TelemetryReading, after: TelemetryAfter, c: TelemetryContext): TelemetryMetric[] {
  const out: TelemetryMetric[] = [];
  for (const u of after.upcall ?? []) {
    out.push(metric('datapath.flows', u.datapath, 'datapath flows after the trial', 'flows', u.flows.current));
    out.push(metric('revalidator.dump_ms', u.datapath, "revalidators' flow dump", 'ms', u.dumpDurationMs));
  }
  for (const [process, kb] of Object.entries(after.rssKb))
    out.push(metric('process.rss', process, 'resident memory', 'MB', kb === null ? null : kb / 1024, 'its /proc status has no VmRSS'));
  if (before.coverage && after.coverage) {
    const moved = Object.entries(after.coverage)
      .map(([event, total]) => [event, total - (before.coverage![event] ?? 0)] as const)
      .filter(([, n]) => n > 0)
      .sort(([a], [b]) => a.localeCompare(b));
    for (const [event, n] of moved) out.push(metric('coverage.per_s', event, `coverage event ${event}`, '/s', n / c.durationS));
  }
  return out;
}

export function telemetryMetrics(before: TelemetryReading, after: TelemetryAfter, c: TelemetryContext): TelemetryMetric[] {
  return [...pmdMetrics(before, after, c), ...rxqMetrics(after.rxq), ...threadMetrics(before, after, c), ...daemonMetrics(before, after, c)];
}
