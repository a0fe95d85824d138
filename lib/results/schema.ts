// The shapes of what a run leaves behind and later commands read back:
// run.json and summary.json of a run directory, and each line of
// history.jsonl. `compare`, `run --baseline` and `trend` validate what they
// read against these (a hand-edited or cut file is named with its line and
// field, never a TypeError), and later work extends them here, raising
// SCHEMA_VERSION. Files written before schemaVersion existed are version 1
// and read as they are. Pure: the readers are in lib/report/history.ts.
import { z } from 'zod';

/**
 * 2: schemaVersion written into run.json, summary.json and history lines.
 * 3: in run.json, each suite's testcases are `cases` (the engine's one record
 * of a testcase: name, message, suite) and what it measured is `measured`,
 * tagged with its kind; before, `stages` (title, diagnosis) and the PVP and
 * throughput fields (packets, counters, tgSent, throughput) at the suite's top
 * level. Older files are read and brought up to 3 (upgradeRunFile).
 * 4: a throughput search's `frame` is a size or a mix's name (`imix`,
 * `mix-64x3-1518x1`: lib/testbed/frame-mix.ts); older files hold sizes only.
 * 5: a throughput search may carry its telemetry trial (`telemetry`: load,
 * duration, figures with units, null where not offered) in run.json, and
 * summary.json and history lines list them (`telemetry`); older files have
 * none, and are read as they are.
 */
export const SCHEMA_VERSION = 5;

const schemaVersion = z.number().int().min(1).max(SCHEMA_VERSION, `written by a newer dutlab (schemaVersion above ${SCHEMA_VERSION})`).optional();
const versions = z.record(z.string(), z.string().optional());
const rate = z.number().finite().nonnegative();
/** A frame size, or a mix's name (lib/testbed/frame-mix.ts). */
const frame = z.union([
  z.number().int().min(64).max(65535),
  z.string().regex(/^(imix|mix-\d+x\d+(-\d+x\d+)*)$/, 'a frame size or a mix: imix, mix-64x3-1518x1'),
]);

const Goal = z.looseObject({
  goal: z.string(),
  lossRatio: z.number().finite().optional(),
  lowerBound: rate.nullable(),
  upperBound: rate.nullable(),
  limitedByGenerator: z.boolean(),
  stoppedBy: z.string().optional(),
  spread: z.looseObject({ highestPass: rate.nullable(), lowestExceed: rate.nullable() }).optional(),
});

const Throughput = z.looseObject({
  frame,
  goals: z.array(Goal),
  trials: z.array(z.looseObject({ rate, durationS: z.number().finite(), lossRatio: z.number().finite() })).optional(),
  telemetry: z
    .looseObject({
      rate,
      durationS: z.number().finite().positive(),
      metrics: z.array(z.looseObject({ id: z.string(), scope: z.string(), unit: z.string(), value: z.number().finite().nullable() })),
    })
    .optional(),
  backToBack: z
    .looseObject({
      bursts: z.array(z.number().int().nonnegative()).min(1),
      meanFrames: z.number().finite().nonnegative(),
      burstRate: z.number().finite().nonnegative(),
      impliedBufferMs: z.number().finite().nonnegative(),
      correctedFrames: z.number().finite().nonnegative().nullable(),
    })
    .optional(),
  recovery: z
    .looseObject({
      lostInOverload: z.number().int().nonnegative(),
      lostInRecovery: z.number().int().nonnegative(),
      lossRecoveryMs: z.number().finite().nonnegative(),
      delayRecoveryMs: z.number().finite().nonnegative().nullable(),
    })
    .optional(),
});

const status = z.enum(['passed', 'failed', 'skipped', 'blocked']);

const Case = z.looseObject({
  id: z.string(),
  name: z.string(),
  suite: z.string().optional(),
  group: z.string(),
  status,
  message: z.string().optional(),
});

const SuiteRecord = z.looseObject({
  suite: z.string(),
  cases: z.array(Case),
  measured: z.looseObject({ kind: z.string(), results: z.array(Throughput).optional() }).optional(),
});

/** A suite's record before schema 3. */
const SuiteRecordBefore3 = z.looseObject({
  suite: z.string(),
  stages: z.array(z.looseObject({ id: z.string(), title: z.string(), group: z.string().optional(), status, diagnosis: z.string().optional() })),
  throughput: z.array(Throughput).optional(),
});

const runFile = <S extends z.ZodType>(suite: S) =>
  z.looseObject({
    schemaVersion,
    runId: z.string().min(1),
    testbed: z.string(),
    testbedName: z.string(),
    profile: z.string(),
    startedAt: z.string(),
    versions,
    suites: z.array(suite),
    notes: z.array(z.string()),
  });

/** run.json: the whole run. */
export const RunFileSchema = runFile(SuiteRecord);
/** run.json as dutlab wrote it before schema 3. */
export const RunFileSchemaBefore3 = runFile(SuiteRecordBefore3);

/** The schema a run.json of this version is read with. */
export const runFileSchemaOf = (version: number) => (version >= 3 ? RunFileSchema : RunFileSchemaBefore3);

/**
 * A run.json read with its version's schema, brought up to schema 3: each
 * suite's stages become its cases, and its top-level measurements its
 * `measured` (the throughput search; or the PVP suite's packets and counters).
 */
export function upgradeRunFile(data: Record<string, unknown>, version: number): Record<string, unknown> {
  if (version >= 3) return data;
  const suites = (data.suites as Array<Record<string, unknown>>).map((s) => {
    const { stages, throughput, packets, counters, tgSent, ...rest } = s;
    const cases = (stages as Array<Record<string, unknown>>).map(({ title, diagnosis, ...c }) => ({
      ...c,
      name: title,
      suite: s.suite,
      ...(diagnosis !== undefined ? { message: diagnosis } : {}),
    }));
    const measured = throughput
      ? { kind: 'throughput', results: throughput }
      : packets || counters
        ? { kind: 'pvp', packets, counters, ...(tgSent !== undefined ? { tgSent } : {}) }
        : undefined;
    return { ...rest, cases, ...(measured ? { measured } : {}) };
  });
  return { ...data, suites };
}

/** summary.json: the verdict and the testcases. */
export const SummaryFileSchema = z.looseObject({
  schemaVersion,
  runId: z.string().min(1),
  verdict: z.enum(['pass', 'fail', 'infra-error', 'aborted']),
  exitCode: z.number().int(),
  cases: z.array(Case),
});

const us = z.number().finite();
/** A latency figure set of the history (lib/report/history.ts HistoryLatency): what compare and trend read of it. */
const Latency = z.looseObject({
  frame,
  of: z.enum(['dut', 'generator']),
  load: z.number().min(0).max(1),
  rate,
  received: z.number().int().nonnegative(),
  p50Us: us.nullable(),
  p99Us: us.nullable(),
  invalid: z.string().optional(),
});

/** One line of history.jsonl. */
export const HistoryLineSchema = z.looseObject({
  schemaVersion,
  runId: z.string().min(1),
  startedAt: z.string(),
  testbed: z.string(),
  profile: z.string(),
  suites: z.array(z.string()),
  versions,
  verdict: z.string(),
  throughput: z.array(z.looseObject({ frame, goal: z.string(), lower: rate.nullable(), upper: rate.nullable(), limitedByGenerator: z.boolean() })),
  trials: z
    .array(
      z.looseObject({
        frame,
        rate,
        durationS: z.number().finite().nonnegative(),
        offered: z.number().finite().nonnegative(),
        sent: z.number().finite().nonnegative(),
        received: z.number().finite().nonnegative(),
        lossRatio: z.number().finite(),
        generatorShort: z.boolean(),
      }),
    )
    .optional(),
  latency: z.array(Latency).optional(),
});

/** The first problem zod found, as "field: what is wrong" for a person. */
export function firstIssue(error: z.ZodError): { field: string; message: string } {
  const issue = error.issues[0]!;
  const field = issue.path.map(String).join('.') || '(top)';
  const got = 'input' in issue ? issue.input : undefined;
  const message =
    issue.code === 'invalid_type'
      ? `expected ${issue.expected}, got ${got === undefined ? 'nothing' : got === null ? 'null' : Array.isArray(got) ? 'a list' : typeof got}`
      : issue.message;
  return { field, message };
}
