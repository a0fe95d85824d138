// The `dutlab` command.
import { Command, CommanderError, Option } from 'commander';
import { readFileSync } from 'node:fs';
import { relative } from 'node:path';
import { errorMessage } from '../errors.js';
import { formatPlan, planOf } from '../scenario/plan.js';
import { PROFILE_NAMES, profileByName } from '../scenario/profiles.js';
import { loadTestbed, missingLocalFiles, testbedNotes } from '../testbed/load.js';
import { DEFAULT_LAB_ID, labDown, labStatus, labUp } from '../vlab/lab.js';
import { runSuite, writeUsageReport } from './run.js';

const log = (line: string) => process.stderr.write(`dutlab: ${line}\n`);
/** A path as the user can open it from here: relative inside the working directory, absolute outside. */
const shown = (path: string) => (relative(process.cwd(), path).startsWith('..') ? path : relative(process.cwd(), path));

export function buildCli(): Command {
  const program = new Command('dutlab')
    .description('End-to-end test harness for the DPDK vSwitch KNI Phy->VM->Phy lab')
    .version(JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')).version)
    .showHelpAfterError()
    // Usage errors are thrown (CommanderError), not exited on: main() gives them exit code 2 and a report.
    .exitOverride();
  const profile = () => new Option('--profile <name>', 'how to build the setup').choices(PROFILE_NAMES).makeOptionMandatory();

  program
    .command('run')
    .description('build the setup, send the stream, judge packets, counters, dmesg and interfaces; exit 0 pass, 1 DUT failed, 2 infrastructure failed')
    .requiredOption('--testbed <file>', 'the testbed YAML file')
    .addOption(profile())
    .option('--reports <dir>', 'where reports go', undefined)
    .option('--hook-before-traffic <command>', 'a local command run just before the traffic (fault injection, debugging)')
    .option('--quiet', 'no per-testcase output')
    .action(async (o: { testbed: string; profile: string; reports?: string; hookBeforeTraffic?: string; quiet?: boolean }) => {
      const s = await runSuite({
        testbed: o.testbed,
        profile: o.profile,
        ...(o.reports ? { reportsDir: o.reports } : {}),
        ...(o.hookBeforeTraffic ? { beforeTraffic: o.hookBeforeTraffic } : {}),
        ...(o.quiet ? { quiet: true } : {}),
      });
      log(`${s.verdict.toUpperCase()} (exit ${s.exitCode}): ${s.reason}`);
      log(`report: ${shown(s.summaryFile)}`);
      process.exitCode = s.exitCode;
    });

  program
    .command('plan')
    .description('print the exact commands each host will run, in order, without connecting')
    .requiredOption('--testbed <file>', 'the testbed YAML file')
    .addOption(profile())
    .action((o: { testbed: string; profile: string }) => {
      const tb = loadTestbed(o.testbed);
      const p = profileByName(o.profile);
      // The plan is for reading on any machine: files only the lab's controller has are a warning here.
      for (const n of testbedNotes(tb)) log(`note: ${n}`);
      for (const m of missingLocalFiles(tb)) log(`warning: ${m} (\`dutlab run\` would stop on it)`);
      process.stdout.write(formatPlan(tb, p, planOf(tb, p)));
    });

  program
    .command('e2e')
    .description('the main job: virtual lab up, the full suite with the virtual profile, virtual lab down')
    .option('--id <id>', 'lab id', DEFAULT_LAB_ID)
    .option('--reports <dir>', 'where reports go', undefined)
    .action(async (o: { id: string; reports?: string }) => {
      // A signal before or after the suite (while the lab comes up or goes down) is noted here, so that
      // the lab still goes down; during the suite, runSuite's own handler tears the run down as well.
      let interrupted: NodeJS.Signals | null = null;
      const onSignal = (sig: NodeJS.Signals) => {
        if (interrupted) process.exit(2);
        interrupted = sig;
      };
      const signals = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
      signals.forEach((sig) => process.on(sig, onSignal));
      let code = 2;
      try {
        const lab = await labUp({ id: o.id, log });
        if (interrupted) throw new Error(`interrupted by ${interrupted} while the virtual lab came up`);
        const s = await runSuite({ testbed: lab.testbedFile, profile: 'virtual', ...(o.reports ? { reportsDir: o.reports } : {}) });
        log(`${s.verdict.toUpperCase()} (exit ${s.exitCode}): ${s.reason}`);
        log(`report: ${shown(s.summaryFile)}`);
        code = s.exitCode;
      } finally {
        await labDown({ id: o.id, log });
        signals.forEach((sig) => process.off(sig, onSignal));
      }
      process.exitCode = code;
    });

  const lab = program.command('lab').description('the built-in virtual lab (root, Debian)');
  lab
    .command('up')
    .description('install missing packages, build the namespaces, sshd, OVS and forwarders; write the lab testbed')
    .option('--id <id>', 'lab id (several labs can coexist)', DEFAULT_LAB_ID)
    .option('--template <file>', 'testbed template')
    .action(async (o: { id: string; template?: string }) => {
      const st = await labUp({ id: o.id, log, ...(o.template ? { template: o.template } : {}) });
      process.stdout.write(`${st.testbedFile}\n`);
    });
  lab
    .command('down')
    .description('remove everything lab up made; safe to run any number of times')
    .option('--id <id>', 'lab id', DEFAULT_LAB_ID)
    .action(async (o: { id: string }) => {
      await labDown({ id: o.id, log });
    });
  lab
    .command('status')
    .description('what exists of the lab and what is alive')
    .option('--id <id>', 'lab id', DEFAULT_LAB_ID)
    .action(async (o: { id: string }) => {
      process.stdout.write(JSON.stringify(await labStatus(o.id), null, 2) + '\n');
    });
  return program;
}

/** Runs the command line: exit 0, 1 or 2 as the README says; usage errors are 2, and leave a report where a run would have. */
export async function main(argv: string[]): Promise<void> {
  try {
    await buildCli().parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') {
        process.exitCode = 0;
        return;
      }
      process.exitCode = 2;
      const command = argv[2];
      if (command === 'run' || command === 'e2e') {
        const s = writeUsageReport(err.message.replace(/^error: /, ''), optionValue(argv, '--reports'));
        log(`INFRA-ERROR (exit 2): ${s.reason}`);
        log(`report: ${shown(s.summaryFile)}`);
      }
      return;
    }
    log(errorMessage(err));
    process.exitCode = 2;
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
