// The run's verdict, for a gate: pass (0), the DUT failed a check (1), or the
// infrastructure failed (2) so that no verdict on the DUT can be given.
import type { CaseOutcome } from '../results/run.js';

/** aborted: a signal interrupted the run; like infra-error, it says nothing of the DUT. */
export type Verdict = 'pass' | 'fail' | 'infra-error' | 'aborted';
export const EXIT_CODES: Record<Verdict, number> = { pass: 0, fail: 1, 'infra-error': 2, aborted: 2 };

export function verdictOf(cases: CaseOutcome[], runErrors: string[] = [], aborted?: string): { verdict: Verdict; exitCode: number; reason: string } {
  if (aborted) return { verdict: 'aborted', exitCode: EXIT_CODES.aborted, reason: aborted };
  const failed = cases.filter((c) => c.status === 'failed');
  const infra = failed.filter((c) => c.kind !== 'dut');
  let verdict: Verdict;
  let reason: string;
  if (runErrors.length > 0) [verdict, reason] = ['infra-error', runErrors[0]!];
  else if (infra.length > 0) [verdict, reason] = ['infra-error', `${infra[0]!.name}: ${infra[0]!.message ?? 'failed'}`];
  else if (failed.length > 0) [verdict, reason] = ['fail', `${failed[0]!.name}: ${failed[0]!.message ?? 'failed'}`];
  // Blocked, and no check ran: the lab could not run the suites (their setup, or all of them), which says nothing of the DUT.
  else if (!cases.some((c) => c.status === 'passed' && c.group !== 'setup') && cases.some((c) => c.status === 'blocked')) {
    const blocked = cases.find((c) => c.status === 'blocked');
    [verdict, reason] = ['infra-error', `nothing could run on this lab: ${blocked!.message ?? 'blocked'}`];
  } else if (!cases.some((c) => c.status === 'passed')) {
    const blocked = cases.find((c) => c.status === 'blocked');
    [verdict, reason] = ['infra-error', blocked ? `nothing could run on this lab: ${blocked.message ?? 'blocked'}` : 'no testcase ran'];
  } else {
    const blocked = cases.filter((c) => c.status === 'blocked').length;
    [verdict, reason] = [
      'pass',
      `${cases.filter((c) => c.status === 'passed').length} testcases passed${blocked ? `, ${blocked} blocked (the lab lacks what they need)` : ''}`,
    ];
  }
  return { verdict, exitCode: EXIT_CODES[verdict], reason };
}
