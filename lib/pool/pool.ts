// A pool of testbeds (pool.yaml): each a testbed file and the labels a job
// asks for (`dutlab run --pool pool.yaml --label L`). The file says only what
// there is; who holds a testbed and whether it is quarantined live beside its
// lease on its DUT host, where every controller sees them (lease-script.ts).
import { dirname, isAbsolute, resolve } from 'node:path';
import { parseDocument } from 'yaml';
import { z } from 'zod';
import { errorMessage, InputFileError, PoolFileError } from '../errors.js';
import { FILE_LIMITS, readBounded } from '../files.js';
import { storeUrlProblem } from '../store/url.js';
import { describeIssue } from '../testbed/load.js';

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

const PoolTestbedSchema = z.strictObject({
  /** How `pool status`, `quarantine` and `release` name it. */
  name: z.string().regex(NAME, `a name of letters, digits, dot, dash or underscore (${NAME})`),
  /** Its testbed file, relative to the pool file. */
  testbed: z.string().min(1),
  labels: z.array(z.string().regex(NAME, `a label of letters, digits, dot, dash or underscore (${NAME})`)).min(1),
});

const PoolSchema = z.strictObject({
  testbeds: z.array(PoolTestbedSchema).min(1),
  /** The fleet's results store (a PostgreSQL URL, its password from PGPASSWORD): `run --pool` stores its runs there unless --results says otherwise. */
  results: z
    .string()
    .superRefine((url, ctx) => {
      const problem = storeUrlProblem(url, 'refused');
      if (problem) ctx.addIssue({ code: 'custom', message: problem });
    })
    .optional(),
});

export interface PoolTestbed {
  name: string;
  /** The testbed file, absolute. */
  testbed: string;
  labels: string[];
}

export interface Pool {
  file: string;
  testbeds: PoolTestbed[];
  results?: string;
}

/** Reads and checks a pool file; throws PoolFileError listing every problem, each with its field path. */
export function loadPool(file: string): Pool {
  let text: string;
  try {
    text = readBounded(file, FILE_LIMITS.testbed, 'pool file');
  } catch (err) {
    throw new PoolFileError(file, [{ path: '', message: err instanceof InputFileError ? err.problem : errorMessage(err) }]);
  }
  const doc = parseDocument(text, { prettyErrors: true });
  if (doc.errors.length > 0)
    throw new PoolFileError(
      file,
      doc.errors.map((e) => ({ path: `line ${e.linePos?.[0]?.line ?? '?'}`, message: `not valid YAML: ${e.message.split('\n')[0]}` })),
    );
  const parsed = PoolSchema.safeParse(doc.toJS(), { reportInput: true });
  if (!parsed.success) throw new PoolFileError(file, parsed.error.issues.flatMap(describeIssue));
  const seen = new Map<string, number>();
  const problems = parsed.data.testbeds.flatMap((t, i) => {
    const first = seen.get(t.name);
    seen.set(t.name, first ?? i);
    return first === undefined ? [] : [{ path: `testbeds.${i}.name`, message: `"${t.name}" is already the name of testbeds.${first}` }];
  });
  if (problems.length > 0) throw new PoolFileError(file, problems);
  const here = dirname(resolve(file));
  return {
    file: resolve(file),
    ...(parsed.data.results ? { results: parsed.data.results } : {}),
    testbeds: parsed.data.testbeds.map((t) => ({ ...t, testbed: isAbsolute(t.testbed) ? t.testbed : resolve(here, t.testbed) })),
  };
}

/** The pool's testbeds that carry a label, in the file's order; an error naming the labels there are when none does. */
export function withLabel(pool: Pool, label: string): PoolTestbed[] {
  const found = pool.testbeds.filter((t) => t.labels.includes(label));
  if (found.length > 0) return found;
  const labels = [...new Set(pool.testbeds.flatMap((t) => t.labels))].sort();
  throw new PoolFileError(pool.file, [{ path: 'testbeds', message: `no testbed is labelled "${label}" (labels: ${labels.join(', ')})` }]);
}

/** A testbed of the pool by its name; an error naming the names there are otherwise. */
export function byName(pool: Pool, name: string): PoolTestbed {
  const t = pool.testbeds.find((x) => x.name === name);
  if (t) return t;
  throw new PoolFileError(pool.file, [{ path: 'testbeds', message: `no testbed is named "${name}" (names: ${pool.testbeds.map((x) => x.name).join(', ')})` }]);
}
