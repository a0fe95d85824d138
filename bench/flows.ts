// npm run bench:flows: what many flows cost the switch, as ovs_perf sweeps
// them. On each datapath of the virtual lab (OVS's userspace datapath on veth,
// Debian's OVS-DPDK on DPDK virtual devices), a quick throughput search per
// rule type (`port`: in_port only; `flow`: a rule each way per 5-tuple) and
// flow count (1, 1,000, 10,000: source addresses x source ports), 64-byte
// frames, the latency after the search left out. Each line: the NDR and PDR
// lower bounds, the megaflows after the warm-up against what the rules imply,
// which lookup stage served the measured trials' packets (EMC, SMC, megaflow
// classifier, simple match) and their upcalls, and the NDR against the
// 1-flow NDR of the same datapath and rules. A virtual DUT shares two cores
// with its generator: the ratios mean more than the rates.
// `-- --datapaths netdev`, `-- --rules flow` and `-- --flows 1,1000` narrow the sweep; the whole
// takes about 10 minutes on a 2-core box.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { parseDocument } from 'yaml';
import type { RunResult } from '../lib/results/run.js';
import { throughputOf, type ThroughputResult } from '../lib/results/throughput.js';
import { lookupShares } from '../lib/suite/throughput/result.js';
import { labDown, labUp, type Datapath } from '../lib/vlab/lab.js';
import { FLOW_RULES } from '../lib/testbed/traffic-schema.js';

const ROOT = new URL('..', import.meta.url).pathname;
const arg = (name: string) => (process.argv.includes(name) ? process.argv[process.argv.indexOf(name) + 1]!.split(',') : null);
const DATAPATHS = (arg('--datapaths') ?? ['netdev', 'dpdk']) as Datapath[];
const FLOWS = (arg('--flows') ?? ['1', '1000', '10000']).map(Number);
// normal (the MAC table) on asking: its megaflows are port rules' (one pair), its cost the NORMAL action's.
const RULES = (arg('--rules') ?? ['port', 'flow']) as Array<(typeof FLOW_RULES)[number]>;
for (const r of RULES) if (!FLOW_RULES.includes(r)) throw new Error(`--rules: ${r} is not one of ${FLOW_RULES.join(', ')}`);
const reports = mkdtempSync(join(tmpdir(), 'dutlab-bench-flows-'));
const mfps = (x: number | null | undefined) => (x === null || x === undefined ? 'none' : (x / 1e6).toFixed(3));

/** The flow count as ranges: up to 100 source ports, then as many source addresses as it takes. */
const ranges = (count: number) => (count <= 100 ? { count, srcPorts: count } : { count, srcIps: count / 100, srcPorts: 100 });

/** The lab's testbed with quick searches, no latency, and this sweep point's flows and rules. */
function testbedFor(file: string, flows: number, rules: string): string {
  const doc = parseDocument(readFileSync(file, 'utf8'));
  const goal = { relativeWidth: 0.1, initialTrialS: 0.5, finalTrialS: 1, durationSumS: 2 };
  doc.setIn(['throughput', 'ndr'], goal);
  doc.setIn(['throughput', 'pdr'], goal);
  doc.setIn(['throughput', 'maxSearchS'], 60);
  doc.setIn(['throughput', 'latency', 'loads'], []);
  doc.setIn(['traffic', 'count'], Math.max(1000, flows));
  doc.setIn(['traffic', 'rules'], rules);
  if (flows > 1) doc.setIn(['traffic', 'flows'], ranges(flows));
  const out = `${file.replace(/\.yaml$/, '')}-${rules}-${flows}.yaml`;
  writeFileSync(out, doc.toString());
  return out;
}

async function search(testbed: string, profile: string): Promise<ThroughputResult> {
  const args = ['bin/dutlab.js', 'run', '--quiet', '--reports', reports, '--testbed', testbed, '--profile', profile, '--suite', 'throughput'];
  const r = await execa('node', args, { cwd: ROOT, reject: false });
  const runId = /report: .*\/([^/]+)\/summary\.md/.exec(r.stderr)?.[1];
  if (!runId) throw new Error(`the search did not report: ${r.stderr}`);
  const run = JSON.parse(readFileSync(join(reports, runId, 'run.json'), 'utf8')) as RunResult;
  const t = throughputOf(run.suites[0]!)[0];
  if (!t) throw new Error(`the search gave no result (exit ${r.exitCode}): ${r.stderr}`);
  return t;
}

try {
  console.log('datapath  rules  flows   NDR Mfps  PDR Mfps  NDR/1-flow  megaflows (implied)  lookups in the measured trials');
  for (const datapath of DATAPATHS) {
    const id = `bflow-${datapath === 'dpdk' ? 'd' : 'n'}`;
    const lab = await labUp({ id, datapath });
    try {
      for (const rules of RULES) {
        let oneFlow: number | null = null;
        for (const flows of FLOWS) {
          const t = await search(testbedFor(lab.testbedFile, flows, rules), datapath === 'dpdk' ? 'ovs-dpdk' : 'virtual');
          const ndr = t.goals.find((g) => g.goal === 'NDR')?.lowerBound ?? null;
          const pdr = t.goals.find((g) => g.goal === 'PDR')?.lowerBound ?? null;
          if (flows === 1) oneFlow = ndr;
          const ratio = ndr !== null && oneFlow ? `${(ndr / oneFlow).toFixed(2)}x` : '-';
          const w = t.warmUp;
          const megaflows = w ? `${w.megaflows ?? 'not read'} (${w.expectedMegaflows ?? '-'})` : 'no warm-up';
          const lookups = w?.lookups ? lookupShares(w.lookups).replace('lookups in the measured trials: ', '') : (w?.notOffered ?? 'not offered');
          console.log(
            `${datapath.padEnd(8)}  ${rules.padEnd(5)}  ${String(flows).padEnd(6)}  ${mfps(ndr).padEnd(8)}  ${mfps(pdr).padEnd(8)}  ${ratio.padEnd(10)}  ${megaflows.padEnd(19)}  ${lookups}`,
          );
        }
      }
    } finally {
      await labDown({ id });
    }
  }
} finally {
  rmSync(reports, { recursive: true, force: true });
}
