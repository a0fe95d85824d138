// What every host of the lab must offer: root (or sudo), a clock that agrees
// with the controller's, and the tools the profile runs there. (Reaching it,
// logging in and its host key are the connection's: doctor.ts.)
import type { HostRole } from '../testbed/schema.js';
import { shq } from '../transport/quote.js';
import { fail, ok, warn, type CommandProbe, type ProbeContext } from './probe.js';

/** The guest answers before the run only where no VM is started by the run (the virtual lab's namespace, the tap guest). */
export const guestBeforeRun = (c: ProbeContext): string | null =>
  c.profile.features.includes('vm') ? 'the run starts the VM: its guest is checked by the run' : null;

const forRole = (role: HostRole) => (role === 'guest' ? guestBeforeRun : () => null);

function privileges(role: HostRole): CommandProbe {
  return {
    id: 'privileges',
    title: 'root, or sudo without a password',
    host: role,
    notNeeded: forRole(role),
    // sudo only where it matters: it takes most of a second on some hosts, for nothing when the login is root.
    command: () => 'u=$(id -u); echo "$u"; [ "$u" = 0 ] || { sudo -n true 2>/dev/null && echo sudo-ok; }',
    judge: (r, c) => {
      const uid = r.stdout.split('\n')[0]?.trim();
      if (uid === '0') return ok('root');
      const spec = c.tb.hosts[role];
      if (spec.sudo && r.stdout.includes('sudo-ok')) return ok(`uid ${uid}, sudo without a password`);
      return fail(
        `uid ${uid}${spec.sudo ? ', and sudo asks for a password' : ', and hosts.' + role + '.sudo is false'}`,
        spec.sudo
          ? `let ${spec.user} run sudo without a password on this host (NOPASSWD), or log in as root`
          : `log in as root, or set hosts.${role}.sudo: true for a user with passwordless sudo`,
      );
    },
  };
}

/** Within this, the clocks agree; beyond CLOCK_FAIL_MS, captured times and counters cannot be placed together. */
export const CLOCK_WARN_MS = 50;
export const CLOCK_FAIL_MS = 1000;

function clock(role: HostRole): CommandProbe {
  return {
    id: 'clock',
    title: "the host's clock against the controller's",
    host: role,
    notNeeded: forRole(role),
    command: () => 'date +%s%N',
    judge: (r) => {
      const remoteUs = Number(r.stdout.trim()) / 1000;
      if (!/^\d{16,}$/.test(r.stdout.trim())) return fail(`date +%s%N printed ${JSON.stringify(r.stdout.trim())}`, 'a date(1) with %N (GNU coreutils)');
      // The host read its clock between our two readings: the offset is known to within half the round trip.
      const offsetMs = (remoteUs - (r.fromUs + r.toUs) / 2) / 1000;
      const within = (r.toUs - r.fromUs) / 2000;
      const said = `${offsetMs >= 0 ? '+' : ''}${offsetMs.toFixed(1)} ms from the controller (±${within.toFixed(1)} ms)`;
      if (Math.abs(offsetMs) - within <= CLOCK_WARN_MS) return ok(said);
      const fix = 'synchronise the clocks (chrony or systemd-timesyncd against the same NTP server as the controller)';
      return Math.abs(offsetMs) - within <= CLOCK_FAIL_MS ? warn(said, fix) : fail(said, fix);
    },
  };
}

/** The Debian package each tool comes from, for the fix line. */
const PACKAGE: Record<string, string> = {
  'ovs-vsctl': 'openvswitch-switch',
  'ovs-ofctl': 'openvswitch-switch',
  'ovs-appctl': 'openvswitch-switch',
  'ovs-vswitchd-dpdk': 'openvswitch-switch-dpdk',
  'qemu-system-x86_64': 'qemu-system-x86',
  tcpreplay: 'tcpreplay',
  tcpdump: 'tcpdump',
  ifconfig: 'net-tools',
  route: 'net-tools',
  arp: 'net-tools',
  sysctl: 'procps',
  ip: 'iproute2',
};

/** The programs the profile runs on a host, as its commands name them, and where (the guide's runs in its tree). */
export function toolsOf(role: HostRole, c: ProbeContext): { cwd?: string; tools: string[] } {
  if (role === 'host') {
    const p = c.profile;
    const cwd = p.hostContext(c.tb).cwd;
    const tools = [p.tool('ovs-vsctl'), p.tool('ovs-ofctl'), p.tool('ovs-appctl')];
    if (p.appctlTarget) tools.push(c.tb.ovsDpdk.vswitchd);
    if (p.features.includes('vm') && c.tb.vm) tools.push(c.tb.vm.qemu);
    return { ...(cwd ? { cwd } : {}), tools };
  }
  if (role === 'guest') return { tools: ['ip', 'ifconfig', 'route', 'arp', 'sysctl'] };
  return { tools: c.tb.tg.type === 'linux' ? ['ip', 'tcpreplay', 'tcpdump'] : [] };
}

function tools(role: HostRole): CommandProbe {
  return {
    id: 'tools',
    title: 'the tools the profile runs there',
    host: role,
    notNeeded: (c) => forRole(role)(c) ?? (toolsOf(role, c).tools.length === 0 ? 'the generator is checked by its own probe' : null),
    command: (c) => {
      const { cwd, tools: list } = toolsOf(role, c);
      const each = `for t in ${list.map(shq).join(' ')}; do command -v "$t" >/dev/null 2>&1 || echo "missing: $t"; done`;
      return cwd ? `cd ${shq(cwd)} 2>/dev/null || echo "missing: ${cwd}"; ${each}` : each;
    },
    judge: (r, c) => {
      const missing = [...r.stdout.matchAll(/^missing: (.*)$/gm)].map((m) => m[1]!);
      const { tools: list, cwd } = toolsOf(role, c);
      if (missing.length === 0) return ok(`${list.join(', ')}${cwd ? ` (in ${cwd})` : ''}`);
      const packages = [...new Set(missing.map((t) => PACKAGE[t.replace(/^.*\//, '')]).filter(Boolean))];
      return fail(
        `missing: ${missing.join(', ')}`,
        packages.length > 0
          ? `apt-get install ${packages.join(' ')} (or point the testbed at where they are)`
          : 'install them, or point the testbed at where they are',
      );
    },
  };
}

/** Every host's probes, for the roles the testbed has. */
export const HOST_PROBES: CommandProbe[] = (['host', 'guest', 'tg'] as const).flatMap((role) => [privileges(role), clock(role), tools(role)]);
