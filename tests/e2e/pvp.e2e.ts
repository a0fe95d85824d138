// The PVP KNI suite: run by `dutlab run` (and `npm run e2e`) against the
// testbed and profile it was given. Each setup step and each check is its own
// testcase; a stage whose prerequisite failed is skipped with the reason.
// Teardown always runs.
import { afterAll, describe, it } from 'vitest';
import { PvpRun, configFromEnv, type Stage } from '../../lib/scenario/run.js';
import { failureKind } from '../../lib/errors.js';

declare module 'vitest' {
  interface TaskMeta {
    stageId?: string;
    kind?: 'dut' | 'infra';
  }
}

const run = new PvpRun(configFromEnv());

function stageTest(stage: Stage) {
  it(stage.title, { timeout: 3_600_000 }, async (ctx) => {
    ctx.task.meta.stageId = stage.id;
    try {
      const skipped = await run.runStage(stage);
      if (skipped) ctx.skip(skipped);
    } catch (err) {
      ctx.task.meta.kind = failureKind(err);
      throw err;
    }
  });
}

for (const group of ['setup', 'traffic', 'checks'] as const) {
  describe(group, () => {
    for (const stage of run.stages.filter((s) => s.group === group)) stageTest(stage);
  });
}

afterAll(async () => {
  await run.finish();
}, 120_000);
