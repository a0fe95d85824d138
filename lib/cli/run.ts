// `dutlab run`: the e2e suite in-process under vitest, then the verdict and the reports.
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createVitest } from 'vitest/node';
import { TestbedError, errorMessage } from '../errors.js';
import { junitXml } from '../report/junit.js';
import { RunReporter } from '../report/reporter.js';
import { buildSummary, summaryMarkdown, type Summary } from '../report/summary.js';
import { verdictOf, EXIT_CODES } from '../report/verdict.js';
import { profileByName } from '../scenario/profiles.js';
import type { RunData } from '../results/run.js';
import { ABORT_FILE, configToEnv, writeAbortFile } from '../scenario/run.js';
import { loadTestbed, missingLocalFiles } from '../testbed/load.js';

export const PROJECT_ROOT = resolve(new URL('../..', import.meta.url).pathname);

export interface RunOptions {
  testbed: string;
  profile: string;
  reportsDir?: string;
  beforeTraffic?: string;
  quiet?: boolean;
}

export function newRunId(): string {
  const d = new Date().toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
  return `${d}-${Math.floor(Math.random() * 1e4)
    .toString()
    .padStart(4, '0')}`;
}

/** A new run directory under the reports directory, which `latest` now points to. */
function newRunDir(reportsDir?: string): { reports: string; runId: string; runDir: string } {
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
}

export async function runSuite(opts: RunOptions): Promise<RunOutcome> {
  const { reports, runId, runDir } = newRunDir(opts.reportsDir);
  const base: RunData = {
    runId,
    testbed: resolve(opts.testbed),
    testbedName: '?',
    profile: opts.profile,
    startedAt: new Date().toISOString(),
    versions: {},
    stages: [],
    teardownProblems: [],
    notes: [],
  };

  // Problems that stop the run before it touches the lab: exit 2, with a report all the same.
  try {
    const tb = loadTestbed(opts.testbed);
    base.testbedName = tb.name;
    copyFileSync(opts.testbed, join(runDir, 'testbed.yaml'));
    profileByName(opts.profile);
    const missing = missingLocalFiles(tb);
    if (missing.length > 0) throw new Error(`before connecting: ${missing.join('; ')}`);
  } catch (err) {
    const reason = err instanceof TestbedError ? err.message : errorMessage(err);
    return writeReports(reports, runDir, base, [], { verdict: 'infra-error', exitCode: EXIT_CODES['infra-error'], reason });
  }

  // A signal while the suite runs: the suite tears down (it learns of the signal through the abort file,
  // or directly from a terminal), the run ends "aborted", exit 2. A second signal forces the exit.
  let interrupted: string | null = null;
  const onSignal = (sig: NodeJS.Signals) => {
    if (interrupted) {
      process.stderr.write(`dutlab: ${sig} again: exiting now; the lab may keep this run's setup, and its lock goes to the next run from here\n`);
      process.exit(EXIT_CODES.aborted);
    }
    interrupted = sig;
    process.stderr.write(`dutlab: ${sig}: tearing down (${sig} again to exit at once)\n`);
    writeAbortFile(runDir, sig);
  };
  const signals = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
  signals.forEach((sig) => process.on(sig, onSignal));
  try {
    return await runVitest(opts, reports, runDir, runId, base, () => interrupted);
  } finally {
    signals.forEach((sig) => process.off(sig, onSignal));
  }
}

async function runVitest(
  opts: RunOptions,
  reports: string,
  runDir: string,
  runId: string,
  base: RunData,
  interrupted: () => string | null,
): Promise<RunOutcome> {
  const reporter = new RunReporter();
  const env = configToEnv({
    testbedFile: resolve(opts.testbed),
    profile: opts.profile,
    runId,
    runDir,
    ...(opts.beforeTraffic ? { beforeTraffic: opts.beforeTraffic } : {}),
  });
  Object.assign(process.env, env);
  const saved = process.exitCode;
  // Vitest's own SIGINT/SIGTERM handlers exit the process at once; a run must tear down first (runSuite's).
  const before = { SIGINT: process.listeners('SIGINT'), SIGTERM: process.listeners('SIGTERM') };
  const vitest = await createVitest('test', {
    root: PROJECT_ROOT,
    config: false,
    include: ['tests/e2e/**/*.e2e.ts'],
    reporters: opts.quiet ? [reporter] : [reporter, 'verbose'],
    watch: false,
    fileParallelism: false,
    passWithNoTests: false,
    env,
    // The suite's modules, transformed once and kept (keyed by their content): a run starts in less CPU.
    experimental: { fsModuleCache: true },
  } as never);
  for (const sig of ['SIGINT', 'SIGTERM'] as const) for (const l of process.listeners(sig)) if (!before[sig].includes(l)) process.off(sig, l);
  try {
    await vitest.start([]);
  } finally {
    await vitest.close();
  }
  process.exitCode = saved;
  let data = base;
  try {
    data = JSON.parse(readFileSync(join(runDir, 'run-data.json'), 'utf8')) as RunData;
  } catch {
    if (reporter.errors.length === 0) reporter.errors.push('the suite wrote no run data: it could not start');
  }
  const cases = reporter.cases.map((c) => {
    const stage = data.stages.find((s) => s.id === c.id);
    return stage?.kind && c.status === 'failed' ? { ...c, kind: stage.kind } : c;
  });
  const sig = interrupted();
  const aborted = data.aborted ?? (sig ? `interrupted by ${sig}` : undefined);
  rmSync(join(runDir, ABORT_FILE), { force: true });
  return writeReports(reports, runDir, data, cases, verdictOf(cases, reporter.errors, aborted));
}

/** A command line that could not be parsed: an infrastructure error with a report, so that no gate reads the last run's JUnit. */
export function writeUsageReport(reason: string, reportsDir?: string): RunOutcome {
  const { reports, runId, runDir } = newRunDir(reportsDir);
  const data: RunData = {
    runId,
    testbed: '?',
    testbedName: '?',
    profile: '?',
    startedAt: new Date().toISOString(),
    versions: {},
    stages: [],
    teardownProblems: [],
    notes: [],
  };
  return writeReports(reports, runDir, data, [], { verdict: 'infra-error', exitCode: EXIT_CODES['infra-error'], reason: `usage: ${reason}` });
}

function writeReports(reports: string, runDir: string, data: RunData, cases: Summary['cases'], verdict: ReturnType<typeof verdictOf>): RunOutcome {
  const summary = buildSummary(data, cases, verdict);
  const props = {
    runId: data.runId,
    verdict: verdict.verdict,
    testbed: data.testbedName,
    testbedFile: data.testbed,
    profile: data.profile,
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
  writeFileSync(join(runDir, 'junit.xml'), xml);
  writeFileSync(join(reports, 'junit.xml'), xml);
  writeFileSync(join(runDir, 'summary.json'), JSON.stringify(summary, null, 2));
  writeFileSync(join(runDir, 'summary.md'), summaryMarkdown(summary));
  if (!existsSync(join(runDir, 'run-data.json'))) writeFileSync(join(runDir, 'run-data.json'), JSON.stringify(data, null, 2));
  return { ...summary, summaryFile: join(runDir, 'summary.md') };
}
