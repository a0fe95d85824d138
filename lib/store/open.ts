// Which results store a command uses (file.ts, pg.ts), and runs found in it: by directory, by
// id, or `last-pass` (the newest passing run of the same testbed, profile and
// suites before the candidate).
import { existsSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { historyEntry } from '../results/history.js';
import type { RunRecord } from '../results/run.js';
import { FileStore, loadRun } from './file.js';
import { PgStore } from './pg.js';
import { type ResultsStore, RunNotFoundError, type StoredRun } from './store.js';
import { shownUrl, storeUrlProblem } from './url.js';

export const LAST_PASS = 'last-pass';

/** `--results URL` (postgresql://…), else the embedded store: the reports directory. A URL is shown without its password (url.ts); the password belongs in PGPASSWORD. */
export function openStore(url: string | undefined, reports: string): ResultsStore {
  if (!url) return new FileStore(reports);
  const problem = storeUrlProblem(url, 'allowed');
  if (problem) throw new Error(`--results ${shownUrl(url)}: ${problem}`);
  return new PgStore(url);
}

/** A run directory's record, as a store keeps it (`results push`). */
export function storedRunOf(dir: string, reports: string): StoredRun {
  const rec = loadRun(dir, reports);
  return { entry: historyEntry(rec.run, rec.verdict ?? 'infra-error'), run: rec.run, cases: rec.cases };
}

/** A run by its directory, its id in the store, or `last-pass` before the candidate. */
export async function findRun(ref: string, store: ResultsStore, reports: string, candidate?: RunRecord): Promise<RunRecord> {
  const dir = resolve(ref);
  if (existsSync(dir) && statSync(dir).isDirectory()) return loadRun(dir, reports);
  let id = ref;
  if (ref === LAST_PASS) {
    if (!candidate) throw new RunNotFoundError(`${LAST_PASS}: needs the candidate run it is the last pass before`);
    const key = { testbed: candidate.run.testbedName, profile: candidate.run.profile, suites: candidate.run.suites.map((s) => s.suite) };
    const found = await store.lastPass(key, candidate.run.startedAt);
    if (!found)
      throw new RunNotFoundError(
        `${LAST_PASS}: no passing run of testbed ${key.testbed}, profile ${key.profile}, suites ${key.suites.join(' ')} before ${candidate.run.startedAt} in ${store.where}`,
      );
    id = found;
  }
  const rec = await store.run(id);
  if (rec) return rec;
  // The embedded store names damaged lines it skipped: one of them may have been the run asked for.
  const h = await store.history();
  const damaged = h.skipped.length > 0 ? ` (its damaged lines, skipped: ${h.skipped.join('; ')})` : '';
  const known = h.entries.some((e) => e.runId === id) ? ', which has its history line but not its record (its run directory is gone)' : '';
  throw new RunNotFoundError(`${id}: neither a run directory nor a run id in ${store.where}${known}${damaged}`);
}

/** The marker a run leaves in its directory when its store did not take it: `results push` stores it, and removes the marker. */
export const NOT_STORED = 'not-stored.txt';

/** Stores a run from its directory: once stored, the directory's marker goes (`results push`, and every run at its end). */
export async function storeRun(store: ResultsStore, dir: string, run: StoredRun): Promise<void> {
  await store.add(run);
  rmSync(join(dir, NOT_STORED), { force: true });
}

/**
 * Stores a finished run. A store that fails (the database went away) costs
 * the run nothing but this: its report stays, the marker says why, and the
 * line returned says so and how to store it later.
 */
export async function keepRun(store: ResultsStore, dir: string, run: StoredRun): Promise<string | null> {
  try {
    await storeRun(store, dir, run);
    return null;
  } catch (err) {
    const why = (err as Error).message;
    writeFileSync(join(dir, NOT_STORED), `${store.where}: ${why}\n`);
    return `the result was not stored in ${store.where}: ${why}; its report is in ${dir}, and \`dutlab results push ${run.entry.runId}\` stores it`;
  }
}
