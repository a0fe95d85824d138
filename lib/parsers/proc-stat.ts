// Steal time: the CPU time a virtual machine's hypervisor gave to someone
// else while this machine's CPUs had work (/proc/stat, the eighth figure of
// each cpuN line, in USER_HZ ticks). A traffic generator in a VM whose CPU
// quota runs out stops for tens of milliseconds and then catches up in a
// burst: loss that is not the DUT's (lib/suite/throughput/steal.ts).
import { ParseError } from '../errors.js';

/** Each CPU's steal so far (ticks) and the ticks per second. */
export interface StealReading {
  ticks: number[];
  hz: number;
}

/** Every CPU's line of /proc/stat, then the tick rate: what parseSteal reads. */
export const STEAL_COMMAND = `grep '^cpu[0-9]' /proc/stat; echo "hz $(getconf CLK_TCK)"`;

/** The output of STEAL_COMMAND; a reading cut short (no last "hz N" line, a CPU line without its steal figure) is refused. */
export function parseSteal(text: string): StealReading {
  const lines = text.split('\n').filter((l) => l.trim() !== '');
  const hz = /^hz (\d+)$/.exec(lines.at(-1) ?? '');
  if (!hz || Number(hz[1]) === 0)
    throw new ParseError('the steal reading', 'a last line "hz N" (getconf CLK_TCK; the reading was cut short)', lines.at(-1) ?? '<empty>');
  const cpus = lines.slice(0, -1);
  if (cpus.length === 0) throw new ParseError('the steal reading', "at least one 'cpuN' line of /proc/stat", text);
  const ticks = cpus.map((l) => {
    const m = /^cpu\d+((?: \d+){8,})$/.exec(l.trim());
    if (!m) throw new ParseError('the steal reading', "'cpuN' and at least 8 figures (user nice system idle iowait irq softirq steal)", l);
    return Number(m[1]!.trim().split(' ')[7]);
  });
  return { ticks, hz: Number(hz[1]) };
}

/**
 * The most CPU time any one CPU lost to the hypervisor between two readings,
 * in ms: the generator runs on one CPU, which one the reading cannot tell,
 * so the worst. A CPU that came or went between them is left out.
 */
export function stolenMs(before: StealReading, after: StealReading): number {
  const n = Math.min(before.ticks.length, after.ticks.length);
  let most = 0;
  for (let i = 0; i < n; i++) most = Math.max(most, after.ticks[i]! - before.ticks[i]!);
  return Math.round((most * 1000) / after.hz);
}
