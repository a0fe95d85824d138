// The soak's parts that need no lab (issue 44): the testbed's soak section
// and its refusals; the sample command and its reading; frames lost per
// interval; the memory verdict on series whose answer is known (growth of
// 1 MB a second flagged, a steady process with noise not, a step at start-up
// not growth).
import { describe, expect, it } from 'vitest';
import { parseSample, sampleCommand } from '../../lib/suite/soak/cases.js';
import { parseTestbed } from '../../lib/testbed/load.js';
import { lossPerInterval } from '../../lib/verify/gaps.js';
import { memoryGrowth } from '../../lib/verify/growth.js';
import { MINIMAL_TESTBED as MINIMAL, testbedProblems } from '../helpers/fixtures.js';

describe('the soak section', () => {
  it('has a minute at the traffic rate, sampled every second, no loss event and 50 MB/h as its defaults', () => {
    expect(parseTestbed(MINIMAL).soak).toEqual({ durationS: 60, intervalS: 1, maxLossEvents: 0, maxGrowthMbPerHour: 50, settleS: 5, watch: [] });
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
