// `dutlab doctor`: is this lab ready? Every host reached as the run would
// reach it (its address, its login, its host key verified), then each probe
// the testbed needs, read-only, in seconds. `run --doctor` runs it first and
// stops as an infrastructure error (exit 2) before any setup when something
// fails. A host that cannot be reached is one failing line, its probes not run.
import { ConnectionError, errorMessage, HostKeyError } from '../errors.js';
import { profileByName } from '../profiles/index.js';
import { profileFor, type Profile } from '../profiles/profile.js';
import type { HostRole, HostSpec, Testbed } from '../testbed/schema.js';
import { ANY_EXIT, type Shell } from '../transport/shell.js';
import { SshShell } from '../transport/ssh.js';
import type { Transcript } from '../transport/transcript.js';
import { DUT_PROBES } from './dut.js';
import { guestBeforeRun, HOST_PROBES } from './hosts.js';
import { fail, ok, warn, type Finding, type Probe, type ProbeContext, type ProbeResult } from './probe.js';
import { TG_PROBES } from './tg.js';

export const PROBES: readonly Probe[] = [...HOST_PROBES, ...DUT_PROBES, ...TG_PROBES];

const ROLES: readonly HostRole[] = ['host', 'guest', 'tg'];
/** The doctor answers in seconds: a host that does not answer within this is unreachable, whatever the run would wait. */
const CONNECT_BOUND_MS = 5000;

/** The profile a testbed is written for, when none is named: DPDK devices say ovs-dpdk, KNI vports the guide's. */
export function impliedProfile(tb: Testbed): string {
  if (tb.vmPorts.some((k) => k.kind === 'kni')) return 'legacy-kni';
  return tb.phyPorts.some((p) => p.dpdkDevargs) ? 'ovs-dpdk' : 'virtual';
}

export interface DoctorOptions {
  /** How a host is reached (tests); by default over SSH as the testbed says, within a short bound. */
  connect?: (role: HostRole, tb: Testbed, reached: Map<HostRole, Shell>) => Promise<Shell>;
  transcript?: Transcript;
  /** Only these hosts (`dutlab doctor --host`): the others are not reached. */
  roles?: readonly HostRole[];
}

/** A host reached over SSH as the testbed says, within the doctor's bound (the pool reaches DUT hosts the same way). */
export const sshConnect =
  (transcript?: Transcript) =>
  async (role: HostRole, tb: Testbed, reached: Map<HostRole, Shell>): Promise<Shell> => {
    const spec: HostSpec = { ...tb.hosts[role], connectTimeoutMs: Math.min(tb.hosts[role].connectTimeoutMs, CONNECT_BOUND_MS) };
    const jumpVia = 'jump' in spec && spec.jump === 'host' ? reached.get('host') : undefined;
    if ('jump' in spec && spec.jump === 'host' && !(jumpVia instanceof SshShell))
      throw new ConnectionError(role, 'reached through the host, which could not be reached');
    return SshShell.connect(role, spec, {
      ...(transcript ? { transcript } : {}),
      ...(jumpVia instanceof SshShell ? { jump: jumpVia } : {}),
      workDir: tb.paths.workDir,
    });
  };

/** The connection's line: reached, logged in, its host key verified; or what failed, with its fix. */
function connectFinding(role: HostRole, tb: Testbed, err?: unknown): Finding {
  const s = tb.hosts[role];
  const where = `${s.user}@${s.address}:${s.port}${'jump' in s && s.jump ? ' through the host' : ''}`;
  if (err === undefined) {
    if ('insecureAcceptAny' in s.hostKey)
      return warn(`${where}, host key NOT verified`, `name the host's key in hosts.${role}.hostKey (fingerprint or knownHosts)`);
    return ok(`${where}, host key verified`);
  }
  const said = `${where}: ${errorMessage(err)}`;
  if (err instanceof HostKeyError)
    return fail(said, `the host's key is not the one hosts.${role}.hostKey names: if the host was reinstalled, check its key and update the testbed`);
  if (/authenticat/i.test(errorMessage(err)))
    return fail(said, `authorise the testbed's key for ${s.user} on that host (~/.ssh/authorized_keys), or correct hosts.${role}.auth`);
  return fail(said, `check hosts.${role}.address and port, that sshd runs there, and that this machine can reach it`);
}

async function runProbe(p: Probe, shell: Shell, c: ProbeContext, transcript?: Transcript): Promise<Finding> {
  try {
    if ('ask' in p) return await p.ask(shell, c, transcript);
    const fromUs = Date.now() * 1000;
    const r = await shell.run(p.command(c), { okExitCodes: ANY_EXIT, timeoutMs: 15_000 });
    return p.judge({ stdout: r.stdout, exitCode: r.exitCode, fromUs, toUs: Date.now() * 1000 }, c);
  } catch (e) {
    return fail(`could not be read: ${errorMessage(e)}`, 'see the transcript; the host answered its login but not this read');
  }
}

/** The DUT host's hardware probes (dut.ts) the testbed needs, on a shell the run already has: what the run's preflight reads. */
export async function probeDutHost(shell: Shell, c: ProbeContext, transcript?: Transcript): Promise<ProbeResult[]> {
  const out: ProbeResult[] = [];
  for (const p of DUT_PROBES) {
    if (p.notNeeded(c) !== null) continue;
    out.push({ id: p.id, host: p.host, title: p.title, ...(await runProbe(p, shell, c, transcript)) });
  }
  return out;
}

/** Every probe of the lab, host by host: the connection first, then what the testbed needs there. */
export async function doctor(tb: Testbed, profileName: string, opts: DoctorOptions = {}): Promise<ProbeResult[]> {
  const profile: Profile = profileFor(profileByName(profileName), tb);
  const c: ProbeContext = { tb, profile };
  const connect = opts.connect ?? sshConnect(opts.transcript);
  const reached = new Map<HostRole, Shell>();
  const results: ProbeResult[] = [];
  const line = (p: { id: string; title: string; host: HostRole }, f: Finding) => results.push({ id: p.id, host: p.host, title: p.title, ...f });
  try {
    for (const role of ROLES.filter((r) => !opts.roles || opts.roles.includes(r))) {
      const probes = PROBES.filter((p) => p.host === role);
      const connectLine = { id: 'connect', title: 'reached, logged in, host key verified', host: role };
      const skip = role === 'guest' ? guestBeforeRun(c) : null;
      if (skip) {
        line(connectLine, { status: 'n/a', evidence: skip });
        continue;
      }
      let shell: Shell;
      try {
        shell = await connect(role, tb, reached);
        reached.set(role, shell);
        line(connectLine, connectFinding(role, tb));
      } catch (e) {
        const f = connectFinding(role, tb, e);
        line(connectLine, { ...f, evidence: `${f.evidence} (${probes.filter((p) => p.notNeeded(c) === null).length} checks of this host not run)` });
        continue;
      }
      for (const p of probes) {
        const why = p.notNeeded(c);
        // One of two ways to check the same thing (the generator: tcpreplay's, or TRex's) shows only when it is the one.
        if (why && probes.some((q) => q !== p && q.id === p.id && q.notNeeded(c) === null)) continue;
        line(p, why ? { status: 'n/a', evidence: why } : await runProbe(p, shell, c, opts.transcript));
      }
    }
  } finally {
    for (const role of ['guest', 'tg', 'host'] as const)
      await reached
        .get(role)
        ?.close()
        .catch(() => undefined);
  }
  return results;
}
