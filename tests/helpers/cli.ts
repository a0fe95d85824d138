import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import type { Summary } from '../../lib/report/summary.js';
import type { SuiteResult } from '../../lib/results/run.js';
import { waitUntil } from '../../lib/wait.js';

const ROOT = new URL('../..', import.meta.url).pathname;

export interface CliRun {
  exitCode: number;
  stdout: string;
  stderr: string;
  summary: Summary;
  reports: string;
}

/** `dutlab run` as a gate would call it: a child process, its exit code and its reports (a new directory, or the one given, kept by its owner). */
export async function dutlabRun(args: string[], into?: string, o: { command?: 'run' | 'gate'; timeoutMs?: number } = {}): Promise<CliRun> {
  const reports = into ?? mkdtempSync(join(tmpdir(), 'dutlab-reports-'));
  try {
    const r = await execa('node', ['bin/dutlab.js', o.command ?? 'run', '--quiet', '--reports', reports, ...args], {
      cwd: ROOT,
      reject: false,
      timeout: o.timeoutMs ?? 240_000,
    });
    const summary = JSON.parse(readFileSync(join(reports, 'latest', 'summary.json'), 'utf8')) as Summary;
    // Every run tells where its report is, wherever --reports put it.
    if (!r.stderr.split('\n').includes(`dutlab: report: ${join(reports, summary.runId, 'summary.md')}`))
      throw new Error(`dutlab ${o.command ?? 'run'} did not name its report under ${reports}:\n${r.stderr}`);
    return { exitCode: r.exitCode ?? -1, stdout: r.stdout, stderr: r.stderr, summary, reports };
  } catch (err) {
    // The caller never got the directory to remove: remove it here.
    if (!into) rmSync(reports, { recursive: true, force: true });
    throw err;
  }
}

export function failedCases(s: Summary): Record<string, string> {
  return Object.fromEntries(s.cases.filter((c) => c.status === 'failed').map((c) => [c.id, c.message ?? '']));
}

/** Waits (bounded) until the run has recorded the stage as passed. */
export async function waitForStage(reports: string, id: string): Promise<void> {
  const passed = () => {
    try {
      const data = JSON.parse(readFileSync(join(reports, 'latest', 'pvp', 'progress.json'), 'utf8')) as SuiteResult;
      return data.cases.some((s) => s.id === id && s.status === 'passed');
    } catch {
      return false; // not written yet
    }
  };
  await waitUntil(`the run to pass ${id}`, passed, { timeoutMs: 60_000, intervalMs: 20 });
}
