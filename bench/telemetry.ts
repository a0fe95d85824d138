// npm run bench:telemetry: which telemetry figure is steadier than NDR on a
// lab. Five healthy quick searches on the virtual lab's DPDK datapath (one
// PMD), each with its telemetry trial at the PDR; for NDR and each figure the
// gate could name, the mean over the runs and its spread, in the unit of the
// figure's threshold (lib/report/telemetry-diff.ts): (max - min) / mean for
// counts and rates, max - min in points for shares; that spread against NDR's
// (shares: not comparable), and against the testbed's default threshold, which
// must stay above it or `compare` names a healthy pair's noise. A figure whose
// spread is well below NDR's could be gated on; the gate keeps NDR's rule until
// this says otherwise (docs/gate.md). `-- --runs N` changes the count; about
// 5 minutes as it is on a 2-core box.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { parseDocument } from 'yaml';
import type { RunResult } from '../lib/results/run.js';
import { metricKey } from '../lib/results/telemetry.js';
import { throughputOf, type ThroughputResult } from '../lib/results/throughput.js';
import { DEFAULT_TELEMETRY_THRESHOLDS, POINTS } from '../lib/report/telemetry-diff.js';
import { labDown, labUp } from '../lib/vlab/lab.js';

const ROOT = new URL('..', import.meta.url).pathname;
const RUNS = process.argv.includes('--runs') ? Number(process.argv[process.argv.indexOf('--runs') + 1]) : 5;
if (!Number.isInteger(RUNS) || RUNS < 2) throw new Error('--runs: at least 2');
const reports = mkdtempSync(join(tmpdir(), 'dutlab-bench-telemetry-'));
const ID = 'btele';

function quick(file: string): string {
  const doc = parseDocument(readFileSync(file, 'utf8'));
  const goal = { relativeWidth: 0.1, initialTrialS: 0.5, finalTrialS: 2, durationSumS: 4 };
  doc.setIn(['throughput', 'ndr'], goal);
  doc.setIn(['throughput', 'pdr'], goal);
  doc.setIn(['throughput', 'maxSearchS'], 60);
  doc.setIn(['throughput', 'latency', 'loads'], []);
  const out = file.replace(/\.yaml$/, '-bench.yaml');
  writeFileSync(out, doc.toString());
  return out;
}

async function search(testbed: string): Promise<ThroughputResult> {
  const args = ['bin/dutlab.js', 'run', '--quiet', '--reports', reports, '--testbed', testbed, '--profile', 'ovs-dpdk', '--suite', 'throughput'];
  const r = await execa('node', args, { cwd: ROOT, reject: false });
  const runId = /report: .*\/([^/]+)\/summary\.md/.exec(r.stderr)?.[1];
  if (!runId) throw new Error(`the search did not report: ${r.stderr}`);
  const run = JSON.parse(readFileSync(join(reports, runId, 'run.json'), 'utf8')) as RunResult;
  const t = throughputOf(run.suites[0]!)[0];
  if (!t?.telemetry) throw new Error(`run ${runId} has no telemetry trial (exit ${r.exitCode})`);
  return t;
}

const spread = (xs: number[]) => {
  const mean = xs.reduce((a, x) => a + x, 0) / xs.length;
  return { mean, spread: mean === 0 ? 0 : (Math.max(...xs) - Math.min(...xs)) / Math.abs(mean) };
};
/** A share's spread: points between the lowest and the highest. */
const pointsSpread = (xs: number[]) => ({ mean: xs.reduce((a, x) => a + x, 0) / xs.length, spread: Math.max(...xs) - Math.min(...xs) });

async function main(): Promise<void> {
  const lab = await labUp({ id: ID, datapath: 'dpdk' });
  try {
    const testbed = quick(lab.testbedFile);
    const results: ThroughputResult[] = [];
    for (let i = 1; i <= RUNS; i++) {
      results.push(await search(testbed));
      process.stderr.write(`run ${i} of ${RUNS} done\n`);
    }
    const ndr = spread(results.map((r) => r.goals.find((g) => g.goal === 'NDR')!.lowerBound ?? 0));
    console.log(`${RUNS} healthy quick searches on the DPDK lab (one PMD), the telemetry trial at each PDR`);
    console.log(`${'figure'.padEnd(70)} ${'mean'.padStart(12)} ${'spread'.padStart(10)} ${'/ NDR'.padStart(7)} ${'threshold'.padStart(10)}`);
    console.log(
      `${'NDR lower bound (frames/s)'.padEnd(70)} ${ndr.mean.toFixed(0).padStart(12)} ${`${(ndr.spread * 100).toFixed(1)} %`.padStart(10)} ${'1.00'.padStart(7)}`,
    );
    const thresholds = DEFAULT_TELEMETRY_THRESHOLDS as Record<string, number>;
    const keys = [...new Set(results.flatMap((r) => r.telemetry!.metrics.filter((m) => m.id in DEFAULT_TELEMETRY_THRESHOLDS).map(metricKey)))];
    for (const key of keys) {
      const values = results.map((r) => r.telemetry!.metrics.find((m) => metricKey(m) === key)?.value).filter((v): v is number => typeof v === 'number');
      if (values.length < 2) continue;
      const id = key.split(' @ ')[0]!;
      const points = POINTS.has(id);
      const s = points ? pointsSpread(values) : spread(values);
      const ratio = points || ndr.spread === 0 ? '-' : (s.spread / ndr.spread).toFixed(2);
      const [shown, threshold] = points
        ? [`${s.spread.toFixed(1)} pt`, `${thresholds[id]} pt`]
        : [`${(s.spread * 100).toFixed(1)} %`, `${(thresholds[id]! * 100).toFixed(0)} %`];
      const over = s.spread > thresholds[id]! ? '  (spread above the threshold: a healthy pair is named)' : '';
      console.log(`${key.padEnd(70)} ${s.mean.toPrecision(5).padStart(12)} ${shown.padStart(10)} ${ratio.padStart(7)} ${threshold.padStart(10)}${over}`);
    }
  } finally {
    await labDown({ id: ID });
    rmSync(reports, { recursive: true, force: true });
  }
}

await main();
