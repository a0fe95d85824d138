// What every command shares: its lines on stderr, paths as the user opens
// them, the options several commands take, and a run refused before it ran.
import { Option } from 'commander';
import { relative } from 'node:path';
import { PROFILE_NAMES } from '../profiles/index.js';
import { EXIT_CODES } from '../report/verdict.js';
import { writeRefusalReport } from '../run/lifecycle.js';

export const log = (line: string) => process.stderr.write(`dutlab: ${line}\n`);

/** A path as the user can open it from here: relative inside the working directory, absolute outside. */
export const shown = (path: string) => (relative(process.cwd(), path).startsWith('..') ? path : relative(process.cwd(), path));

export const profileOption = () => new Option('--profile <name>', 'how to build the setup').choices(PROFILE_NAMES).makeOptionMandatory();

export const suitesDirOption = () =>
  new Option('--suites-dir <dir>', 'also take the suites (<name>.e2e.ts) of this directory (repeatable)')
    .argParser((v: string, prev: string[]) => [...prev, v])
    .default([]);

/** A run refused before it touched the lab: exit 2, with this run's report all the same (no gate reads the last run's). */
export function refuseRun(reason: string, o: { reports?: string | undefined; testbed?: string; profile?: string }): void {
  const s = writeRefusalReport(reason, o.reports, { ...(o.testbed ? { testbed: o.testbed } : {}), ...(o.profile ? { profile: o.profile } : {}) });
  log(`INFRA-ERROR (exit ${EXIT_CODES['infra-error']}): ${s.reason}`);
  log(`report: ${shown(s.summaryFile)}`);
  process.exitCode = EXIT_CODES['infra-error'];
}
