// The suites there are: the product's, each a folder lib/suite/<name>/ whose
// suite.ts defines it (its cases, values and results beside it), and every
// `<name>.e2e.ts` in the directories a user adds (`--suites-dir`: a lab's own
// suites, the tests' examples). No list names them: a new product suite is a
// new folder. `dutlab suites` reads what each says of itself (the description
// defineSuite returns, without running anything); vitest runs the same file.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { SuiteMeta } from '../scenario/lab-run.js';

export const PROJECT_ROOT = resolve(new URL('../..', import.meta.url).pathname);
/** The product's suites: lib/suite/<name>/suite.ts. */
export const SUITES_DIR = join(PROJECT_ROOT, 'lib', 'suite');
/** The file that makes a folder of lib/suite a suite. */
export const SUITE_FILE = 'suite.ts';
/** A suite of a directory a user adds: <name>.e2e.ts. */
const SUFFIX = '.e2e.ts';

export interface SuiteFile {
  name: string;
  /** Absolute, as vitest's include takes it. */
  file: string;
}

export class UnknownSuiteError extends Error {}

/** Set while `dutlab suites` imports the suite files to read their descriptions: defineSuite then registers nothing. */
export const LISTING = Symbol.for('dutlab.listing-suites');

/** The directories suites are looked for in: the product's, then each one added, in the order given. */
export function suiteDirs(extra: readonly string[] = []): string[] {
  const dirs = [SUITES_DIR, ...extra.map((d) => resolve(d))];
  for (const d of dirs.slice(1)) if (!existsSync(d) || !statSync(d).isDirectory()) throw new UnknownSuiteError(`--suites-dir ${d}: no such directory`);
  return [...new Set(dirs)];
}

/** Every suite of these directories; two of one name are an error that names both files. */
export function suiteFiles(dirs: readonly string[] = [SUITES_DIR]): SuiteFile[] {
  const out: SuiteFile[] = [];
  for (const dir of dirs) {
    for (const suite of suitesIn(dir)) {
      const same = out.find((s) => s.name === suite.name);
      if (same) throw new UnknownSuiteError(`two suites are named ${JSON.stringify(suite.name)}: ${same.file} and ${suite.file}`);
      out.push(suite);
    }
  }
  return out;
}

/** The suites of one directory: the product's folders (lib/suite/<name>/suite.ts), or a user's <name>.e2e.ts files. */
function suitesIn(dir: string): SuiteFile[] {
  if (!existsSync(dir)) return [];
  const names = readdirSync(dir).sort();
  if (dir === SUITES_DIR) return names.filter((n) => existsSync(join(dir, n, SUITE_FILE))).map((n) => ({ name: n, file: join(dir, n, SUITE_FILE) }));
  return names.filter((f) => f.endsWith(SUFFIX)).map((f) => ({ name: f.slice(0, -SUFFIX.length), file: join(dir, f) }));
}

/** The files of the named suites, in the order asked; an unknown name is an error that lists the known ones. */
export function resolveSuites(names: readonly string[], dirs: readonly string[] = [SUITES_DIR]): SuiteFile[] {
  const known = suiteFiles(dirs);
  return [...new Set(names)].map((n) => {
    const f = known.find((k) => k.name === n);
    if (!f)
      throw new UnknownSuiteError(
        `no suite ${JSON.stringify(n)}: the suites are ${known.map((k) => k.name).join(', ') || 'none'} (files ${dirs.map((d) => (d === SUITES_DIR ? `${d}/<name>/${SUITE_FILE}` : `${d}/<name>${SUFFIX}`)).join(', ')})`,
      );
    return f;
  });
}

/** A suite's file as a person finds it: relative to the project where it lies inside it. */
export const shownFile = (f: SuiteFile): string => (f.file.startsWith(`${PROJECT_ROOT}/`) ? relative(PROJECT_ROOT, f.file) : f.file);

/** Each suite's description, as its file states it. */
export async function describeSuites(dirs: readonly string[] = [SUITES_DIR]): Promise<Array<SuiteMeta & SuiteFile>> {
  const out: Array<SuiteMeta & SuiteFile> = [];
  (globalThis as Record<symbol, unknown>)[LISTING] = true;
  for (const f of suiteFiles(dirs)) {
    const mod = (await import(pathToFileURL(f.file).href)) as { default?: SuiteMeta };
    const meta = mod.default;
    if (!meta?.name) throw new Error(`${shownFile(f)}: a suite's file must \`export default defineSuite(...)\``);
    if (meta.name !== f.name)
      throw new Error(
        `${shownFile(f)}: the suite calls itself ${JSON.stringify(meta.name)}; name it after its ${f.file.startsWith(SUITES_DIR) ? 'folder' : 'file'}, ${JSON.stringify(f.name)}`,
      );
    out.push({ ...meta, ...f });
  }
  return out;
}
