// `dutlab plan`: every command each host will run, in order, without connecting.
import type { Command } from 'commander';
import { profileByName } from '../profiles/index.js';
import { profileProblems } from '../profiles/profile.js';
import { formatPlan, planOf } from '../scenario/plan.js';
import { loadTestbed, missingLocalFiles, testbedNotes } from '../testbed/load.js';
import { log, profileOption } from './common.js';

export function addPlanCommand(program: Command): void {
  program
    .command('plan')
    .description('print the exact commands each host will run, in order, without connecting')
    .requiredOption('--testbed <file>', 'the testbed YAML file')
    .addOption(profileOption())
    .action((o: { testbed: string; profile: string }) => {
      const tb = loadTestbed(o.testbed);
      const p = profileByName(o.profile);
      const wrong = profileProblems(p, tb, o.testbed);
      if (wrong) throw wrong;
      // The plan is for reading on any machine: files only the lab's controller has are a warning here.
      for (const n of testbedNotes(tb)) log(`note: ${n}`);
      for (const m of missingLocalFiles(tb)) log(`warning: ${m} (\`dutlab run\` would stop on it)`);
      process.stdout.write(formatPlan(tb, p, planOf(tb, p)));
    });
}
