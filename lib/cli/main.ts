// The `dutlab` command: one file per command (lib/cli/<command>.ts), each
// mapping its options to what lib/ does and printing what it returns.
import { Command, CommanderError } from 'commander';
import { readFileSync } from 'node:fs';
import { errorMessage } from '../errors.js';
import { EXIT_CODES } from '../report/verdict.js';
import { guardSecrets } from '../run/secrets.js';
import { log, refuseRun } from './common.js';
import { addCompareCommand } from './compare.js';
import { addDoctorCommand } from './doctor.js';
import { addE2eCommand } from './e2e.js';
import { addGateCommand } from './gate.js';
import { refuseRepeatedFlags } from './flags.js';
import { addLabCommands } from './lab.js';
import { addPlanCommand } from './plan.js';
import { addPoolCommands } from './pool.js';
import { addResultsCommands } from './results.js';
import { addRunCommand } from './run.js';
import { addSuitesCommand } from './suites.js';
import { addTrendCommand } from './trend.js';

export function buildCli(): Command {
  const program = new Command('dutlab')
    .description('End-to-end test harness for the DPDK vSwitch KNI Phy->VM->Phy lab')
    .version(JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')).version)
    .showHelpAfterError()
    // Usage errors are thrown (CommanderError), not exited on: main() gives them exit code 2 and a report.
    .exitOverride()
    .hook('preAction', refuseRepeatedFlags);
  for (const add of [
    addRunCommand,
    addCompareCommand,
    addGateCommand,
    addTrendCommand,
    addSuitesCommand,
    addPlanCommand,
    addDoctorCommand,
    addE2eCommand,
    addLabCommands,
    addPoolCommands,
    addResultsCommands,
  ])
    add(program);
  return program;
}

/** Runs the command line: exit 0, 1 or 2 as the README says; usage errors are 2, and leave a report where a run would have. */
export async function main(argv: string[]): Promise<void> {
  guardSecrets(argv);
  try {
    await buildCli().parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') {
        process.exitCode = EXIT_CODES.pass;
        return;
      }
      process.exitCode = EXIT_CODES['infra-error'];
      const command = argv[2];
      if (command === 'run' || command === 'e2e' || command === 'gate')
        refuseRun(`usage: ${err.message.replace(/^error: /, '')}`, { reports: optionValue(argv, '--reports') });
      return;
    }
    log(errorMessage(err));
    process.exitCode = EXIT_CODES['infra-error'];
  }
}

/** The value of an option in a command line commander could not parse. */
function optionValue(argv: string[], name: string): string | undefined {
  const i = argv.indexOf(name);
  if (i >= 0 && argv[i + 1] && !argv[i + 1]!.startsWith('-')) return argv[i + 1];
  return argv.find((a) => a.startsWith(`${name}=`))?.slice(name.length + 1);
}

const isMain = process.argv[1] && import.meta.url.endsWith(process.argv[1].replace(/^.*\/lib\//, '/lib/'));
if (isMain) void main(process.argv);
