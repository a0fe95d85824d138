// The legacy plan is the guide's procedure: every command line of the guide,
// in the guide's order, with the testbed's values where the guide has placeholders.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseIvshmCmdline } from '../../lib/parsers/ivshm.js';
import { formatPlan, planOf } from '../../lib/scenario/plan.js';
import { legacyKni } from '../../lib/profiles/legacy-kni.profile.js';
import { virtual } from '../../lib/profiles/virtual.profile.js';
import { ovsDpdk } from '../../lib/profiles/ovs-dpdk.profile.js';
import { profileProblems } from '../../lib/profiles/profile.js';
import { loadTestbed } from '../../lib/testbed/load.js';
import { GUIDE, fixturePath, output } from '../helpers/fixtures.js';

const tb = loadTestbed(fixturePath('testbeds/legacy-kni.yaml'));
const device = parseIvshmCmdline(output('ivshm-mngr-vm_1.txt')).argument;

/** The guide's shell lines: continuation lines joined, output blocks left out. */
function guideCommands(markdown: string): string[] {
  const blocks = [...markdown.matchAll(/```\s*bash\n([\s\S]*?)```/g)].map((m) => m[1]!);
  const commands: string[] = [];
  for (const block of blocks) {
    if (/^(00000000-|\[ *\d+\.\d+\]|APP: )/.test(block.trim())) continue;
    let current = '';
    for (const raw of block.split('\n')) {
      const line = current ? raw.trimStart() : raw.trim();
      if (line.endsWith(' \\')) current += line.slice(0, -2) + ' ';
      else if (line.endsWith('\\')) current += line.slice(0, -1);
      else {
        current += line;
        if (current.trim()) commands.push(current.trim());
        current = '';
      }
    }
  }
  return commands;
}

/** Lines that set a person's shell up; the harness gives each command its cwd and environment instead. */
const SHELL_CONTEXT = /^(cd |export )/;

function substitute(cmd: string): string {
  return cmd
    .replace('<virt_addr>', tb.dpdk.ovsDpdk.baseVirtAddr!)
    .replace('<DPDK_DIR>', tb.paths.dpdkDir)
    .replace('<qemu_imagename.qcow2>', tb.paths.guestImage)
    .replace(/ &$/, '');
}

describe('dutlab plan (legacy-kni)', () => {
  const plan = planOf(tb, legacyKni, { 'ivshmem-device': device });
  const planned = plan.flatMap((s) => s.commands.map((c) => ({ step: s.id, host: s.host, ...c })));
  const guide = guideCommands(readFileSync(GUIDE, 'utf8'));

  it('finds the guide has the commands this test expects to pin', () => {
    expect(guide.length).toBeGreaterThan(40);
    expect(guide).toContain('./utilities/ovs-vsctl show');
  });

  it("holds every command line of the guide, in the guide's order", () => {
    let from = 0;
    const missing: string[] = [];
    for (const g of guide.filter((c) => !SHELL_CONTEXT.test(c) && c !== 'pkill -9 ovs')) {
      const want = substitute(g);
      // QEMU gets the harness's management NIC after the guide's arguments.
      const at = planned.findIndex((p, i) => i >= from && (p.line === want || (want.includes('qemu-system-x86_64') && p.line.startsWith(want + ' '))));
      if (at < 0) missing.push(want);
      else from = at + 1;
    }
    expect(missing).toEqual([]);
  });

  it("replaces the guide's `pkill -9 ovs` by kills through pidfiles that check the process name", () => {
    expect(planned.some((p) => /pkill|killall/.test(p.line))).toBe(false);
    const clean = plan.find((s) => s.id === 'host.clean-previous-run')!;
    expect(clean.commands.slice(0, 4).map((c) => /cat \S+\.pid.*\/proc\/\$p\/comm.*= (\S+) \] && kill -9/.exec(c.line)?.[1])).toEqual([
      'ovs-vswitchd',
      'ovs_dpdk',
      'ovsdb-server',
      'qemu-system-x86',
    ]);
  });

  it("runs the host's OVS commands from $OPENVSWITCH_DIR, and the guest's builds with RTE_SDK and RTE_TARGET", () => {
    const vsctl = planned.find((p) => p.line.startsWith('./utilities/ovs-vsctl --no-wait add-br'))!;
    expect(vsctl).toMatchObject({ host: 'host', cwd: '/root/openvswitch', env: { OPENVSWITCH_DIR: '/root/openvswitch' } });
    const make = planned.find((p) => p.line === 'make install T=x86_64-ivshmem-linuxapp-gcc')!;
    expect(make).toMatchObject({ host: 'guest', cwd: '/root/kni/DPDK', env: { RTE_SDK: '/root/kni/DPDK', RTE_TARGET: 'x86_64-ivshmem-linuxapp-gcc' } });
    expect(planned.find((p) => p.line.startsWith('./kni_client'))).toMatchObject({ cwd: '/root/kni/kni_client', background: { name: 'kni_client' } });
  });

  it('puts the KNI gate between insmod and the first vEth command', () => {
    const ids = plan.map((s) => s.id);
    expect(ids.indexOf('guest.insmod')).toBeLessThan(ids.indexOf('guest.kni-gate'));
    expect(ids.indexOf('guest.kni-gate')).toBeLessThan(ids.indexOf('guest.start-kni-client'));
    const firstVeth = planned.findIndex((p) => /vEth_/.test(p.line));
    expect(planned.findIndex((p) => p.step === 'guest.kni-gate')).toBeLessThan(firstVeth);
  });

  it('shows a placeholder for the ivshmem device until ovs-ivshm-mngr has printed it', () => {
    expect(formatPlan(tb, legacyKni, planOf(tb, legacyKni))).toContain('<-device ivshmem,... as printed by ovs-ivshm-mngr>');
  });

  it('takes every value from the testbed', () => {
    const other = { ...tb, bridge: 'br9', dpdk: { ...tb.dpdk, vswitchd: { coreMask: '0x200' } } };
    const lines = planOf(other, legacyKni).flatMap((s) => s.commands.map((c) => c.line));
    expect(lines).toContain('./utilities/ovs-vsctl --no-wait add-br br9 -- set Bridge br9 datapath_type=dpdk');
    expect(lines.some((l) => l.startsWith('./vswitchd/ovs-vswitchd -c 0x200 '))).toBe(true);
    expect(lines.some((l) => / br0\b/.test(l))).toBe(false);
  });
});

describe('dutlab plan (virtual)', () => {
  it('differs from legacy only as the profile says: netdev, system ports, no DPDK, QEMU, build or insmod', () => {
    const lines = planOf(tb, virtual).flatMap((s) => s.commands.map((c) => c.line));
    expect(lines).toContain('ovs-vsctl --no-wait add-br br0 -- set Bridge br0 datapath_type=netdev');
    expect(lines).toContain('ovs-vsctl --no-wait add-port br0 port16 -- set Interface port16 ofport_request=16');
    expect(lines.join('\n')).not.toMatch(/ovs_dpdk|qemu|insmod|make|dpdkphy|dpdkkni/);
    expect(lines).toContain('ifconfig vEth_port32 hw ether 00:4B:4E:49:30:00');
    expect(lines).toContain('arp -s 3.3.3.2 DE:AD:BE:EF:CA:FE');
  });
});

describe('dutlab plan (the modern lab: real-ovs-dpdk.yaml)', () => {
  const real = loadTestbed(fixturePath('testbeds/real-ovs-dpdk.yaml'));
  const text = formatPlan(real, ovsDpdk, planOf(real, ovsDpdk));

  it('is pinned, command for command (fixtures/plans/real-ovs-dpdk.txt; a change to it is a change to what a real lab runs)', () => {
    expect(text).toBe(readFileSync(fixturePath('plans/real-ovs-dpdk.txt'), 'utf8'));
  });

  it('runs the NICs by PCI address, four isolated PMD cores, 1 GB pages, and a KVM guest on vhost-user', () => {
    expect(profileProblems(ovsDpdk, real, 'real-ovs-dpdk.yaml')).toBeNull();
    expect(text).toContain('other_config:pmd-cpu-mask=0x3c0000');
    expect(text).toContain("'other_config:dpdk-extra=-a 0000:af:00.0 -a 0000:af:00.1 --file-prefix=dutlab'");
    expect(text).toContain('options:dpdk-devargs=0000:af:00.0');
    expect(text).toContain('cat /sys/kernel/mm/hugepages/hugepages-1048576kB/free_hugepages');
    expect(text).toMatch(/qemu-system-x86_64 .*-accel kvm/);
    expect(text).toContain('type=dpdkvhostuserclient options:vhost-server-path=/var/run/dutlab/vhost0.sock');
    expect(text).not.toContain('--no-pci');
  });
});

describe("the legacy profile's testbed", () => {
  it("refuses a testbed without the host's own --base-virtaddr: no default fits every host", () => {
    const without = { ...tb, dpdk: { ...tb.dpdk, ovsDpdk: { ...tb.dpdk.ovsDpdk, baseVirtAddr: undefined } } };
    const err = profileProblems(legacyKni, without, 'lab.yaml');
    expect(err?.problems).toEqual([
      {
        path: 'dpdk.ovsDpdk.baseVirtAddr',
        message: expect.stringMatching(/^missing; the guide's --base-virtaddr=<virt_addr> is the host's own .* \(profile legacy-kni\)$/),
      },
    ]);
    expect(profileProblems(legacyKni, tb, 'lab.yaml')).toBeNull();
  });
});
