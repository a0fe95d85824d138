// What a suite's file (lib/suite/<name>/suite.ts, or a lab's own <name>.e2e.ts) is written against. A suite names what it
// requires of a lab and returns its testcases (stages); this module makes each
// stage a vitest test, skips a stage whose prerequisite failed and blocks one
// the lab cannot offer (each with the reason), tears the fixtures down in
// reverse order after the last test whatever happened, tears down on a signal,
// and hands the suite's result to `dutlab run`'s reporter through vitest's
// task metadata. The configuration comes from `dutlab run` through vitest's
// provide/inject, never from the environment.
import { afterAll, describe, inject, it } from 'vitest';
import type { SuiteResult } from '../results/run.js';
import { LISTING } from './catalog.js';
import { LabRun, watchAbortFile, type Stage, type SuiteConfig, type SuiteMeta } from '../scenario/lab-run.js';

export type { Stage, SuiteConfig, SuiteMeta } from '../scenario/lab-run.js';
export { LabRun } from '../scenario/lab-run.js';

declare module 'vitest' {
  interface ProvidedContext {
    dutlab: SuiteConfig;
  }
  interface TaskMeta {
    /** On the suite's file: its result (with the engine's record of every testcase), for the reporter. */
    suiteResult?: SuiteResult;
  }
}

/**
 * A suite: its name (its folder's, lib/suite/<name>/, or its file's, <name>.e2e.ts), a line saying
 * what it checks, what it requires of a lab, and its testcases in order, made
 * from the lab run (`lab.setupStages()` for the profile's setup). Returns the
 * suite's description, which is all `dutlab suites` reads of the file.
 */
export function defineSuite(meta: SuiteMeta, stagesOf: (lab: LabRun) => Stage[]): SuiteMeta {
  // Imported by `dutlab suites` (catalog.ts) only to be described, the suite registers nothing.
  if (process.env.VITEST && !(globalThis as Record<symbol, unknown>)[LISTING]) registerSuite(meta, stagesOf);
  return meta;
}

function registerSuite(meta: SuiteMeta, stagesOf: (lab: LabRun) => Stage[]): void {
  const config = inject('dutlab');
  if (!config) {
    it(meta.name, () => {
      throw new Error(`the ${meta.name} suite runs through \`dutlab run --suite ${meta.name}\`, which hands it the testbed and the profile`);
    });
    return;
  }
  const lab = new LabRun(config, meta);
  const stages = stagesOf(lab);

  // Interrupted (Ctrl-C, a CI abort): tear down, then let the suite end, its stages skipped with the reason.
  // One path: signals reach `dutlab run`'s process only (the suites run in a worker thread); its handler
  // writes the abort file, which the suite watches.
  const stopWatching = watchAbortFile(config.runDir, (sig) => void lab.abort(sig));

  for (const group of [...new Set(stages.map((s) => s.group))]) {
    describe(group, () => {
      for (const stage of stages.filter((s) => s.group === group)) stageTest(lab, stage);
    });
  }

  // biome-ignore lint/correctness/noEmptyPattern: vitest hands a hook's suite second, after a context it reads by destructuring
  afterAll(async ({}, file) => {
    stopWatching();
    await lab.finish();
    file.meta.suiteResult = { ...lab.data, matrix: lab.matrix(stages) };
  }, 120_000);
}

function stageTest(lab: LabRun, stage: Stage): void {
  // The engine records the outcome; vitest shows it as it runs.
  it(stage.title, { timeout: 3_600_000 }, async (ctx) => {
    const not = await lab.runStage(stage);
    if (not) ctx.skip(not.reason);
  });
}
