// A vitest reporter that collects what the suites of a run hand back: each
// suite's result (its file's task metadata), which holds the engine's record
// of every testcase, and the errors of a suite that could not run at all.
import type { Reporter, TestModule } from 'vitest/node';
import type { SuiteResult } from '../results/run.js';

export class RunReporter implements Reporter {
  readonly suites: SuiteResult[] = [];
  readonly errors: string[] = [];

  onTestRunEnd(modules: ReadonlyArray<TestModule>, unhandled: ReadonlyArray<{ message?: string }>): void {
    for (const m of modules) {
      const result = (m.meta() as { suiteResult?: SuiteResult }).suiteResult;
      if (result) this.suites.push(result);
      const suite = result?.suite ?? m.moduleId.replace(/^.*\//, '').replace(/\.e2e\.ts$/, '');
      for (const e of m.errors()) this.errors.push(`the ${suite} suite (${m.relativeModuleId}) could not run: ${e.message}`);
    }
    for (const e of unhandled) this.errors.push(`unhandled error: ${e.message ?? 'unknown'}`);
  }
}
