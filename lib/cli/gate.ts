// `dutlab gate`: an upgrade gated on one lab (lib/run/gate.ts): the options
// mapped to it, and its verdict printed with the groups it compared, the
// upgrade's downtime and the sensitivity it had.
import type { Command } from 'commander';
import { errorMessage } from '../errors.js';
import { runGate } from '../run/gate.js';
import { openStore } from '../store/open.js';
import type { ResultsStore } from '../store/store.js';
import { log, profileOption, refuseRun, shown, suitesDirOption } from './common.js';
import { reportsOf, resultsOption } from './results.js';

interface GateCommandOptions {
  testbed: string;
  profile: string;
  from: string;
  to: string;
  suite: string[];
  suitesDir: string[];
  k?: string;
  reports?: string;
  results?: string;
  quiet?: boolean;
}

export function addGateCommand(program: Command): void {
  program
    .command('gate')
    .description(
      'gate an upgrade on one lab: the suites on build A, ovs-vswitchd restarted A -> B under a steady stream (its downtime), the suites on B, the throughput search alternated A, B ... k times; one verdict, exit 0 pass, 1 regression, 2 infrastructure',
    )
    .requiredOption('--testbed <file>', 'the testbed YAML file (its ovsDpdk.builds name both builds)')
    .addOption(profileOption())
    .requiredOption('--from <build>', 'the build in service (A), one of ovsDpdk.builds')
    .requiredOption('--to <build>', 'the upgrade (B), one of ovsDpdk.builds; the same as --from: A against itself, a false-alarm check')
    .option('--suite <name>', "a functional suite run on each build (repeatable); default: the profile's", (v: string, prev: string[]) => [...prev, v], [])
    .addOption(suitesDirOption())
    .option('--k <rounds>', "rounds of the alternation, each build's search once a round (default: the testbed's gate.k, 3)")
    .option('--reports <dir>', 'where reports go', undefined)
    .option('--quiet', 'no per-testcase output')
    .addOption(resultsOption())
    .action(gateCommand);
}

/** --k as a whole number: anything else is refused naming it (k of 0 is the testbed check's, naming gate.k). */
function roundsOf(k: string | undefined): number | undefined {
  if (k === undefined) return undefined;
  if (!/^\d+$/.test(k)) throw new Error(`--k ${k}: a whole number of rounds`);
  return Number(k);
}

async function gateCommand(o: GateCommandOptions): Promise<void> {
  let store: ResultsStore;
  let k: number | undefined;
  try {
    k = roundsOf(o.k);
    store = openStore(o.results, reportsOf(o));
  } catch (err) {
    return refuseRun(errorMessage(err), o);
  }
  const s = await runGate({
    testbed: o.testbed,
    profile: o.profile,
    from: o.from,
    to: o.to,
    store,
    ...(o.suite.length > 0 ? { suites: o.suite } : {}),
    ...(o.suitesDir.length > 0 ? { suiteDirs: o.suitesDir } : {}),
    ...(k !== undefined ? { k } : {}),
    ...(o.reports ? { reportsDir: o.reports } : {}),
    ...(o.quiet ? { quiet: true } : {}),
  }).finally(() => store.close());
  log(`${s.verdict.toUpperCase()} (exit ${s.exitCode}): ${s.reason}`);
  for (const g of s.details?.groups ?? []) log(g.text);
  if (s.details?.downtime) log(`upgrade downtime: ${s.details.downtime}`);
  if (s.details?.lastPart) log(`the last part to run: ${s.details.lastPart}`);
  if (s.notStored) log(s.notStored);
  log(`report: ${shown(s.summaryFile)}`);
  process.exitCode = s.exitCode;
}
