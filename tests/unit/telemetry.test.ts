// The telemetry trial's parsers on real OVS 3.1 output (Debian's, captured on
// the virtual lab's DPDK datapath during a search: fixtures/outputs/), and its
// figures from two readings 4.16 s apart.
import { describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ParseError } from '../../lib/errors.js';
import { LocalShell } from '../../lib/transport/local.js';
import { shq } from '../../lib/transport/quote.js';
import { parsePmdStatsShow } from '../../lib/parsers/ovs-dpdk.js';
import {
  parseCoverageShow,
  parsePmdPerfShow,
  parsePmdRxqShow,
  parseTaskStats,
  parseUpcallShow,
  parseVmRssKb,
  taskStatsCommand,
} from '../../lib/parsers/ovs-telemetry.js';
import { metricKey } from '../../lib/results/telemetry.js';
import { type TelemetryAfter, type TelemetryReading, telemetryMetrics } from '../../lib/suite/throughput/telemetry-metrics.js';
import { output } from '../helpers/fixtures.js';

const readingBefore = (): TelemetryReading => ({
  pmdStats: parsePmdStatsShow(output('pmd-stats-show-dpdk-one-pmd-before.txt')),
  pmdPerf: parsePmdPerfShow(output('pmd-perf-show-dpdk-one-pmd-metrics-on-before.txt')),
  coverage: parseCoverageShow(output('coverage-show-dpdk-before.txt')),
  threads: { 'ovs-vswitchd': parseTaskStats(output('proc-task-stat-ovs-vswitchd-dpdk-before.txt')) },
});
const readingAfter = (): TelemetryAfter => ({
  pmdStats: parsePmdStatsShow(output('pmd-stats-show-dpdk-one-pmd-after.txt')),
  pmdPerf: parsePmdPerfShow(output('pmd-perf-show-dpdk-one-pmd-metrics-on-after.txt')),
  coverage: parseCoverageShow(output('coverage-show-dpdk-after.txt')),
  threads: { 'ovs-vswitchd': parseTaskStats(output('proc-task-stat-ovs-vswitchd-dpdk-after.txt')) },
  rxq: parsePmdRxqShow(output('pmd-rxq-show-dpdk-one-pmd-six-queues.txt')),
  upcall: parseUpcallShow(output('upcall-show-dpdk-two-flows.txt')),
  rssKb: { 'ovs-vswitchd': parseVmRssKb(output('proc-status-ovs-vswitchd-dpdk.txt')) },
});
/** The two readings were taken 4.16 s apart (their `date +%s.%N`). */
const ctx = { durationS: 4.163, hz: 100, notOffered: null };

describe("the telemetry trial's parsers (OVS 3.1)", () => {
  it("reads pmd-perf-show's counters per PMD, with pmd-perf-metrics on (histograms after) and off", () => {
    const on = parsePmdPerfShow(output('pmd-perf-show-dpdk-one-pmd-metrics-on-after.txt'));
    expect(on.durationS).toBe(78.748);
    expect(on.pmds).toEqual([
      expect.objectContaining({ numaId: 0, coreId: 1, rxPackets: 6518270, emcHits: expect.any(Number), usPerUpcall: expect.any(Number) }),
    ]);
    const p = on.pmds[0]!;
    expect(p.passes).toBe(p.rxPackets);
    expect(p.simpleMatchHits + p.emcHits + p.smcHits + p.megaflowHits + p.upcalls).toBe(p.passes);
    // Off: OVS prints 0.0 us/upcall, which is no figure.
    const off = parsePmdPerfShow(output('pmd-perf-show-dpdk-one-pmd-metrics-off.txt'));
    expect(off.pmds[0]).toMatchObject({ rxPackets: 5364139, upcalls: 3, lostUpcalls: 2, txBatches: 514249, usPerUpcall: null });
  });

  it('reads another release\'s layout (upstream\'s "Cycles:" and "- idle:"), and refuses a cut block or no PMD', () => {
    const text = output('pmd-perf-show-dpdk-one-pmd-metrics-off.txt');
    const upstream = text
      .replace(/- Used TSC cycles:/, 'Cycles:       ')
      .replace(/- idle iterations:/, '- idle:      ')
      .replace(/- busy iterations:/, '- busy:      ');
    expect(parsePmdPerfShow(upstream).pmds[0]).toEqual(parsePmdPerfShow(text).pmds[0]);
    const cut = text.slice(0, text.indexOf('  Tx batches'));
    expect(() => parsePmdPerfShow(cut)).toThrow(/core_id 1 with its txBatches lines \(the output was cut/);
    expect(() => parsePmdPerfShow(text.slice(0, text.indexOf('  - EMC hits')))).toThrow(
      /with its txPackets, emcHits, megaflowHits, upcalls, lostUpcalls lines/,
    );
    expect(() => parsePmdPerfShow('Time: 15:07:05.941\nMeasurement duration: 39.868 s\n\n')).toThrow(/at least one "pmd thread" block/);
    // Unknown lines (a later release's new counters) are passed over.
    expect(parsePmdPerfShow(text.replace('  Tx packets:', '  - New cache hits:     12  ( 0.0 %)\n  Tx packets:')).pmds[0]).toEqual(
      parsePmdPerfShow(text).pmds[0],
    );
  });

  it("reads pmd-stats-show's cycles per PMD (the main thread has none)", () => {
    const s = parsePmdStatsShow(output('pmd-stats-show-dpdk-one-pmd-after.txt'));
    expect(s.threads.find((t) => t.name.startsWith('pmd'))!.cycles).toEqual({ idle: expect.any(Number), processing: expect.any(Number) });
    expect(s.threads.find((t) => t.name === 'main thread')!.cycles).toBeUndefined();
  });

  it("reads pmd-rxq-show's queues and overhead, NOT AVAIL as no figure, and refuses a queue line it does not know", () => {
    const r = parsePmdRxqShow(output('pmd-rxq-show-dpdk-one-pmd-six-queues.txt'));
    expect(r.windowS).toBe(60);
    expect(r.queues).toHaveLength(6);
    expect(r.queues[0]).toEqual({ coreId: 1, port: 'port16', queue: 0, enabled: true, usagePct: expect.any(Number) });
    expect(r.overheadPct).toEqual({ 1: expect.any(Number) });
    const na = output('pmd-rxq-show-dpdk-one-pmd-six-queues.txt').replace(/pmd usage:\s+\d+ %/, 'pmd usage: NOT AVAIL');
    expect(parsePmdRxqShow(na).queues[0]!.usagePct).toBeNull();
    expect(() => parsePmdRxqShow(na.replace('queue-id:  0 (enabled)', 'queue-id:  0 (polling)'))).toThrow(/a queue line not understood: port: port16/);
  });

  it('reads upcall/show, coverage/show, /proc task stats and VmRSS; refuses each cut short', () => {
    expect(parseUpcallShow(output('upcall-show-dpdk-two-flows.txt'))).toEqual([
      { datapath: 'netdev@ovs-netdev', flows: { current: 2, avg: 1, max: 2, limit: 10000 }, dumpDurationMs: 1 },
    ]);
    expect(() => parseUpcallShow('netdev@ovs-netdev:\n  flows         : (current 2) (avg 1) (max 2) (limit 10000)\n')).toThrow(/"dump duration" line/);
    const cov = parseCoverageShow(output('coverage-show-dpdk-after.txt'));
    expect(cov.bridge_reconfigure).toBeGreaterThan(0);
    expect(() => parseCoverageShow(output('coverage-show-dpdk-after.txt').replace(/^\d+ events never hit\n?/m, ''))).toThrow(ParseError);
    const threads = parseTaskStats(output('proc-task-stat-ovs-vswitchd-dpdk-after.txt'));
    expect(threads.map((t) => t.name)).toContain('pmd-c01/id:8');
    // QEMU's vCPU threads have a space in their name, and a name may hold a parenthesis.
    const qemu = '4242 (CPU 0/TCG) S 1 4242 4242 0 -1 4194560 4198 152 1 0 149 1555 0 0 20 0\n4243 (a) b) R 1 1 1 0 -1 0 0 0 0 0 7 3 0 0 20 0\ndutlab-end\n';
    expect(parseTaskStats(qemu)).toEqual([
      { tid: 4242, name: 'CPU 0/TCG', ticks: 1704 },
      { tid: 4243, name: 'a) b', ticks: 10 },
    ]);
    expect(() => parseTaskStats(qemu.replace('dutlab-end\n', ''))).toThrow(/"dutlab-end" line/);
    expect(parseVmRssKb(output('proc-status-ovs-vswitchd-dpdk.txt'))).toBeGreaterThan(1000);
    expect(parseVmRssKb('Name:\tovs-vswitchd\nState:\tZ (zombie)\n')).toBeNull();
  });
});

describe("the telemetry trial's readings of /proc", () => {
  it("reads this process's threads with the command the trial runs; a process that is not there is refused (exit 3)", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dutlab-telemetry-'));
    try {
      writeFileSync(join(dir, 'pid'), `${process.pid}\n`);
      const shell = new LocalShell('host');
      const threads = parseTaskStats((await shell.run(taskStatsCommand(shq(join(dir, 'pid'))))).stdout);
      // This kernel keeps schedstat: the time the thread waited for a CPU.
      expect(threads.find((t) => t.tid === process.pid)).toMatchObject({ ticks: expect.any(Number), waitNs: expect.any(Number) });
      writeFileSync(join(dir, 'pid'), '999999999\n');
      expect((await shell.run(taskStatsCommand(shq(join(dir, 'pid'))), { okExitCodes: [3] })).exitCode).toBe(3);
      expect((await shell.run(taskStatsCommand(shq(join(dir, 'absent'))), { okExitCodes: [3] })).exitCode).toBe(3);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("the telemetry trial's figures", () => {
  it('are deltas over the trial: packets, cycles per packet, hit shares, upcalls, batching, queues, threads, memory, coverage', () => {
    const metrics = telemetryMetrics(readingBefore(), readingAfter(), ctx);
    const by = new Map(metrics.map((m) => [metricKey(m), m]));
    const b = parsePmdStatsShow(output('pmd-stats-show-dpdk-one-pmd-before.txt')).threads[0]!;
    const a = parsePmdStatsShow(output('pmd-stats-show-dpdk-one-pmd-after.txt')).threads[0]!;
    const rx = a.packetsReceived - b.packetsReceived;
    expect(by.get('pmd.rx_packets @ core 1')!.value).toBe(rx);
    expect(by.get('pmd.cycles_per_packet.processing @ core 1')!.value).toBeCloseTo((a.cycles!.processing - b.cycles!.processing) / rx, 0);
    const total = by.get('pmd.cycles_per_packet.total @ core 1')!.value!;
    expect(total).toBeGreaterThan(by.get('pmd.cycles_per_packet.processing @ core 1')!.value!);
    const hits = ['simple_match', 'emc', 'smc', 'megaflow'].map((h) => by.get(`pmd.hits.${h} @ core 1`)!.value!);
    // Each counter is read on its own while the PMD runs: the shares add up to 100 % within a few packets.
    expect(Math.abs(hits.reduce((x, y) => x + y, 0) - 100)).toBeLessThan(0.05);
    expect(by.get('pmd.packets_per_batch @ core 1')!.value).toBeGreaterThan(1);
    expect(by.get('rxq.pmd_usage @ core 1 port16 queue 0')!.unit).toBe('%');
    // The PMD's thread was busy polling: a whole CPU, near enough (ticks are 10 ms).
    expect(by.get('thread.cpu @ ovs-vswitchd thread pmd-c01/id:8')!.value).toBeGreaterThan(50);
    expect(by.get('process.rss @ ovs-vswitchd')!.unit).toBe('MB');
    expect(by.get('datapath.flows @ netdev@ovs-netdev')!.value).toBe(2);
    expect(metrics.filter((m) => m.id === 'coverage.per_s').every((m) => m.value! > 0)).toBe(true);
  });

  it("gives each thread's wait for a CPU (schedstat) as a share of the trial, where the kernel keeps it; not offered where it does not", () => {
    const withWait = (text: string, waitNs: number) => text.replace(/^(20316 .*)$/m, `$1\nschedstat 20316 1000 ${waitNs} 7`);
    const b = { ...readingBefore(), threads: { 'ovs-vswitchd': parseTaskStats(withWait(output('proc-task-stat-ovs-vswitchd-dpdk-before.txt'), 5e8)) } };
    const a = {
      ...readingAfter(),
      threads: { 'ovs-vswitchd': parseTaskStats(withWait(output('proc-task-stat-ovs-vswitchd-dpdk-after.txt'), 5e8 + 2.0815e9)) },
    };
    const m = telemetryMetrics(b, a, ctx);
    expect(m.find((x) => x.id === 'thread.wait' && x.scope === 'ovs-vswitchd thread pmd-c01/id:8')!.value).toBeCloseTo(50, 1);
    // The fixtures' other threads have no schedstat line: not offered, never 0.
    expect(m.find((x) => x.id === 'thread.wait' && x.scope === 'ovs-vswitchd thread handler6')).toMatchObject({ value: null, notOffered: /schedstat/ });
  });

  it('says "not offered", with why, for each PMD figure where the datapath has no PMD thread: never a zero', () => {
    const netdev = parsePmdStatsShow(output('pmd-stats-show-netdev-main-thread-2-upcalls.txt'));
    const m = telemetryMetrics({ ...readingBefore(), pmdStats: netdev, pmdPerf: null }, { ...readingAfter(), pmdStats: netdev, pmdPerf: null, rxq: null }, ctx);
    const pmd = m.filter((x) => x.id.startsWith('pmd.'));
    expect(pmd.length).toBeGreaterThan(10);
    for (const x of pmd) expect(x).toMatchObject({ value: null, notOffered: expect.stringMatching(/no PMD thread/) });
    const refused = telemetryMetrics(
      { ...readingBefore(), pmdStats: null },
      { ...readingAfter(), pmdStats: null },
      { ...ctx, notOffered: 'pmd-stats-show: exit 2' },
    );
    expect(refused.find((x) => x.id === 'pmd.cycles_per_packet.processing')).toMatchObject({ value: null, notOffered: 'pmd-stats-show: exit 2' });
  });

  it('gives no figure where nothing was received in the trial, rather than a division by zero', () => {
    const m = telemetryMetrics(readingBefore(), { ...readingAfter(), pmdStats: readingBefore().pmdStats, pmdPerf: readingBefore().pmdPerf }, ctx);
    expect(m.find((x) => x.id === 'pmd.rx_packets')!.value).toBe(0);
    expect(m.find((x) => x.id === 'pmd.cycles_per_packet.processing')).toMatchObject({ value: null, notOffered: /no packet in the trial/ });
  });
});
