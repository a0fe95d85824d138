// How the run reaches the guest through the DUT host: the host's sshd must
// allow TCP forwarding (the guest is reached through it), and the port QEMU
// forwards to the guest's sshd must be free on the host's loopback (or held
// by the lab's own previous guest, which the run stops first). Neither was
// known before the switch and the VM were built.
import { setTimeout as sleep } from 'node:timers/promises';
import { errorMessage } from '../errors.js';
import { shq } from '../transport/quote.js';
import { legacyLab, vmStarted } from './needs.js';
import { fail, ok, type AskingProbe, type CommandProbe, type ProbeContext } from './probe.js';

/** SSH_OPEN_ADMINISTRATIVELY_PROHIBITED (RFC 4254 5.1): what sshd answers a channel its configuration forbids. */
const PROHIBITED = 1;
/** sshd answers a forbidden channel at once; one it is trying to connect may take a TCP timeout. */
const FORWARD_BOUND_MS = 3000;

const reasonOf = (e: unknown): unknown => {
  for (let x = e as { reason?: unknown; cause?: unknown } | undefined; x; x = x.cause as typeof x) if (x.reason !== undefined) return x.reason;
  return undefined;
};

const sshForwarding: AskingProbe = {
  id: 'ssh-forwarding',
  title: "the host's sshd forwards TCP to the guest (the guest is reached through it)",
  host: 'host',
  notNeeded: (c) => ('jump' in c.tb.hosts.guest && c.tb.hosts.guest.jump === 'host' ? null : 'the guest is not reached through the host'),
  ask: async (shell, c) => {
    const g = c.tb.hosts.guest;
    const to = `${g.address}:${g.port}`;
    if (!shell.forwardOut) return { status: 'n/a', evidence: 'the host is not reached over SSH here' };
    const opening = shell.forwardOut(g.address, g.port).then(
      (stream) => {
        stream.destroy();
        return 'opened' as const;
      },
      (e: unknown) => e,
    );
    const outcome = await Promise.race([opening, sleep(FORWARD_BOUND_MS).then(() => 'pending' as const)]);
    if (outcome === 'opened') return ok(`sshd forwarded a channel to ${to} (something answers there)`);
    if (outcome === 'pending') return ok(`sshd is connecting a channel to ${to} (forwarding allowed; nothing answers there yet)`);
    if (reasonOf(outcome) === PROHIBITED)
      return fail(
        `sshd refused a channel to ${to}: ${errorMessage(outcome)}`,
        `allow TCP forwarding for ${c.tb.hosts.host.user} in the host's /etc/ssh/sshd_config (AllowTcpForwarding yes or local, no DisableForwarding; a Match block may say otherwise), then systemctl reload ssh`,
      );
    return ok(`forwarding allowed: sshd tried ${to} (${errorMessage(outcome).replace(/^.*: /, '')}; the run starts the guest)`);
  },
};

/** The port on the host's loopback QEMU forwards to the guest's sshd, and the pidfile of the guest the lab runs. */
function guestForward(c: ProbeContext): { port: number; pidfile: string; field: string } {
  if (c.profile.features.includes('ovs-dpdk-fork'))
    return { port: c.tb.dpdk.qemu.mgmtForwardPort, pidfile: c.tb.paths.qemuPidfile, field: 'dpdk.qemu.mgmtForwardPort' };
  return { port: c.tb.vm!.mgmtForwardPort, pidfile: c.tb.vm!.pidfile, field: 'vm.mgmtForwardPort' };
}

/** Listeners QEMU's 127.0.0.1:<port> cannot bind beside: the same port on the loopback or on every address. */
const CONFLICTS = /^(127\.0\.0\.1|0\.0\.0\.0|\*|\[::\]|\[::ffff:127\.0\.0\.1\]):\d+$/;

const guestPort: CommandProbe = {
  id: 'guest-port',
  title: "the port QEMU forwards to the guest's sshd free on the host's loopback",
  host: 'host',
  notNeeded: (c) => (legacyLab(c) === null ? null : vmStarted(c)),
  command: (c) => {
    const f = guestForward(c);
    return `echo "vm $(cat ${shq(f.pidfile)} 2>/dev/null || echo none)"; ss -Hltnp ${shq(`sport = :${f.port}`)} | sed 's/^/listen /'; echo end`;
  },
  judge: (r, c) => {
    if (!/^end$/m.test(r.stdout)) return fail("the host's listening sockets were cut short", 'run the probe again');
    const f = guestForward(c);
    const vm = /^vm (\d+)$/m.exec(r.stdout)?.[1] ?? null;
    const listeners = [...r.stdout.matchAll(/^listen (.*)$/gm)]
      .map((m) => m[1]!.trim().split(/\s+/))
      .filter((w) => CONFLICTS.test(w[3] ?? ''))
      .map((w) => {
        const users = w.slice(5).join(' ');
        return { at: w[3]!, pid: /pid=(\d+)/.exec(users)?.[1] ?? null, name: /\(\("([^"]+)"/.exec(users)?.[1] ?? 'a process' };
      });
    if (listeners.length === 0) return ok(`port ${f.port} free on the host's loopback`);
    if (vm !== null && listeners.every((l) => l.pid === vm)) return ok(`the lab's previous guest (pid ${vm}) holds port ${f.port}: the run stops it first`);
    const held = listeners.filter((l) => l.pid !== vm).map((l) => `${l.at} held by ${l.name}${l.pid ? ` (pid ${l.pid})` : ''}`);
    return fail(
      `${held.join('; ')}: QEMU could not forward port ${f.port} to the guest`,
      `free the port (stop what holds it, by its pid, if it is yours), or give ${f.field} and hosts.guest.port a free one`,
    );
  },
};

export const ACCESS_PROBES = [sshForwarding, guestPort];
