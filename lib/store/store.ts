// What a results store is (ResultsStore): every run written, and the history
// read back, through it only (`run`, `compare`, `--baseline`, `trend`,
// `trend --check`, `results push`). Two stores: the embedded one, the reports
// directory itself (file.ts), and PostgreSQL for a fleet (pg.ts); open.ts
// chooses one. A new store implements this interface (ARCHITECTURE.md).
import type { HistoryEntry } from '../results/history.js';
import type { CaseOutcome, RunRecord, RunResult } from '../results/run.js';

export class RunNotFoundError extends Error {}

/** The history's entries, and the lines it skipped (each named "file:line: why"). */
export interface HistoryRead {
  entries: HistoryEntry[];
  skipped: string[];
}

/** A run as a store keeps it: its history entry, its record (run.json) and its testcases as the run decided them (none for a history line whose run directory is gone). */
export interface StoredRun {
  entry: HistoryEntry;
  run?: RunResult;
  cases?: CaseOutcome[];
}

/** What identifies a series of comparable runs: `last-pass` picks within it. */
export interface SeriesKey {
  testbed: string;
  profile: string;
  suites: string[];
}

export interface ResultsStore {
  /** Where it keeps runs, for messages (a database's URL without its password). */
  readonly where: string;
  /** Stores a run; storing one already there changes nothing. */
  add(run: StoredRun): Promise<void>;
  history(): Promise<HistoryRead>;
  /** A stored run's record and testcases, or null. */
  run(runId: string): Promise<RunRecord | null>;
  /** The newest passing run of the series that started before `before` (ISO time), or null. */
  lastPass(key: SeriesKey, before: string): Promise<string | null>;
  close(): Promise<void>;
}

/** `last-pass` over a history's entries: the newest with verdict pass of the same testbed, profile and suites, before the time. */
export function lastPassIn(entries: readonly HistoryEntry[], key: SeriesKey, before: string): string | null {
  const same = (e: HistoryEntry) => e.testbed === key.testbed && e.profile === key.profile && e.suites.join(' ') === key.suites.join(' ');
  const found = entries.filter((e) => same(e) && e.verdict === 'pass' && e.startedAt < before).sort((a, b) => a.startedAt.localeCompare(b.startedAt));
  return found.at(-1)?.runId ?? null;
}
