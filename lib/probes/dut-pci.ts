// The NICs' IOMMU groups: vfio-pci hands a device to DPDK only when every
// device of its group is on vfio-pci or on no driver (a PCIe bridge aside), so
// a NIC sharing its group with one the kernel still drives fails at DPDK's
// probe, after the switch was half built.
import { shq } from '../transport/quote.js';
import { BIFURCATED, nics } from './needs.js';
import { fail, ok, type CommandProbe } from './probe.js';

/** Drivers a group's other members may have for vfio to take the group (vfio_dev_driver_allowed, and no driver at all). */
const VIABLE = new Set(['vfio-pci', 'pci-stub', 'pcieport', 'none']);

export const iommuGroup: CommandProbe = {
  id: 'iommu-group',
  title: "each NIC's IOMMU group viable for vfio-pci",
  host: 'host',
  notNeeded: (c) =>
    nics(c) ??
    (BIFURCATED.has(c.tb.ovsDpdk.pciDriver)
      ? `a bifurcated NIC (${c.tb.ovsDpdk.pciDriver}) stays on its kernel driver`
      : c.tb.ovsDpdk.pciDriver === 'vfio-pci'
        ? null
        : `ovsDpdk.pciDriver is ${c.tb.ovsDpdk.pciDriver}, not vfio-pci`),
  command: (c) =>
    `for d in ${c.tb.ovsDpdk.pciDevices.map(shq).join(' ')}; do g=$(readlink "/sys/bus/pci/devices/$d/iommu_group" 2>/dev/null) || { echo "nogroup $d"; continue; }; ` +
    `for m in "/sys/bus/pci/devices/$d/iommu_group/devices/"*; do drv=$(readlink "$m/driver" 2>/dev/null); echo "member $d \${g##*/} \${m##*/} \${drv##*/}"; done; done; echo end`,
  judge: (r, c) => {
    if (!/^end$/m.test(r.stdout)) return fail('the IOMMU groups were cut short', 'run the probe again');
    const nogroup = [...r.stdout.matchAll(/^nogroup (\S+)$/gm)].map((m) => m[1]!);
    if (nogroup.length > 0)
      return fail(`no IOMMU group for ${nogroup.join(', ')}`, 'turn the IOMMU on (intel_iommu=on iommu=pt; see the iommu check): vfio-pci needs it');
    const members = [...r.stdout.matchAll(/^member (\S+) (\d+) (\S+) ?(\S*)$/gm)].map((m) => ({
      nic: m[1]!,
      group: m[2]!,
      dev: m[3]!,
      driver: m[4] || 'none',
    }));
    const ours = new Set(c.tb.ovsDpdk.pciDevices);
    const blocking = members.filter((m) => !ours.has(m.dev) && !VIABLE.has(m.driver));
    const groups = [...new Map(members.map((m) => [m.nic, m.group])).entries()].map(([nic, g]) => `${nic} in group ${g}`).join(', ');
    if (blocking.length === 0) return ok(groups);
    return fail(
      `${groups}; ${blocking.map((b) => `group ${b.group} also holds ${b.dev} on ${b.driver}`).join('; ')}: vfio-pci takes a whole group or none of it`,
      `bind them to vfio-pci too (dpdk-devbind.py -b vfio-pci ${[...new Set(blocking.map((b) => b.dev))].join(' ')}) if they are the lab's, or move the NIC to a slot with a group of its own (ACS)`,
    );
  },
};
