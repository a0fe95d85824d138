// The run's verdict, for a gate: pass (0), the DUT failed a check (1), or the
// infrastructure failed (2) so that no verdict on the DUT can be given.
import type { FailureKind } from '../errors.js';

export interface CaseResult {
  id: string;
  name: string;
  group: string;
  status: 'passed' | 'failed' | 'skipped';
  kind?: FailureKind;
  message?: string;
  durationMs: number;
}

/** aborted: a signal interrupted the run; like infra-error, it says nothing of the DUT. */
export type Verdict = 'pass' | 'fail' | 'infra-error' | 'aborted';
export const EXIT_CODES: Record<Verdict, number> = { pass: 0, fail: 1, 'infra-error': 2, aborted: 2 };

export function verdictOf(cases: CaseResult[], runErrors: string[] = [], aborted?: string): { verdict: Verdict; exitCode: number; reason: string } {
  if (aborted) return { verdict: 'aborted', exitCode: EXIT_CODES.aborted, reason: aborted };
  const failed = cases.filter((c) => c.status === 'failed');
  const infra = failed.filter((c) => c.kind !== 'dut');
  let verdict: Verdict;
  let reason: string;
  if (runErrors.length > 0) [verdict, reason] = ['infra-error', runErrors[0]!];
  else if (infra.length > 0) [verdict, reason] = ['infra-error', `${infra[0]!.name}: ${infra[0]!.message ?? 'failed'}`];
  else if (failed.length > 0) [verdict, reason] = ['fail', `${failed[0]!.name}: ${failed[0]!.message ?? 'failed'}`];
  else if (!cases.some((c) => c.status === 'passed')) [verdict, reason] = ['infra-error', 'no testcase ran'];
  else [verdict, reason] = ['pass', `${cases.filter((c) => c.status === 'passed').length} testcases passed`];
  return { verdict, exitCode: EXIT_CODES[verdict], reason };
}
