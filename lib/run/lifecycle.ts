// `dutlab run`: the chosen suites in-process under vitest, one run directory
// and one JUnit whatever their number, then the verdict and the reports.
import { mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { AbortedError, TestbedError, errorMessage } from '../errors.js';
import type { HostConnector } from '../pool/lab-state.js';
import type { Pool } from '../pool/pool.js';
import { takeFromPool, type Taken } from '../pool/take.js';
import { profileByName } from '../profiles/index.js';
import { profileProblems } from '../profiles/profile.js';
import type { GateOutcome } from '../report/compare.js';
import type { RunRecord } from '../results/run.js';
import { appendHistory, FileStore } from '../store/file.js';
import { historyEntry } from '../results/history.js';
import type { ResultsStore, StoredRun } from '../store/store.js';
import { keepRun, NOT_STORED } from '../store/open.js';
import { junitXml } from '../report/junit.js';
import { runReportHtml } from '../report/run-page.js';
import { soakReportHtml, soakSection } from '../report/soak-charts.js';
import { soakOf } from '../results/soak.js';
import { buildSummary, summaryMarkdown, type Summary } from '../report/summary.js';
import { verdictOf, EXIT_CODES } from '../report/verdict.js';
import type { RunResult, SuiteResult } from '../results/run.js';
import { SCHEMA_VERSION } from '../results/schema.js';
import { ABORT_FILE, writeAbortFile, type SuiteConfig } from '../scenario/lab-run.js';
import { soakLoadFromBaseline } from './soak-load.js';
import { doctor } from '../probes/doctor.js';
import { formatProbes, healthy } from '../probes/probe.js';
import { PROJECT_ROOT, resolveSuites, suiteDirs, type SuiteFile } from '../suite/catalog.js';
import { redact, Transcript } from '../transport/transcript.js';
import { registerTestbedSecrets } from './secrets.js';
import { onSignals, signalReceived } from './signals.js';
import { runSuiteFiles } from './vitest-host.js';
import { loadRunTestbed, missingLocalFiles, withBuild } from '../testbed/load.js';
import type { Testbed } from '../testbed/schema.js';
import { throughputOf } from '../results/throughput.js';

export interface RunSuitesOptions {
  /** The testbed file; with `pool`, the one the pool gave. */
  testbed: string;
  profile: string;
  /** The suites to run, in order; default: the profile's default suites. */
  suites?: string[];
  /** Directories of suites beside the product's (lib/suite/<name>/: a lab's own, the tests' examples). */
  suiteDirs?: string[];
  reportsDir?: string;
  beforeTraffic?: string;
  /** `--build`: the build to start, in place of the testbed's ovsDpdk.build (one of its ovsDpdk.builds). */
  build?: string;
  quiet?: boolean;
  /** `--doctor`: the lab checked first; one that is not ready stops the run before any setup (exit 2). */
  doctor?: boolean;
  /** The upgrade gate (`--baseline`): judges the finished run on its testbed, as a testcase of its own, before the reports are written. */
  gate?: (candidate: RunRecord, testbed: Testbed) => Promise<GateOutcome>;
  /** Where the run is stored (`--results`): default the reports directory's history. */
  store?: ResultsStore;
  /** `--pool --label`: a free testbed of the label is taken, cleaned and checked first (lib/pool/take.ts); `testbed` is ignored. */
  pool?: { pool: Pool; label: string; waitS: number; connect?: HostConnector };
}

export function newRunId(): string {
  const d = new Date().toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
  return `${d}-${Math.floor(Math.random() * 1e4)
    .toString()
    .padStart(4, '0')}`;
}

/** A new run directory under the reports directory, which `latest` now points to. */
export function newRunDir(reportsDir?: string): { reports: string; runId: string; runDir: string } {
  const reports = resolve(reportsDir ?? join(PROJECT_ROOT, 'reports'));
  const runId = newRunId();
  const runDir = join(reports, runId);
  mkdirSync(runDir, { recursive: true });
  const latest = join(reports, 'latest');
  rmSync(latest, { force: true });
  symlinkSync(runId, latest);
  return { reports, runId, runDir };
}

/** The run's summary, and where its report was written. */
export interface RunOutcome extends Summary {
  summaryFile: string;
  /** The run's record (run.json): what the terminal lines are made from. */
  record: RunResult;
  /** The comparison with the baseline (`--baseline`), as comparison.txt has it. */
  comparison?: string;
  /** The run as a results store keeps it. */
  stored: StoredRun;
  /** Why the store did not take it (the database went away), and how to store it later. */
  notStored?: string;
}

export const emptyRun = (runId: string, testbed: string, profile: string): RunResult => ({
  runId,
  testbed,
  testbedName: '?',
  profile,
  startedAt: new Date().toISOString(),
  versions: {},
  suites: [],
  notes: [],
  teardownProblems: [],
});

/** A run, its reports, and the run stored (a store that fails costs the run nothing: it says so). */
export async function runSuites(opts: RunSuitesOptions): Promise<RunOutcome> {
  const { reports, runId, runDir } = newRunDir(opts.reportsDir);
  const outcome = await runOnce(opts, reports, runId, runDir);
  const notStored = await keepRun(opts.store ?? new FileStore(reports), runDir, outcome.stored);
  return notStored ? { ...outcome, notStored } : outcome;
}

async function runOnce(opts: RunSuitesOptions, reports: string, runId: string, runDir: string): Promise<RunOutcome> {
  if (!opts.pool) return runOnTestbed(opts, reports, runId, runDir);
  // A signal while the run waits for a testbed: it stops waiting, and gives back what it took.
  const waiting = new AbortController();
  const stopListening = onSignals({ first: () => waiting.abort() });
  let taken: Taken;
  try {
    taken = await takeFromPool(opts.pool.pool, {
      label: opts.pool.label,
      profile: opts.profile,
      waitS: opts.pool.waitS,
      runId,
      dir: runDir,
      signal: waiting.signal,
      ...(opts.pool.connect ? { connect: opts.pool.connect } : {}),
    });
  } catch (err) {
    const aborted = err instanceof AbortedError;
    const base = { ...emptyRun(runId, opts.pool.pool.file, opts.profile), ...(aborted ? { aborted: err.message } : {}) };
    const verdict = aborted ? 'aborted' : 'infra-error';
    return writeReports(reports, runDir, base, [], { verdict, exitCode: EXIT_CODES[verdict], reason: errorMessage(err) });
  } finally {
    stopListening();
  }
  try {
    return await runOnTestbed({ ...opts, testbed: taken.entry.testbed }, reports, runId, runDir, taken);
  } finally {
    const note = await taken.giveBack().catch((e: unknown) => `the lease could not be given back: ${errorMessage(e)}`);
    if (note) process.stderr.write(`dutlab: ${taken.entry.name}: ${note}\n`);
  }
}

async function runOnTestbed(opts: RunSuitesOptions, reports: string, runId: string, runDir: string, taken?: Taken): Promise<RunOutcome> {
  const base = emptyRun(runId, resolve(opts.testbed), opts.profile);
  if (taken) base.notes.push(...taken.notes);

  // Problems that stop the run before it touches the lab: exit 2, with a report all the same.
  let suites: SuiteFile[];
  let tb: Testbed;
  let notes: string[];
  try {
    ({ tb, notes } = loadRunTestbed(opts.testbed, join(runDir, 'testbed.yaml')));
    if (opts.build) {
      base.notes.push(`build ${opts.build} (--build; the testbed's ovsDpdk.build: ${tb.ovsDpdk.build ?? 'none'})`);
      tb = withBuild(tb, opts.build, opts.testbed);
    }
    registerTestbedSecrets(tb);
    base.testbedName = tb.name;
    const profile = profileByName(opts.profile);
    const wrong = profileProblems(profile, tb, opts.testbed);
    if (wrong) throw wrong;
    suites = resolveSuites(opts.suites?.length ? opts.suites : profile.defaultSuites, suiteDirs(opts.suiteDirs));
    // soak.ndrShare: the soak's load from the NDR the store last saw passing.
    const soakLoad = suites.some((s) => s.name === 'soak')
      ? await soakLoadFromBaseline(tb, opts.profile, opts.store ?? new FileStore(reports), base.startedAt)
      : null;
    if (soakLoad) {
      tb = soakLoad.tb;
      base.notes.push(soakLoad.note);
    }
    const missing = missingLocalFiles(tb);
    if (missing.length > 0) throw new Error(`before connecting: ${missing.join('; ')}`);
  } catch (err) {
    const reason = err instanceof TestbedError ? err.message : errorMessage(err);
    return writeReports(reports, runDir, base, [], { verdict: 'infra-error', exitCode: EXIT_CODES['infra-error'], reason });
  }

  if (opts.doctor) {
    const checks = await doctor(tb, opts.profile, { transcript: new Transcript(join(runDir, 'doctor', 'transcripts')) });
    writeFileSync(join(runDir, 'doctor.txt'), formatProbes(checks));
    base.notes.push(
      `dutlab doctor: ${checks.filter((c) => c.status === 'ok').length} ok, ${checks.filter((c) => c.status === 'warn').length} warn, ${checks.filter((c) => c.status === 'fail').length} fail (doctor.txt)`,
    );
    if (!healthy(checks)) {
      const failing = checks.filter((c) => c.status === 'fail').map((c) => `[${c.host}] ${c.id}: ${c.evidence} (fix: ${c.fix})`);
      const reason = `the lab is not ready (dutlab doctor): ${failing.join('; ')}`;
      return writeReports(reports, runDir, base, [], { verdict: 'infra-error', exitCode: EXIT_CODES['infra-error'], reason });
    }
  }

  // A signal while the suites run: each tears down (it learns of the signal through the abort file),
  // the run ends "aborted", exit 2. A second signal: the reports of what ran so far, then the exit (signals.ts).
  const config: SuiteConfig = {
    testbed: tb,
    testbedNotes: notes,
    testbedFile: resolve(opts.testbed),
    profile: opts.profile,
    runId,
    runDir,
    ...(opts.beforeTraffic ? { beforeTraffic: opts.beforeTraffic } : {}),
    ...(taken?.lease.held ? { lease: taken.lease.held } : {}),
  };
  const stopListening = onSignals({
    first: (sig) => {
      process.stderr.write(`dutlab: ${sig}: tearing down (${sig} again to exit at once)\n`);
      writeAbortFile(runDir, sig);
    },
    last: (sig) => writeWhatRan(reports, base, suites, runDir, sig),
  });
  try {
    const gate = opts.gate;
    const judge = gate ? (cand: RunRecord) => gate(cand, tb) : undefined;
    return await runTheSuites(opts, suites, config, reports, base, judge, taken);
  } finally {
    stopListening();
  }
}

async function runTheSuites(
  opts: RunSuitesOptions,
  suites: SuiteFile[],
  config: SuiteConfig,
  reports: string,
  base: RunResult,
  judge?: (candidate: RunRecord) => Promise<GateOutcome>,
  taken?: Taken,
): Promise<RunOutcome> {
  const ran = await runSuiteFiles(suites, config, opts.quiet ? { quiet: true } : {});
  const run = mergeResults(base, ran.results);
  // The engine's record of every testcase, suite after suite: the verdict, JUnit and summary are made from it.
  const cases = ran.results.flatMap((s) => s.cases);
  // The pool's lease, given back before the verdict: one found no longer this run's makes the run the infrastructure's failure.
  const leaseNote = taken ? await taken.giveBack().catch((e: unknown) => `the lease could not be given back: ${errorMessage(e)}`) : null;
  if (leaseNote) run.notes.push(`${taken!.entry.name}: ${leaseNote}`);
  if (taken?.lease.lost) ran.errors.push(`${taken.entry.name}: ${taken.lease.lost.message}`);
  const sig = signalReceived();
  run.aborted ??= sig ? `interrupted by ${sig}` : undefined;
  if (!run.aborted) delete run.aborted;
  rmSync(join(config.runDir, ABORT_FILE), { force: true });
  const gate = judge && !run.aborted ? await judge({ run, cases, dir: config.runDir }) : null;
  if (gate) cases.push(gate.case);
  return writeReports(reports, config.runDir, run, cases, verdictOf(cases, ran.errors, run.aborted), gate?.text);
}

/**
 * At a second signal: the reports of what the suites recorded so far (each
 * suite's progress.json), the run aborted, and the marker that it is not
 * stored (`dutlab results push` stores it). Synchronous: the process exits next.
 */
function writeWhatRan(reports: string, base: RunResult, suites: readonly SuiteFile[], runDir: string, sig: NodeJS.Signals): void {
  const recorded = suites.flatMap((s) => {
    const file = join(runDir, s.name, 'progress.json');
    try {
      return [JSON.parse(readFileSync(file, 'utf8')) as SuiteResult];
    } catch {
      return [];
    }
  });
  const run = { ...mergeResults(base, recorded), aborted: `interrupted by ${sig}, and exited at a second ${sig} before its teardown ended` };
  const cases = recorded.flatMap((s) => s.cases);
  writeReports(reports, runDir, run, cases, verdictOf(cases, [], run.aborted));
  writeFileSync(join(runDir, NOT_STORED), `exited at a second ${sig} before it was stored\n`);
}

/** The run as a whole: its suites' results; their notes carry the suite's name when there are several. */
function mergeResults(base: RunResult, suites: SuiteResult[]): RunResult {
  const tag = (s: SuiteResult, line: string) => (suites.length > 1 ? `${s.suite}: ${line}` : line);
  const versions = Object.assign({}, ...suites.map((s) => s.versions).reverse()) as RunResult['versions'];
  const aborted = suites.find((s) => s.aborted)?.aborted;
  return {
    ...base,
    ...(suites[0] ? { testbedName: suites[0].testbedName, startedAt: suites[0].startedAt } : {}),
    ...(suites.at(-1)?.finishedAt ? { finishedAt: suites.at(-1)!.finishedAt! } : {}),
    versions,
    suites,
    notes: [...base.notes, ...suites.flatMap((s) => s.notes.map((n) => tag(s, n)))],
    teardownProblems: [...base.teardownProblems, ...suites.flatMap((s) => s.teardownProblems.map((n) => tag(s, n)))],
    ...(aborted ? { aborted } : {}),
  };
}

/**
 * A run refused before it touched the lab (a command line that could not be parsed, a baseline
 * that cannot be read): an infrastructure error with a report of its own, so that no gate reads
 * the last run's JUnit.
 */
export function writeRefusalReport(reason: string, reportsDir?: string, what: { testbed?: string; profile?: string } = {}): RunOutcome {
  const { reports, runId, runDir } = newRunDir(reportsDir);
  const outcome = writeReports(reports, runDir, emptyRun(runId, what.testbed ? resolve(what.testbed) : '?', what.profile ?? '?'), [], {
    verdict: 'infra-error',
    exitCode: EXIT_CODES['infra-error'],
    reason,
  });
  // Refused before it had a store to write to: the reports directory's history keeps it.
  appendHistory(reports, outcome.stored.entry);
  return outcome;
}

export function writeReports(
  reports: string,
  runDir: string,
  record: RunResult,
  allCases: Summary['cases'],
  verdict: ReturnType<typeof verdictOf>,
  comparison?: string,
): RunOutcome {
  // The record as the files and the store keep it: no secret this process knows of (lib/run/secrets.ts).
  const [data, cases] = [record, allCases].map((x) => JSON.parse(redact(JSON.stringify(x)))) as [RunResult, Summary['cases']];
  const summary = buildSummary(data, cases, verdict);
  const props = {
    runId: data.runId,
    verdict: verdict.verdict,
    testbed: data.testbedName,
    testbedFile: data.testbed,
    profile: data.profile,
    suites: data.suites.map((s) => s.suite).join(' '),
    ovsVersion: data.versions.ovs ?? 'unknown',
    dpdkVersion: data.versions.dpdk ?? 'unknown',
    hostKernel: data.versions.hostKernel ?? 'unknown',
    guestKernel: data.versions.guestKernel ?? 'unknown',
  };
  const xml = junitXml(
    'dutlab',
    props,
    cases.length > 0 ? cases : [{ id: 'run', name: 'dutlab run', group: 'run', status: 'failed', kind: 'infra', message: verdict.reason, durationMs: 0 }],
  );
  // Every file of the report through redact: no secret this process knows of is written (lib/run/secrets.ts).
  const write = (file: string, text: string) => writeFileSync(file, redact(text));
  write(join(runDir, 'junit.xml'), xml);
  write(join(reports, 'junit.xml'), xml);
  write(join(runDir, 'summary.json'), JSON.stringify({ schemaVersion: SCHEMA_VERSION, ...summary }, null, 2));
  const against = comparison === undefined ? '' : `\n## Against the baseline\n\n\`\`\`\n${comparison}\`\`\`\n`;
  write(join(runDir, 'summary.md'), summaryMarkdown(summary) + against);
  if (comparison !== undefined) write(join(runDir, 'comparison.txt'), comparison);
  write(join(runDir, 'run.json'), JSON.stringify({ schemaVersion: SCHEMA_VERSION, ...data }, null, 2));
  const throughput = data.suites.flatMap(throughputOf);
  const soak = data.suites.map(soakOf).find((m) => m !== null);
  if (throughput.length > 0) write(join(runDir, 'report.html'), runReportHtml(data.runId, throughput, soak ? soakSection(soak) : ''));
  else if (soak) write(join(runDir, 'report.html'), soakReportHtml(data.runId, soak));
  return {
    ...summary,
    summaryFile: join(runDir, 'summary.md'),
    record: data,
    ...(comparison !== undefined ? { comparison } : {}),
    stored: { entry: historyEntry(data, verdict.verdict), run: data, cases },
  };
}
