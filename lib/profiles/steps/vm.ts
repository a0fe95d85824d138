// The VM on vhost-user (the ovs-dpdk profile with vhost-user VM ports): QEMU's
// command line, its start and stop, the vhost-user ports up.
import { posix } from 'node:path';
import { CommandError, VmError } from '../../errors.js';
import type { Testbed } from '../../testbed/schema.js';
import { shq } from '../../transport/quote.js';
import { VM_PROCESS, type StepDef } from '../profile.js';
import { host, stopByPidfile, t } from './shared.js';
import { vhostUserPorts } from '../../testbed/sizing.js';

// ---- The VM on vhost-user (the ovs-dpdk profile with vhost-user VM ports) ----

/** The kernel names QEMU's process after its file's first 15 characters. */
const QEMU_COMM = 'qemu-system-x86';

/**
 * QEMU's command line for the testbed's VM: guest memory a memfd of
 * hugepages shared with ovs-vswitchd (vhost-user needs it shared), the
 * guest's kernel booted directly with the NICs' names on its command line
 * (the guest's init names them by MAC), the disk read-only under a snapshot,
 * a user-mode NIC forwarded from the host's loopback only (restrict=on: the
 * guest reaches nothing), and one virtio-net NIC per vhost-user port, QEMU
 * listening on the port's socket for OVS's dpdkvhostuserclient.
 */
export function qemuCommand(tb: Testbed): string {
  const v = tb.vm!;
  const vhost = vhostUserPorts(tb);
  const append = [
    'root=/dev/vda',
    'rw',
    'console=ttyS0',
    'net.ifnames=0',
    'init=/sbin/dutlab-init',
    `dutlab.mgmt=${v.mgmtMac}`,
    ...vhost.map((k) => `dutlab.nic=${k.mac}/${k.guestIf}`),
  ].join(' ');
  const words = [
    v.qemu,
    // Its threads named ("CPU 0/KVM"): the pin step finds each vCPU's by its name.
    ...['-name', 'dutlab-guest,debug-threads=on', '-accel', v.accel, '-machine', v.machine, '-cpu', v.cpu, '-m', `${v.memoryMb}M`, '-smp', String(v.cpus)],
    ...['-object', `memory-backend-memfd,id=mem,size=${v.memoryMb}M,share=on,hugetlb=on,hugetlbsize=${v.hugepageSizeKb}K${v.prealloc ? ',prealloc=on' : ''}`],
    ...['-numa', 'node,memdev=mem'],
    ...['-kernel', v.kernel, '-initrd', v.initrd, '-append', append],
    ...['-drive', `file=${v.disk},format=raw,if=virtio,snapshot=on`],
    ...['-nic', `user,model=virtio-net-pci,mac=${v.mgmtMac},restrict=on,hostfwd=tcp:127.0.0.1:${v.mgmtForwardPort}-:22`],
    ...vhost.flatMap((k, i) => [
      ...['-chardev', `socket,id=vhost${i},path=${k.vhostSocket},server=on,wait=off`],
      ...['-netdev', `vhost-user,id=net${i},chardev=vhost${i}`],
      ...['-device', `virtio-net-pci,netdev=net${i},mac=${k.mac}${v.nicVectors === null ? '' : `,vectors=${v.nicVectors}`}`],
    ]),
    ...['-serial', `file:${v.consoleLog}`, '-display', 'none', '-monitor', 'none', '-pidfile', v.pidfile],
    ...v.extraArgs,
  ];
  // Every thread starts on the emulator's CPUs (the vCPUs' too, until the pin step moves each to its own).
  const pinned = v.pin && v.pin !== 'none' ? ['taskset', '-c', v.pin.emulator] : [];
  return [...pinned, ...words].map(shq).join(' ');
}

/**
 * Each vCPU thread onto its own host CPU, as upstream's howto and VSPERF do
 * (`taskset -p` on the thread QEMU names "CPU <i>/KVM"), once QEMU made them:
 * its pidfile is written before its machine exists, so the threads are waited for.
 */
export function pinVcpusCommand(tb: Testbed): string | null {
  const v = tb.vm!;
  if (!v.pin || v.pin === 'none') return null;
  const pairs = v.pin.vcpus.map((cpu, i) => `${i}:${cpu}`).join(' ');
  return (
    `n=0; while [ ! -s ${shq(v.pidfile)} ] && [ $n -lt 100 ]; do n=$((n + 1)); sleep 0.1; done; pid=$(cat ${shq(v.pidfile)}) && for pair in ${pairs}; do i=\${pair%%:*}; cpu=\${pair#*:}; tid=; n=0; ` +
    `while [ -z "$tid" ] && [ $n -lt 100 ]; do for t in /proc/$pid/task/*; do case "$(cat "$t/comm" 2>/dev/null)" in "CPU $i/"*) tid=\${t##*/};; esac; done; ` +
    `[ -n "$tid" ] || { n=$((n + 1)); sleep 0.1; }; done; [ -n "$tid" ] || { echo "QEMU (pid $pid) made no thread for vCPU $i in 10 s" >&2; exit 1; }; ` +
    `taskset -p -c "$cpu" "$tid" >/dev/null && echo "vCPU $i: thread $tid on CPU $cpu, allowed $(awk '/^Cpus_allowed_list:/ {print $2}' /proc/$pid/task/$tid/status)"; done`
  );
}

export const hostStartVm: StepDef = {
  id: 'host.start-vm',
  title: 'Create VM (QEMU on the vhost-user ports, guest memory on shared hugepages)',
  host: 'host',
  requires: [{ feature: 'vm' }],
  commands: (c) => {
    const v = c.tb.vm!;
    return [
      // A VM a killed run left: stopped by its pidfile, as the guide's clean-up does with the switch.
      stopByPidfile(v.pidfile, QEMU_COMM),
      {
        line: `mkdir -p ${[...new Set([v.consoleLog, ...vhostUserPorts(c.tb).map((k) => k.vhostSocket!)].map((f) => posix.dirname(f)))].map(shq).join(' ')}`,
      },
      { line: `rm -f ${shq(v.consoleLog)}` },
      { line: qemuCommand(c.tb), background: { name: VM_PROCESS, reportExit: true, console: v.consoleLog } },
    ];
  },
  // Before ovs-vswitchd stops: the guest's memory is hugepages that its stop step counts back.
  undo: (c) => [stopByPidfile(c.tb.vm!.pidfile, QEMU_COMM)],
};

export const hostPinVcpus: StepDef = {
  id: 'host.pin-vcpus',
  title: "Pin each of the guest's vCPUs to its own host CPU (vm.pin)",
  host: 'host',
  requires: [{ feature: 'vm' }],
  commands: (c) => {
    const line = pinVcpusCommand(c.tb);
    return line ? [{ line }] : [];
  },
  // What the kernel says each vCPU thread may run on, read back: exactly its CPU.
  after: async (s, outputs) => {
    const pin = s.tb.vm!.pin;
    if (!pin || pin === 'none') return;
    const seen = new Map([...(outputs[0] ?? '').matchAll(/^vCPU (\d+): thread \d+ on CPU \d+, allowed (\S*)$/gm)].map((m) => [Number(m[1]), m[2]!]));
    const wrong = pin.vcpus.flatMap((cpu, i) =>
      seen.get(i) === String(cpu) ? [] : [`vCPU ${i} may run on ${seen.get(i) || 'unknown CPUs'}, not ${cpu} alone`],
    );
    if (wrong.length > 0) throw new VmError(`the guest's vCPUs are not pinned as vm.pin says: ${wrong.join('; ')}`);
  },
  // The lab's, not the DUT's: QEMU made no vCPU thread, or the host would not pin it (a CPU offline, or not in the cpuset).
  explain: async (_s, err) => (err instanceof CommandError ? new VmError(`pinning the guest's vCPUs failed: ${err.message}`, { cause: err }) : err),
};

export const hostWaitVhostUser: StepDef = {
  // OVS's dpdkvhostuserclient port is up once the guest's virtio driver has started the device.
  id: 'host.wait-vhost-user',
  title: "Wait until the vhost-user ports' link is up (the guest's virtio driver started them)",
  host: 'host',
  commands: (c) =>
    vhostUserPorts(c.tb).map((k) => host(c, `${t(c, 'ovs-vsctl')} --timeout=30 wait-until Interface ${shq(k.name)} link_state=up`, { timeoutMs: 40_000 })),
};
