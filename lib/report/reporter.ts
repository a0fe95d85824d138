// A vitest reporter that collects each testcase of the e2e suite with its stage id and failure kind.
import type { Reporter, TestModule } from 'vitest/node';
import type { CaseResult } from './verdict.js';

export class RunReporter implements Reporter {
  readonly cases: CaseResult[] = [];
  readonly errors: string[] = [];

  onTestRunEnd(modules: ReadonlyArray<TestModule>, unhandled: ReadonlyArray<{ message?: string }>): void {
    for (const m of modules) {
      for (const e of m.errors()) this.errors.push(`the suite could not run: ${e.message}`);
      for (const t of m.children.allTests()) {
        const r = t.result();
        const meta = t.meta() as { stageId?: string; kind?: 'dut' | 'infra' };
        const status = r.state === 'passed' ? 'passed' : r.state === 'failed' ? 'failed' : 'skipped';
        const message = r.state === 'failed' ? r.errors?.[0]?.message : r.state === 'skipped' ? r.note : undefined;
        this.cases.push({
          id: meta.stageId ?? t.name,
          name: t.name,
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
