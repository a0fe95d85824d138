// npm run bench:trex: the two generators side by side on this box, in one
// run, on one lab (lab up --tg trex --capacity 5000: the guest's bucket sized
// from TRex's own burst, captured on the DUT's phy port).
//
// 1. Each generator's ceiling: the highest rate it sends without loss through
//    the bypassed guest (an NDR search with the guest bypassed by a flow from
//    the ingress phy port straight to the egress one: the generator, its
//    wires and the switch; the guest out of it), and what it reached when
//    asked for 1 Mframes/s there (the throughput suite's calibration).
// 2. Each generator's search on the DUT of known capacity: the NDR bounds,
//    their error against the capacity, the search's time.
// Measured here (2026-12-06, 2-core box, idle): asked for 1 Mframes/s, TRex
// sent 1000 k/s and tcpreplay 267 k/s; but without loss through the bypassed
// guest tcpreplay reached 66.5 kframes/s and TRex only 22.5 (0.34 of it):
// TRex in software mode sleeps between batches (low_end), and its bursts
// overflow the veths' and the netdev datapath's queues. On the DUT of known
// capacity both found it (NDR 5.1 and 5.0 kframes/s). About 2.5 minutes.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { parseDocument } from 'yaml';
import { loadRun } from '../lib/store/file.js';
import { throughputOf } from '../lib/results/throughput.js';
import { loadTestbed } from '../lib/testbed/load.js';
import { topologyOf } from '../lib/testbed/topology.js';
import { labDown, labUp, type LabState } from '../lib/vlab/lab.js';

const ROOT = new URL('..', import.meta.url).pathname;
const ID = 'bench-trex';
const CAPACITY = 5000;
const reports = mkdtempSync(join(tmpdir(), 'dutlab-bench-trex-'));
const kfps = (x: number | null | undefined) => (x === null || x === undefined ? 'none' : (x / 1000).toFixed(1));

type Generator = 'linux' | 'trex';

/** The lab's testbed for one generator: a width of 5 %, 1 s trials, no latency after the search. */
function testbedFor(lab: LabState, tg: Generator): string {
  const doc = parseDocument(readFileSync(lab.testbedFile, 'utf8'));
  if (tg === 'linux') doc.deleteIn(['tg']);
  const goal = { relativeWidth: 0.05, initialTrialS: 1, finalTrialS: 1, durationSumS: 2 };
  doc.setIn(['throughput', 'ndr'], goal);
  doc.setIn(['throughput', 'pdr'], goal);
  doc.setIn(['throughput', 'latency', 'loads'], []);
  const file = join(lab.stateDir, `bench-${tg}.yaml`);
  writeFileSync(file, doc.toString());
  return file;
}

interface Search {
  seconds: number;
  ndr: { lower: number | null; upper: number | null };
  reached: number | null;
}

async function search(testbed: string, hook?: string): Promise<Search> {
  const t0 = Date.now();
  const args = ['bin/dutlab.js', 'run', '--quiet', '--testbed', testbed, '--profile', 'virtual', '--suite', 'throughput', '--reports', reports];
  const r = await execa('node', [...args, ...(hook ? ['--hook-before-traffic', hook] : [])], { cwd: ROOT, reject: false });
  const seconds = (Date.now() - t0) / 1000;
  const runId = /report: .*\/([^/]+)\/summary\.md/.exec(r.stderr)?.[1];
  if (r.exitCode !== 0 || !runId) throw new Error(`the search failed (exit ${r.exitCode}):\n${r.stderr.slice(-2000)}`);
  const t = loadRun(runId, reports).run.suites.flatMap(throughputOf)[0]!;
  const ndr = t.goals.find((g) => g.goal === 'NDR')!;
  return { seconds, ndr: { lower: ndr.lowerBound, upper: ndr.upperBound }, reached: t.calibration?.achievedRate ?? null };
}

async function main(): Promise<void> {
  const lab = await labUp({ id: ID, tg: 'trex', capacity: CAPACITY, log: (l) => process.stderr.write(`lab: ${l}\n`) });
  try {
    const tb = loadTestbed(lab.testbedFile);
    const t = topologyOf(tb);
    const ns = lab.namespaces;
    // The guest bypassed: the flow the calibration adds, for the whole search; the bucket out of the way too.
    const bypass = `ip netns exec ${ns.host} env OVS_RUNDIR=${lab.stateDir}/ovs ovs-ofctl add-flow ${tb.bridge} priority=65000,in_port=${t.phyIngress.ofport},actions=output:${t.phyEgress.ofport}`;
    const rows: string[][] = [];
    const ceilings: Record<Generator, number | null> = { linux: null, trex: null };
    for (const tg of ['linux', 'trex'] as const) {
      const file = testbedFor(lab, tg);
      const ceiling = await search(file, bypass);
      await execa('sh', ['-c', `ip netns exec ${ns.host} env OVS_RUNDIR=${lab.stateDir}/ovs ovs-ofctl del-flows ${tb.bridge} in_port=${t.phyIngress.ofport}`], {
        reject: false,
      });
      ceilings[tg] = ceiling.ndr.lower;
      rows.push([tg, 'ceiling, guest bypassed', kfps(ceiling.ndr.lower), kfps(ceiling.ndr.upper), '-', kfps(ceiling.reached), ceiling.seconds.toFixed(0)]);
      const dut = await search(file);
      const err = dut.ndr.lower === null ? '-' : `${(((dut.ndr.lower - CAPACITY) / CAPACITY) * 100).toFixed(1)} %`;
      rows.push([tg, `DUT of ${CAPACITY / 1000} kframes/s`, kfps(dut.ndr.lower), kfps(dut.ndr.upper), err, '-', dut.seconds.toFixed(0)]);
    }
    const head = ['generator', 'what', 'NDR lower kfps', 'NDR upper kfps', 'error vs capacity', 'reached at 1 Mfps asked, kfps', 'search s'];
    const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
    const line = (r: string[]) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ');
    process.stdout.write(`${line(head)}\n${rows.map(line).join('\n')}\n`);
    const ratio = ceilings.linux && ceilings.trex ? (ceilings.trex / ceilings.linux).toFixed(2) : 'n/a';
    process.stdout.write(`\nTRex's ceiling / the linux driver's: ${ratio} (TRex ${lab.trex?.version}, software mode, low_end on CPU ${lab.trex?.core})\n`);
  } finally {
    await labDown({ id: ID });
    rmSync(reports, { recursive: true, force: true });
  }
}

await main();
