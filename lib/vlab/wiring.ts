// The virtual lab's wires: a network namespace for each machine, veth pairs
// for the cables (TG <-> phy ports) and for the VM ports (host portNN <->
// guest vEth_portNN), and the guest's management link.
import type { Testbed } from '../testbed/schema.js';
import type { LocalShell } from '../transport/local.js';
import { cmd } from '../transport/quote.js';

/** netdev: OVS's userspace datapath on veth (the virtual profile); dpdk: OVS-DPDK's, started by the run (the ovs-dpdk profile). */
export type Datapath = 'netdev' | 'dpdk';
/** netns: the guest is a network namespace; vm: a QEMU VM on vhost-user ports, started by the run (dpdk only). */
export type GuestKind = 'netns' | 'vm';
export const MGMT_HOST = '169.254.77.1/30';
export const MGMT_GUEST = '169.254.77.2';
export const ROLES = ['tg', 'host', 'guest'] as const;
export type Role = (typeof ROLES)[number];

/** The roles whose namespace the lab makes: the guest's only when the guest is a namespace. */
export const nsRoles = (guest: GuestKind): Role[] => ROLES.filter((r) => r !== 'guest' || guest === 'netns');

export async function wire(sh: LocalShell, ns: Record<Role, string>, tb: Testbed, guest: GuestKind): Promise<void> {
  const lines: string[] = [];
  for (const role of nsRoles(guest)) {
    lines.push(cmd('ip', 'netns', 'add', ns[role]), cmd('ip', '-n', ns[role], 'link', 'set', 'lo', 'up'));
    // IPv6 off: no router solicitations or DAD on the lab links, so counters count only the stream.
    lines.push(cmd('ip', 'netns', 'exec', ns[role], 'sysctl', '-qw', 'net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1'));
  }
  // The cables: TG port N <-> DUT phy port N.
  for (const phy of tb.phyPorts) {
    lines.push(cmd('ip', 'link', 'add', phy.tgPort, 'netns', ns.tg, 'type', 'veth', 'peer', 'name', phy.name, 'netns', ns.host));
    lines.push(cmd('ip', '-n', ns.tg, 'link', 'set', phy.tgPort, 'up'), cmd('ip', '-n', ns.host, 'link', 'set', phy.name, 'up'));
    // A DPDK af_packet port takes frames as they are: no checksum left for an offload to fill in (as OVS's own DPDK tests do).
    if (phy.dpdkDevargs) lines.push(cmd('ip', 'netns', 'exec', ns.tg, 'ethtool', '-K', phy.tgPort, 'tx', 'off'));
  }
  // The KNI vports: host portNN <-> guest vEth_portNN. The guest side is left
  // down and unaddressed: the scenario configures it, as on the real guest.
  // A tap port's kernel side is made by the tap PMD when the run adds the port;
  // a VM's NICs by QEMU when the run starts it.
  if (guest === 'vm') return sh.run(lines.join(' && ')).then(() => undefined);
  for (const port of tb.vmPorts.filter((k) => k.kind !== 'tap')) {
    lines.push(cmd('ip', 'link', 'add', port.name, 'netns', ns.host, 'type', 'veth', 'peer', 'name', port.guestIf, 'netns', ns.guest));
    lines.push(cmd('ip', '-n', ns.host, 'link', 'set', port.name, 'up'));
  }
  // The guest's management link, the stand-in for QEMU's user-mode NIC.
  lines.push(cmd('ip', 'link', 'add', 'mgmt0', 'netns', ns.host, 'type', 'veth', 'peer', 'name', 'mgmt0', 'netns', ns.guest));
  lines.push(cmd('ip', '-n', ns.host, 'addr', 'add', MGMT_HOST, 'dev', 'mgmt0'), cmd('ip', '-n', ns.host, 'link', 'set', 'mgmt0', 'up'));
  lines.push(cmd('ip', '-n', ns.guest, 'addr', 'add', `${MGMT_GUEST}/30`, 'dev', 'mgmt0'), cmd('ip', '-n', ns.guest, 'link', 'set', 'mgmt0', 'up'));
  await sh.run(lines.join(' && '));
}
