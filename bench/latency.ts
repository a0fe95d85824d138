// npm run bench:latency: how right the latency measurement is, and how much
// the virtual lab's latency moves between healthy runs.
//
// 1. A queue of known delay (tests/suites/known-delay.e2e.ts: 100 frames at
//    5 kframes/s on the guest's egress, 20 ms when full): five runs; p50 with
//    the queue full against the computed delay, p50 far below the rate, the
//    mean and p90 near it against far below it.
// 2. The unshaped virtual DUT: five quick throughput runs (the lab tier's
//    searches, latency at 0, 10, 50 and 90 % of each run's PDR); p50/p99 at
//    each load, and the spread of p99 at 50 % of PDR (the gate's figure):
//    the threshold under which a pair of healthy runs would be called a
//    regression, against the virtual testbeds' throughput.latency.regressionThreshold.
// About 8 minutes on a 2-core box; `-- --quick` runs two of each.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { parseDocument } from 'yaml';
import type { RunResult } from '../lib/results/run.js';
import { loadName, throughputOf } from '../lib/results/throughput.js';
import { loadTestbed } from '../lib/testbed/load.js';
import { labDown, labUp } from '../lib/vlab/lab.js';
import { fullQueueDelayUs } from '../lib/vlab/queue.js';
import type { KnownDelayMeasured } from '../lib/vlab/known-delay.js';
import { QUEUE, TOLERANCE } from '../lib/vlab/known-delay.js';

const ROOT = new URL('..', import.meta.url).pathname;
const ID = 'bench-lat';
const N = process.argv.includes('--quick') ? 2 : 5;
const reports = mkdtempSync(join(tmpdir(), 'dutlab-bench-'));

async function run(args: string[]): Promise<RunResult> {
  const r = await execa('node', ['bin/dutlab.js', 'run', '--quiet', '--reports', reports, ...args], { cwd: ROOT, reject: false });
  const runId = /report: .*\/([^/]+)\/summary\.md/.exec(r.stderr)?.[1];
  if (!runId) throw new Error(`the run did not report: ${r.stderr}`);
  return JSON.parse(readFileSync(join(reports, runId, 'run.json'), 'utf8')) as RunResult;
}

async function knownDelay(testbed: string): Promise<void> {
  const expected = fullQueueDelayUs({ ...QUEUE, iface: 'x' });
  console.log(`\n1. A queue of known delay: ${QUEUE.queueFrames} frames at ${QUEUE.fps} frames/s, ${expected} µs when full (tolerance ${TOLERANCE * 100} %)`);
  console.log('run  full p50 µs  error   far-below p50  near/far mean µs  near/far p90 µs');
  let within = 0;
  for (let i = 1; i <= N; i++) {
    const m = (await run(['--testbed', testbed, '--profile', 'virtual', '--suites-dir', join(ROOT, 'tests/suites'), '--suite', 'known-delay'])).suites[0]!
      .measured as KnownDelayMeasured;
    const [u, n, o] = [m.trials.under.latency!, m.trials.near.latency!, m.trials.over.latency!];
    const error = ((o.p50Us ?? 0) - expected) / expected;
    if (Math.abs(error) <= TOLERANCE) within++;
    console.log(
      `${String(i).padEnd(4)} ${String(o.p50Us).padStart(10)}  ${`${(error * 100).toFixed(1)} %`.padStart(7)}  ${String(u.p50Us).padStart(13)}  ${`${n.avgUs}/${u.avgUs}`.padStart(16)}  ${`${n.p90Us}/${u.p90Us}`.padStart(15)}`,
    );
  }
  console.log(`p50 with the queue full within ${TOLERANCE * 100} % of ${expected} µs in ${within} of ${N}`);
}

async function unshaped(testbedFile: string, stateDir: string): Promise<void> {
  const doc = parseDocument(readFileSync(testbedFile, 'utf8'));
  const goal = { relativeWidth: 0.2, initialTrialS: 0.5, finalTrialS: 1, durationSumS: 2 };
  doc.setIn(['throughput', 'ndr'], goal);
  doc.setIn(['throughput', 'pdr'], goal);
  doc.setIn(['throughput', 'maxSearchS'], 60);
  const testbed = join(stateDir, 'bench-quick.yaml');
  writeFileSync(testbed, doc.toString());
  console.log('\n2. The unshaped virtual DUT: latency after quick searches, p50/p99 µs');
  const at50: number[] = [];
  for (let i = 1; i <= N; i++) {
    const t = throughputOf((await run(['--testbed', testbed, '--profile', 'virtual', '--suite', 'throughput'])).suites[0]!)[0]!;
    const loads = t.latency?.loads ?? [];
    const p99 = loads.find((l) => l.load === 0.5)?.latency.p99Us;
    if (p99) at50.push(p99);
    const gen = t.calibration?.latency;
    console.log(
      `run ${i}: ${loads.map((l) => `${loadName(l.load)} ${l.latency.p50Us}/${l.latency.p99Us}`).join(', ')}; the generator alone ${gen?.p50Us}/${gen?.p99Us}`,
    );
  }
  const spread = Math.max(...at50) / Math.min(...at50);
  const set = loadTestbed(testbedFile).throughput.latency.regressionThreshold;
  console.log(
    `p99 at 50 % of PDR: ${Math.min(...at50)}..${Math.max(...at50)} µs, the highest ${spread.toFixed(1)} times the lowest: a healthy pair needs a threshold above ${(spread - 1).toFixed(1)}; the virtual testbeds set ${set}`,
  );
}

try {
  const lab = await labUp({ id: ID });
  await knownDelay(lab.testbedFile);
  await unshaped(lab.testbedFile, lab.stateDir);
} finally {
  await labDown({ id: ID });
  rmSync(reports, { recursive: true, force: true });
}
