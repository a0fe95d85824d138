// npm run bench:throughput: how right the throughput search is, and what the
// gate catches, on the virtual lab with the nightly defaults (width 5 %, 1 s
// then 2 s trials, a 6 s sum, 64-byte frames).
//
// 1. A DUT of known capacity (lab up --capacity): five searches at each of 2,
//    5 and 10 kframes/s; each search's NDR and PDR bounds, its error against
//    the capacity and its time; whether the NDR bounds contain the capacity or
//    miss it by less than the asked width, in how many of five.
// 2. The gate at a 5 % threshold on the 5 kframes/s DUT: the ten pairs of its
//    five healthy searches (an unchanged DUT: no regression may be called),
//    and five searches with the capacity cut by 10 %, each against a healthy
//    one (a regression must be called in every pair).
// 3. The unshaped virtual DUT: two searches, and whether they agree.
// 4. `-- --pinning` (that section alone, about 17 minutes): five healthy
//    searches on the unshaped DUT as the lab comes, five with the switch and
//    the generator on CPUs of their own (lab up --pin), and the spread of their
//    NDRs each way: what pinning buys.
// It takes about 15 minutes on a 2-core box. `-- --quick` runs one capacity
// (5 kframes/s) and skips 3.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { parseDocument } from 'yaml';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { compareRuns } from '../lib/report/compare.js';
import { loadRun } from '../lib/store/file.js';
import type { RunResult } from '../lib/results/run.js';
import { throughputOf } from '../lib/results/throughput.js';
import { capacityRule } from '../lib/vlab/capacity.js';
import { labDown, labUp } from '../lib/vlab/lab.js';

const ROOT = new URL('..', import.meta.url).pathname;
const ID = 'bench-tput';
const WIDTH = 0.05;
const THRESHOLD = 0.05;
const quick = process.argv.includes('--quick');
/** `-- --pinning`: only section 4, what pinning the switch and the generator to CPUs of their own buys the unshaped DUT. */
const pinning = process.argv.includes('--pinning');
/** `-- --capacities 2000,10000` runs those capacities only (the pairs only if 5000 is among them; not the unshaped DUT). */
const only = process.argv.includes('--capacities') ? process.argv[process.argv.indexOf('--capacities') + 1]!.split(',').map(Number) : null;
const reports = mkdtempSync(join(tmpdir(), 'dutlab-bench-'));
const kfps = (x: number | null | undefined) => (x === null || x === undefined ? 'none' : (x / 1000).toFixed(2));

interface Search {
  runId: string;
  seconds: number;
  ndr: { lower: number | null; upper: number | null };
  pdr: { lower: number | null; upper: number | null };
}

/** The lab's testbed without the latency after each search (npm run bench:latency measures that): the searches alone. */
function searchesOnly(testbed: string): string {
  const doc = parseDocument(readFileSync(testbed, 'utf8'));
  doc.setIn(['throughput', 'latency', 'loads'], []);
  const file = `${testbed.replace(/\.yaml$/, '')}-searches.yaml`;
  writeFileSync(file, doc.toString());
  return file;
}

async function search(testbed: string, profile: string, hook?: string): Promise<Search> {
  const args = ['bin/dutlab.js', 'run', '--quiet', '--reports', reports, '--testbed', searchesOnly(testbed), '--profile', profile, '--suite', 'throughput'];
  const r = await execa('node', [...args, ...(hook ? ['--hook-before-traffic', hook] : [])], { cwd: ROOT, reject: false });
  const runId = /report: .*\/([^/]+)\/summary\.md/.exec(r.stderr)?.[1];
  if (!runId) throw new Error(`the search did not report: ${r.stderr}`);
  const run = JSON.parse(readFileSync(join(reports, runId, 'run.json'), 'utf8')) as RunResult;
  const t = throughputOf(run.suites[0]!)[0];
  const goal = (name: string) => {
    const g = t?.goals.find((x) => x.goal === name);
    return { lower: g?.lowerBound ?? null, upper: g?.upperBound ?? null };
  };
  const searchCase = run.suites[0]!.cases.find((s) => s.id.startsWith('throughput.ndr-pdr'));
  return { runId, seconds: (searchCase?.durationMs ?? 0) / 1000, ndr: goal('NDR'), pdr: goal('PDR') };
}

/** Within the asked width of the capacity: the bounds hold it, or the nearer bound misses it by less than the width. */
function near(b: { lower: number | null; upper: number | null }, capacity: number): { ok: boolean; error: number } {
  if (b.lower === null) return { ok: false, error: Number.NaN };
  const upper = b.upper ?? Number.POSITIVE_INFINITY;
  const miss = b.lower > capacity ? (b.lower - capacity) / capacity : upper < capacity ? (capacity - upper) / capacity : 0;
  return { ok: miss < WIDTH, error: ((b.lower + Math.min(upper, b.lower * 2)) / 2 - capacity) / capacity };
}

const regression = (base: string, cand: string) =>
  compareRuns(loadRun(base, reports), loadRun(cand, reports), { throughput: THRESHOLD, latency: 0.5 }).regressions.length > 0;

try {
  console.log("1. A DUT of known capacity: five searches at each (kframes/s; error: the bounds' middle against the capacity)");
  console.log('capacity  search  NDR bounds      PDR bounds      error    within 5 %  time');
  const healthyAt5: string[] = [];
  for (const capacity of pinning ? [] : (only ?? (quick ? [5000] : [2000, 5000, 10_000]))) {
    const lab = await labUp({ id: ID, capacity });
    let within = 0;
    for (let i = 1; i <= 5; i++) {
      const s = await search(lab.testbedFile, 'virtual');
      const n = near(s.ndr, capacity);
      if (n.ok) within++;
      if (capacity === 5000) healthyAt5.push(s.runId);
      console.log(
        `${kfps(capacity).padStart(8)}  ${String(i).padStart(6)}  ${`${kfps(s.ndr.lower)}..${kfps(s.ndr.upper)}`.padEnd(14)}  ${`${kfps(s.pdr.lower)}..${kfps(s.pdr.upper)}`.padEnd(14)}  ${`${(n.error * 100).toFixed(1)} %`.padStart(7)}  ${(n.ok ? 'yes' : 'NO').padStart(10)}  ${s.seconds.toFixed(0)} s`,
      );
    }
    console.log(
      `${kfps(capacity)} kframes/s: the NDR bounds within the asked width of the capacity in ${within} of 5 (bucket ${lab.capacity!.burst} frames: the generator's burst ${lab.capacity!.generatorBurst} + the datapath's 32 + 10 ms of frames)`,
    );
    if (capacity === 5000) {
      console.log(`\n2. The gate at a ${THRESHOLD * 100} % threshold on the 5 kframes/s DUT`);
      const cut = capacityRule('1.1.1.1', 4500, lab.capacity!.burst);
      const cutHook = `ip netns exec ${lab.namespaces.guest} ${cut}`;
      let unchangedCalled = 0;
      let pairs = 0;
      for (let a = 0; a < healthyAt5.length; a++)
        for (let b = a + 1; b < healthyAt5.length; b++) {
          pairs++;
          if (regression(healthyAt5[a]!, healthyAt5[b]!)) unchangedCalled++;
        }
      console.log(`unchanged capacity: a regression called in ${unchangedCalled} of ${pairs} pairs (must be 0)`);
      let caught = 0;
      for (let i = 0; i < 5; i++) {
        const s = await search(lab.testbedFile, 'virtual', cutHook);
        const called = regression(healthyAt5[i]!, s.runId);
        if (called) caught++;
        console.log(`  cut to 4.5 kframes/s: NDR ${kfps(s.ndr.lower)}..${kfps(s.ndr.upper)} against ${healthyAt5[i]}: ${called ? 'regression' : 'NOT called'}`);
        // Back to the capacity for the next pair's baseline (each cut search's hook sets 4.5 again).
        await execa('ip', ['netns', 'exec', lab.namespaces.guest, 'sh', '-c', capacityRule('1.1.1.1', 5000, lab.capacity!.burst)]);
      }
      console.log(`a 10 % cut: a regression called in ${caught} of 5 pairs (must be 5)\n`);
    }
    await labDown({ id: ID });
  }
  if (!quick && !only && !pinning) {
    console.log('3. The unshaped virtual DUT: two searches');
    const lab = await labUp({ id: ID });
    const found: Search[] = [];
    for (let i = 0; i < 2; i++) {
      const s = await search(lab.testbedFile, 'virtual');
      found.push(s);
      console.log(
        `search ${i + 1}: ${s.seconds.toFixed(1)} s; NDR ${kfps(s.ndr.lower)}..${kfps(s.ndr.upper)}, PDR ${kfps(s.pdr.lower)}..${kfps(s.pdr.upper)} (target: at most 90 s)`,
      );
    }
    const [a, b] = [found[0]!.ndr, found[1]!.ndr];
    const overlap =
      a.lower !== null && b.lower !== null && a.lower <= (b.upper ?? Number.POSITIVE_INFINITY) && b.lower <= (a.upper ?? Number.POSITIVE_INFINITY);
    console.log(`NDR: the two searches ${overlap ? 'agree' : 'do NOT agree'} within their own bounds`);
  }
  if (pinning) {
    // 4. What pinning buys the unshaped DUT: five searches as the lab comes, five with the switch and the generator on CPUs of their own.
    console.log('4. The unshaped virtual DUT, five healthy searches unpinned, then five pinned (lab up --pin)');
    const spreads: Record<string, number> = {};
    for (const pin of [false, true]) {
      await labDown({ id: ID });
      const lab = await labUp({ id: ID, pin });
      const lowers: number[] = [];
      for (let i = 0; i < 5; i++) {
        const s = await search(lab.testbedFile, 'virtual');
        if (s.ndr.lower !== null) lowers.push(s.ndr.lower);
        console.log(
          `${pin ? 'pinned' : 'unpinned'} ${i + 1}: ${s.seconds.toFixed(1)} s; NDR ${kfps(s.ndr.lower)}..${kfps(s.ndr.upper)}, PDR ${kfps(s.pdr.lower)}..${kfps(s.pdr.upper)}`,
        );
      }
      const [lo, hi] = [Math.min(...lowers), Math.max(...lowers)];
      spreads[pin ? 'pinned' : 'unpinned'] = 1 - lo / hi;
      console.log(
        `${pin ? 'pinned' : 'unpinned'}: NDR lower bounds ${kfps(lo)}..${kfps(hi)} kfps: the lowest ${((1 - lo / hi) * 100).toFixed(0)} % below the highest (a threshold below that calls a healthy pair a regression)`,
      );
    }
    console.log(`pinning: the spread ${(spreads.unpinned! * 100).toFixed(0)} % unpinned, ${(spreads.pinned! * 100).toFixed(0)} % pinned`);
  }
} finally {
  rmSync(reports, { recursive: true, force: true });
  await labDown({ id: ID });
}
