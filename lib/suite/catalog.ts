// The suites there are: every `tests/e2e/<name>.e2e.ts`. A suite is found by
// its file's name; `dutlab suites` reads what each says of itself (the
// description defineSuite returns, without running anything).
import { existsSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { SuiteMeta } from '../scenario/lab-run.js';

export const PROJECT_ROOT = resolve(new URL('../..', import.meta.url).pathname);
export const SUITES_DIR = join(PROJECT_ROOT, 'tests', 'e2e');
const SUFFIX = '.e2e.ts';

export interface SuiteFile {
  name: string;
  /** Relative to the project root, as vitest's include takes it. */
  file: string;
}

export class UnknownSuiteError extends Error {}

/** Set while `dutlab suites` imports the suite files to read their descriptions: defineSuite then registers nothing. */
export const LISTING = Symbol.for('dutlab.listing-suites');

export function suiteFiles(dir = SUITES_DIR): SuiteFile[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith(SUFFIX))
    .sort()
    .map((f) => ({ name: f.slice(0, -SUFFIX.length), file: join(dir, f).slice(PROJECT_ROOT.length + 1) }));
}

/** The files of the named suites, in the order asked; an unknown name is an error that lists the known ones. */
export function resolveSuites(names: readonly string[], dir = SUITES_DIR): SuiteFile[] {
  const known = suiteFiles(dir);
  return [...new Set(names)].map((n) => {
    const f = known.find((k) => k.name === n);
    if (!f)
      throw new UnknownSuiteError(
        `no suite ${JSON.stringify(n)}: the suites are ${known.map((k) => k.name).join(', ') || 'none'} (files ${dir}/<name>${SUFFIX})`,
      );
    return f;
  });
}

/** Each suite's description, as its file states it. */
export async function describeSuites(dir = SUITES_DIR): Promise<Array<SuiteMeta & SuiteFile>> {
  const out: Array<SuiteMeta & SuiteFile> = [];
  (globalThis as Record<symbol, unknown>)[LISTING] = true;
  for (const f of suiteFiles(dir)) {
    const mod = (await import(pathToFileURL(join(PROJECT_ROOT, f.file)).href)) as { default?: SuiteMeta };
    const meta = mod.default;
    if (!meta?.name) throw new Error(`${f.file}: a suite's file must \`export default defineSuite(...)\``);
    if (meta.name !== f.name)
      throw new Error(`${f.file}: the suite calls itself ${JSON.stringify(meta.name)}; name it after its file, ${JSON.stringify(f.name)}`);
    out.push({ ...meta, ...f });
  }
  return out;
}
