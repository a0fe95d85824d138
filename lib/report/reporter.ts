// A vitest reporter that collects what the suites of a run hand back: each
// suite's result (its file's task metadata) and each testcase with its stage
// id, its failure kind, and whether it was blocked rather than skipped.
import type { Reporter, TestModule } from 'vitest/node';
import type { SuiteResult } from '../results/run.js';
import type { CaseResult } from './verdict.js';

interface CaseMeta {
  stageId?: string;
  kind?: 'dut' | 'infra';
  blocked?: boolean;
}

export class RunReporter implements Reporter {
  readonly cases: CaseResult[] = [];
  readonly suites: SuiteResult[] = [];
  readonly errors: string[] = [];

  onTestRunEnd(modules: ReadonlyArray<TestModule>, unhandled: ReadonlyArray<{ message?: string }>): void {
    for (const m of modules) {
      const result = (m.meta() as { suiteResult?: SuiteResult }).suiteResult;
      if (result) this.suites.push(result);
      const suite = result?.suite ?? m.moduleId.replace(/^.*\//, '').replace(/\.e2e\.ts$/, '');
      for (const e of m.errors()) this.errors.push(`the ${suite} suite (${m.relativeModuleId}) could not run: ${e.message}`);
      for (const t of m.children.allTests()) {
        const r = t.result();
        const meta = t.meta() as CaseMeta;
        const status = r.state === 'passed' ? 'passed' : r.state === 'failed' ? 'failed' : meta.blocked ? 'blocked' : 'skipped';
        const message = r.state === 'failed' ? r.errors?.[0]?.message : r.state === 'skipped' ? r.note : undefined;
        this.cases.push({
          id: meta.stageId ?? t.name,
          name: t.name,
          suite,
          group: t.parent.type === 'suite' ? t.parent.name : 'run',
          status,
          ...(status === 'failed' ? { kind: meta.kind ?? 'infra' } : {}),
          ...(message ? { message } : {}),
          durationMs: Math.round(t.diagnostic()?.duration ?? 0),
        });
      }
    }
    for (const e of unhandled) this.errors.push(`unhandled error: ${e.message ?? 'unknown'}`);
  }
}
