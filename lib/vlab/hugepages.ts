// Hugepages are the whole machine's: a lab reserves the pages its DPDK
// datapath will take on top of whatever is reserved already, and gives back
// exactly that many at lab down, never resetting the count. Each change is a
// read-modify-write under flock(1) on the page size's sysfs directory, so
// that labs coming up and going down at once do not lose each other's pages.
import { LocalShell } from '../transport/local.js';
import { shq } from '../transport/quote.js';

export const hugepageDir = (sizeKb: number) => `/sys/kernel/mm/hugepages/hugepages-${sizeKb}kB`;

export class HugepageError extends Error {}

async function locked(sizeKb: number, script: string): Promise<string> {
  const dir = hugepageDir(sizeKb);
  const r = await new LocalShell('vlab').run(`flock ${shq(dir)} sh -c ${shq(script)}`, { okExitCodes: [0, 3] });
  if (r.exitCode === 3) throw new HugepageError(r.stderr.trim());
  return r.stdout.trim();
}

/** Reserves `pages` more pages of the size; all or none. Returns the count before. */
export async function reserveHugepages(sizeKb: number, pages: number): Promise<number> {
  const f = `${hugepageDir(sizeKb)}/nr_hugepages`;
  const before = await locked(
    sizeKb,
    `f=${shq(f)}; cur=$(cat "$f"); want=$((cur + ${pages})); echo "$want" > "$f"; got=$(cat "$f"); ` +
      `if [ "$got" -lt "$want" ]; then echo "$cur" > "$f"; echo "could reserve only $((got - cur)) of ${pages} ${sizeKb / 1024} MB hugepages (memory too fragmented or too small): none kept" >&2; exit 3; fi; echo "$cur"`,
  );
  return Number(before);
}

/**
 * Gives back `pages` pages of the size. Returns how many it could: fewer when
 * the pool holds fewer than that (somebody lowered it by hand, or gave back
 * pages that were not theirs), never below zero; the caller names the gap.
 */
export async function releaseHugepages(sizeKb: number, pages: number): Promise<number> {
  const f = `${hugepageDir(sizeKb)}/nr_hugepages`;
  const before = await locked(sizeKb, `f=${shq(f)}; cur=$(cat "$f"); new=$((cur - ${pages})); [ "$new" -lt 0 ] && new=0; echo "$new" > "$f"; echo "$cur"`);
  return Math.min(pages, Number(before));
}

export async function hugepageCounts(sizeKb: number): Promise<{ total: number; free: number }> {
  const r = await new LocalShell('vlab').run(`cat ${shq(`${hugepageDir(sizeKb)}/nr_hugepages`)} ${shq(`${hugepageDir(sizeKb)}/free_hugepages`)}`);
  const [total, free] = r.stdout.trim().split('\n').map(Number);
  return { total: total!, free: free! };
}
