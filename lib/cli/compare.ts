// `dutlab compare`: a candidate run against a baseline, with the gate's
// thresholds from the candidate's testbed (their defaults and ranges are the
// testbed schema's: lib/testbed/throughput-schema.ts).
import type { Command } from 'commander';
import { join } from 'node:path';
import { assertComparable, compareRuns, comparisonText } from '../report/compare.js';
import type { RunRecord } from '../results/run.js';
import { findRun, openStore } from '../store/open.js';
import { EXIT_CODES } from '../report/verdict.js';
import { loadTestbed } from '../testbed/load.js';
import { Throughput } from '../testbed/throughput-schema.js';
import { readReportsOf, resultsOption } from './results.js';

/** The gate's thresholds as the schema has them when a testbed says nothing. */
const DEFAULTS = Throughput.parse({});

/** A threshold from the command line, held to the range the testbed's field has. */
function threshold(
  option: string,
  value: string,
  field: { safeParse(v: unknown): { success: boolean; error?: { issues: Array<{ message: string }> } } },
): number {
  const n = Number(value);
  const r = field.safeParse(n);
  if (!r.success) throw new Error(`${option} ${value}: ${r.error?.issues[0]?.message ?? 'out of range'}`);
  return n;
}

export function addCompareCommand(program: Command): void {
  program
    .command('compare')
    .description(
      'a candidate run against a baseline: regressions case by case, in throughput and in latency, versions side by side; exit 1 on a regression, 2 on input it cannot read',
    )
    .argument(
      '<baseline>',
      "a run directory, a run id in the results store, or last-pass (the newest passing run of the candidate's testbed, profile and suites before it)",
    )
    .argument('<candidate>', 'a run directory, or a run id')
    .option('--reports <dir>', 'the reports directory whose history holds the run ids', undefined)
    .option(
      '--threshold <ratio>',
      `a throughput drop beyond this share of the baseline is a regression (default: the candidate testbed's throughput.regressionThreshold, ${DEFAULTS.regressionThreshold})`,
    )
    .option(
      '--latency-threshold <ratio>',
      `a rise of p99 latency at 50 % of each run's PDR beyond this share of the baseline's is a regression (default: the candidate testbed's throughput.latency.regressionThreshold, ${DEFAULTS.latency.regressionThreshold})`,
    )
    .addOption(resultsOption())
    .action(async (baseline: string, candidate: string, o: { reports?: string; results?: string; threshold?: string; latencyThreshold?: string }) => {
      const reports = readReportsOf(o);
      const store = openStore(o.results, reports);
      let base: RunRecord;
      let cand: RunRecord;
      try {
        // The candidate first: `last-pass` is the last pass before it.
        cand = await findRun(candidate, store, reports);
        base = await findRun(baseline, store, reports, cand);
      } finally {
        await store.close();
      }
      // The candidate's testbed says how noisy its lab is (the virtual lab: 0.5); without it, the schema's defaults.
      const own = () => {
        try {
          return loadTestbed(join(cand.dir ?? '', 'testbed.yaml')).throughput;
        } catch {
          return DEFAULTS;
        }
      };
      const testbed = own();
      const throughput = o.threshold !== undefined ? threshold('--threshold', o.threshold, Throughput.shape.regressionThreshold) : testbed.regressionThreshold;
      const latency =
        o.latencyThreshold !== undefined
          ? threshold('--latency-threshold', o.latencyThreshold, Throughput.shape.latency.unwrap().shape.regressionThreshold)
          : testbed.latency.regressionThreshold;
      assertComparable(base, cand);
      const c = compareRuns(base, cand, { throughput, latency, telemetry: testbed.telemetryThresholds });
      process.stdout.write(comparisonText(base, cand, c));
      process.exitCode = c.regressions.length > 0 ? EXIT_CODES.fail : EXIT_CODES.pass;
    });
}
