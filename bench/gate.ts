// npm run bench:gate: how often `dutlab gate` raises a false alarm, and how
// often it catches a regression of known size, on the virtual DPDK lab of
// known capacity (CAPACITY frames/s) with Debian's two DPDK builds. The
// regression is made on the switch side: the installed build with its phy
// ingress port policed by OVS (a build of its own: policeIngressKbps), its
// size measured first by a search on each build alone (the known answer the
// gate's verdicts are held to). Then RUNS times each: the installed build
// against itself (A against A: any failure is a false alarm) and against the
// policed one (any pass is a miss); each gate at k = 2 with the PVP suite, as
// the lab tier's. Prints the rates, the sensitivity each gate stated beside
// the known drop, and how long a gate took. `-- --runs N`; about 8 minutes a
// run (two gates) on a 2-core box.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { parseDocument } from 'yaml';
import type { RunResult } from '../lib/results/run.js';
import { throughputOf } from '../lib/results/throughput.js';
import { labDown, labUp } from '../lib/vlab/lab.js';

const ROOT = new URL('..', import.meta.url).pathname;
const RUNS = process.argv.includes('--runs') ? Number(process.argv[process.argv.indexOf('--runs') + 1]) : 3;
if (!Number.isInteger(RUNS) || RUNS < 1) throw new Error('--runs: at least 1');
const ID = 'bgate';
const CAPACITY = 10_000;
/** The policer's rate: half the capacity's frames of 60 bytes (64 on the wire less the FCS, as OVS's policer counts them). */
const POLICED_KBPS = ((CAPACITY / 2) * 60 * 8) / 1000;
const reports = mkdtempSync(join(tmpdir(), 'dutlab-bench-gate-'));

/** The lab's testbed with quick searches (the gate lab test's) and the policed build beside the two. */
function benchTestbed(file: string, installed: string): string {
  const doc = parseDocument(readFileSync(file, 'utf8'));
  const goal = { relativeWidth: 0.05, initialTrialS: 0.5, finalTrialS: 1, durationSumS: 2 };
  doc.setIn(['throughput', 'ndr'], goal);
  doc.setIn(['throughput', 'pdr'], goal);
  doc.setIn(['throughput', 'maxSearchS'], 30);
  doc.setIn(['throughput', 'maxRate'], 2 * CAPACITY);
  doc.setIn(['throughput', 'calibrate'], 'none');
  doc.setIn(['throughput', 'telemetry'], false);
  doc.setIn(['throughput', 'latency', 'loads'], []);
  doc.setIn(['restart'], doc.createNode({ rate: 2000, streamS: 12, startAfterS: 2 }));
  const base = (doc.getIn(['ovsDpdk', 'builds', installed]) as { toJSON(): Record<string, unknown> }).toJSON();
  doc.setIn(['ovsDpdk', 'builds', 'policed'], doc.createNode({ ...base, policeIngressKbps: POLICED_KBPS }));
  const out = file.replace(/\.yaml$/, '-bench-gate.yaml');
  writeFileSync(out, doc.toString());
  return out;
}

async function dutlab(args: string[]): Promise<{ exitCode: number; run: RunResult; stderr: string; seconds: number }> {
  const t0 = Date.now();
  const r = await execa('node', ['bin/dutlab.js', ...args, '--quiet', '--reports', reports], { cwd: ROOT, reject: false });
  const runId = /report: .*\/([^/]+)\/summary\.md/.exec(r.stderr)?.[1];
  if (!runId) throw new Error(`dutlab ${args[0]} did not report: ${r.stderr}`);
  const run = JSON.parse(readFileSync(join(reports, runId, 'run.json'), 'utf8')) as RunResult;
  return { exitCode: r.exitCode ?? -1, run, stderr: r.stderr, seconds: (Date.now() - t0) / 1000 };
}

const ndrOf = (run: RunResult) => throughputOf(run.suites.at(-1)!)[0]?.goals.find((g) => g.goal === 'NDR')?.lowerBound ?? 0;
const sensitivityOf = (stderr: string) => /the gate catches a drop of ([\d.]+ %)/.exec(stderr)?.[1] ?? '?';

async function main(): Promise<void> {
  const lab = await labUp({ id: ID, datapath: 'dpdk', builds: true, capacity: CAPACITY });
  try {
    const installed = lab.builds![0]!.name;
    const testbed = benchTestbed(lab.testbedFile, installed);
    const common = ['--testbed', testbed, '--profile', 'ovs-dpdk'];
    // The regression's size, measured: a search on each build alone.
    const a = ndrOf((await dutlab(['run', ...common, '--suite', 'throughput', '--build', installed])).run);
    const b = ndrOf((await dutlab(['run', ...common, '--suite', 'throughput', '--build', 'policed'])).run);
    const known = a === 0 ? 0 : (a - b) / a;
    console.log(`the known regression: NDR ${a} frames/s on ${installed}, ${b} policed at ${POLICED_KBPS} kbit/s: a drop of ${(known * 100).toFixed(1)} %`);
    let falseAlarms = 0;
    let detected = 0;
    for (let i = 1; i <= RUNS; i++) {
      const gate = (to: string) => dutlab(['gate', ...common, '--suite', 'pvp', '--from', installed, '--to', to, '--k', '2']);
      const same = await gate(installed);
      const worse = await gate('policed');
      if (same.exitCode !== 0) falseAlarms++;
      if (worse.exitCode === 1 && /gate\.throughput|Throughput: B against A/.test(worse.stderr + JSON.stringify(worse.run.suites.at(-1)?.cases))) detected++;
      console.log(
        `round ${i}: A against A exit ${same.exitCode} (sensitivity ${sensitivityOf(same.stderr)}, ${same.seconds.toFixed(0)} s); ` +
          `against the policed build exit ${worse.exitCode} (sensitivity ${sensitivityOf(worse.stderr)}, ${worse.seconds.toFixed(0)} s)`,
      );
    }
    console.log(`false alarms: ${falseAlarms} of ${RUNS} (${((falseAlarms / RUNS) * 100).toFixed(0)} %)`);
    console.log(`detections of the ${(known * 100).toFixed(1)} % drop: ${detected} of ${RUNS} (${((detected / RUNS) * 100).toFixed(0)} %)`);
  } finally {
    await labDown({ id: ID });
    rmSync(reports, { recursive: true, force: true });
  }
}

await main();
