// `dutlab run`: the options mapped to a run (lib/run/lifecycle.ts), and what it
// returns printed: the verdict, the throughput suite's NDR and PDR, the gate.
import type { Command } from 'commander';
import { errorMessage } from '../errors.js';
import { GATE_CASE_ID } from '../report/compare.js';
import type { ResultsStore } from '../store/store.js';
import { openStore } from '../store/open.js';
import { runSuites } from '../run/lifecycle.js';
import { latencyLines, throughputLines } from '../report/lines.js';
import { throughputOf } from '../results/throughput.js';
import { log, profileOption, refuseRun, shown, suitesDirOption } from './common.js';
import { parseWait, runTarget } from './pool.js';
import { baselineGate, reportsOf, resultsOption } from './results.js';

export function addRunCommand(program: Command): void {
  program
    .command('run')
    .description('build the setup, send the stream, judge packets, counters, dmesg and interfaces; exit 0 pass, 1 DUT failed, 2 infrastructure failed')
    .option('--testbed <file>', 'the testbed YAML file')
    .option('--pool <file>', 'take a free testbed of --label from this pool (pool.yaml), clean and check it, run, give it back')
    .option('--label <label>', "which of the pool's testbeds may run this")
    .option('--wait <seconds>', 'with --pool: how long to wait for a testbed of the label to come free', parseWait, 0)
    .addOption(profileOption())
    .option(
      '--suite <name>',
      "a suite to run (repeatable; `dutlab suites` lists them); default: the profile's",
      (v: string, prev: string[]) => [...prev, v],
      [],
    )
    .addOption(suitesDirOption())
    .option('--reports <dir>', 'where reports go', undefined)
    .option('--hook-before-traffic <command>', 'a local command run just before the traffic (fault injection, debugging)')
    .option('--build <name>', "the build of OVS and DPDK to start, one of the testbed's ovsDpdk.builds (default: ovsDpdk.build)")
    .option('--quiet', 'no per-testcase output')
    .option(
      '--baseline <run>',
      'compare with this run (a run directory, a run id in the results store, or last-pass: the newest passing run of the same testbed, profile and suites): a regression fails the run (exit 1)',
    )
    .option('--doctor', 'check the lab first (dutlab doctor): a lab that is not ready stops the run before any setup (exit 2)')
    .addOption(resultsOption())
    .action(runCommand);
}

interface RunCommandOptions {
  results?: string;
  testbed?: string;
  pool?: string;
  label?: string;
  wait: number;
  profile: string;
  suite: string[];
  suitesDir: string[];
  reports?: string;
  hookBeforeTraffic?: string;
  build?: string;
  quiet?: boolean;
  baseline?: string;
  doctor?: boolean;
}

type Gate = Awaited<ReturnType<typeof baselineGate>>;

async function runCommand(o: RunCommandOptions): Promise<void> {
  const reports = reportsOf(o);
  let target: ReturnType<typeof runTarget>;
  let store: ResultsStore;
  let gate: Gate | null = null;
  try {
    target = runTarget(o);
    store = openStore(o.results ?? ('pool' in target ? target.pool.results : undefined), reports);
  } catch (err) {
    return refuseRun(errorMessage(err), o);
  }
  try {
    // A baseline that cannot be read stops the run before it touches the lab: exit 2, with this run's report.
    if (o.baseline) gate = await baselineGate(o.baseline, store, reports);
  } catch (err) {
    await store.close();
    return refuseRun(`the baseline cannot be read: ${errorMessage(err)}`, o);
  }
  const s = await runSuites({
    ...('pool' in target ? { testbed: target.pool.file, pool: target } : target),
    profile: o.profile,
    store,
    ...(o.suite.length > 0 ? { suites: o.suite } : {}),
    ...(o.suitesDir.length > 0 ? { suiteDirs: o.suitesDir } : {}),
    ...(o.reports ? { reportsDir: o.reports } : {}),
    ...(o.hookBeforeTraffic ? { beforeTraffic: o.hookBeforeTraffic } : {}),
    ...(o.build ? { build: o.build } : {}),
    ...(o.quiet ? { quiet: true } : {}),
    ...(o.doctor ? { doctor: true } : {}),
    ...(gate ? { gate: gate.gate } : {}),
  }).finally(() => store.close());
  printOutcome(s, gate, o.baseline);
  process.exitCode = s.exitCode;
}

/** The verdict, the throughput suite's NDR and PDR with their bounds, the gate's word, where the report is. */
function printOutcome(s: Awaited<ReturnType<typeof runSuites>>, gate: Gate | null, baseline: string | undefined): void {
  log(`${s.verdict.toUpperCase()} (exit ${s.exitCode}): ${s.reason}`);
  const searches = s.record.suites.flatMap(throughputOf);
  for (const line of [...throughputLines(searches), ...latencyLines(searches)]) log(line);
  const judged = s.cases.find((c) => c.id === GATE_CASE_ID);
  if (gate && judged) {
    process.stdout.write(s.comparison ?? '');
    const id = gate.baselineId() ?? baseline;
    if (judged.status === 'passed') log(`no regression against ${id}`);
    else if (judged.status === 'skipped') log((judged.message ?? '').replace(/^not compared(: )?/, 'NOT COMPARED$1'));
    else if (judged.kind === 'dut') log(`REGRESSION against ${id}: ${judged.message?.replace(/^regression: /, '')}`);
    else log(`NOT COMPARED with ${id}: ${judged.message}`);
  }
  if (s.notStored) log(s.notStored);
  log(`report: ${shown(s.summaryFile)}`);
}
