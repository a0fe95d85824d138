// The reports directory's memory: each run appends one line to history.jsonl
// (what ran, on what, its verdict and its throughput), and a run is found
// again by its directory or its id there, for `dutlab compare` and `--baseline`.
import { appendFileSync, existsSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { RunResult } from '../results/run.js';
import type { RunRecord } from './compare.js';
import type { Summary } from './summary.js';

export const HISTORY_FILE = 'history.jsonl';

export interface HistoryEntry {
  runId: string;
  startedAt: string;
  testbed: string;
  profile: string;
  suites: string[];
  versions: RunResult['versions'];
  verdict: string;
  throughput: Array<{ frame: number; goal: string; lower: number | null; upper: number | null; limitedByGenerator: boolean }>;
}

export class RunNotFoundError extends Error {}

export function historyEntry(run: RunResult, verdict: string): HistoryEntry {
  return {
    runId: run.runId,
    startedAt: run.startedAt,
    testbed: run.testbedName,
    profile: run.profile,
    suites: run.suites.map((s) => s.suite),
    versions: run.versions,
    verdict,
    throughput: run.suites.flatMap((s) =>
      (s.throughput ?? []).flatMap((t) =>
        t.goals.map((g) => ({ frame: t.frame, goal: g.goal, lower: g.lowerBound, upper: g.upperBound, limitedByGenerator: g.limitedByGenerator })),
      ),
    ),
  };
}

export function appendHistory(reports: string, entry: HistoryEntry): void {
  appendFileSync(join(reports, HISTORY_FILE), `${JSON.stringify(entry)}\n`);
}

export function readHistory(reports: string): HistoryEntry[] {
  const file = join(reports, HISTORY_FILE);
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.trim())
    .map((l, i) => {
      try {
        return JSON.parse(l) as HistoryEntry;
      } catch {
        throw new RunNotFoundError(`${file}:${i + 1}: not a history line (cut off?)`);
      }
    });
}

/** A run by its directory, or by its id in the reports directory's history. */
export function loadRun(ref: string, reports: string): RunRecord {
  let dir = resolve(ref);
  if (!(existsSync(dir) && statSync(dir).isDirectory())) {
    const entry = readHistory(reports).find((e) => e.runId === ref);
    if (!entry) throw new RunNotFoundError(`${ref}: neither a run directory nor a run id in ${join(reports, HISTORY_FILE)}`);
    dir = join(reports, entry.runId);
  }
  const read = <T>(name: string): T => {
    const file = join(dir, name);
    try {
      return JSON.parse(readFileSync(file, 'utf8')) as T;
    } catch (err) {
      throw new RunNotFoundError(`${file}: cannot read the run's ${name} (${(err as Error).message})`);
    }
  };
  const run = read<RunResult>('run.json');
  if (!run.runId || !Array.isArray(run.suites)) throw new RunNotFoundError(`${join(dir, 'run.json')}: not a run's data (no runId or suites)`);
  return { run, cases: read<Summary>('summary.json').cases ?? [], dir };
}
