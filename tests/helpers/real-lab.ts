// The scripted real lab: the modern lab of fixtures/testbeds/real-ovs-dpdk.yaml
// (NICs on vfio-pci, 1 GB pages, isolated PMD cores, KVM, a TRex TG) as SSH
// servers that answer the doctor's reads of /proc and /sys with what such a
// host shows, for what cannot be made here: an IOMMU, a NIC to bind, NUMA
// nodes, isolated cores, a cpufreq driver, a KVM that runs. Each read can be
// answered as a broken lab would instead (`faults`). The TG forwards to a
// TRex protocol server (trex-server.ts).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadTestbed } from '../../lib/testbed/load.js';
import { SESSION_COMMAND } from '../../lib/transport/shell-session.js';
import type { Testbed } from '../../lib/testbed/schema.js';
import { fixturePath, output } from './fixtures.js';
import { innerCommand } from './legacy-lab.js';
import { newKeyPair, TestSshServer, type Answer } from './ssh-server.js';
import { TrexProtocolServer, type TrexServerOptions } from './trex-server.js';

// The host is fixtures/testbeds/real-ovs-dpdk.yaml's two-socket one: 2 x 16 cores with SMT (CPU n and n+32
// siblings), node 1 = CPUs 16-31 and 48-63, the NIC (0000:af:00.0/1, an Intel X710 on i40e before binding) on
// node 1 in IOMMU groups of its own. The answers are what such a host's /proc and /sys show (taken from a
// Dell R740's: `lscpu -e`, sysfs), cut to what each read prints.

/** What a healthy host answers to each of the doctor's reads, by a word of the read (the first that matches). */
const HEALTHY: Record<string, { match: (cmd: string) => boolean; healthy: string }> = {
  tools: { match: (c) => c.includes('command -v "$t"'), healthy: '' },
  'vswitchd-foreign': { match: (c) => c.includes('ovs-vswitchd.started'), healthy: 'record none\nend\n' },
  'switch-database': { match: (c) => c.includes(' br-exists '), healthy: 'db ok\nbridge no\nend\n' },
  devices: { match: (c) => c.includes('] && echo "ok 0"'), healthy: 'ok 0\nok 1\n' },
  'hugepages-node': {
    match: (c) => c.includes('/sys/devices/system/node/node[0-9]*'),
    healthy: 'node 0 0\nnode 1 8\ndefault 1048576\nmount /dev/hugepages rw,relatime,pagesize=1024M\nend\n',
  },
  hugepages: { match: (c) => c.includes('hugepages-1048576kB/free_hugepages'), healthy: 'free 8\nend\n' },
  iommu: {
    match: (c) => c.includes('/sys/class/iommu'),
    healthy: 'units 2\nBOOT_IMAGE=/boot/vmlinuz-6.1.0-27-amd64 root=/dev/sda1 ro intel_iommu=on iommu=pt default_hugepagesz=1G hugepagesz=1G isolcpus=18-25\n',
  },
  'iommu-group': {
    match: (c) => c.includes('iommu_group/devices/'),
    healthy: 'member 0000:af:00.0 87 0000:af:00.0 vfio-pci\nmember 0000:af:00.1 88 0000:af:00.1 vfio-pci\nend\n',
  },
  'nic-driver': { match: (c) => c.includes('/driver"'), healthy: '0000:af:00.0 vfio-pci\n0000:af:00.1 vfio-pci\n' },
  'socket-mem-node': { match: (c) => c.includes('numa_node') && !c.includes('cpu $p'), healthy: 'nic 0000:af:00.0 1\nnic 0000:af:00.1 1\n' },
  numa: { match: (c) => c.includes('numa_node'), healthy: 'nic 0000:af:00.0 1\nnic 0000:af:00.1 1\ncpu 18 1\ncpu 19 1\ncpu 20 1\ncpu 21 1\n' },
  'pmd-siblings': { match: (c) => c.includes('thread_siblings_list'), healthy: 'cpu 18 18,50\ncpu 19 19,51\ncpu 20 20,52\ncpu 21 21,53\n' },
  'pmd-isolated': { match: (c) => c.includes('/sys/devices/system/cpu/isolated'), healthy: 'isolated 18-25\nnohz_full 18-25\n' },
  'cpu-governor': { match: (c) => c.includes('scaling_governor'), healthy: '18 performance\n19 performance\n20 performance\n21 performance\n' },
  kvm: { match: (c) => c.includes('-accel kvm'), healthy: 'exit 124\n' },
  'vm-image': { match: (c) => c.includes('[ -r "$f" ]'), healthy: '' },
  'guest-port': { match: (c) => c.includes('ss -Hltnp'), healthy: 'vm none\nend\n' },
};

/** A broken lab's answer to each read: what such a host shows. */
export const BROKEN: Record<keyof typeof HEALTHY, string> = {
  tools: 'missing: qemu-system-x86_64\n',
  'switch-database': 'db ok\nbridge yes\nport eno1\nend\n',
  'vswitchd-foreign':
    'record none\nproc 812 4711 ovs-vswitchd unix:/var/run/openvswitch/db.sock -vconsole:emer --mlockall --no-chdir --log-file=/var/log/openvswitch/ovs-vswitchd.log --pidfile --detach\nend\n',
  devices: 'ok 0\nmissing 1\n',
  // The 1 GB pages reserved per node at boot, on the wrong node (node 0 instead of the NIC's).
  'hugepages-node': 'node 0 8\nnode 1 0\ndefault 1048576\nmount /dev/hugepages rw,relatime,pagesize=1024M\nend\n',
  hugepages: 'free 1\nend\n',
  iommu: 'units 0\nBOOT_IMAGE=/boot/vmlinuz-6.1.0-27-amd64 root=/dev/sda1 ro\n',
  // Both ports in one group with the NIC's third function, still on i40e.
  'iommu-group':
    'member 0000:af:00.0 87 0000:af:00.0 vfio-pci\nmember 0000:af:00.0 87 0000:af:00.1 vfio-pci\nmember 0000:af:00.0 87 0000:af:00.2 i40e\n' +
    'member 0000:af:00.1 87 0000:af:00.0 vfio-pci\nmember 0000:af:00.1 87 0000:af:00.1 vfio-pci\nmember 0000:af:00.1 87 0000:af:00.2 i40e\nend\n',
  'nic-driver': '0000:af:00.0 i40e\n0000:af:00.1 vfio-pci\n',
  // The NIC moved to a slot of socket 0.
  'socket-mem-node': 'nic 0000:af:00.0 0\nnic 0000:af:00.1 0\n',
  numa: 'nic 0000:af:00.0 0\nnic 0000:af:00.1 0\ncpu 18 1\ncpu 19 1\ncpu 20 1\ncpu 21 1\n',
  // A kernel that numbers siblings next to each other (as on many AMD hosts).
  'pmd-siblings': 'cpu 18 18-19\ncpu 19 18-19\ncpu 20 20-21\ncpu 21 20-21\n',
  'pmd-isolated': 'isolated \nnohz_full \n',
  'cpu-governor': '18 powersave\n19 powersave\n20 performance\n21 performance\n',
  kvm: output('kvm-probe-no-kvm-module.txt'),
  'vm-image': 'missing: /var/lib/dutlab/image/vmlinuz\n',
  'guest-port': 'vm none\nlisten LISTEN 0 128 127.0.0.1:2222 0.0.0.0:* users:(("ssh",pid=4242,fd=5))\nend\n',
};

export type HostFault = keyof typeof HEALTHY;

export interface ScriptedRealLab {
  tb: Testbed;
  trex: TrexProtocolServer;
  close(): Promise<void>;
}

export async function startScriptedRealLab(
  dir: string,
  opts: { fault?: HostFault; trex?: TrexServerOptions; trexDown?: boolean; trexCallTimeoutMs?: number } = {},
): Promise<ScriptedRealLab> {
  const client = newKeyPair();
  const key = join(dir, `client-${Math.random().toString(36).slice(2, 8)}`);
  writeFileSync(key, client.private, { mode: 0o600 });
  const fault = opts.fault;
  const answer = (cmd: string): Answer | null => {
    // No session loop: a channel per command, so that each read is seen and answered here.
    if (cmd === SESSION_COMMAND) return { code: 0 };
    const inner = innerCommand(cmd);
    for (const [name, read] of Object.entries(HEALTHY)) if (read.match(inner)) return { stdout: fault === name ? BROKEN[name as HostFault] : read.healthy };
    // id -u, date: answered for real.
    return null;
  };
  const trex = await new TrexProtocolServer(opts.trex ?? {}).start();
  if (opts.trexDown) trex.close();
  const host = new TestSshServer({ authorizedKey: client.public, script: answer });
  const tg = new TestSshServer({ authorizedKey: client.public, forwardTcp: (p) => p === trex.tcpPort });
  await host.listen();
  await tg.listen();
  const base = loadTestbed(fixturePath('testbeds/real-ovs-dpdk.yaml'));
  const at = (s: TestSshServer) => s.loginSpec(key, { connectTimeoutMs: 3000 });
  const tb: Testbed = {
    ...base,
    hosts: { host: { ...base.hosts.host, ...at(host) }, guest: base.hosts.guest, tg: { ...base.hosts.tg, ...at(tg) } },
    tg: {
      ...base.tg,
      type: 'trex',
      trex: {
        ...base.tg.trex!,
        server: { address: '127.0.0.1', port: trex.tcpPort },
        ...(opts.trexCallTimeoutMs ? { callTimeoutMs: opts.trexCallTimeoutMs } : {}),
      },
    },
  };
  return {
    tb,
    trex,
    close: async () => {
      trex.close();
      await tg.close();
      await host.close();
    },
  };
}
