// The switch's side of the DUT host: ovsdb-server answers on the lab's
// database, no ovs-vswitchd runs there but the run's (or, on the netdev
// profiles, but the lab's own, which must answer), and the testbed's bridge
// is not someone else's. What a real DUT host gets wrong first: Debian's
// service starts the system's ovs-vswitchd at install.
import { switchPortNames } from '../testbed/topology.js';
import { FOREIGN_VSWITCHD_FIX, vswitchdRecord } from '../profiles/steps/ovs-dpdk.js';
import { foreignBridgeFix } from '../profiles/steps/shared.js';
import { shq } from '../transport/quote.js';
import { runningSwitch, upstreamDpdk } from './needs.js';
import { fail, ok, type CommandProbe, type ProbeContext } from './probe.js';

/** One line per running ovs-vswitchd (of this name or the testbed's DPDK build's): "proc <pid> <start time> <command line>". */
function vswitchdProcsCommand(c: ProbeContext): string {
  const comm = c.tb.ovsDpdk.vswitchd.replace(/^.*\//, '').slice(0, 15);
  return (
    // read, a builtin: a fork per process of the host would take most of a second.
    `for d in /proc/[0-9]*; do { read -r c < "$d/comm"; } 2>/dev/null || continue; case "$c" in ovs-vswitchd|${shq(comm)}) ` +
    `st=$(sed 's/^.*) //' "$d/stat" 2>/dev/null | cut -d' ' -f20); echo "proc \${d#/proc/} $st $(tr '\\0' ' ' < "$d/cmdline" 2>/dev/null | cut -c1-300)";; esac; done`
  );
}

interface VswitchdProc {
  pid: string;
  start: string;
  cmd: string;
}

/** The ovs-vswitchd processes on this lab's database: it names it, or names none and the lab's is the system's default. */
function onLabDatabase(stdout: string, c: ProbeContext): VswitchdProc[] {
  const procs = [...stdout.matchAll(/^proc (\d+) (\d+) (.*)$/gm)].map((m) => ({ pid: m[1]!, start: m[2]!, cmd: m[3]!.trim() }));
  const p = c.tb.paths;
  const db = `${p.ovsRunDir}/db.sock`;
  const systemDb = ['/var/run/openvswitch', '/run/openvswitch'].includes(p.ovsRunDir.replace(/\/$/, ''));
  return procs.filter((x) => x.cmd.includes(`unix:${db}`) || x.cmd.includes(`--pidfile=${p.vswitchdPidfile}`) || (systemDb && !/\bunix:/.test(x.cmd)));
}

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
  command: (c) => `r=$(cat ${shq(vswitchdRecord(c.tb))} 2>/dev/null); echo "record \${r:-none}"; ${vswitchdProcsCommand(c)}; echo end`,
  judge: (r, c) => {
    if (!/^end$/m.test(r.stdout)) return fail('the list of ovs-vswitchd processes was cut short', 'run the probe again');
    const record = /^record (\d+ \d+)$/m.exec(r.stdout)?.[1] ?? null;
    const lab = onLabDatabase(r.stdout, c);
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
    const named = new Set(switchPortNames(c.tb));
    const others = [...r.stdout.matchAll(/^port (\S+)$/gm)].map((m) => m[1]!).filter((p) => !named.has(p));
    if (others.length === 0)
      return ok(`ovsdb-server answers on ${db}; bridge ${c.tb.bridge} holds only the testbed's ports: a previous run's, the run rebuilds it`);
    return fail(
      `bridge ${c.tb.bridge} holds ports the testbed does not name (${others.join(', ')}): it is not this lab's to delete`,
      foreignBridgeFix(c.tb.bridge),
    );
  },
};

/**
 * The netdev profiles switch on the lab's own running ovs-vswitchd (the one
 * its pidfile names): it must run and answer (a dead one passed the doctor
 * and the run then failed as the DUT's), and no other may run on the lab's
 * database (it would hold the bridge the run builds).
 */
const vswitchdAnswers: CommandProbe = {
  id: 'vswitchd-answers',
  title: "the lab's own ovs-vswitchd runs and answers, and no other runs on its database",
  host: 'host',
  notNeeded: runningSwitch,
  command: (c) => {
    const p = c.tb.paths;
    const appctl = `OVS_RUNDIR=${shq(p.ovsRunDir)} ${c.profile.tool('ovs-appctl')} --timeout=5`;
    return (
      `r=$(cat ${shq(p.vswitchdPidfile)} 2>/dev/null); echo "pidfile \${r:-none}"; ${vswitchdProcsCommand(c)}; ` +
      `if ${appctl} -t ovs-vswitchd version >/dev/null 2>&1; then echo "answers yes"; else echo "answers no"; fi; echo end`
    );
  },
  judge: (r, c) => {
    if (!/^end$/m.test(r.stdout)) return fail('the list of ovs-vswitchd processes was cut short', 'run the probe again');
    const own = /^pidfile (\d+)$/m.exec(r.stdout)?.[1] ?? null;
    const lab = onLabDatabase(r.stdout, c);
    const others = lab.filter((x) => x.pid !== own);
    const pidfile = c.tb.paths.vswitchdPidfile;
    if (others.length > 0)
      return fail(
        `not the lab's own (${pidfile} names ${own ?? 'none'}): ${others.map((x) => `pid ${x.pid} (${x.cmd})`).join('; ')}`,
        `stop the one that is not the lab's by its own means (by its pid, if you started it): two ovs-vswitchd on one database lock each other out`,
      );
    if (!lab.some((x) => x.pid === own))
      return fail(
        `no ovs-vswitchd runs on the lab's database (${pidfile}: ${own ?? 'none'}): the ${c.profile.name} profile switches on the lab's running one`,
        "start the lab's ovs-vswitchd (the virtual lab: dutlab lab up; a real lab: systemctl start openvswitch-switch)",
      );
    if (!/^answers yes$/m.test(r.stdout))
      return fail(`ovs-vswitchd (pid ${own}) runs but does not answer ovs-appctl within 5 s`, 'look at its log (ovs-vswitchd.log); restart it if it hangs');
    return ok(`ovs-vswitchd (pid ${own}) answers`);
  },
};

export const SWITCH_PROBES: CommandProbe[] = [switchDatabase, vswitchdForeign, vswitchdAnswers];
