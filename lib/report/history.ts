// The results store's interface (ResultsStore): every run written, and the
// history read back, through it only (`run`, `compare`, `--baseline`,
// `trend`, `trend --check`, `results push`). Two stores: the embedded one,
// the reports directory itself (FileStore: history.jsonl, one line per run,
// and the run directories), and PostgreSQL for a fleet (store-pg.ts).
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
import type { CaseOutcome, RunResult } from '../results/run.js';
import { firstIssue, HistoryLineSchema, runFileSchemaOf, SCHEMA_VERSION, SummaryFileSchema, upgradeRunFile } from '../results/schema.js';
import type { RunRecord } from './compare.js';
import { throughputOf, type ThroughputResult } from '../suite/throughput/result.js';
import type { LatencyResult } from '../results/latency.js';

export const HISTORY_FILE = 'history.jsonl';

export interface HistoryEntry {
  schemaVersion?: number;
  runId: string;
  startedAt: string;
  testbed: string;
  profile: string;
  suites: string[];
  versions: RunResult['versions'];
  verdict: string;
  throughput: Array<{ frame: number; goal: string; lower: number | null; upper: number | null; limitedByGenerator: boolean }>;
  /** Every trial of the run's searches, in the order they ran (absent in lines of dutlab before they were kept). */
  trials?: HistoryTrial[];
  /** The latency of the run's throughput suite per frame size and load, and the generator's own (absent before it was measured). */
  latency?: HistoryLatency[];
}

/**
 * One latency figure set as the history and summary.json keep it: of the DUT
 * at a load (a share of that run's PDR, 0 the stream alone), or of the
 * generator alone (the guest bypassed); the HDR histogram (base64) with it.
 */
export type HistoryLatency = Omit<LatencyResult, 'histogram' | 'streamId'> & {
  frame: number;
  of: 'dut' | 'generator';
  load: number;
  /** The load's frames/s. */
  rate: number;
  hops?: Array<{ from: string; to: string } & Omit<LatencyResult, 'histogram' | 'streamId' | 'hdrh'>>;
};

const latencyFigures = ({ histogram, streamId, ...figures }: LatencyResult) => figures;
/** A hop's figures: its histogram stays out of the history (the end-to-end one is kept). */
const withoutHdrh = ({ histogram, streamId, hdrh, ...figures }: LatencyResult) => figures;

/** Every latency figure set of a run's throughput suites (the one place the history's and summary.json's are made). */
export function latencyOf(run: Pick<RunResult, 'suites'>): HistoryLatency[] {
  return run.suites.flatMap((s) =>
    throughputOf(s).flatMap((t): HistoryLatency[] => [
      ...(t.latency && t.calibration?.latency
        ? [{ frame: t.frame, of: 'generator' as const, load: 0, rate: 0, ...latencyFigures(t.calibration.latency) }]
        : []),
      ...(t.latency?.loads ?? []).map((l) => ({
        frame: t.frame,
        of: 'dut' as const,
        load: l.load,
        rate: l.rate,
        ...latencyFigures(l.latency),
        ...(l.hops ? { hops: l.hops.map((h) => ({ from: h.from, to: h.to, ...withoutHdrh(h.latency) })) } : {}),
      })),
    ]),
  );
}

/** One trial of a search as the history and summary.json keep it: the generator's measurement (load, duration, frames offered, sent, received, loss, generator short) at its frame size. */
export type HistoryTrial = Omit<ThroughputResult['trials'][number], 'achievedRate'> & { frame: number };

/** Every trial of a run's throughput searches (the one place the history's and summary.json's trials are made). */
export function trialsOf(run: Pick<RunResult, 'suites'>): HistoryTrial[] {
  return run.suites.flatMap((s) =>
    throughputOf(s).flatMap((t) =>
      t.trials.map((m) => ({
        frame: t.frame,
        rate: m.rate,
        durationS: m.durationS,
        offered: m.offered,
        sent: m.sent,
        received: m.received,
        lossRatio: m.lossRatio,
        generatorShort: m.generatorShort,
      })),
    ),
  );
}

export class RunNotFoundError extends Error {}

export function historyEntry(run: RunResult, verdict: string): HistoryEntry {
  const latency = latencyOf(run);
  return {
    schemaVersion: SCHEMA_VERSION,
    runId: run.runId,
    startedAt: run.startedAt,
    testbed: run.testbedName,
    profile: run.profile,
    suites: run.suites.map((s) => s.suite),
    versions: run.versions,
    verdict,
    throughput: run.suites.flatMap((s) =>
      throughputOf(s).flatMap((t) =>
        t.goals.map((g) => ({ frame: t.frame, goal: g.goal, lower: g.lowerBound, upper: g.upperBound, limitedByGenerator: g.limitedByGenerator })),
      ),
    ),
    trials: trialsOf(run),
    ...(latency.length ? { latency } : {}),
  };
}

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

/** The history's entries, and the lines it skipped (each named "file:line: why"). */
export interface HistoryRead {
  entries: HistoryEntry[];
  skipped: string[];
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

// ---- the store ------------------------------------------------------------------

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
