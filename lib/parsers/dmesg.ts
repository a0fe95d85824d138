// dmesg: the kernel log, with or without timestamps, and what the harness looks for in it.
export interface DmesgLine {
  time?: number;
  text: string;
}

export function parseDmesg(text: string): DmesgLine[] {
  return text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((line) => {
      const m = /^\[\s*(\d+\.\d+)\]\s?(.*)$/.exec(line);
      return m ? { time: Number(m[1]), text: m[2]! } : { text: line };
    });
}

export const KNI_LOADING = /KNI: #+ DPDK kni module loading #+/;
export const KNI_LOADED = /KNI: #+ DPDK kni module loaded #+/;
export const IVSHMEM_FOUND = /KNI: IVSHMEM metadata found/;
export const IVSHMEM_NOT_FOUND = /KNI: IVSHMEM metadata NOT found/;

/** Kernel messages that mean the kernel itself is in trouble: an Oops, a BUG, a panic, a hung task, a lockup or stall, the OOM killer. */
const KERNEL_TROUBLE = [
  /\bOops\b/,
  /\bBUG:/,
  /Kernel panic/i,
  /\bpanic\b/i,
  /Call Trace:/,
  /general protection fault/,
  /\bsoft lockup\b/,
  /\bhard LOCKUP\b/,
  /INFO: task \S+ blocked for more than \d+ seconds/,
  /\brcu\b.*\bstall\b/,
  /invoked oom-killer/,
  /Out of memory: Killed process/,
];

export function kernelTrouble(lines: DmesgLine[]): DmesgLine[] {
  return lines.filter((l) => KERNEL_TROUBLE.some((re) => re.test(l.text)));
}

/**
 * What a kernel said of its own failure on a serial console (a VM's console
 * file, QEMU's -nographic output): the trouble lines, in order, as printed,
 * at most `max` (the first ones, where it began, and the last, how it ended).
 */
export function kernelLastWords(consoleText: string, max = 12): string[] {
  const lines = parseDmesg(consoleText.replace(/\r/g, ''));
  const said = kernelTrouble(lines).map((l) => (l.time !== undefined ? `[${l.time.toFixed(6)}] ${l.text}` : l.text));
  return said.length <= max ? said : [...said.slice(0, max - 1), said.at(-1)!];
}

export type IvshmemState = 'found' | 'not-found' | 'absent' | 'contradictory';

/** What the KNI module said about IVSHMEM metadata, in its last load. */
export function ivshmemState(lines: DmesgLine[]): IvshmemState {
  let start = -1;
  lines.forEach((l, i) => KNI_LOADING.test(l.text) && (start = i));
  const tail = lines.slice(Math.max(0, start));
  const found = tail.some((l) => IVSHMEM_FOUND.test(l.text));
  const notFound = tail.some((l) => IVSHMEM_NOT_FOUND.test(l.text));
  if (found && notFound) return 'contradictory';
  return found ? 'found' : notFound ? 'not-found' : 'absent';
}

/** Lines logged after a point in time (a run's start), when the log has timestamps. */
export function since(lines: DmesgLine[], time: number | undefined): DmesgLine[] {
  if (time === undefined) return lines;
  return lines.filter((l) => l.time === undefined || l.time > time);
}
