// The DUT host's hardware and kernel, as upstream OVS-DPDK and a KVM guest
// need them: hugepages, the IOMMU, the NICs on their DPDK driver and their
// NUMA node, the PMD cores isolated and at full speed, KVM that runs a vCPU,
// the guest's image. Each reads /proc and /sys (or runs QEMU for a second).
import { hugepageSizeText, hugepageSizeWord, parseHugepageUse } from '../parsers/hugepages.js';
import { describeHolder, hugepageUseCommand, labPidfileOf } from '../profiles/steps/hugepages.js';
import { hugepagesNeeded, vmHugepages } from '../testbed/sizing.js';
import { shq } from '../transport/quote.js';
import { ACCESS_PROBES } from './dut-access.js';
import { LEGACY_PROBES } from './dut-legacy.js';
import { NUMA_PROBES } from './dut-numa.js';
import { iommuGroup } from './dut-pci.js';
import { SWITCH_PROBES } from './dut-switch.js';
import { BIFURCATED, dedicated, nics, upstreamDpdk, vmStarted } from './needs.js';
import { coresOf, cpuList, fail, ok, warn, type CommandProbe, type Probe } from './probe.js';

const hugepages: CommandProbe = {
  id: 'hugepages',
  title: 'free hugepages for DPDK and the guest',
  host: 'host',
  notNeeded: upstreamDpdk,
  command: (c) => hugepageUseCommand(c.tb.ovsDpdk.hugepageSizeKb),
  judge: (r, c) => {
    const size = c.tb.ovsDpdk.hugepageSizeKb;
    const shown = hugepageSizeText(size);
    const need = hugepagesNeeded(c.tb);
    const bootFix = `hugepagesz=${hugepageSizeWord(size)} hugepages=${need} on the kernel command line`;
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
    // A bifurcated NIC stays on its kernel driver: binding it to vfio-pci is the wrong fix.
    const bifurcated = wrong.filter((d) => BIFURCATED.has(seen.get(d)!));
    if (bifurcated.length > 0)
      return fail(
        `${said}: ${bifurcated.join(', ')} ${bifurcated.length > 1 ? 'are' : 'is'} a bifurcated NIC (${seen.get(bifurcated[0]!)})`,
        `set ovsDpdk.pciDriver: ${seen.get(bifurcated[0]!)}: DPDK's ${seen.get(bifurcated[0]!)!.replace('_core', '')} PMD drives it beside its kernel driver; never bind it to vfio-pci`,
      );
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

export const DUT_PROBES: Probe[] = [
  ...SWITCH_PROBES,
  devices,
  hugepages,
  ...NUMA_PROBES.slice(0, 1),
  iommu,
  nicDriver,
  iommuGroup,
  numa,
  ...NUMA_PROBES.slice(1),
  pmdIsolated,
  cpufreq,
  kvm,
  vmFiles,
  ...ACCESS_PROBES,
  ...LEGACY_PROBES,
];
