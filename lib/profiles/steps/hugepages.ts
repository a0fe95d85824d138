// A lab's hugepages as the processes that hold them: which of those are the
// lab's own daemons (ovs-vswitchd, ovs_dpdk, QEMU: their command line names
// one of the testbed's pidfiles), and whether such a daemon is exiting (its
// pidfile no longer names it: OVS and QEMU remove it as they exit, before
// the kernel has unmapped their memory). A DPDK daemon asked to exit gives
// its pages back some time after it said it would: the stop step and the
// next run's preflight wait for that, bounded, instead of racing it.
import { parseHugepageUse, type HugepageHolder, type HugepageUse } from '../../parsers/hugepages.js';
import type { Testbed } from '../../testbed/schema.js';
import type { Profile } from '../profile.js';
import { freeHugepagesFile, hugepagesNeeded } from '../../testbed/sizing.js';
import { shq } from '../../transport/quote.js';
import type { Shell } from '../../transport/shell.js';
import { waitUntil, WaitTimeoutError } from '../../wait.js';

/** How long a lab's exiting daemon may take to give back its pages (DPDK unmaps gigabytes: seconds on a loaded host). */
export const HUGEPAGE_RELEASE_BOUND_MS = 30_000;

/** Prints what parseHugepageUse reads: the free pages of the size, every process on hugepages with its command line, "end". */
export function hugepageUseCommand(sizeKb: number): string {
  // `cat` goes on past a process that exits while it reads; each status file names its own pid. A command line's
  // NULs and newlines become spaces: one line a holder.
  return (
    `echo "free $(cat ${shq(freeHugepagesFile(sizeKb))} 2>/dev/null || echo none)"; ` +
    `cat /proc/[0-9]*/status 2>/dev/null | awk '/^Pid:/ { pid = $2 } /^HugetlbPages:/ && $2 > 0 { print pid, $2 }' | ` +
    `while read -r pid kb; do printf 'holder %s %s %s\\n' "$pid" "$kb" "$(tr '\\0\\n' '  ' < /proc/$pid/cmdline 2>/dev/null)"; done; echo end`
  );
}

/** The pidfiles of the daemons a run of this testbed starts on hugepages. */
export function labPidfiles(tb: Testbed): string[] {
  return [tb.paths.vswitchdPidfile, tb.paths.ovsDpdkPidfile, tb.paths.qemuPidfile, ...(tb.vm ? [tb.vm.pidfile] : [])];
}

/** The lab's pidfile a process's command line names (`--pidfile=F`, `-pidfile F`), or null: not a process of this lab. */
export function labPidfileOf(tb: Testbed, cmdline: string): string | null {
  const words = cmdline.split(/[\s=]/);
  return labPidfiles(tb).find((f) => words.includes(f)) ?? null;
}

export interface Holder extends HugepageHolder {
  /** The lab's pidfile its command line names, or null: not a process of this lab. */
  pidfile: string | null;
  /** Of this lab, and its pidfile no longer names it: on its way out (undefined: not read). */
  exiting?: boolean;
}

export interface HugepageState {
  free: number | null;
  holders: Holder[];
}

/** Reads the free pages and who holds hugepages, each holder placed as the lab's (exiting or not) or another's. */
export async function readHugepages(shell: Shell, tb: Testbed): Promise<HugepageState> {
  const use: HugepageUse = parseHugepageUse((await shell.run(hugepageUseCommand(tb.ovsDpdk.hugepageSizeKb))).stdout);
  const named = use.holders.map((h) => ({ ...h, pidfile: labPidfileOf(tb, h.cmdline) }));
  const own = named.filter((h) => h.pidfile);
  const pids = new Map<string, string>();
  if (own.length > 0) {
    const files = [...new Set(own.map((h) => h.pidfile!))];
    const r = await shell.run(files.map((f) => `echo "$(cat ${shq(f)} 2>/dev/null | head -c 20)"`).join('; '));
    r.stdout.split('\n').forEach((pid, i) => i < files.length && pids.set(files[i]!, pid.trim()));
  }
  return {
    free: use.free,
    holders: named.map((h) => ({ ...h, exiting: h.pidfile !== null && pids.get(h.pidfile) !== String(h.pid) })),
  };
}

/** "pid 123 (ovs-vswitchd, 64 pages, of this lab, exiting)"; without `exiting` read, "… of this lab)". */
export function describeHolder(h: Holder, sizeKb: number): string {
  const program = (h.cmdline.split(' ')[0] ?? '').replace(/^.*\//, '') || '?';
  const state = h.exiting === undefined ? '' : h.exiting ? ', exiting' : ', running';
  const whose = h.pidfile ? `of this lab${state}` : 'not of this lab';
  return `pid ${h.pid} (${program}, ${Math.round(h.kb / sizeKb)} pages, ${whose})`;
}

/**
 * Before a run takes its pages: if fewer than it needs are free while a daemon
 * of this lab is still exiting, waits (bounded) until enough are free or no
 * such daemon is left. Returns what it waited for and how long, or null when
 * it did not wait (and says it to `note`); what is still short after it is the preflight probe's to
 * judge (and to name the holders).
 */
export async function awaitExitingLabHolders(shell: Shell, tb: Testbed, profile: Profile, note?: (waited: string) => void): Promise<string | null> {
  if (!profile.features.includes('dpdk-ports')) return null; // the guide's fork sizes its own
  const need = hugepagesNeeded(tb);
  const size = tb.ovsDpdk.hugepageSizeKb;
  const first = await readHugepages(shell, tb);
  const exiting = first.holders.filter((h) => h.exiting);
  if (first.free === null || first.free >= need || exiting.length === 0) return null;
  const t0 = Date.now();
  const what = `${exiting.map((h) => describeHolder(h, size)).join(', ')} to give back its hugepages (${first.free} free, the run takes ${need})`;
  const last = await waitUntil(
    what,
    async () => {
      const now = await readHugepages(shell, tb);
      return (now.free ?? 0) >= need || !now.holders.some((h) => h.exiting) ? now : false;
    },
    { timeoutMs: HUGEPAGE_RELEASE_BOUND_MS, intervalMs: 100 },
  ).catch((e: unknown) => {
    if (e instanceof WaitTimeoutError) return null;
    throw e;
  });
  const took = ((Date.now() - t0) / 1000).toFixed(1);
  const said = last ? `waited ${took} s for ${what}: ${last.free} free now` : `waited ${took} s (the bound) for ${what}: not given back`;
  note?.(said);
  return said;
}

/**
 * After the run asked its DPDK daemon to exit: waits (bounded) until the free
 * pages are back to `before` (what was free before it started) and no
 * process of this lab started by `pidfile` holds any. Returns how long it
 * took; throws, naming who still holds pages, when they are not back.
 */
export async function awaitHugepagesBack(shell: Shell, tb: Testbed, pidfile: string, before: number | null, name: string): Promise<string> {
  const size = tb.ovsDpdk.hugepageSizeKb;
  const t0 = Date.now();
  let last: HugepageState | null = null;
  const back = (s: HugepageState) => (before === null || (s.free ?? 0) >= before) && !s.holders.some((h) => h.pidfile === pidfile);
  try {
    await waitUntil(
      `${name} to give back its hugepages`,
      async () => {
        last = await readHugepages(shell, tb);
        return back(last);
      },
      { timeoutMs: HUGEPAGE_RELEASE_BOUND_MS, intervalMs: 100 },
    );
  } catch (e) {
    if (!(e instanceof WaitTimeoutError) || !last) throw e;
    const s: HugepageState = last;
    const held = s.holders.map((h) => describeHolder(h, size));
    throw new Error(
      `hugepages: ${before ?? '?'} free before ${name} started, ${s.free ?? '?'} ${HUGEPAGE_RELEASE_BOUND_MS / 1000} s after it was asked to exit` +
        `${before !== null && s.free !== null && s.free < before ? `: ${before - s.free} not given back` : ''}${held.length ? `; held by ${held.join(', ')}` : ''}`,
    );
  }
  return `${name} gave back its hugepages ${((Date.now() - t0) / 1000).toFixed(1)} s after it was asked to exit`;
}
