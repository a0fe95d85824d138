// The shapes of what a run leaves behind and later commands read back:
// run.json and summary.json of a run directory, and each line of
// history.jsonl. `compare`, `run --baseline` and `trend` validate what they
// read against these (a hand-edited or cut file is named with its line and
// field, never a TypeError), and later work extends them here, raising
// SCHEMA_VERSION. Files written before schemaVersion existed are version 1
// and read as they are. Pure: the readers are in lib/report/history.ts.
import { z } from 'zod';

/** 2: schemaVersion written into run.json, summary.json and history lines. */
export const SCHEMA_VERSION = 2;

const schemaVersion = z.number().int().min(1).max(SCHEMA_VERSION, `written by a newer dutlab (schemaVersion above ${SCHEMA_VERSION})`).optional();
const versions = z.record(z.string(), z.string().optional());
const rate = z.number().finite().nonnegative();

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
  frame: z.number().int().min(64).max(65535),
  goals: z.array(Goal),
  trials: z.array(z.looseObject({ rate, durationS: z.number().finite(), lossRatio: z.number().finite() })).optional(),
});

const Stage = z.looseObject({
  id: z.string(),
  title: z.string(),
  status: z.enum(['passed', 'failed', 'skipped', 'blocked']),
});

const SuiteRecord = z.looseObject({
  suite: z.string(),
  stages: z.array(Stage),
  throughput: z.array(Throughput).optional(),
});

/** run.json: the whole run. */
export const RunFileSchema = z.looseObject({
  schemaVersion,
  runId: z.string().min(1),
  testbed: z.string(),
  testbedName: z.string(),
  profile: z.string(),
  startedAt: z.string(),
  versions,
  suites: z.array(SuiteRecord),
  notes: z.array(z.string()),
});

const Case = z.looseObject({
  id: z.string(),
  name: z.string(),
  suite: z.string().optional(),
  group: z.string(),
  status: z.enum(['passed', 'failed', 'skipped', 'blocked']),
  message: z.string().optional(),
});

/** summary.json: the verdict and the testcases. */
export const SummaryFileSchema = z.looseObject({
  schemaVersion,
  runId: z.string().min(1),
  verdict: z.enum(['pass', 'fail', 'infra-error', 'aborted']),
  exitCode: z.number().int(),
  cases: z.array(Case),
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
  throughput: z.array(
    z.looseObject({ frame: z.number().int(), goal: z.string(), lower: rate.nullable(), upper: rate.nullable(), limitedByGenerator: z.boolean() }),
  ),
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
