// `dutlab suites`: the suites found, what each needs of a lab and which
// profiles run it by default; then the profiles and what they offer.
import type { Command } from 'commander';
import { PROFILES } from '../profiles/index.js';
import { describeSuites, shownFile, suiteDirs } from '../suite/catalog.js';
import { suitesDirOption } from './common.js';

export function addSuitesCommand(program: Command): void {
  program
    .command('suites')
    .description(
      'list the suites (lib/suite/<name>/suite.ts, and the <name>.e2e.ts of --suites-dir), what each checks and what it requires of a lab; and the profiles',
    )
    .addOption(suitesDirOption())
    .action(async (o: { suitesDir: string[] }) => {
      for (const x of await describeSuites(suiteDirs(o.suitesDir))) {
        const needs = x.requires.map((r) => r.feature).join(', ') || 'nothing';
        const by = PROFILES.filter((p) => p.defaultSuites.includes(x.name)).map((p) => p.name);
        process.stdout.write(
          `${x.name.padEnd(16)} ${x.title}\n${''.padEnd(16)} requires: ${needs}; default for: ${by.join(', ') || 'no profile'}; file: ${shownFile(x)}\n`,
        );
      }
      process.stdout.write('\nprofiles:\n');
      for (const p of PROFILES) process.stdout.write(`${p.name.padEnd(16)} ${p.title} (offers: ${p.features.join(', ')})\n`);
    });
}
