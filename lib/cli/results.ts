// The results store on the command line: `--results URL`, the baseline of
// `run --baseline` (a run directory, a run id, or `last-pass`), and
// `dutlab results push|import`.
import { existsSync, statSync } from 'node:fs';
import { InputFileError } from '../errors.js';
import { join, resolve } from 'node:path';
import { type Command, Option } from 'commander';
import { judgeAgainstBaseline, notCompared, type GateOutcome } from '../report/compare.js';
import type { RunRecord } from '../results/run.js';
import { HISTORY_FILE, readHistory } from '../store/file.js';
import type { ResultsStore } from '../store/store.js';
import { findRun, LAST_PASS, openStore, storedRunOf, storeRun } from '../store/open.js';
import { PROJECT_ROOT } from '../suite/catalog.js';
import type { Testbed } from '../testbed/schema.js';

const log = (line: string) => process.stdout.write(`${line}\n`);

export const resultsOption = () =>
  new Option(
    '--results <url>',
    'the results store: a PostgreSQL URL (postgresql://user@host/db; the password from PGPASSWORD, not the URL); default: the reports directory (history.jsonl)',
  );

export const reportsOf = (o: { reports?: string | undefined }) => resolve(o.reports ?? join(PROJECT_ROOT, 'reports'));

/**
 * The reports directory a command reads (trend, compare): one named with --reports that is not there is an error, not an
 * empty history, where it is the store (no --results: with a database, a runner's reports directory may well be empty).
 */
export function readReportsOf(o: { reports?: string | undefined; results?: string | undefined }): string {
  const dir = reportsOf(o);
  if (o.reports !== undefined && o.results === undefined && !statSync(dir, { throwIfNoEntry: false })?.isDirectory())
    throw new InputFileError(
      dir,
      `--reports ${o.reports}: ${existsSync(dir) ? 'not a directory' : 'no such directory'} (a typo? \`dutlab run --reports\` makes it)`,
    );
  return dir;
}

/**
 * `run --baseline REF`: the gate, judging the finished run. A directory or
 * run id is read before the run (one that cannot be read stops it before it
 * touches the lab: throws); `last-pass` is looked up once the run knows its
 * testbed, profile and suites, and when there is none yet (a first nightly)
 * the gate's case is skipped, saying so.
 */
export async function baselineGate(
  ref: string,
  store: ResultsStore,
  reports: string,
): Promise<{ gate: (cand: RunRecord, tb: Testbed) => Promise<GateOutcome>; baselineId: () => string | null }> {
  const fixed = ref === LAST_PASS ? null : await findRun(ref, store, reports);
  let id = fixed?.run.runId ?? null;
  return {
    baselineId: () => id,
    gate: async (cand, tb) => {
      let base = fixed;
      if (!base) {
        try {
          base = await findRun(LAST_PASS, store, reports, cand);
        } catch (err) {
          return notCompared((err as Error).message);
        }
      }
      id = base.run.runId;
      return judgeAgainstBaseline(base, cand, {
        throughput: tb.throughput.regressionThreshold,
        latency: tb.throughput.latency.regressionThreshold,
        telemetry: tb.throughput.telemetryThresholds,
      });
    },
  };
}

export function addResultsCommands(program: Command): void {
  const results = program.command('results').description('the results store: runs stored after the fact, a history moved into PostgreSQL');
  results
    .command('push')
    .description(
      'stores runs the store did not take when they ran (the database was away: their directory has not-stored.txt); exit 2 when one cannot be stored',
    )
    .argument('<runs...>', 'run directories, or run ids in the reports directory')
    .option('--reports <dir>', 'the reports directory the run ids are in', undefined)
    .addOption(resultsOption())
    .action(async (refs: string[], o: { reports?: string; results?: string }) => {
      const reports = reportsOf(o);
      const store = openStore(o.results, reports);
      try {
        for (const ref of refs) {
          const dir = existsSync(resolve(ref)) ? resolve(ref) : join(reports, ref);
          const run = storedRunOf(dir, reports);
          await storeRun(store, dir, run);
          log(`${run.entry.runId}: stored in ${store.where}`);
        }
      } finally {
        await store.close();
      }
    });
  results
    .command('import')
    .description(`moves a reports directory's ${HISTORY_FILE} into the --results database: every run, with its record where its directory is still there`)
    .option('--reports <dir>', 'the reports directory', undefined)
    .addOption(resultsOption().makeOptionMandatory())
    .action(async (o: { reports?: string; results: string }) => {
      const reports = reportsOf(o);
      const store = openStore(o.results, reports);
      const h = readHistory(reports);
      for (const line of h.skipped) log(line);
      let full = 0;
      try {
        for (const entry of h.entries) {
          const dir = join(reports, entry.runId);
          const whole = existsSync(join(dir, 'run.json')) ? storedRunOf(dir, reports) : null;
          if (whole) full++;
          await store.add(whole ? { ...whole, entry } : { entry });
        }
      } finally {
        await store.close();
      }
      log(
        `${h.entries.length} run(s) of ${join(reports, HISTORY_FILE)} in ${store.where} (${full} with their record, ${h.entries.length - full} their history line only)`,
      );
    });
}
