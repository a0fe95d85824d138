// The one place vitest is hosted. The suites stay vitest test files (the
// design card's): each suite's file is a vitest module whose tests are its
// stages. This runs the chosen files in-process, one after the other in the
// order asked, hands each the run's configuration (vitest's provide), and
// gives back what each suite recorded (its file's task metadata) and the
// errors of a suite that could not run at all. Nothing else of vitest leaks
// out: its exit code and its signal handlers are not the run's.
import { resolve } from 'node:path';
import { createVitest, type Reporter, type TestModule } from 'vitest/node';
import type { SuiteResult } from '../results/run.js';
import type { SuiteConfig } from '../scenario/lab-run.js';
import { PROJECT_ROOT, type SuiteFile } from '../suite/catalog.js';

/** What the suites handed back: their records in the order asked, and why any gave none. */
export interface SuitesRan {
  results: SuiteResult[];
  errors: string[];
}

/** Runs the suites' files under vitest, in order, each given `config`. */
export async function runSuiteFiles(suites: readonly SuiteFile[], config: SuiteConfig, o: { quiet?: boolean } = {}): Promise<SuitesRan> {
  const reporter = new SuitesReporter(suites);
  const saved = process.exitCode;
  // Vitest's own SIGINT/SIGTERM handlers exit the process at once; a run tears down first (lib/run/signals.ts).
  const before = { SIGINT: process.listeners('SIGINT'), SIGTERM: process.listeners('SIGTERM') };
  const vitest = await createVitest('test', {
    root: PROJECT_ROOT,
    config: false,
    include: suites.map((s) => s.file),
    // One suite after the other, in the order asked: each takes the lab's lease and builds its own setup.
    sequence: { sequencer: orderedSequencer(suites) },
    reporters: o.quiet ? [reporter] : [reporter, 'verbose'],
    watch: false,
    fileParallelism: false,
    // A worker thread, not a forked process: a run starts in a tenth less CPU (no second Node.js to boot).
    // Signals reach this process only; the run's listener tells the suite through the abort file.
    pool: 'threads',
    passWithNoTests: false,
    provide: { dutlab: config },
    // The suites' modules, transformed once and kept (keyed by their content): a run starts in less CPU.
    experimental: { fsModuleCache: true },
  } as never);
  for (const sig of ['SIGINT', 'SIGTERM'] as const) for (const l of process.listeners(sig)) if (!before[sig].includes(l)) process.off(sig, l);
  try {
    await vitest.start([]);
  } finally {
    await vitest.close();
  }
  process.exitCode = saved;
  // In the order asked for, whatever order vitest reports its modules in.
  const rank = (name: string | undefined) => suites.findIndex((s) => s.name === name);
  const results = [...reporter.suites].sort((a, b) => rank(a.suite) - rank(b.suite));
  for (const s of suites)
    if (!results.some((r) => r.suite === s.name) && !reporter.errors.some((e) => e.includes(s.file)))
      reporter.errors.push(`the ${s.name} suite gave no result: it could not start`);
  return { results, errors: reporter.errors };
}

/** Collects each suite's result (its file's task metadata) and the errors of a suite that could not run. */
class SuitesReporter implements Reporter {
  readonly suites: SuiteResult[] = [];
  readonly errors: string[] = [];

  constructor(private readonly files: readonly SuiteFile[]) {}

  onTestRunEnd(modules: ReadonlyArray<TestModule>, unhandled: ReadonlyArray<{ message?: string }>): void {
    for (const m of modules) {
      const result = (m.meta() as { suiteResult?: SuiteResult }).suiteResult;
      if (result) this.suites.push(result);
      const suite = result?.suite ?? this.files.find((f) => f.file === resolve(m.moduleId))?.name ?? m.moduleId;
      for (const e of m.errors()) this.errors.push(`the ${suite} suite (${m.relativeModuleId}) could not run: ${e.message}`);
    }
    for (const e of unhandled) this.errors.push(`unhandled error: ${e.message ?? 'unknown'}`);
  }
}

/** Vitest's sequencer, keeping the suites in the order they were asked for. */
function orderedSequencer(suites: readonly SuiteFile[]) {
  const rank = (f: string) => suites.findIndex((s) => resolve(f) === s.file);
  return class {
    async shard<T>(files: T[]): Promise<T[]> {
      return files;
    }
    async sort<T extends { moduleId: string }>(files: T[]): Promise<T[]> {
      return [...files].sort((a, b) => rank(a.moduleId) - rank(b.moduleId));
    }
  };
}
