// npm run bench:back-to-back: two nightlies back to back on one DPDK lab, as a
// fleet runs them (a baseline, then the nightly at once), ROUNDS times. Prints,
// per round, how long the first run's teardown waited for ovs-vswitchd's
// hugepages to be back (its note: "ovs-vswitchd gave back its hugepages N s
// after it was asked to exit"), whether the second run's preflight had to
// wait for pages a daemon of the lab still held, and both exit codes. Before
// issue 37 the second run was refused now and then ("119 free 2 MB pages,
// the run takes 128"): every round here must be 0 and 0.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { labDown, labUp } from '../lib/vlab/lab.js';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const ROOT = new URL('..', import.meta.url).pathname;
const ID = 'bench-b2b';

const notesOf = (reports: string): string[] => (JSON.parse(readFileSync(join(reports, 'latest', 'summary.json'), 'utf8')) as { notes: string[] }).notes;

async function run(testbed: string, reports: string): Promise<{ exit: number; notes: string[] }> {
  const r = await execa('node', ['bin/dutlab.js', 'run', '--quiet', '--reports', reports, '--testbed', testbed, '--profile', 'ovs-dpdk'], {
    cwd: ROOT,
    reject: false,
  });
  return { exit: r.exitCode ?? -1, notes: notesOf(reports) };
}

await labDown({ id: ID });
const lab = await labUp({ id: ID, datapath: 'dpdk' });
const reports = mkdtempSync(join(tmpdir(), 'dutlab-bench-b2b-'));
let refused = 0;
try {
  for (let i = 0; i < ROUNDS; i++) {
    const first = await run(lab.testbedFile, reports);
    const second = await run(lab.testbedFile, reports);
    const gave = first.notes.find((n) => /gave back its hugepages/.test(n))?.replace(/^.*gave back its hugepages /, '') ?? 'no note';
    const waited = second.notes.find((n) => /^preflight: waited/.test(n)) ?? 'did not wait';
    if (second.exit !== 0) refused++;
    console.log(`round ${i + 1}: exits ${first.exit} then ${second.exit}; the first's switch gave back its pages ${gave}; the second's preflight ${waited}`);
  }
} finally {
  rmSync(reports, { recursive: true, force: true });
  await labDown({ id: ID });
}
console.log(`${ROUNDS} rounds of two runs back to back: ${refused} second run(s) not passed`);
process.exitCode = refused > 0 ? 1 : 0;
