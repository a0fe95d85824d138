// `dutlab doctor`: is this lab ready? Exit 0 when nothing fails, 2 when something does.
import { InvalidArgumentError, Option, type Command } from 'commander';
import { doctor, impliedProfile } from '../probes/doctor.js';
import { formatProbes, healthy } from '../probes/probe.js';
import { PROFILE_NAMES, profileByName } from '../profiles/index.js';
import { profileProblems } from '../profiles/profile.js';
import { EXIT_CODES } from '../report/verdict.js';
import { loadTestbed } from '../testbed/load.js';
import type { HostRole } from '../testbed/schema.js';

export function addDoctorCommand(program: Command): void {
  program
    .command('doctor')
    .description(
      'is this lab ready? every host reached as a run would, then each read-only check the testbed needs (hugepages, NICs, IOMMU, KVM, clocks, the TG); exit 0 when nothing fails, 2 when something does',
    )
    .requiredOption('--testbed <file>', 'the testbed YAML file')
    .addOption(new Option('--profile <name>', 'the profile the lab runs (default: the one the testbed is written for)').choices(PROFILE_NAMES))
    .option('--json', 'the checks as JSON')
    .addOption(
      new Option('--host <role>', 'only this host (repeatable): host, guest or tg')
        .choices(['host', 'guest', 'tg'])
        .argParser((v: string, prev: HostRole[] = []) => {
          if (!['host', 'guest', 'tg'].includes(v)) throw new InvalidArgumentError(`--host ${v}: one of host, guest, tg`);
          return [...prev, v as HostRole];
        }),
    )
    .action(async (o: { testbed: string; profile?: string; json?: boolean; host?: HostRole[] }) => {
      const tb = loadTestbed(o.testbed);
      const name = o.profile ?? impliedProfile(tb);
      const wrong = profileProblems(profileByName(name), tb, o.testbed);
      if (wrong) throw wrong;
      const results = await doctor(tb, name, o.host ? { roles: o.host } : {});
      process.stdout.write(
        o.json ? `${JSON.stringify({ testbed: tb.name, profile: name, healthy: healthy(results), checks: results }, null, 2)}\n` : formatProbes(results),
      );
      process.exitCode = healthy(results) ? EXIT_CODES.pass : EXIT_CODES['infra-error'];
    });
}
