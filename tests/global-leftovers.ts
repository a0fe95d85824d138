// Vitest global set-up: whatever the tests leave behind fails `npm test`.
// Each lab test checks its own lab after `lab down`; this catches the rest
// (a helper's temp directory, a namespace or daemon no test looked for)
// across the whole run, counting only what appeared during it.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { DPDK_RUN_DIR } from '../lib/vlab/dpdk-run.js';
import { runningTrexes, TREX_BIRD_DIR } from '../lib/vlab/trex.js';

const ours = (name: string) => name.startsWith('dutlab-');

function namespaces(): string[] {
  try {
    return execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' })
      .split('\n')
      .map((l) => l.split(' ')[0]!)
      .filter(ours);
  } catch {
    return [];
  }
}

/** Live processes started for a lab: their command lines name its state dir or namespaces. */
function labProcesses(): string[] {
  const found: string[] = [];
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const state = readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /, '')[0];
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ').trim();
      if (state !== 'Z' && /\/run\/dutlab-|netns exec dutlab-/.test(cmd)) found.push(`process ${pid}: ${cmd.slice(0, 120)}`);
    } catch {
      // gone while we looked
    }
  }
  return found;
}

/** What a lab's TRex leaves if it is not given back: its server (whatever its command line), its DPDK runtime dir, the launcher's /tmp/trex-bird. */
function trexLeftovers(): string[] {
  const dpdk = existsSync(DPDK_RUN_DIR) ? readdirSync(DPDK_RUN_DIR).filter(ours) : [];
  return [
    ...runningTrexes().map((pid) => `process ${pid}: _t-rex-64`),
    ...dpdk.map((d) => `${DPDK_RUN_DIR}/${d}`),
    ...(existsSync(TREX_BIRD_DIR) ? [TREX_BIRD_DIR] : []),
  ];
}

function leftovers(): string[] {
  return [
    ...trexLeftovers(),
    ...readdirSync('/tmp')
      .filter(ours)
      .map((n) => `/tmp/${n}`),
    ...readdirSync('/run')
      .filter(ours)
      .map((n) => `/run/${n}`),
    ...namespaces().map((n) => `namespace ${n}`),
    ...labProcesses(),
  ];
}

/** The machine's pool of 2 MB hugepages: labs reserve on top of it and give back exactly what they took. */
function hugepagePool(): number | null {
  try {
    return Number(readFileSync('/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages', 'utf8'));
  } catch {
    return null;
  }
}

function poolChange(before: number | null): string[] {
  const after = hugepagePool();
  if (before === null || after === null || after === before) return [];
  return after > before
    ? [`${after - before} hugepages of 2 MB reserved and not given back (the pool went from ${before} to ${after})`]
    : [`${before - after} hugepages of 2 MB given back that the tests had not reserved (the pool went from ${before} to ${after})`];
}

export default function setup(): () => void {
  const before = new Set(leftovers());
  const pool = hugepagePool();
  return () => {
    const left = [...leftovers().filter((x) => !before.has(x)), ...poolChange(pool)];
    if (left.length === 0) return;
    // Vitest reports a throwing teardown but still exits 0; the exit code is what CI reads.
    process.stderr.write(`\nnpm test FAILS: the tests left behind:\n${left.map((x) => `  ${x}`).join('\n')}\n`);
    process.exitCode = 1;
  };
}
