// The soak's parts that need no lab (issue 44): the testbed's soak section
// and its refusals; the sample command and its reading; frames lost per
// interval; the memory verdict on series whose answer is known (growth of
// 1 MB a second flagged, a steady process with noise not, a step at start-up
// not growth).
import { describe, expect, it } from 'vitest';
import { parseSample, sampleCommand } from '../../lib/suite/soak/cases.js';
import { soakLoadFromBaseline } from '../../lib/run/soak-load.js';
import type { RunRecord } from '../../lib/results/run.js';
import { pmdIntervals, soakSummary, type SoakMeasured } from '../../lib/results/soak.js';
import type { ResultsStore } from '../../lib/store/store.js';
import { parseTestbed } from '../../lib/testbed/load.js';
import { lossPerInterval } from '../../lib/verify/gaps.js';
import { memoryGrowth } from '../../lib/verify/growth.js';
import { WindowLatency } from '../../lib/verify/latency-windows.js';
import { MINIMAL_TESTBED as MINIMAL, testbedProblems } from '../helpers/fixtures.js';

describe('the soak section', () => {
  it('has a minute at the traffic rate, sampled every second, no loss event and 50 MB/h as its defaults', () => {
    expect(parseTestbed(MINIMAL).soak).toEqual({ durationS: 60, intervalS: 1, maxLossEvents: 0, maxGrowthMbPerHour: 50, settleS: 5, windowS: 10, watch: [] });
  });

  it('refuses a soak shorter than its interval, a load of 0 or above the generator, a settling time as long as the soak', () => {
    expect(testbedProblems(`${MINIMAL}soak: { durationS: 0.5, intervalS: 1, settleS: 0 }\n`)).toEqual([
      { path: 'soak.durationS', message: 'a soak at least as long as its sampling interval (soak.intervalS)' },
    ]);
    expect(testbedProblems(`${MINIMAL}soak: { rate: 0 }\n`)).toEqual([{ path: 'soak.rate', message: 'a load above 0 frames/s' }]);
    expect(testbedProblems(`${MINIMAL}soak: { rate: 2000000 }\n`)[0]!.path).toBe('soak.rate');
    expect(testbedProblems(`${MINIMAL}soak: { durationS: 10, settleS: 10 }\n`).map((p) => p.path)).toEqual(['soak.settleS']);
    expect(testbedProblems(`${MINIMAL}soak: { watch: [{ name: x, pidfile: relative.pid }] }\n`)[0]!.path).toBe('soak.watch.0.pidfile');
  });
});

describe('a sample', () => {
  it('reads each pidfile’s process (resident kB, open files) and the free hugepages in one command, quoted', () => {
    const c = sampleCommand(['/run/a/ovs-vswitchd.pid', '/run/a/qemu.pid'], 2048);
    expect(c).toContain('for f in /run/a/ovs-vswitchd.pid /run/a/qemu.pid; do');
    expect(c).toContain("awk '/^VmRSS:/ { print $2 }'");
    expect(c).toContain('cat /sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages');
  });

  it('is read line by line; a process gone, or hugepages not read, is null, never 0', () => {
    expect(parseSample(1.5, ['ovs-vswitchd', 'qemu'], '20480 57\n- -\n112\n')).toEqual({
      t: 1.5,
      hugepagesFree: 112,
      processes: { 'ovs-vswitchd': { rssKb: 20480, fds: 57 }, qemu: { rssKb: null, fds: null } },
    });
    expect(parseSample(2, ['x'], '1 2\n-\n').hugepagesFree).toBeNull();
  });
});

describe('frames lost per interval', () => {
  it('counts each interval’s missing frames by when they were sent', () => {
    const seen = new Uint8Array(10).fill(1);
    seen[2] = 0;
    seen[3] = 0;
    seen[9] = 0;
    // 4 frames an interval at 2 frames/s and 2 s intervals.
    expect(lossPerInterval(seen, 2, 2)).toEqual([2, 0, 1]);
  });
});

describe('memory growth', () => {
  const series = (f: (t: number) => number, n = 90) => Array.from({ length: n }, (_, t) => [t, f(t)] as const);
  it('flags a process growing by 1 MB a second (3600 MB/h) against a bound of 500 MB/h', () => {
    const g = memoryGrowth(
      'grower',
      series((t) => 10_000 + 1024 * t),
      5,
      500,
    );
    expect(g.slopeMbPerHour).toBeCloseTo(3600, 6);
    expect(g.flagged).toBe(true);
    expect(g.text).toMatch(/^grower: resident memory 3600 MB\/h \(95 %: 3600 to 3600\) over 85 samples, .*: GROWS beyond 500 MB\/h$/);
  });

  it('does not flag a steady process whose samples wander, nor a step at start-up inside the settling time', () => {
    const wobble = memoryGrowth(
      'steady',
      series((t) => 50_000 + ((t * 7919) % 13) * 100),
      5,
      50,
    );
    expect(wobble.flagged).toBe(false);
    expect(Math.abs(wobble.slopeMbPerHour!)).toBeLessThan(50);
    const step = memoryGrowth(
      'vswitchd',
      series((t) => (t < 4 ? 10_000 : 200_000)),
      5,
      50,
    );
    expect(step.slopeMbPerHour).toBe(0);
    expect(step.flagged).toBe(false);
  });

  it('says a process with too few samples was not measured', () => {
    expect(
      memoryGrowth(
        'x',
        [
          [6, 1],
          [7, 2],
        ],
        5,
        50,
      ),
    ).toMatchObject({ slopeMbPerHour: null, flagged: false, text: 'x: not measured (2 samples after 5 s)' });
  });
});

describe('latency per window', () => {
  it('reads each window of a stream by when its frames were sent: p50, p99 and the maximum of those that came back', () => {
    // 1000 frames/s for 3 s in windows of 1 s: 200 µs through, but 20 ms in the second window's last 5 % (a queue).
    const w = new WindowLatency(3000, 1000, 1);
    for (let seq = 0; seq < 3000; seq++) w.sent(seq, 1e6 + seq * 1000);
    for (let seq = 0; seq < 3000; seq++) if (seq % 500 !== 7) w.received(seq, 1e6 + seq * 1000 + (seq >= 1950 && seq < 2000 ? 20_000 : 200));
    expect(w.invalid()).toBeNull();
    expect(w.windows()).toEqual([
      { fromS: 0, n: 998, p50Us: 200, p99Us: 200, maxUs: 200 },
      { fromS: 1, n: 998, p50Us: 200, p99Us: 20_000, maxUs: 20_000 },
      { fromS: 2, n: 998, p50Us: 200, p99Us: 200, maxUs: 200 },
    ]);
  });

  it('says a capture of what left that missed more than 0.1 % of the stream, and a window none of whose frames came back', () => {
    const w = new WindowLatency(2000, 1000, 1);
    for (let seq = 0; seq < 1990; seq++) w.sent(seq, seq * 1000);
    for (let seq = 0; seq < 1000; seq++) w.received(seq, seq * 1000 + 100);
    expect(w.invalid()).toBe("the capture of what left the generator holds 1990 of the stream's 2000 frames");
    expect(w.windows()[1]).toEqual({ fromS: 1, n: 0, p50Us: null, p99Us: null, maxUs: null });
    // A soak shorter than its window: one window, the whole soak.
    expect(new WindowLatency(500, 1000, 10).windows()).toHaveLength(1);
  });
});

describe("a soak's load as a share of the last NDR", () => {
  /** A store whose last passing throughput run measured `ndr` at 64 bytes (or none). */
  const store = (ndr: number | null, asked: unknown[] = []): ResultsStore =>
    ({
      where: 'the test store',
      lastPass: async (key: unknown, before: string) => {
        asked.push({ key, before });
        return ndr === null ? null : 'run-a';
      },
      run: async () =>
        ({
          run: {
            suites: [
              {
                suite: 'throughput',
                cases: [],
                measured: { kind: 'throughput', results: [{ frame: 64, goals: [{ goal: 'NDR', lowerBound: ndr }], trials: [] }] },
              },
            ],
          },
        }) as unknown as RunRecord,
    }) as unknown as ResultsStore;

  it("takes the NDR of the last passing throughput run of the same testbed and profile, at the stream's frame size", async () => {
    const tb = parseTestbed(`${MINIMAL}soak: { ndrShare: 0.5 }\n`);
    const asked: unknown[] = [];
    const r = (await soakLoadFromBaseline(tb, 'virtual', store(9937.4, asked), '2026-12-08T00:00:00Z'))!;
    expect(r.tb.soak.rate).toBe(4969);
    expect(r.note).toBe('soak: 0.5 x the NDR of run run-a at 64-byte frames (9937 frames/s): 4969 frames/s (soak.ndrShare)');
    expect(asked).toEqual([{ key: { testbed: tb.name, profile: 'virtual', suites: ['throughput'] }, before: '2026-12-08T00:00:00Z' }]);
    expect(await soakLoadFromBaseline(parseTestbed(MINIMAL), 'virtual', store(1000), 'x')).toBeNull();
  });

  it('stops before the lab is touched where the store has no such run, and refuses a rate and a share at once', async () => {
    const tb = parseTestbed(`${MINIMAL}soak: { ndrShare: 0.5 }\n`);
    await expect(soakLoadFromBaseline(tb, 'virtual', store(null), 'x')).rejects.toThrow(
      `soak.ndrShare 0.5: no passing throughput run of testbed ${tb.name}, profile virtual in the test store to take the NDR from (run --suite throughput first, or give soak.rate)`,
    );
    expect(testbedProblems(`${MINIMAL}soak: { rate: 100, ndrShare: 0.5 }\n`)).toEqual([
      { path: 'soak.ndrShare', message: 'one of soak.rate and soak.ndrShare, not both' },
    ]);
    expect(testbedProblems(`${MINIMAL}soak: { ndrShare: 1.5 }\n`)[0]!.path).toBe('soak.ndrShare');
  });
});

describe("the PMDs' cycles per interval", () => {
  it('reads each interval from two samples: the busy share and the processing cycles per packet; an interval without a reading is skipped', () => {
    const at = (t: number, processing: number, idle: number, packets: number) => ({
      t,
      hugepagesFree: null,
      processes: {},
      pmd: { processing, idle, packets },
    });
    const samples = [at(0, 0, 0, 0), at(1, 3e8, 7e8, 1000), { t: 2, hugepagesFree: null, processes: {} }, at(3, 9e8, 11e8, 1000), at(4, 12e8, 15e8, 2500)];
    expect(pmdIntervals(samples)).toEqual([
      { t: 1, busyPct: 30, cyclesPerPacket: 300_000 },
      // No packet in the interval: busy, but no cycles per packet.
      { t: 4, busyPct: 42.9, cyclesPerPacket: 200_000 },
    ]);
    const m = { kind: 'soak', rate: 1, durationS: 4, intervalS: 1, frames: 4, samples, maxLossEvents: 0, maxGrowthMbPerHour: 1 } as SoakMeasured;
    expect(soakSummary([{ suite: 'soak', cases: [], measured: m } as never]).soak!.pmd).toEqual({
      intervals: 2,
      busyPct: { lowest: 30, median: 42.9, highest: 42.9 },
    });
    expect(soakSummary([{ suite: 'soak', cases: [], measured: { ...m, pmdNotOffered: 'no PMD' } } as never]).soak!.pmd).toEqual({ notOffered: 'no PMD' });
  });
});
