// DPDK's runtime directories: one per --file-prefix under /var/run/dpdk, made
// by every primary process (even with --in-memory) and left after it exits.
// A lab gives back the one of its prefix, and the parent only if it made it
// and nothing else's is in it.
import { existsSync, rmdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';

export const DPDK_RUN_DIR = '/var/run/dpdk';

/** Removes `<DPDK_RUN_DIR>/<prefix>`, and the parent when `madeParent` and it is empty; returns what it removed. */
export function giveBackDpdkRunDir(prefix: string, madeParent: boolean): string[] {
  const removed: string[] = [];
  const mine = join(DPDK_RUN_DIR, prefix);
  if (existsSync(mine)) {
    rmSync(mine, { recursive: true, force: true });
    removed.push(`DPDK runtime dir ${mine}`);
  }
  if (madeParent) {
    try {
      rmdirSync(DPDK_RUN_DIR);
      removed.push(`DPDK runtime dir ${DPDK_RUN_DIR}`);
    } catch {
      // Not empty (another DPDK process's), or gone already.
    }
  }
  return removed;
}
