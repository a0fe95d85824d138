// npm run bench:throughput: the throughput suite's search on the virtual lab
// with the nightly defaults (width 5 %, 1 s then 2 s trials, a 6 s sum), twice
// in a row. Prints each search's time (target: at most 90 s), its bounds, and
// whether the two searches agree within their own stated bounds.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import type { RunResult } from '../lib/results/run.js';
import { labDown, labUp } from '../lib/vlab/lab.js';
import { throughputOf } from '../lib/suite/throughput/result.js';

const ROOT = new URL('..', import.meta.url).pathname;
const ID = 'bench-tput';
const lab = await labUp({ id: ID });
const reports = mkdtempSync(join(tmpdir(), 'dutlab-bench-'));
const kfps = (x: number | null) => (x === null ? 'none' : `${(x / 1000).toFixed(1)}k`);
try {
  const found: Array<Record<string, { lower: number | null; upper: number | null }>> = [];
  for (let i = 0; i < 2; i++) {
    const t0 = performance.now();
    const r = await execa(
      'node',
      ['bin/dutlab.js', 'run', '--quiet', '--reports', reports, '--testbed', lab.testbedFile, '--profile', 'virtual', '--suite', 'throughput'],
      {
        cwd: ROOT,
        reject: false,
      },
    );
    const runId = /report: .*\/([^/]+)\/summary\.md/.exec(r.stderr)?.[1];
    const run = JSON.parse(readFileSync(join(reports, runId!, 'run.json'), 'utf8')) as RunResult;
    const t = throughputOf(run.suites[0]!)[0];
    const search = run.suites[0]!.cases.find((s) => s.id.startsWith('throughput.ndr-pdr'));
    found.push(Object.fromEntries((t?.goals ?? []).map((g) => [g.goal, { lower: g.lowerBound, upper: g.upperBound }])));
    console.log(
      `search ${i + 1}: ${((search?.durationMs ?? 0) / 1000).toFixed(1)} s (the run ${((performance.now() - t0) / 1000).toFixed(1)} s, exit ${r.exitCode}), ${t?.trials.length ?? 0} trials; ` +
        (t?.goals ?? []).map((g) => `${g.goal} ${kfps(g.lowerBound)}..${kfps(g.upperBound)}`).join(', ') +
        '  (target: the search at most 90 s)',
    );
  }
  for (const goal of ['NDR', 'PDR']) {
    const [a, b] = [found[0]![goal], found[1]![goal]];
    const overlap =
      a && b && a.lower !== null && b.lower !== null && a.lower <= (b.upper ?? Number.POSITIVE_INFINITY) && b.lower <= (a.upper ?? Number.POSITIVE_INFINITY);
    console.log(`${goal}: the two searches ${overlap ? 'agree' : 'do NOT agree'} within their own bounds`);
  }
} finally {
  rmSync(reports, { recursive: true, force: true });
  await labDown({ id: ID });
}
