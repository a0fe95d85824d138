import { IVSHMEM_REMOVED, KNI_REMOVED } from '../../capabilities.js';
import { KniGateError } from '../../errors.js';
import { ivshmemState, parseDmesg } from '../../parsers/dmesg.js';
import { parseIvshmCmdline } from '../../parsers/ivshm.js';
import type { Testbed } from '../../testbed/schema.js';
import { shq } from '../../transport/quote.js';
import { kniClientDirOf } from '../../testbed/sizing.js';
import { VM_PROCESS, type StepDef } from '../profile.js';
import { host, t } from './shared.js';

// ---- Guest Setup (on the host) --------------------------------------------
export const hostCopyFiles: StepDef = {
  id: 'host.copy-files',
  title: 'Copy files to the VM (the share directory)',
  host: 'host',
  commands: (c) => {
    const share = shq(c.tb.paths.shareDir);
    return [
      { line: `rm -rf ${share}` },
      { line: `mkdir -p ${share}` },
      { line: `chmod 777 ${share}` },
      { line: `mkdir -p ${share}/DPDK` },
      { line: `mkdir -p ${share}/kni_client` },
      { line: `cp -aL ${shq(c.tb.paths.dpdkDir)}/* ${share}/DPDK` },
      // The guide makes the kni_client directory but leaves its source open: the vSwitch ships it (guest/kni/kni_client).
      { line: `cp -aL ${shq(kniClientDirOf(c.tb))}/* ${share}/kni_client` },
    ];
  },
};

export const hostIvshmMetadata: StepDef = {
  id: 'host.ivshm-metadata',
  title: 'Create IVSHMEM metadata',
  host: 'host',
  requires: [IVSHMEM_REMOVED],
  commands: (c) => [
    host(
      c,
      `${t(c, 'ovs-ivshm-mngr')} -c ${c.tb.dpdk.ivshmMngr.coreMask} --proc-type=secondary -- ${shq(`${c.tb.dpdk.ivshmMngr.metadata}:${c.tb.vmPorts.map((k) => k.name).join(',')}`)}`,
    ),
  ],
  after: async (s, [out]) => {
    // Printed by the DUT, bound for QEMU's command line: kept as shell words, each quoted where it needs it.
    s.values.set('ivshmem-device', parseIvshmCmdline(out!, s.tb.dpdk.ivshmMngr.metadata).argument.split(/\s+/).map(shq).join(' '));
  },
};

export const hostStartQemu: StepDef = {
  id: 'host.start-qemu',
  title: 'Create VM',
  host: 'host',
  requires: [IVSHMEM_REMOVED],
  commands: (c) => {
    const q = c.tb.dpdk.qemu;
    const p = c.tb.paths;
    return [
      host(
        c,
        `${p.qemuBinary} -c ${q.coreMask} --proc-type secondary -n ${q.memChannels} -- -cpu host -boot c -hda ${shq(p.guestImage)} -snapshot -m ${q.memory} -smp ${q.smp} --enable-kvm -name ${shq(q.name)} -nographic -vnc ${q.vnc} -pidfile ${shq(p.qemuPidfile)} -drive file=fat:rw:${shq(p.shareDir)},snapshot=off -monitor unix:${shq(p.qemuMonitor)},server,nowait ${c.value('ivshmem-device')}` +
          // The harness's way into the guest: a user-mode NIC forwarded from the host's loopback.
          ` -netdev user,id=mgmt,hostfwd=tcp:127.0.0.1:${q.mgmtForwardPort}-:22 -device e1000,netdev=mgmt`,
        // -nographic: the console is QEMU's own output, its log; guest.connect waits on SSH while watching this pid.
        { background: { name: VM_PROCESS, reportExit: true } },
      ),
    ];
  },
};

export const guestCopyFiles: StepDef = {
  id: 'guest.copy-files',
  title: 'Login to the VM and copy across the files',
  host: 'guest',
  commands: (c) => {
    const g = c.tb.guestBuild;
    return [
      { line: `mkdir -p ${shq(g.mountPoint)}` },
      { line: `mount -o iocharset=utf8 ${shq(g.mountDevice)} ${shq(g.mountPoint)}` },
      { line: `mkdir -p ${shq(g.kniDir)}` },
      { line: `cp -a ${shq(g.mountPoint)}/* ${shq(g.kniDir)}` },
    ];
  },
  undo: (c) => [{ line: `umount ${shq(c.tb.guestBuild.mountPoint)}`, okExitCodes: [0, 1, 32] }],
};

export const guestBuildDpdk: StepDef = {
  id: 'guest.build-dpdk',
  title: 'Build DPDK on the Guest',
  host: 'guest',
  requires: [KNI_REMOVED],
  commands: (c) => {
    const g = c.tb.guestBuild;
    const ctx = { cwd: `${g.kniDir}/DPDK`, env: { RTE_SDK: `${g.kniDir}/DPDK`, RTE_TARGET: g.rteTarget } };
    return [
      // -N: a patch applied before is skipped, and patch exits 1 for it; but it exits 1 for a patch that failed too, so
      // "applied" is believed only when reversing it would apply cleanly (patch --dry-run -R), whoever applied it.
      { line: `patch -N -p1 < ${shq(g.patch)}`, okExitCodes: [0, 1], ...ctx },
      { line: `patch --dry-run -R -p1 -s -f < ${shq(g.patch)} >/dev/null`, ...ctx },
      { line: 'make uninstall', ...ctx, timeoutMs: 600_000 },
      { line: `make install T=${shq(g.rteTarget)}`, ...ctx, timeoutMs: 1_800_000 },
    ];
  },
};

export const guestBuildKniClient: StepDef = {
  id: 'guest.build-kni-client',
  title: 'Build kni_client App',
  host: 'guest',
  requires: [KNI_REMOVED],
  commands: (c) => {
    const ctx = { cwd: `${c.tb.guestBuild.kniDir}/kni_client`, env: { RTE_SDK: `${c.tb.guestBuild.kniDir}/DPDK`, RTE_TARGET: c.tb.guestBuild.rteTarget } };
    return [
      { line: 'make clean', ...ctx },
      { line: 'make', ...ctx, timeoutMs: 600_000 },
    ];
  },
};

export const guestInsmod: StepDef = {
  id: 'guest.insmod',
  title: 'Insert rte_kni Module',
  host: 'guest',
  requires: [KNI_REMOVED],
  commands: (c) => [{ line: `insmod ${shq(`${c.tb.guestBuild.kniDir}/DPDK/${c.tb.guestBuild.rteTarget}/kmod/rte_kni.ko`)}` }],
};

export const guestKniGate: StepDef = {
  // The guide: bringing up a virtual interface without the IVSHMEM metadata
  // found panics the guest. Nothing touches a vEth interface unless this passes.
  id: 'guest.kni-gate',
  title: 'Check dmesg for "IVSHMEM metadata found" before any vEth interface is touched',
  host: 'guest',
  requires: [KNI_REMOVED],
  commands: () => [{ line: 'dmesg' }],
  after: async (_s, [out]) => {
    const state = ivshmemState(parseDmesg(out!));
    if (state !== 'found') {
      const said = {
        'not-found': 'dmesg says "KNI: IVSHMEM metadata NOT found"',
        absent: 'dmesg has no IVSHMEM message from the KNI module',
        contradictory: 'dmesg has both "IVSHMEM metadata found" and "NOT found"',
      }[state];
      throw new KniGateError(
        `${said}: no vEth interface was brought up, since that panics the guest. Uninstall all targets, re-apply the rte_kni_module patch and re-install (the guide)`,
        out!,
      );
    }
  },
};

export const guestStartKniClient: StepDef = {
  id: 'guest.start-kni-client',
  title: 'Execute kni_client App',
  host: 'guest',
  requires: [KNI_REMOVED],
  commands: (c) => [
    {
      line: `./kni_client -c ${c.tb.dpdk.kniClient.coreMask} -n ${c.tb.dpdk.kniClient.memChannels} -- ${c.tb.vmPorts.map((k) => `-p ${shq(k.name)}`).join(' ')}`,
      cwd: `${c.tb.guestBuild.kniDir}/kni_client`,
      background: { name: 'kni_client', ready: c.tb.vmPorts.map((k) => `ip link show ${shq(k.guestIf)}`).join(' && ') },
    },
  ],
};

/** The DPDK version of the tree the guide builds from (`$RTE_SDK`), or the installed library's. */
export function dpdkTreeVersion(tb: Testbed): string {
  // The tree's own version, never the system's libdpdk.pc (a modern DPDK installed beside the guide's tree would read as
  // the lab's, and block the whole profile): its VERSION file, or, in a tree as old as the guide's (1.6), rte_version.h.
  const dir = shq(tb.paths.dpdkDir);
  const header = `${dir}/lib/librte_eal/common/include/rte_version.h`;
  return (
    `if [ -r ${dir}/VERSION ]; then cat ${dir}/VERSION; elif [ -r ${header} ]; then ` +
    `awk '$1 == "#define" && $2 == "RTE_VER_MAJOR" {ma = $3} $1 == "#define" && $2 == "RTE_VER_MINOR" {mi = $3} ` +
    `$1 == "#define" && $2 == "RTE_VER_PATCH_LEVEL" {pl = $3} $1 == "#define" && $2 == "RTE_VER_PATCH_RELEASE" {pr = $3} ` +
    `END {if (ma != "") printf "%s.%s.%s%s\\n", ma, mi, pl, (pr + 0 > 0 ? "r" pr : "")}' ${header}; fi`
  );
}
