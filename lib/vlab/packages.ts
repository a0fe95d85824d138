// The Debian packages the virtual lab is made of, installed when missing.
import { existsSync, writeFileSync, rmSync } from 'node:fs';
import { LocalShell } from '../transport/local.js';
import { cmd } from '../transport/quote.js';

/** Each package, with a file that shows it is installed. */
export const LAB_PACKAGES: Record<string, string> = {
  'openvswitch-switch': '/usr/sbin/ovs-vswitchd',
  'openvswitch-common': '/usr/bin/ovs-ofctl',
  'openssh-server': '/usr/sbin/sshd',
  'openssh-client': '/usr/bin/ssh-keygen',
  tcpdump: '/usr/bin/tcpdump',
  tcpreplay: '/usr/bin/tcpreplay',
  iproute2: '/usr/sbin/ip',
  'net-tools': '/usr/sbin/ifconfig',
  'iputils-ping': '/usr/bin/ping',
  socat: '/usr/bin/socat',
  ethtool: '/usr/sbin/ethtool',
};

/**
 * What the DPDK datapath adds (lab up --datapath dpdk): the DPDK build of
 * ovs-vswitchd and the DPDK drivers it loads as plugins: af_packet for the
 * phy ports, tap for the VM ports, and the ring mempool every port's buffers
 * need (without it every DPDK port fails with "Invalid argument").
 */
export const DPDK_PACKAGES: Record<string, string> = {
  'openvswitch-switch-dpdk': '/usr/lib/openvswitch-switch-dpdk/ovs-vswitchd-dpdk',
  'librte-net-af-packet23': 'librte_net_af_packet.so.23',
  'librte-net-tap23': 'librte_net_tap.so.23',
  'librte-mempool-ring23': 'librte_mempool_ring.so.23',
};
const DPDK_PMD_DIR = '/usr/lib/x86_64-linux-gnu/dpdk/pmds-23.0';

/** What a VM guest adds (lab up --guest vm): QEMU, and what builds the guest image (lib/vlab/image.ts). */
export const VM_PACKAGES: Record<string, string> = {
  'qemu-system-x86': '/usr/bin/qemu-system-x86_64',
  mmdebstrap: '/usr/bin/mmdebstrap',
  e2fsprogs: '/usr/sbin/mkfs.ext4',
};

export function missingPackages(dpdk = false, vm = false): string[] {
  const inPmdDir = (f: string) => (f.startsWith('/') ? f : `${DPDK_PMD_DIR}/${f}`);
  return Object.entries({ ...LAB_PACKAGES, ...(dpdk ? DPDK_PACKAGES : {}), ...(vm ? VM_PACKAGES : {}) })
    .map(([pkg, file]) => [pkg, inPmdDir(file)] as const)
    .filter(([, file]) => !existsSync(file) && !existsSync(file.replace('/usr/sbin/', '/sbin/').replace('/usr/bin/', '/bin/')))
    .map(([pkg]) => pkg);
}

export async function ensurePackages(log: (line: string) => void = () => undefined, dpdk = false, vm = false): Promise<void> {
  const missing = missingPackages(dpdk, vm);
  if (missing.length === 0) return;
  log(`installing ${missing.join(' ')}`);
  // The lab starts its own daemons in its namespaces; the packages' services
  // must not start in the root namespace. policy-rc.d says so to invoke-rc.d.
  const policy = '/usr/sbin/policy-rc.d';
  const ours = !existsSync(policy);
  if (ours) writeFileSync(policy, '#!/bin/sh\nexit 101\n', { mode: 0o755 });
  try {
    const sh = new LocalShell('apt');
    await sh.run('apt-get update -qq', { timeoutMs: 300_000 });
    await sh.run(cmd('apt-get', 'install', '-y', '-qq', '--no-install-recommends', ...missing), {
      timeoutMs: 600_000,
      env: { DEBIAN_FRONTEND: 'noninteractive' },
    });
  } finally {
    if (ours) rmSync(policy, { force: true });
  }
}
