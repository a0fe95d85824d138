// The PVP KNI suite: run by `dutlab run` (and `npm run e2e`) against the
// testbed and profile it was given. Each setup step and each check is its own
// testcase; a stage whose prerequisite failed is skipped with the reason.
// Teardown always runs.
import { afterAll, describe, it } from 'vitest';
import { PvpRun, configFromEnv, watchAbortFile, type Stage } from '../../lib/scenario/run.js';
import { failureKind } from '../../lib/errors.js';

declare module 'vitest' {
  interface TaskMeta {
    stageId?: string;
    kind?: 'dut' | 'infra';
  }
}

const run = new PvpRun(configFromEnv());

// Interrupted (Ctrl-C, a CI abort): tear down, then let the suite end, its stages skipped with the reason.
// The signal reaches this worker directly from a terminal, and through the abort file from `dutlab run`,
// which is what a CI's SIGTERM reaches. A second signal received here forces the exit.
let signals = 0;
const onSignal = (sig: NodeJS.Signals) => {
  if (++signals > 1) process.exit(2);
  void run.abort(sig);
};
const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
SIGNALS.forEach((sig) => process.on(sig, onSignal));
const stopWatching = watchAbortFile(run.config.runDir, (sig) => void run.abort(sig));

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
  stopWatching();
  await run.finish();
  // The run is over: vitest ends its workers with SIGTERM, which must not read as an interrupted run.
  SIGNALS.forEach((sig) => process.off(sig, onSignal));
}, 120_000);
