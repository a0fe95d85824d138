// The DUT host's hardware and kernel, as upstream OVS-DPDK and a KVM guest
// need them: hugepages, the IOMMU, the NICs on their DPDK driver and their
// NUMA node, the PMD cores isolated and at full speed, KVM that runs a vCPU,
// the guest's image. Each reads /proc and /sys (or runs QEMU for a second).
import { parseHugepageUse } from '../parsers/hugepages.js';
import { describeHolder, hugepageUseCommand, labPidfileOf } from '../profiles/steps/hugepages.js';
import { FOREIGN_VSWITCHD_FIX, vswitchdRecord } from '../profiles/steps/ovs-dpdk.js';
import { hugepagesNeeded, vmHugepages } from '../testbed/sizing.js';
import { shq } from '../transport/quote.js';
import { coresOf, cpuList, fail, ok, warn, type CommandProbe, type ProbeContext } from './probe.js';

/** The probes of upstream OVS-DPDK apply to the ovs-dpdk profile (the guide's fork sizes its own). */
const upstreamDpdk = (c: ProbeContext): string | null =>
  c.profile.features.includes('dpdk-ports') ? null : `the ${c.profile.name} profile does not start upstream OVS-DPDK`;
const nics = (c: ProbeContext): string | null =>
  upstreamDpdk(c) ?? (c.tb.ovsDpdk.pciDevices.length > 0 ? null : 'no NIC in ovsDpdk.pciDevices (DPDK runs --no-pci)');
const dedicated = (c: ProbeContext): string | null =>
  upstreamDpdk(c) ?? (c.tb.ovsDpdk.dedicatedCores ? null : 'ovsDpdk.dedicatedCores is false: the PMD cores share the machine');
const vmStarted = (c: ProbeContext): string | null => (c.profile.features.includes('vm') && c.tb.vm ? null : 'the run starts no VM from vm:');

const hugepages: CommandProbe = {
  id: 'hugepages',
  title: 'free hugepages for DPDK and the guest',
  host: 'host',
  notNeeded: upstreamDpdk,
  command: (c) => hugepageUseCommand(c.tb.ovsDpdk.hugepageSizeKb),
  judge: (r, c) => {
    const size = c.tb.ovsDpdk.hugepageSizeKb;
    const shown = size >= 1048576 ? `${size / 1048576} GB` : `${size / 1024} MB`;
    const need = hugepagesNeeded(c.tb);
    const bootFix = `hugepagesz=${size >= 1048576 ? '1G' : '2M'} hugepages=${need} on the kernel command line`;
    const use = parseHugepageUse(r.stdout);
    if (use.free === null) return fail(`no ${shown} hugepages on this kernel`, bootFix);
    const takes = `the run takes ${need} (ovsDpdk.socketMemMb ${c.tb.ovsDpdk.socketMemMb}${vmHugepages(c.tb) > 0 ? `, vm.memoryMb ${c.tb.vm!.memoryMb}` : ''})`;
    if (use.free >= need) return ok(`${use.free} free ${shown} pages, ${takes}`);
    // Who has them: a process of this lab (a run's daemon that outlived it) or another's, named by pid, never stopped here.
    const held = use.holders.map((h) => describeHolder({ ...h, pidfile: labPidfileOf(c.tb, h.cmdline) }, size));
    const raise = size >= 1048576 ? bootFix : `echo ${need} > /sys/kernel/mm/hugepages/hugepages-${size}kB/nr_hugepages (at boot: ${bootFix})`;
    return fail(
      `${use.free} free ${shown} pages, ${takes}${held.length ? `; held by ${held.join(', ')}` : ''}`,
      held.length ? `stop what holds them (by its pid, if it is yours), or ${raise}` : raise,
    );
  },
};

const iommu: CommandProbe = {
  id: 'iommu',
  title: 'the IOMMU on (vfio-pci needs it)',
  host: 'host',
  notNeeded: nics,
  command: () => 'echo "units $(ls /sys/class/iommu 2>/dev/null | wc -l)"; cat /proc/cmdline',
  judge: (r) => {
    const units = Number(/^units (\d+)/m.exec(r.stdout)?.[1] ?? 0);
    const cmdline = r.stdout.split('\n').slice(1).join(' ').trim();
    const flags = cmdline.split(/\s+/).filter((w) => /^(intel_iommu|amd_iommu|iommu)=/.test(w));
    if (units > 0) return ok(`${units} IOMMU unit(s)${flags.length ? ` (${flags.join(' ')})` : ''}`);
    return fail(
      `no IOMMU unit in /sys/class/iommu${flags.length ? ` (${flags.join(' ')} on the command line)` : ''}`,
      'turn VT-d (or AMD-Vi) on in the firmware and add intel_iommu=on iommu=pt to the kernel command line',
    );
  },
};

const nicDriver: CommandProbe = {
  id: 'nic-driver',
  title: "each NIC of ovsDpdk.pciDevices on DPDK's driver",
  host: 'host',
  notNeeded: nics,
  command: (c) =>
    `for d in ${c.tb.ovsDpdk.pciDevices.map(shq).join(' ')}; do ` +
    `if [ -e "/sys/bus/pci/devices/$d" ]; then drv=$(readlink "/sys/bus/pci/devices/$d/driver" 2>/dev/null); echo "$d ${'$'}{drv##*/}"; else echo "$d absent"; fi; done`,
  judge: (r, c) => {
    const want = c.tb.ovsDpdk.pciDriver;
    const seen = new Map(
      r.stdout
        .trim()
        .split('\n')
        .filter(Boolean)
        .map((l) => [l.split(' ')[0]!, l.split(' ')[1] || 'none'] as const),
    );
    const wrong = c.tb.ovsDpdk.pciDevices.filter((d) => seen.get(d) !== want);
    const said = c.tb.ovsDpdk.pciDevices.map((d) => `${d} ${seen.get(d) ?? '?'}`).join(', ');
    if (wrong.length === 0) return ok(said);
    const absent = wrong.filter((d) => seen.get(d) === 'absent');
    if (absent.length > 0) return fail(said, `no such PCI device: ${absent.join(', ')}; check ovsDpdk.pciDevices against lspci -D`);
    return fail(said, `dpdk-devbind.py -b ${want} ${wrong.join(' ')} (modprobe ${want} first)`);
  },
};

const numa: CommandProbe = {
  id: 'numa',
  title: "each NIC's NUMA node has PMD cores",
  host: 'host',
  notNeeded: nics,
  command: (c) =>
    `for d in ${c.tb.ovsDpdk.pciDevices.map(shq).join(' ')}; do echo "nic $d $(cat "/sys/bus/pci/devices/$d/numa_node" 2>/dev/null || echo -1)"; done; ` +
    `for p in ${coresOf(c.tb.ovsDpdk.pmdCpuMask).join(' ')}; do n=$(ls -d /sys/devices/system/cpu/cpu$p/node* 2>/dev/null | head -1); echo "cpu $p ${'$'}{n##*node}"; done`,
  judge: (r) => {
    const nicNode = [...r.stdout.matchAll(/^nic (\S+) (-?\d+)$/gm)].map((m) => ({ dev: m[1]!, node: Number(m[2]) }));
    const cpuNode = [...r.stdout.matchAll(/^cpu (\d+) (\d*)$/gm)].map((m) => ({ cpu: Number(m[1]), node: m[2] === '' ? 0 : Number(m[2]) }));
    const pmdNodes = new Set(cpuNode.map((x) => x.node));
    const said = `${nicNode.map((n) => `${n.dev} on node ${n.node < 0 ? 'any (one node)' : n.node}`).join(', ')}; PMD cores ${cpuNode.map((x) => `${x.cpu}@${x.node}`).join(', ')}`;
    const apart = nicNode.filter((n) => n.node >= 0 && !pmdNodes.has(n.node));
    if (apart.length === 0) return ok(said);
    return warn(
      said,
      `give ovsDpdk.pmdCpuMask cores on node ${[...new Set(apart.map((n) => n.node))].join(', ')} (lscpu shows each node's CPUs): across nodes every frame crosses the interconnect`,
    );
  },
};

const pmdIsolated: CommandProbe = {
  id: 'pmd-isolated',
  title: 'the PMD cores isolated from the scheduler',
  host: 'host',
  notNeeded: dedicated,
  command: () => 'echo "isolated $(cat /sys/devices/system/cpu/isolated 2>/dev/null)"; echo "nohz_full $(cat /sys/devices/system/cpu/nohz_full 2>/dev/null)"',
  judge: (r, c) => {
    const pmd = coresOf(c.tb.ovsDpdk.pmdCpuMask);
    const isolated = new Set(cpuList(/^isolated (.*)$/m.exec(r.stdout)?.[1] ?? ''));
    const nohz = new Set(cpuList(/^nohz_full (.*)$/m.exec(r.stdout)?.[1] ?? ''));
    const notIsolated = pmd.filter((p) => !isolated.has(p));
    const list = pmd.join(',');
    if (notIsolated.length === 0)
      return ok(`PMD cores ${list} isolated${pmd.every((p) => nohz.has(p)) ? ', nohz_full' : ' (not nohz_full: ticks still interrupt them)'}`);
    return warn(
      `PMD cores ${notIsolated.join(',')} not isolated (isolated: ${[...isolated].join(',') || 'none'})`,
      `isolcpus=${list} nohz_full=${list} rcu_nocbs=${list} on the kernel command line: a shared core makes throughput noisy`,
    );
  },
};

const cpufreq: CommandProbe = {
  id: 'cpu-governor',
  title: 'the PMD cores at the performance governor',
  host: 'host',
  notNeeded: dedicated,
  command: (c) =>
    `for p in ${coresOf(c.tb.ovsDpdk.pmdCpuMask).join(' ')}; do echo "$p $(cat /sys/devices/system/cpu/cpu$p/cpufreq/scaling_governor 2>/dev/null || echo none)"; done`,
  judge: (r) => {
    const govs = [...r.stdout.matchAll(/^(\d+) (\S+)$/gm)].map((m) => ({ cpu: m[1]!, gov: m[2]! }));
    if (govs.length > 0 && govs.every((g) => g.gov === 'none')) return ok('no cpufreq driver: the cores run at a fixed frequency');
    const slow = govs.filter((g) => g.gov !== 'performance' && g.gov !== 'none');
    const said = govs.map((g) => `cpu${g.cpu} ${g.gov}`).join(', ');
    if (slow.length === 0) return ok(said);
    return warn(said, `cpupower -c ${slow.map((g) => g.cpu).join(',')} frequency-set -g performance: a core that changes speed changes the result`);
  },
};

const kvm: CommandProbe = {
  id: 'kvm',
  title: 'KVM runs a vCPU (not only /dev/kvm present)',
  host: 'host',
  notNeeded: (c) => vmStarted(c) ?? (c.tb.vm!.accel === 'kvm' ? null : 'vm.accel is tcg'),
  // A VM with no disk still running after a second and a half ran its firmware: under nested
  // virtualisation /dev/kvm may exist while QEMU aborts on the first vCPU.
  command: (c) =>
    `[ -c /dev/kvm ] || { echo no-dev-kvm; exit 0; }; out=$(timeout 1.5 ${shq(c.tb.vm!.qemu)} -accel kvm -machine q35 -cpu host -m 64 -display none -monitor none -serial none -nodefaults </dev/null 2>&1); echo "exit $?"; printf '%s\\n' "$out" | head -n 3`,
  judge: (r) => {
    const fix = 'turn virtualisation (VT-x/AMD-V) on in the firmware and load kvm_intel or kvm_amd; or set vm.accel: tcg (slow)';
    if (r.stdout.includes('no-dev-kvm')) return fail('no /dev/kvm', fix);
    const exit = /^exit (\d+)/m.exec(r.stdout)?.[1];
    if (exit === '124') return ok('QEMU ran a KVM vCPU for 1.5 s');
    const said = r.stdout.split('\n').slice(1).join(' ').trim();
    return fail(`/dev/kvm is there but QEMU could not run a KVM vCPU (exit ${exit ?? '?'}${said ? `: ${said}` : ''})`, fix);
  },
};

const vmFiles: CommandProbe = {
  id: 'vm-image',
  title: "the guest's kernel, initrd and disk",
  host: 'host',
  notNeeded: vmStarted,
  command: (c) => {
    const v = c.tb.vm!;
    return `for f in ${[v.kernel, v.initrd, v.disk].map(shq).join(' ')}; do [ -r "$f" ] || echo "missing: $f"; done`;
  },
  judge: (r, c) => {
    const missing = [...r.stdout.matchAll(/^missing: (.*)$/gm)].map((m) => m[1]!);
    if (missing.length === 0) return ok(`${c.tb.vm!.kernel}, ${c.tb.vm!.initrd}, ${c.tb.vm!.disk}`);
    return fail(
      `missing: ${missing.join(', ')}`,
      'build the guest image (dutlab lab image) and copy it there, or point vm.kernel, vm.initrd and vm.disk at it',
    );
  },
};

const PCI = /^[0-9a-fA-F]{4}:[0-9a-fA-F]{2}:[0-9a-fA-F]{2}\.[0-7]$/;

/** The device a phy port's DPDK devargs name on the host, where there is one to find (a vdev like net_tap makes its own). */
export function deviceOf(devargs: string): { kind: 'PCI device'; path: string; name: string } | { kind: 'interface'; path: string; name: string } | null {
  const first = devargs.split(',')[0]!;
  if (PCI.test(first)) return { kind: 'PCI device', path: `/sys/bus/pci/devices/${first}`, name: first };
  const iface = /(?:^|,)iface=([^,]+)/.exec(devargs)?.[1];
  return iface && /^net_(af_packet|af_xdp)/.test(first) ? { kind: 'interface', path: `/sys/class/net/${iface}`, name: iface } : null;
}

const devices: CommandProbe = {
  id: 'devices',
  title: "the devices the phy ports' DPDK devargs name",
  host: 'host',
  notNeeded: (c) =>
    upstreamDpdk(c) ?? (c.tb.phyPorts.some((p) => p.dpdkDevargs && deviceOf(p.dpdkDevargs)) ? null : 'no phy port names a host device (DPDK makes its vdevs)'),
  command: (c) =>
    c.tb.phyPorts
      .flatMap((p, i) => {
        const d = p.dpdkDevargs ? deviceOf(p.dpdkDevargs) : null;
        return d ? [`[ -e ${shq(d.path)} ] && echo "ok ${i}" || echo "missing ${i}"`] : [];
      })
      .join('; '),
  judge: (r, c) => {
    const missing = [...r.stdout.matchAll(/^missing (\d+)$/gm)].map((m) => Number(m[1]));
    const named = c.tb.phyPorts.flatMap((p) => (p.dpdkDevargs && deviceOf(p.dpdkDevargs) ? [`${p.name} ${deviceOf(p.dpdkDevargs)!.name}`] : []));
    if (missing.length === 0) return ok(named.join(', '));
    const said = missing.map((i) => {
      const d = deviceOf(c.tb.phyPorts[i]!.dpdkDevargs!)!;
      return `phyPorts.${i}.dpdkDevargs names ${d.kind} ${d.name}, which the host does not have`;
    });
    return fail(said.join('; '), `correct phyPorts[].dpdkDevargs: \`ip -br link\` and \`lspci -D\` list what the host has`);
  },
};

/**
 * An ovs-vswitchd on this lab's database that no run of this lab started:
 * Debian's service (openvswitch-switch-dpdk starts the system's at install),
 * another run's, one started by hand. It locks the run's daemon out of the
 * database ("another ovs-vswitchd process is running, disabling this
 * process": vswitchd/bridge.c), and its pidfile is not the run's to remove.
 */
const vswitchdForeign: CommandProbe = {
  id: 'vswitchd-foreign',
  title: "no ovs-vswitchd on the lab's database but one a run of this lab started",
  host: 'host',
  notNeeded: upstreamDpdk,
  command: (c) => {
    const comm = c.tb.ovsDpdk.vswitchd.replace(/^.*\//, '').slice(0, 15);
    return (
      `r=$(cat ${shq(vswitchdRecord(c.tb))} 2>/dev/null); echo "record \${r:-none}"; ` +
      `for d in /proc/[0-9]*; do c=$(cat "$d/comm" 2>/dev/null) || continue; case "$c" in ovs-vswitchd|${shq(comm)}) ` +
      `st=$(sed 's/^.*) //' "$d/stat" 2>/dev/null | cut -d' ' -f20); echo "proc \${d#/proc/} $st $(tr '\\0' ' ' < "$d/cmdline" 2>/dev/null | cut -c1-300)";; esac; done; echo end`
    );
  },
  judge: (r, c) => {
    if (!/^end$/m.test(r.stdout)) return fail('the list of ovs-vswitchd processes was cut short', 'run the probe again');
    const record = /^record (\d+ \d+)$/m.exec(r.stdout)?.[1] ?? null;
    const procs = [...r.stdout.matchAll(/^proc (\d+) (\d+) (.*)$/gm)].map((m) => ({ pid: m[1]!, start: m[2]!, cmd: m[3]!.trim() }));
    const p = c.tb.paths;
    const db = `${p.ovsRunDir}/db.sock`;
    const systemDb = ['/var/run/openvswitch', '/run/openvswitch'].includes(p.ovsRunDir.replace(/\/$/, ''));
    // On this lab's database: it names it, or names none and the lab's is the system's default.
    const onLab = (cmd: string) => cmd.includes(`unix:${db}`) || cmd.includes(`--pidfile=${p.vswitchdPidfile}`) || (systemDb && !/\bunix:/.test(cmd));
    const lab = procs.filter((x) => onLab(x.cmd));
    const foreign = lab.filter((x) => `${x.pid} ${x.start}` !== record);
    if (foreign.length > 0) return fail(`not started by a run of this lab: ${foreign.map((x) => `pid ${x.pid} (${x.cmd})`).join('; ')}`, FOREIGN_VSWITCHD_FIX);
    if (lab.length > 0) return ok(`a previous run's ovs-vswitchd still runs (pid ${lab[0]!.pid}): the run's first step stops it`);
    return ok('none runs: the run starts its own');
  },
};

/** The modern profiles delete and rebuild the testbed's bridge on a database they do not start (the guide's lab keeps its own br0). */
const modernSwitch = (c: ProbeContext): string | null =>
  c.profile.features.includes('ovs-dpdk-fork') ? `the ${c.profile.name} profile starts its own ovsdb-server and bridge, as the guide does` : null;

/**
 * ovsdb-server answers on the lab's database (the modern profiles use it and
 * never start it: without it every ovs-vsctl fails, and the run would blame
 * the DUT), and the testbed's bridge, if it exists already, holds only ports
 * the testbed names: a bridge with others (a management bridge of the same
 * name) is not the run's to delete.
 */
const switchDatabase: CommandProbe = {
  id: 'switch-database',
  title: "ovsdb-server answers on the lab's database, and the testbed's bridge is not someone else's",
  host: 'host',
  notNeeded: modernSwitch,
  command: (c) => {
    const vsctl = `ovs-vsctl --db=${shq(`unix:${c.tb.paths.ovsRunDir}/db.sock`)} --timeout=5`;
    const br = shq(c.tb.bridge);
    return (
      `if ${vsctl} show >/dev/null 2>&1; then echo "db ok"; ` +
      `if ${vsctl} br-exists ${br}; then echo "bridge yes"; ${vsctl} list-ports ${br} | sed 's/^/port /'; else echo "bridge no"; fi; ` +
      `else echo "db down"; fi; echo end`
    );
  },
  judge: (r, c) => {
    if (!/^end$/m.test(r.stdout)) return fail("the switch database's answer was cut short", 'run the probe again');
    const db = `unix:${c.tb.paths.ovsRunDir}/db.sock`;
    if (/^db down$/m.test(r.stdout))
      return fail(
        `ovsdb-server does not answer on ${db}`,
        'start ovsdb-server and keep it running (systemctl start ovsdb-server): the run uses it and never starts it',
      );
    if (!/^bridge yes$/m.test(r.stdout)) return ok(`ovsdb-server answers on ${db}; no bridge ${c.tb.bridge} yet: the run makes it`);
    const named = new Set([...c.tb.phyPorts.map((p) => p.name), ...c.tb.vmPorts.map((k) => k.name)]);
    const others = [...r.stdout.matchAll(/^port (\S+)$/gm)].map((m) => m[1]!).filter((p) => !named.has(p));
    if (others.length === 0)
      return ok(`ovsdb-server answers on ${db}; bridge ${c.tb.bridge} holds only the testbed's ports: a previous run's, the run rebuilds it`);
    return fail(
      `bridge ${c.tb.bridge} holds ports the testbed does not name (${others.join(', ')}): it is not this lab's to delete`,
      `give the testbed a bridge of dutlab's own (bridge: dutlab-br0), or, if it is yours to lose, remove it yourself (ovs-vsctl del-br ${c.tb.bridge})`,
    );
  },
};

export const DUT_PROBES: CommandProbe[] = [switchDatabase, vswitchdForeign, devices, hugepages, iommu, nicDriver, numa, pmdIsolated, cpufreq, kvm, vmFiles];
