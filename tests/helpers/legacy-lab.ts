// The scripted legacy lab: SSH servers that answer the legacy profile's
// commands with the outputs the guide documents, for what cannot run here
// (ovs_dpdk, QEMU with IVSHMEM, rte_kni). Every command sent is recorded.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { output } from './fixtures.js';
import { TestSshServer, newKeyPair, type Answer } from './ssh-server.js';

/** The text of a POSIX single-quoted word starting at `from` (quotes and '\'' escapes undone). */
function unquoteAt(s: string, from: number): string {
  let out = '';
  let i = from;
  while (i < s.length && !/\s/.test(s[i]!)) {
    if (s[i] === "'") {
      const end = s.indexOf("'", i + 1);
      out += s.slice(i + 1, end);
      i = end + 1;
    } else if (s[i] === '\\') {
      out += s[i + 1];
      i += 2;
    } else out += s[i++];
  }
  return out;
}

/** What a person would have typed: the command inside the harness's wrapping, without its env and cd lines. */
export function innerCommand(raw: string): string {
  for (const wrapper of ['setsid -w sh -c ', 'setsid sh -c ']) {
    const at = raw.indexOf(wrapper);
    if (at < 0) continue;
    const script = unquoteAt(raw, at + wrapper.length)
      .split('\n')
      .filter((l) => !/^printf 'dutlab-(pgid|exit-status)/.test(l) && !/^export \w+=/.test(l) && !/^cd .* \|\| exit 126$/.test(l))
      .join('\n')
      .replace(/^exec /, '');
    // A background start is a launch script inside the command wrapper: unwrap it too.
    return innerCommand(script);
  }
  return raw;
}

export interface LegacyLab {
  host: TestSshServer;
  guest: TestSshServer;
  testbedFile: string;
  /** Commands each host received, unwrapped, in order. */
  received(role: 'host' | 'guest'): string[];
  /** From now on the guest's kernel has panicked: it answers nothing and drops every connection; QEMU runs on. */
  panicGuest(): void;
  close(): Promise<void>;
}

/** ivshmem: what dmesg says after insmod; dpdkVersion: what the DPDK tree's VERSION file says (the guide's is 1.6.0r2). */
/** ethtool on the guest's KNI vEths: unsupported as the KNI programmer's guide says for a VM, or broken (the device gone). */
const ETHTOOL_KNI: Record<string, { stdout?: string; stderr: string; code: number }> = {
  '': {
    stdout: 'Settings for vEth_port32:\n',
    stderr:
      'Cannot get device settings: Operation not supported\nCannot get wake-on-lan settings: Operation not supported\nCannot get message level: Operation not supported\nCannot get link status: Operation not supported\nNo data available\n',
    code: 75,
  },
  '-i': { stderr: 'Cannot get driver information: Operation not supported\n', code: 71 },
  '-S': { stderr: 'no stats available\n', code: 94 },
  '-k': { stdout: 'Features for vEth_port32:\n', stderr: 'Cannot get device feature names: Operation not supported\n', code: 74 },
};

/** A ready legacy DUT host's answers to the preflight's reads, by a word of each read. */
export const LEGACY_HOST_READS: Array<[string, string]> = [
  ['hugepages-2048kB/free_hugepages', 'free 1024\ndefault 2048\nmount /dev/hugepages rw,relatime,pagesize=2M\nend\n'],
  ['/sys/bus/pci/drivers/igb_uio', 'igb_uio 1\nnic 0000:01:00.0\nnic 0000:01:00.1\nend\n'],
  ['datapath/dpdk/build/ovs_dpdk', 'end\n'],
  ['ss -Hltnp', 'vm none\nend\n'],
];

export async function startLegacyLab(
  dir: string,
  opts: { ivshmem: 'found' | 'not-found'; dpdkVersion?: string; ethtool?: 'kni' | 'device-gone'; qemu?: 'dies-at-boot' },
): Promise<LegacyLab> {
  const client = newKeyPair();
  writeFileSync(join(dir, 'client'), client.private, { mode: 0o600 });
  let pid = 4000;
  /** QEMU's pid as the harness started it; a QEMU that dies at boot is then gone, its log saying how. */
  let qemuPid = -1;
  const qemuDies = opts.qemu === 'dies-at-boot';
  /** The guest's kernel panicked (panicGuest): its connections drop, QEMU runs on, its console says why. */
  let panicked = false;
  const common = (cmd: string): Answer | null => {
    if (cmd.includes('pid=$!')) {
      if (cmd.includes('qemu-system-x86_64')) qemuPid = pid + 1;
      return { stdout: `${++pid} 777\n` };
    }
    const inner = innerCommand(cmd);
    if (inner.includes('/proc/') && inner.includes('-f22')) return { code: qemuDies && inner.includes(`/proc/${qemuPid}/`) ? 1 : 0 };
    if (qemuDies && /^tail -n \d+ .*qemu\.log'?$/.test(inner)) return { stdout: `${output('qemu-no-kvm-module.txt')}dutlab-exit-status: 1\n` };
    if (panicked && /^tail -c \d+ .*qemu\.log'?$/.test(inner)) return { stdout: output('qemu-nographic-guest-panic.txt') };
    return null;
  };
  const guest = new TestSshServer({
    authorizedKey: client.public,
    script: (cmd) => {
      const c = common(cmd);
      if (c) return c;
      const inner = innerCommand(cmd);
      if (inner === 'dmesg | tail -n 1') return { stdout: '[ 2700.000000] e1000: eth0 NIC Link is Up\n' };
      if (inner === 'dmesg') return { stdout: output(opts.ivshmem === 'found' ? 'dmesg-kni-ivshmem-found.txt' : 'dmesg-kni-ivshmem-not-found.txt') };
      if (panicked) return { hangUp: true };
      if (inner === 'ifconfig -a') return { stdout: output('ifconfig-a-guest-configured-new-format.txt') };
      if (inner.startsWith('sysctl net.ipv4.ip_forward')) return { stdout: output('sysctl-forwarding-on-rp-filter-off.txt') };
      if (inner === 'ip route') return { stdout: output('ip-route-default-via-gateway.txt') };
      if (inner === 'arp -n') return { stdout: output('arp-n-static-gateway.txt') };
      if (inner === 'uname -r') return { stdout: '3.10.0-guest\n' };
      const eth = /^ethtool (?:(-[iSk]) )?(vEth_port3[23])$/.exec(inner);
      if (eth) {
        if (opts.ethtool === 'device-gone') return { stderr: `Cannot get driver information: No such device\n`, code: 71 };
        const a = ETHTOOL_KNI[eth[1] ?? '']!;
        return { stdout: (a.stdout ?? '').replace('vEth_port32', eth[2]!), stderr: a.stderr, code: a.code };
      }
      return { code: 0 };
    },
  });
  const host = new TestSshServer({
    authorizedKey: client.public,
    // A QEMU that died leaves nothing listening on its forwarded port.
    forward: () => (qemuDies ? undefined : guest),
    script: (cmd) => {
      const c = common(cmd);
      if (c) return c;
      const inner = innerCommand(cmd);
      if (inner === './utilities/ovs-vsctl show') return { stdout: output('ovs-vsctl-show-guide-dpdk-br0.txt') };
      if (inner === './utilities/ovs-ofctl dump-flows br0')
        return { stdout: output('dump-flows-two-flows-after-100.txt').replace(/n_packets=100, n_bytes=6000/g, 'n_packets=0, n_bytes=0') };
      if (inner.startsWith('./utilities/ovs-ivshm-mngr')) return { stdout: output('ivshm-mngr-vm_1.txt') };
      if (inner === 'dmesg | tail -n 1') return { stdout: '[ 100.000000] host\n' };
      if (/^if \[ -r '?\/root\/DPDK'?\/VERSION \]/.test(inner)) return { stdout: `${opts.dpdkVersion ?? '1.6.0r2'}\n` };
      if (inner === './utilities/ovs-vsctl --version') return { stdout: 'ovs-vsctl (Open vSwitch) 2.0.90\nCompiled Jun 12 2014 10:22:33\n' };
      if (inner === 'uname -r') return { stdout: '3.10.0-host\n' };
      // The doctor's reads of the guide's host (lib/probes/dut-legacy.ts, dut-access.ts), as a ready one answers them.
      for (const [read, said] of LEGACY_HOST_READS) if (inner.includes(read)) return { stdout: said };
      return { code: 0 };
    },
  });
  await host.listen();
  await guest.listen();
  const testbedFile = join(dir, 'legacy-scripted.yaml');
  const hostKey = (s: TestSshServer) => `{ fingerprint: "${s.fingerprint}" }`;
  writeFileSync(
    testbedFile,
    `name: scripted-legacy-lab
hosts:
  host: { address: 127.0.0.1, port: ${host.port}, auth: { privateKeyFile: ${join(dir, 'client')} }, hostKey: ${hostKey(host)}, connectTimeoutMs: 5000 }
  guest: { address: 127.0.0.1, port: 2222, jump: host, auth: { privateKeyFile: ${join(dir, 'client')} }, hostKey: ${hostKey(guest)}, connectTimeoutMs: ${qemuDies ? 60000 : 5000} }
  tg: { address: 127.0.0.1, port: 1, auth: { privateKeyFile: ${join(dir, 'client')} }, hostKey: { insecureAcceptAny: true }, connectTimeoutMs: 1000 }
`,
  );
  const plumbing = (c: string) =>
    /^(echo \d+ > |test -[sS] |p=\$\(cat |\[ -r \/proc|if \[ -r \/proc|tail -n|ip link show vEth_port32 && )/.test(c) || c.includes('/proc/');
  return {
    host,
    guest,
    testbedFile,
    panicGuest: () => {
      panicked = true;
    },
    received: (role) => (role === 'host' ? host : guest).commands.map(innerCommand).filter((c) => !plumbing(c) || c.startsWith('p=$(cat ')),
    close: async () => {
      await guest.close();
      await host.close();
    },
  };
}
