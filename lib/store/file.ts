// The embedded results store (FileStore): the reports directory itself,
// history.jsonl (one line per run) and the run directories.
// The embedded store stays the JSON-lines file of earlier versions (so there
// is nothing to migrate): it needs no server and no native addon, appends one
// line per run (a killed run cannot lose earlier ones, where sql.js rewrites
// its whole file), and a damaged line is skipped and named, not fatal.
// Every file read here is bounded and validated (lib/results/schema.ts): a
// cut or hand-edited file is named with its line and field. A damaged history
// line is skipped and named, never the reason to refuse the whole history.
import { appendFileSync, closeSync, existsSync, fstatSync, openSync, readSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { z } from 'zod';
import { InputFileError } from '../errors.js';
import { FILE_LIMITS, readBounded } from '../files.js';
import type { HistoryEntry } from '../results/history.js';
import type { RunRecord, RunResult } from '../results/run.js';
import { firstIssue, HistoryLineSchema, runFileSchemaOf, SummaryFileSchema, upgradeRunFile } from '../results/schema.js';
import { type HistoryRead, lastPassIn, type ResultsStore, RunNotFoundError, type SeriesKey, type StoredRun } from './store.js';

export const HISTORY_FILE = 'history.jsonl';

/**
 * Appends one line. A history whose last line was cut (a disk full, a run
 * killed mid-write) first gets the newline it lacks: the cut line stays a
 * damaged line of its own, and this entry a whole one. One write per line
 * (O_APPEND): two runs appending at once do not interleave.
 */
export function appendHistory(reports: string, entry: HistoryEntry): void {
  const file = join(reports, HISTORY_FILE);
  const line = `${JSON.stringify(entry)}\n`;
  appendFileSync(file, endsCut(file) ? `\n${line}` : line);
}

/** The file exists, is not empty, and its last byte is not a newline. */
function endsCut(file: string): boolean {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch {
    return false;
  }
  try {
    const size = fstatSync(fd).size;
    if (size === 0) return false;
    const last = Buffer.alloc(1);
    readSync(fd, last, 0, 1, size - 1);
    return last[0] !== 0x0a;
  } finally {
    closeSync(fd);
  }
}

export function readHistory(reports: string): HistoryRead {
  const file = join(reports, HISTORY_FILE);
  if (!existsSync(file)) return { entries: [], skipped: [] };
  const entries: HistoryEntry[] = [];
  const skipped: string[] = [];
  readBounded(file, FILE_LIMITS.history, 'history')
    .split('\n')
    .forEach((text, i) => {
      if (!text.trim()) return;
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch {
        skipped.push(`${file}:${i + 1}: skipped: not a whole JSON line (cut off?): ${JSON.stringify(text.slice(0, 60))}`);
        return;
      }
      const r = HistoryLineSchema.safeParse(json, { reportInput: true });
      if (!r.success) {
        const { field, message } = firstIssue(r.error);
        skipped.push(`${file}:${i + 1}: skipped: ${field}: ${message}`);
        return;
      }
      entries.push(r.data as HistoryEntry);
    });
  return { entries, skipped };
}

/** Parses a run directory's JSON file against its schema: an InputFileError naming the file and field otherwise. */
/** The version a run file says it is written in: 1 where it says none (before schemaVersion existed). */
const versionOf = (json: unknown): number => {
  const v = (json as { schemaVersion?: unknown } | null)?.schemaVersion;
  return typeof v === 'number' ? v : 1;
};

function readRunFile(file: string, schemaOf: (version: number) => z.ZodType, what: string): { data: unknown; version: number } {
  const text = readBounded(file, FILE_LIMITS.runData, what);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new InputFileError(file, `not valid JSON (cut off?): ${(err as Error).message}`, { cause: err });
  }
  const version = versionOf(json);
  const r = schemaOf(version).safeParse(json, { reportInput: true });
  if (!r.success) {
    const { field, message } = firstIssue(r.error);
    throw new InputFileError(file, `not a run's ${what}: ${message}`, { field });
  }
  return { data: r.data, version };
}

/** run.json of any schema version, read with that version's schema and brought up to today's. */
function readRunJson(file: string): RunResult {
  const { data, version } = readRunFile(file, runFileSchemaOf, 'run.json');
  return upgradeRunFile(data as Record<string, unknown>, version) as unknown as RunResult;
}

/** A run by its directory, or by its id in the reports directory's history. */
export function loadRun(ref: string, reports: string): RunRecord {
  let dir = resolve(ref);
  if (!(existsSync(dir) && statSync(dir).isDirectory())) {
    const history = readHistory(reports);
    const entry = history.entries.find((e) => e.runId === ref);
    if (!entry) {
      const damaged = history.skipped.length > 0 ? ` (its damaged lines, skipped: ${history.skipped.join('; ')})` : '';
      throw new RunNotFoundError(`${ref}: neither a run directory nor a run id in ${join(reports, HISTORY_FILE)}${damaged}`);
    }
    dir = join(reports, entry.runId);
  }
  const run = readRunJson(join(dir, 'run.json'));
  // Only its cases, as the run decided them (summary.ts builds the file; this reads it back).
  const summary = readRunFile(join(dir, 'summary.json'), () => SummaryFileSchema, 'summary.json').data as { cases: RunRecord['cases']; verdict: string };
  return { run, cases: summary.cases, dir, verdict: summary.verdict };
}

/** The embedded store: the reports directory (history.jsonl and the run directories). */
export class FileStore implements ResultsStore {
  constructor(readonly reports: string) {}

  get where(): string {
    return join(this.reports, HISTORY_FILE);
  }

  async add(r: StoredRun): Promise<void> {
    if (readHistory(this.reports).entries.some((e) => e.runId === r.entry.runId)) return;
    appendHistory(this.reports, r.entry);
  }

  /** In the order the runs started (as the database answers), whatever order they were appended in. */
  async history(): Promise<HistoryRead> {
    const h = readHistory(this.reports);
    return { ...h, entries: [...h.entries].sort((a, b) => a.startedAt.localeCompare(b.startedAt)) };
  }

  async run(runId: string): Promise<RunRecord | null> {
    const dir = join(this.reports, runId);
    return existsSync(join(dir, 'run.json')) ? loadRun(dir, this.reports) : null;
  }

  async lastPass(key: SeriesKey, before: string): Promise<string | null> {
    return lastPassIn(readHistory(this.reports).entries, key, before);
  }

  async close(): Promise<void> {}
}
