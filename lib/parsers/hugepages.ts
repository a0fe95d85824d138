// Who holds a machine's hugepages: the free count of one page size, and the
// processes whose memory is on hugepages (the kernel's HugetlbPages in
// /proc/<pid>/status, all sizes, in kB), with their command lines. Read by
// the preflight (pages held by a lab's daemon that is still exiting are
// waited for; pages held by anyone else are named) and by the DPDK
// switch's stop step (every page it took is back before the next run).
import { ParseError } from '../errors.js';

export interface HugepageHolder {
  pid: number;
  /** HugetlbPages, kB: every size the process maps, shared mappings counted in each process. */
  kb: number;
  /** Its command line, NULs as spaces. */
  cmdline: string;
}

export interface HugepageUse {
  /** null: the kernel has no pages of this size. */
  free: number | null;
  holders: HugepageHolder[];
}

/**
 * The output of `hugepageUseCommand`: "free N", then one line per holder,
 * "holder PID KB CMDLINE", then "end" (a reading cut short is refused, never
 * read as fewer holders).
 */
export function parseHugepageUse(text: string): HugepageUse {
  const lines = text.split('\n').filter((l) => l.trim() !== '');
  const free = /^free (\d+|none)$/.exec(lines[0] ?? '');
  if (!free) throw new ParseError('the hugepage reading', '"free N" (or "free none") first', lines[0] ?? '<empty>');
  if (lines.at(-1) !== 'end') throw new ParseError('the hugepage reading', 'a last line "end" (the reading was cut short)', lines.at(-1) ?? '<empty>');
  const holders = lines.slice(1, -1).map((l) => {
    const m = /^holder (\d+) (\d+) ?(.*)$/.exec(l);
    if (!m) throw new ParseError('the hugepage reading', '"holder PID KB CMDLINE"', l);
    return { pid: Number(m[1]), kb: Number(m[2]), cmdline: m[3]!.trim() };
  });
  return { free: free[1] === 'none' ? null : Number(free[1]), holders };
}

/** A hugepage size as people write it: 2 MB, 1 GB. */
export const hugepageSizeText = (kb: number): string => (kb >= 1048576 ? `${kb / 1048576} GB` : `${kb / 1024} MB`);
/** As the kernel command line and mount's pagesize= take it: 2M, 1G. */
export const hugepageSizeWord = (kb: number): string => (kb >= 1048576 ? `${kb / 1048576}G` : `${kb / 1024}M`);

/** Prints the default hugepage size ("default KB") and each hugetlbfs mount ("mount PATH OPTIONS"): parseHugetlbfsMounts reads it. */
export const HUGETLBFS_MOUNTS_COMMAND = `echo "default $(awk '/^Hugepagesize:/ {print $2}' /proc/meminfo)"; awk '$3 == "hugetlbfs" {print "mount " $2 " " $4}' /proc/mounts`;

/** The hugetlbfs mounts and the size of their pages in KiB (a mount without pagesize= has the default size). */
export function parseHugetlbfsMounts(text: string): Array<{ at: string; options: string; kb: number }> {
  const defaultKb = Number(/^default (\d+)$/m.exec(text)?.[1] ?? 0);
  return [...text.matchAll(/^mount (\S+) (\S+)$/gm)].map((m) => {
    const p = /(?:^|,)pagesize=(\d+)([KMG])/.exec(m[2]!);
    const kb = p ? Number(p[1]) * { K: 1, M: 1024, G: 1048576 }[p[2] as 'K' | 'M' | 'G'] : defaultKb;
    return { at: m[1]!, options: m[2]!, kb };
  });
}
