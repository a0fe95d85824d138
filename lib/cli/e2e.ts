// `dutlab e2e`: the main job (lib/run/e2e.ts), its options mapped, its lines printed.
import { Option, type Command } from 'commander';
import { mainJob } from '../run/e2e.js';
import { DEFAULT_LAB_ID, type GuestKind } from '../vlab/lab.js';
import { log, shown } from './common.js';

export function addE2eCommand(program: Command): void {
  program
    .command('e2e')
    .description('the main job: for each profile (virtual, then ovs-dpdk), a virtual lab up, its default suites, the lab down; a verdict line each')
    .option('--id <id>', 'lab id (the DPDK lab is <id>-dpdk)', DEFAULT_LAB_ID)
    .option('--reports <dir>', 'where reports go', undefined)
    .addOption(new Option('--profiles <names>', 'comma-separated: which profiles, in order').default('virtual,ovs-dpdk'))
    .addOption(
      new Option('--guest <kind>', "the ovs-dpdk profile's guest: netns (tap ports into a namespace) or vm (QEMU on vhost-user ports)")
        .choices(['netns', 'vm'])
        .default('netns'),
    )
    .action(async (o: { id: string; reports?: string; profiles: string; guest: GuestKind }) => {
      // A failure before a verdict (a lab that would not come up) throws: main's handler makes it exit 2.
      process.exitCode = await mainJob({
        id: o.id,
        ...(o.reports ? { reports: o.reports } : {}),
        profiles: o.profiles.split(',').filter(Boolean),
        guest: o.guest,
        log,
        shown,
      });
    });
}
