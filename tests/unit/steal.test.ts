import { describe, expect, it } from 'vitest';
import { ParseError } from '../../lib/errors.js';
import { parseSteal, STEAL_COMMAND, stolenMs } from '../../lib/parsers/proc-stat.js';
import { StealWatch } from '../../lib/suite/throughput/steal.js';
import { LocalShell } from '../../lib/transport/local.js';
import { output } from '../helpers/fixtures.js';

/** This box's reading (two CPUs, 100 ticks a second), each CPU's steal raised by the ticks given. */
function reading(...stolenTicks: number[]): string {
  return output('proc-stat-cpus-steal-two-cpus.txt').replace(
    /^(cpu(\d+)(?: \d+){7}) (\d+)/gm,
    (_l, head: string, cpu: string, steal: string) => `${head} ${Number(steal) + (stolenTicks[Number(cpu)] ?? 0)}`,
  );
}

describe('steal time (/proc/stat)', () => {
  it("reads each CPU's steal and the tick rate; the most one CPU lost between two readings, in ms", () => {
    expect(parseSteal(output('proc-stat-cpus-steal-two-cpus.txt'))).toEqual({ ticks: [15102, 15081], hz: 100 });
    expect(stolenMs(parseSteal(reading()), parseSteal(reading(3, 11)))).toBe(110);
    expect(stolenMs(parseSteal(reading()), parseSteal(reading()))).toBe(0);
  });

  it('refuses a reading cut short: no tick rate, no CPU, a CPU line without its steal figure', () => {
    const text = output('proc-stat-cpus-steal-two-cpus.txt');
    expect(() => parseSteal(text.replace(/hz 100\n?$/, ''))).toThrow(ParseError);
    expect(() => parseSteal('hz 100\n')).toThrow(/at least one 'cpuN' line/);
    expect(() => parseSteal('cpu0 1 2 3 4 5\nhz 100\n')).toThrow(/at least 8 figures/);
  });

  it('is read on a real machine with the command the watch runs', async () => {
    const r = parseSteal((await new LocalShell('steal').run(STEAL_COMMAND)).stdout);
    expect(r.ticks.length).toBeGreaterThan(0);
    expect(r.hz).toBeGreaterThan(0);
  });
});

describe("a search's trial the TG's host was stalled in (StealWatch)", () => {
  /** A TG host whose steal readings come in the order given (each a CPU's extra ticks since the first). */
  function host(...readings: number[][]) {
    const ran: string[] = [];
    const run = async (c: string) => {
      ran.push(c);
      return { stdout: reading(...(readings.shift() ?? [])), stderr: '', exitCode: 0, signal: null, durationMs: 1 };
    };
    return { ran, shell: { run } };
  }
  const limits = { maxMs: 20, tries: 3 };
  /** Tries that each lost `lost` of 4750 frames in 1 s, counted. */
  function tries(...lost: number[]) {
    const made: number[] = [];
    return { made, measure: async () => ({ sent: 4750, received: 4750 - lost[made.push(0) - 1]!, durationS: 1 }) };
  }

  it('explains a loss by a stall when the generator would have sent at least that many frames while it stood still', () => {
    // 4750 frames/s for 1 s, a CPU stalled 110 ms: a burst of at most 4750 x 0.12 = 570 frames.
    const trial = (received: number) => ({ sent: 4750, received, durationS: 1 });
    expect([0, 1, 570, 571, 4000].map((lost) => StealWatch.lossExplained(trial(4750 - lost), 110))).toEqual([false, true, true, false, false]);
  });

  it('keeps a trial its host lost no more than the bound in, measured once', async () => {
    const h = host([0, 0], [2, 1]);
    const t = tries(300);
    const notes: string[] = [];
    const r = await new StealWatch(h.shell, limits, (l) => notes.push(l)).trial(4750, 'a 1 s trial', t.measure);
    expect([r.received, t.made.length, notes]).toEqual([4450, 1, []]);
    expect(h.ran).toEqual([STEAL_COMMAND, STEAL_COMMAND]);
  });

  it('measures a trial again when a CPU of its host lost more than the bound and the stall explains its loss, and says so', async () => {
    const h = host([0, 0], [0, 11], [0, 11], [0, 12]);
    const t = tries(300, 0);
    const notes: string[] = [];
    const r = await new StealWatch(h.shell, limits, (l) => notes.push(l)).trial(4750, 'a 1 s trial', t.measure);
    expect([r.received, t.made.length]).toEqual([4750, 2]);
    expect(notes).toEqual([
      "a 1 s trial at 4750 frames/s measured again: a CPU of the TG's host lost 110 ms to its hypervisor during it (steal time; tg.steal.maxMs 20), so the generator's frames left late and then in a burst, and the loss may be that burst's",
    ]);
  });

  it('keeps a trial whose result the stall cannot have made: passed despite it, or lost more than the generator would have sent while it stood still', async () => {
    for (const lost of [0, 4000]) {
      const t = tries(lost);
      const r = await new StealWatch(host([0, 0], [11, 0]).shell, limits, () => undefined).trial(4750, 'a 1 s trial', t.measure);
      expect([r.received, t.made.length]).toEqual([4750 - lost, 1]);
    }
  });

  it('counts the last try as measured when the host stalled in every one, and says so', async () => {
    const h = host([0, 0], [10, 0], [10, 0], [14, 0], [14, 0], [44, 0]);
    const t = tries(300, 200, 100);
    const notes: string[] = [];
    const r = await new StealWatch(h.shell, limits, (l) => notes.push(l)).trial(4750, 'a 1 s trial', t.measure);
    expect([r.received, t.made.length, notes.length]).toEqual([4650, 3, 3]);
    expect(notes[2]).toBe(
      "a 1 s trial at 4750 frames/s counted as measured after 3 tries: a CPU of the TG's host lost 100, 40, 300 ms to its hypervisor during them (steal time; tg.steal.maxMs 20), and its loss may be the generator's burst after the stall",
    );
  });
});
