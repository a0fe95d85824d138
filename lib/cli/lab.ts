// `dutlab lab up|image|down|status`: the built-in virtual lab (lib/vlab).
import { type Command, Option } from 'commander';
import { DEFAULT_LAB_ID, labDown, labStatus, labUp, type Datapath, type GuestKind, type TgKind } from '../vlab/lab.js';
import { cachedImages, ensureGuestImage, IMAGE_CACHE } from '../vlab/image.js';
import { ensurePackages } from '../vlab/packages.js';

import { log } from './common.js';

export function addLabCommands(program: Command): void {
  const lab = program.command('lab').description('the built-in virtual lab (root, Debian)');
  addLabUp(lab);
  addLabImage(lab);
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
}

interface LabUpOptions {
  id: string;
  template?: string;
  datapath?: Datapath;
  guest: GuestKind;
  rebuildImage?: boolean;
  capacity?: string;
  pin?: boolean;
  builds?: boolean;
  tg: TgKind;
}

function addLabUp(lab: Command): void {
  lab
    .command('up')
    .description('install missing packages, build the namespaces, sshd, OVS and forwarders; write the lab testbed')
    .option('--id <id>', 'lab id (several labs can coexist)', DEFAULT_LAB_ID)
    .option('--template <file>', 'testbed template')
    .addOption(
      new Option(
        '--datapath <kind>',
        "netdev: OVS's userspace datapath on veth (profile virtual; the default); dpdk: OVS-DPDK on DPDK virtual devices (profile ovs-dpdk; the default with --guest vm)",
      ).choices(['netdev', 'dpdk']),
    )
    .addOption(
      new Option(
        '--guest <kind>',
        'netns: the guest is a network namespace; vm: a Debian VM that the run starts with QEMU on vhost-user ports (needs --datapath dpdk)',
      )
        .choices(['netns', 'vm'])
        .default('netns'),
    )
    .option('--rebuild-image', 'build the guest image again even if the cache has it (--guest vm)')
    .option(
      '--capacity <fps>',
      "a DUT of known capacity: the guest forwards at most this many of the stream's frames a second (a token bucket sized from the generator's measured burst; --guest netns)",
    )
    .addOption(
      new Option('--tg <kind>', 'the generator in the TG namespace: linux (tcpreplay, tcpdump) or trex (a real TRex: ../shared/trex, or DUTLAB_TREX_DIR)')
        .choices(['linux', 'trex'])
        .default('linux'),
    )
    .option('--pin', 'the switch on CPU 0, the generator and its captures on the other CPUs (netdev datapath; the testbed gets tg.cpus)')
    .option(
      '--builds',
      "two DPDK builds in the testbed (ovsDpdk.builds): the installed one (the run's default) and the other point release Debian's archives keep, fetched with apt and unpacked into /var/cache/dutlab/builds, never installed (--datapath dpdk)",
    )
    .action(labUpCommand);
}

async function labUpCommand(o: LabUpOptions): Promise<void> {
  if (o.guest === 'vm' && o.datapath === 'netdev')
    throw new Error('--guest vm --datapath netdev: a VM guest sits on vhost-user ports, which need the DPDK datapath (leave --datapath out, or say dpdk)');
  if (o.capacity !== undefined && !/^\d+$/.test(o.capacity)) throw new Error(`--capacity ${o.capacity}: whole frames per second`);
  const st = await labUp({
    id: o.id,
    log,
    datapath: o.datapath ?? (o.guest === 'vm' ? 'dpdk' : 'netdev'),
    guest: o.guest,
    ...(o.rebuildImage ? { rebuildImage: true } : {}),
    ...(o.template ? { template: o.template } : {}),
    ...(o.capacity !== undefined ? { capacity: Number(o.capacity) } : {}),
    ...(o.pin ? { pin: true } : {}),
    ...(o.builds ? { builds: true } : {}),
    tg: o.tg,
  });
  process.stdout.write(`${st.testbedFile}\n`);
}

function addLabImage(lab: Command): void {
  lab
    .command('image')
    .description(`build the VM guest's image (mmdebstrap from the Debian mirror apt uses) or take it from the cache (${IMAGE_CACHE})`)
    .option('--rebuild', 'build it even if the cache has it')
    .option('--list', 'list the cached images')
    .action(async (o: { rebuild?: boolean; list?: boolean }) => {
      if (o.list) {
        for (const i of cachedImages()) process.stdout.write(`${i.key}  ${i.builtAt}  ${(i.bytes / 1e6).toFixed(0)} MB  ${i.dir}\n`);
        return;
      }
      await ensurePackages(log, false, true);
      const img = await ensureGuestImage({ log, ...(o.rebuild ? { rebuild: true } : {}) });
      process.stdout.write(`${img.dir}\n`);
    });
}
