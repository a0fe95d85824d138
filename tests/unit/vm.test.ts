// The VM guest's pure parts: QEMU's command line from the testbed, what the
// ovs-dpdk profile asks of a testbed with vhost-user ports, the hugepages a
// VM adds, how a background process's end is read, the guest boot check.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { kernelLastWords, parseDmesg } from '../../lib/parsers/dmesg.js';
import { ovsDpdk } from '../../lib/profiles/ovs-dpdk.profile.js';
import { profileFor, profileProblems } from '../../lib/profiles/profile.js';
import { hostPinVcpus, pinVcpusCommand, qemuCommand } from '../../lib/profiles/steps/vm.js';
import { hugepagesNeeded } from '../../lib/testbed/sizing.js';
import { commandText, planOf } from '../../lib/scenario/plan.js';
import { loadTestbed, parseTestbed } from '../../lib/testbed/load.js';
import { LocalShell } from '../../lib/transport/local.js';
import { describeExit, EXIT_MARKER, exitStatusIn } from '../../lib/transport/shell.js';
import { checkGuestBoot } from '../../lib/verify/state.js';
import { VM_TEMPLATE } from '../../lib/vlab/lab.js';
import { fixturePath, output } from '../helpers/fixtures.js';
import { CommandError, VmError } from '../../lib/errors.js';
import type { StepRuntime } from '../../lib/profiles/profile.js';

const TEMPLATE = readFileSync(VM_TEMPLATE, 'utf8');
const tbOf = (yaml: string) => parseTestbed(yaml, 'vm.yaml');
const tb = tbOf(TEMPLATE);

describe("QEMU's command line for the testbed's VM", () => {
  const line = qemuCommand(tb);

  it('puts the guest memory on shared hugepages and each vhost-user NIC on its port socket, with vectors=0 under TCG', () => {
    expect(line).toMatch(/^qemu-system-x86_64 -name dutlab-guest,debug-threads=on -accel tcg -machine q35 -cpu max -m 512M -smp 1 /);
    // Taken whole at start (prealloc=on, the default): a hugepage shortfall fails the start, not a trial.
    expect(line).toContain('-object memory-backend-memfd,id=mem,size=512M,share=on,hugetlb=on,hugetlbsize=2048K,prealloc=on -numa node,memdev=mem');
    expect(qemuCommand(tbOf(TEMPLATE.replace('vm:\n', 'vm:\n  prealloc: false\n')))).toContain('hugetlbsize=2048K -numa');
    // Under TCG nothing is pinned: no taskset, no vCPU pinning.
    expect(pinVcpusCommand(tb)).toBeNull();
    expect(line).toContain(
      '-chardev socket,id=vhost0,path=/run/dutlab-vlab/vm/port32.sock,server=on,wait=off -netdev vhost-user,id=net0,chardev=vhost0 -device virtio-net-pci,netdev=net0,mac=00:4B:4E:49:30:00,vectors=0',
    );
    expect(line).toContain('mac=00:4B:4E:49:30:01,vectors=0');
    expect(line).toContain('-drive file=/var/cache/dutlab/images/IMAGE/root.ext4,format=raw,if=virtio,snapshot=on');
    expect(line).toContain('-serial file:/run/dutlab-vlab/vm/console.log -display none -monitor none -pidfile /run/dutlab-vlab/vm/qemu.pid');
  });

  it("reaches the guest only from the host's loopback, and the guest reaches nothing (restrict=on)", () => {
    expect(line).toContain('-nic user,model=virtio-net-pci,mac=52:54:00:00:00:02,restrict=on,hostfwd=tcp:127.0.0.1:2222-:22');
  });

  it("names the guest's NICs on its kernel command line, by MAC, as one quoted word", () => {
    expect(line).toContain(
      "-append 'root=/dev/vda rw console=ttyS0 net.ifnames=0 init=/sbin/dutlab-init dutlab.mgmt=52:54:00:00:00:02 dutlab.nic=00:4B:4E:49:30:00/vEth_port32 dutlab.nic=00:4B:4E:49:30:01/vEth_port33'",
    );
  });

  it("leaves QEMU's default MSI-X vectors when the testbed says null (KVM)", () => {
    const kvm = tbOf(TEMPLATE.replace('nicVectors: 0', 'nicVectors: null'));
    expect(qemuCommand(kvm)).not.toContain('vectors=');
  });

  it('takes extra arguments only as plain words: a shell character is a testbed error naming the field', () => {
    expect(() => tbOf(TEMPLATE.replace('  pidfile: /run', '  extraArgs: ["-snapshot", "$(reboot)"]\n  pidfile: /run'))).toThrow(
      /vm\.extraArgs\.1: expected a QEMU argument/,
    );
    expect(() => tbOf(TEMPLATE.replace('readyLine: "dutlab-init: sshd started"', 'readyLine: "up; reboot"'))).toThrow(/vm\.readyLine: expected a console line/);
    const ok = tbOf(TEMPLATE.replace('  pidfile: /run', '  extraArgs: ["-rtc", "base=utc"]\n  pidfile: /run'));
    expect(qemuCommand(ok)).toMatch(/ -rtc base=utc$/);
  });

  it('is the host.start-vm step of the plan, started in the background', () => {
    const step = planOf(tb, ovsDpdk).find((s) => s.id === 'host.start-vm')!;
    expect(step.commands.map(commandText).at(-1)).toBe(`${line} &`);
  });
});

describe('the ovs-dpdk profile with vhost-user VM ports', () => {
  it('is the VM form of the profile: a vm and vhost-user, QEMU started after the ports, the guest waited for, the link checked', () => {
    const p = profileFor(ovsDpdk, tb);
    expect(p.features).toEqual(expect.arrayContaining(['vm', 'vhost-user', 'dpdk']));
    expect(p.features).not.toContain('tap');
    const ids = p.steps.map((s) => s.id);
    expect(ids.indexOf('host.wait-ports')).toBeLessThan(ids.indexOf('host.start-vm'));
    expect(ids.indexOf('host.start-vm')).toBeLessThan(ids.indexOf('guest.connect'));
    expect(ids.indexOf('guest.connect')).toBeLessThan(ids.indexOf('host.wait-vhost-user'));
    expect(ids).not.toContain('host.move-taps');
    expect(p.vmShown(tb.vmPorts[0])).toEqual({ type: 'dpdkvhostuserclient', options: { 'vhost-server-path': '/run/dutlab-vlab/vm/port32.sock' } });
  });

  it('is the tap form on a tap testbed', () => {
    const tap = tbOf(readFileSync(VM_TEMPLATE.replace('virtual-vm', 'virtual-dpdk'), 'utf8'));
    expect(profileFor(ovsDpdk, tap).steps.map((s) => s.id)).not.toContain('host.start-vm');
  });

  it("counts the guest's memory in the hugepages the setup needs", () => {
    expect(hugepagesNeeded(tb)).toBe(128 + 256);
  });

  it('names what a vhost-user testbed lacks, field by field', () => {
    const noSocket = tbOf(TEMPLATE.replace(', vhostSocket: /run/dutlab-vlab/vm/port32.sock', ''));
    expect(profileProblems(ovsDpdk, noSocket, 'vm.yaml')?.message).toMatch(/vmPorts\.0\.vhostSocket: a vhost-user port needs the socket QEMU listens on/);
    const noVm = tbOf(TEMPLATE.slice(0, TEMPLATE.indexOf('\nvm:')) + TEMPLATE.slice(TEMPLATE.indexOf('\ntraffic:')));
    expect(profileProblems(ovsDpdk, noVm, 'vm.yaml')?.message).toMatch(/ vm: vhost-user ports need the VM/);
    const mixed = tbOf(TEMPLATE.replace('kind: vhost-user, guestIf: vEth_port33', 'kind: tap, guestIf: vEth_port33'));
    expect(profileProblems(ovsDpdk, mixed, 'vm.yaml')?.message).toMatch(/vmPorts: all tap or all vhost-user/);
    const comma = tbOf(TEMPLATE.replace('/root.ext4', '/root,x.ext4'));
    expect(profileProblems(ovsDpdk, comma, 'vm.yaml')?.message).toMatch(/vm\.disk: no comma in a path QEMU takes/);
  });
});

describe("a background process's end", () => {
  it('is written by its shell when it may die on its own, and read back as an exit code or a signal', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dutlab-exit-'));
    try {
      const sh = new LocalShell('local', undefined, dir);
      const crash = await sh.start(`sh -c 'kill -SEGV $$'`, { reportExit: true, logFile: join(dir, 'crash.log') });
      const plain = await sh.start('sleep 0.1', { logFile: join(dir, 'plain.log') });
      for (let i = 0; i < 100 && ((await crash.isAlive()) || (await plain.isAlive())); i++) await new Promise((r) => setTimeout(r, 20));
      expect(exitStatusIn(await crash.logTail())).toBe(139);
      // Exec'd, as every other background process: the pid is the process's own, and nothing is written.
      expect(exitStatusIn(await plain.logTail())).toBeNull();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    expect(exitStatusIn(`boot\n${EXIT_MARKER} 0\n`)).toBe(0);
    expect(describeExit(139)).toBe('killed by signal 11 (SIGSEGV)');
    expect(describeExit(137)).toBe('killed by signal 9 (SIGKILL)');
    expect(describeExit(1)).toBe('exit status 1');
  });
});

describe('the guest boot check', () => {
  const clean = parseDmesg('[    0.000000] Linux version 6.1.0-56-cloud-amd64\n[    1.2] virtio_net virtio1 vEth_port32: renamed from eth1\n');
  const drivers = [
    { iface: 'vEth_port32', driver: 'virtio_net' },
    { iface: 'vEth_port33', driver: 'virtio_net' },
  ];

  it('passes a clean boot with both NICs on virtio_net', () => {
    expect(checkGuestBoot(clean, drivers)).toEqual([]);
  });

  it('names a BUG at any time since boot, and a NIC that is gone or on another driver', () => {
    const bug = parseDmesg('[    3.5] BUG: kernel NULL pointer dereference, address: 0000000000000008\n');
    expect(checkGuestBoot(bug, drivers)).toEqual([
      'guest (since boot) kernel logged: [3.500000] BUG: kernel NULL pointer dereference, address: 0000000000000008',
    ]);
    expect(
      checkGuestBoot(clean, [
        { iface: 'vEth_port32', driver: '' },
        { iface: 'vEth_port33', driver: 'e1000' },
      ]),
    ).toEqual(['guest vEth_port32: no such NIC, or no driver bound to it, expected virtio_net', 'guest vEth_port33: driver e1000, expected virtio_net']);
  });
});

describe("the guest's last words on its console", () => {
  it("quotes what the kernel said of its own failure, in order, as printed (the serial console's \\r\\n undone), and nothing of a healthy boot", () => {
    const console = output('qemu-nographic-guest-panic.txt').replace(/\n/g, '\r\n');
    expect(kernelLastWords(console)).toEqual([
      '[2712.345678] BUG: unable to handle kernel paging request at ffffc90000d3e010',
      '[2712.345715] Oops: 0000 [#1] SMP ',
      '[2712.345899] Call Trace:',
      '[2712.346020] Kernel panic - not syncing: Fatal exception',
      '[2712.346100] drm_kms_helper: panic occurred, switching back to text console',
    ]);
    const boot = console.split('\r\n').slice(0, 10).join('\r\n');
    expect(kernelLastWords(boot)).toEqual([]);
  });

  it('names a hung task, a soft lockup, an RCU stall and the OOM killer; keeps where it began and how it ended when it is long', () => {
    const said = [
      '[  120.5] INFO: task kworker/0:1:42 blocked for more than 120 seconds.',
      '[  130.1] watchdog: BUG: soft lockup - CPU#0 stuck for 22s! [ksoftirqd/0:15]',
      '[  131.0] rcu: INFO: rcu_preempt self-detected stall on CPU',
      '[  140.2] sshd invoked oom-killer: gfp_mask=0x140cca(GFP_HIGHUSER_MOVABLE|__GFP_COMP), order=0, oom_score_adj=0',
      '[  140.3] Out of memory: Killed process 1187 (dutlab-init) total-vm:1024kB',
    ];
    expect(kernelLastWords(said.join('\n'))).toHaveLength(5);
    const long = Array.from({ length: 30 }, (_, i) => `[  ${200 + i}.0] Call Trace:`).join('\n');
    const cut = kernelLastWords(`${long}\n[  300.0] Kernel panic - not syncing: hung_task: blocked tasks`, 12);
    expect(cut).toHaveLength(12);
    expect(cut.at(-1)).toBe('[300.000000] Kernel panic - not syncing: hung_task: blocked tasks');
  });
});

describe("the guest's vCPUs pinned (vm.pin)", () => {
  const real = loadTestbed(fixturePath('testbeds/real-ovs-dpdk.yaml'));
  const runtime = { tb: real } as unknown as StepRuntime;
  it('passes only when the kernel, read back, lets each vCPU thread run on its CPU alone', async () => {
    const ok = 'vCPU 0: thread 4101 on CPU 22, allowed 22\nvCPU 1: thread 4102 on CPU 23, allowed 23\n';
    await expect(hostPinVcpus.after!(runtime, [ok])).resolves.toBeUndefined();
    const floating = 'vCPU 0: thread 4101 on CPU 22, allowed 22\nvCPU 1: thread 4102 on CPU 23, allowed 16-31\n';
    const err = await hostPinVcpus.after!(runtime, [floating]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(VmError);
    expect((err as VmError).message).toBe("the guest's vCPUs are not pinned as vm.pin says: vCPU 1 may run on 16-31, not 23 alone");
    expect((err as VmError).kind).toBe('infra');
    // A thread QEMU never made (the command failed): the lab's, not the DUT's.
    const failed = await hostPinVcpus.explain!(runtime, new CommandError('host', 'pin', 1, null, 'QEMU (pid 9) made no thread for vCPU 1 in 10 s'));
    expect(failed).toBeInstanceOf(VmError);
  });
});
