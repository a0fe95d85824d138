// The guide's lab (legacy-kni) on its DUT host: what its steps take for
// granted. 2 MB hugepages mounted at /dev/hugepages (ovs_dpdk's rtemap files,
// which the IVSHMEM command line names), the NICs of its port mask on igb_uio,
// and the fork's tree: ovs_dpdk built, the patched QEMU, DPDK, kni_client's
// sources.
import { HUGETLBFS_MOUNTS_COMMAND, parseHugetlbfsMounts } from '../parsers/hugepages.js';
import { coresOf, kniClientDirOf } from '../testbed/sizing.js';
import { shq } from '../transport/quote.js';
import { legacyLab } from './needs.js';
import { fail, ok, type CommandProbe } from './probe.js';

const legacyHugepages: CommandProbe = {
  id: 'legacy-hugepages',
  title: 'free 2 MB hugepages, mounted at /dev/hugepages (the guide maps rtemap files there)',
  host: 'host',
  notNeeded: legacyLab,
  command: () => `echo "free $(cat /sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages 2>/dev/null || echo none)"; ${HUGETLBFS_MOUNTS_COMMAND}; echo end`,
  judge: (r) => {
    if (!/^end$/m.test(r.stdout)) return fail('the hugepages were cut short', 'run the probe again');
    const free = /^free (\d+)$/m.exec(r.stdout)?.[1];
    if (free === undefined || free === '0')
      return fail(`${free ?? 'no'} free 2 MB hugepages`, 'echo 1024 > /sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages (at boot: hugepages=1024)');
    const mount = parseHugetlbfsMounts(r.stdout).find((m) => m.at === '/dev/hugepages');
    if (mount?.kb !== 2048)
      return fail(
        `${free} free 2 MB pages; ${mount === undefined ? 'no hugetlbfs at /dev/hugepages' : `/dev/hugepages is hugetlbfs of another size (${mount.options})`}`,
        'mount -t hugetlbfs -o pagesize=2M none /dev/hugepages (and in /etc/fstab)',
      );
    return ok(`${free} free 2 MB pages, hugetlbfs at /dev/hugepages`);
  },
};

const legacyNics: CommandProbe = {
  id: 'legacy-nics',
  title: "the NICs of ovs_dpdk's port mask on igb_uio",
  host: 'host',
  notNeeded: legacyLab,
  command: () =>
    `echo "igb_uio $(ls -d /sys/bus/pci/drivers/igb_uio 2>/dev/null | wc -l)"; for d in /sys/bus/pci/drivers/igb_uio/0000:*; do [ -e "$d" ] && echo "nic \${d##*/}"; done; echo end`,
  judge: (r, c) => {
    if (!/^end$/m.test(r.stdout)) return fail('the NICs were cut short', 'run the probe again');
    const want = coresOf(c.tb.dpdk.ovsDpdk.portMask).length;
    const bound = [...r.stdout.matchAll(/^nic (\S+)$/gm)].map((m) => m[1]!);
    if (/^igb_uio 0$/m.test(r.stdout))
      return fail(
        'igb_uio is not loaded',
        `insmod ${c.tb.paths.dpdkDir}/<target>/kmod/igb_uio.ko (after modprobe uio), then bind the NICs with dpdk_nic_bind.py`,
      );
    if (bound.length < want)
      return fail(
        `${bound.length} NIC(s) on igb_uio (${bound.join(', ') || 'none'}), the port mask ${c.tb.dpdk.ovsDpdk.portMask} takes ${want}`,
        `${c.tb.paths.dpdkDir}/tools/dpdk_nic_bind.py --bind=igb_uio <PCI address> for each port of the lab`,
      );
    return ok(`${bound.join(', ')} on igb_uio (the port mask ${c.tb.dpdk.ovsDpdk.portMask} takes ${want})`);
  },
};

const legacyTree: CommandProbe = {
  id: 'legacy-tree',
  title: "the fork's tree: ovs_dpdk built, the patched QEMU, DPDK and kni_client's sources",
  host: 'host',
  notNeeded: legacyLab,
  command: (c) => {
    const p = c.tb.paths;
    return (
      `cd ${shq(p.ovsDir)} 2>/dev/null || { echo "missing ${p.ovsDir} paths.ovsDir"; exit 0; }; ` +
      `[ -x ./datapath/dpdk/build/ovs_dpdk ] || echo "missing ${p.ovsDir}/datapath/dpdk/build/ovs_dpdk build"; ` +
      `[ -x ${shq(p.qemuBinary)} ] || echo "missing ${p.qemuBinary} paths.qemuBinary"; ` +
      `[ -d ${shq(p.dpdkDir)} ] || echo "missing ${p.dpdkDir} paths.dpdkDir"; ` +
      `[ -d ${shq(kniClientDirOf(c.tb))} ] || echo "missing ${kniClientDirOf(c.tb)} paths.kniClientDir"; echo end`
    );
  },
  judge: (r, c) => {
    if (!/^end$/m.test(r.stdout) && !/^missing \S+ paths\.ovsDir$/m.test(r.stdout)) return fail('the check was cut short', 'run the probe again');
    const missing = [...r.stdout.matchAll(/^missing (\S+) (\S+)$/gm)].map((m) => ({ path: m[1]!, what: m[2]! }));
    if (missing.length === 0) return ok(`${c.tb.paths.ovsDir}: ovs_dpdk, ${c.tb.paths.qemuBinary}, ${c.tb.paths.dpdkDir}, ${kniClientDirOf(c.tb)}`);
    const build = missing.some((m) => m.what === 'build');
    return fail(
      `missing: ${missing.map((m) => `${m.path}${m.what === 'build' ? '' : ` (${m.what})`}`).join(', ')}`,
      build
        ? "build the fork as the guide's step 1 does (make config T=... && make in the tree), or correct the testbed's paths"
        : "correct the testbed's paths (the fields named), or put the tree there",
    );
  },
};

export const LEGACY_PROBES: CommandProbe[] = [legacyHugepages, legacyNics, legacyTree];
