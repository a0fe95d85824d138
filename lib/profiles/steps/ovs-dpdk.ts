import { CheckFailure, CommandError, PreflightError } from '../../errors.js';
import type { Testbed } from '../../testbed/schema.js';
import { freeHugepagesFile, perNodeText, socketLimitPerNode, socketMemPerNode } from '../../testbed/sizing.js';
import { shq } from '../../transport/quote.js';
import { checkDpdkInitialized } from '../../verify/state.js';
import type { StepDef } from '../profile.js';
import { awaitHugepagesBack } from './hugepages.js';
import { BUILD_READBACK_COMMANDS, buildPathsCheck, buildReadback, explainMissing, judgeBuild, selectedBuild, vswitchdLaunch } from './build.js';
import { delOwnBridge, FOREIGN_BRIDGE_EXIT, FOREIGN_EXIT, foreignBridgeFix, host, recordStarted, startedRecord, stopOwnByPidfile, t } from './shared.js';

// ---- Upstream Open vSwitch with DPDK (the ovs-dpdk profile) ---------------------
// The same topology on upstream OVS's netdev-dpdk: the run owns the DPDK build
// of ovs-vswitchd (its path from the testbed; the system's alternative is never
// switched) as the guide's steps own ovs_dpdk and ovs-vswitchd.

/** Where the run's DPDK ovs-vswitchd answers ovs-appctl (its program name is not ovs-vswitchd). */
export const dpdkVswitchdCtl = (tb: Testbed): string => `${tb.paths.ovsRunDir}/ovs-vswitchd.ctl`;

/** The EAL arguments of the run: `--no-pci` unless the testbed names the PCI devices DPDK may use. */
export function ealExtraArgs(tb: Testbed): string[] {
  const d = tb.ovsDpdk;
  return [...d.extraArgs, ...(d.pciDevices.length > 0 ? d.pciDevices.flatMap((p) => ['-a', p]) : ['--no-pci']), `--file-prefix=${d.filePrefix}`];
}

const HUGEPAGES_FREE = (sizeKb: number) => `cat ${freeHugepagesFile(sizeKb)}`;
const DPDK_KEYS = ['dpdk-init', 'dpdk-lcore-mask', 'pmd-cpu-mask', 'dpdk-socket-mem', 'dpdk-socket-limit', 'dpdk-extra', 'pmd-maxsleep'];

/** This run's part of ovs-vswitchd's log: from the offset its start step noted (the whole log where none was). */
export const vswitchdLogSinceStart = (p: Testbed['paths']): string =>
  `off=$(cat ${shq(`${p.workDir}/vswitchd-log-offset`)} 2>/dev/null || echo 0); tail -c +$((off + 1)) ${shq(`${p.ovsLogDir}/ovs-vswitchd.log`)}`;

/** The record of the ovs-vswitchd a run of this lab started (shared.ts's stopOwnByPidfile reads it). */
export const vswitchdRecord = (tb: Testbed): string => startedRecord(tb.paths.workDir, 'ovs-vswitchd');

export const hostStopPreviousVswitchd: StepDef = {
  id: 'host.stop-previous-vswitchd',
  cleans: true,
  title: 'Stop the DPDK ovs-vswitchd a previous run left, and remove the bridge it had',
  host: 'host',
  commands: (c) => [
    // Only one a run of this lab started: another ovs-vswitchd (the system's service, one started by hand) is left
    // running with its pidfile, and the step fails naming it (the preflight's `vswitchd-foreign` probe finds it first).
    stopOwnByPidfile(c.tb.paths.vswitchdPidfile, vswitchdRecord(c.tb)),
    delOwnBridge(c),
  ],
  // Not the DUT's failure: the lab runs a daemon, or has a bridge, the run must not touch.
  explain: async (s, err) => {
    if (!(err instanceof CommandError)) return err;
    if (err.exitCode === FOREIGN_EXIT)
      return new PreflightError(
        `an ovs-vswitchd this harness did not start holds the lab's pidfile (${err.stdout.trim()}): left running; ${FOREIGN_VSWITCHD_FIX}`,
        {
          cause: err,
        },
      );
    if (err.exitCode === FOREIGN_BRIDGE_EXIT)
      return new PreflightError(`${err.stdout.trim()}: left as it is; ${foreignBridgeFix(s.tb.bridge)}`, { cause: err });
    return err;
  },
};

/** What to do about an ovs-vswitchd that is not the run's (Debian's service starts the system's at install). */
export const FOREIGN_VSWITCHD_FIX =
  'stop it by its own means and keep it from coming back: `systemctl disable --now ovs-vswitchd` (or `systemctl mask ovs-vswitchd`), keeping ovsdb-server running; never stop openvswitch-switch whole';

export const hostDpdkConfig: StepDef = {
  id: 'host.dpdk-config',
  title: "Set DPDK's configuration in the database: init, core masks, socket memory, EAL arguments",
  host: 'host',
  commands: (c) => {
    const d = c.tb.ovsDpdk;
    const set = [
      'other_config:dpdk-init=true',
      `other_config:dpdk-lcore-mask=${d.lcoreMask}`,
      `other_config:pmd-cpu-mask=${d.pmdCpuMask}`,
      // One value per NUMA node, node 0 first: the NIC's node gets its mempools there.
      `other_config:dpdk-socket-mem=${perNodeText(socketMemPerNode(c.tb))}`,
      `other_config:dpdk-socket-limit=${perNodeText(socketLimitPerNode(c.tb))}`,
      shq(`other_config:dpdk-extra=${ealExtraArgs(c.tb).join(' ')}`),
      `other_config:pmd-maxsleep=${d.pmdMaxSleepUs}`,
      // What the last daemon reported: the start step waits for this run's to say true.
      'dpdk_initialized=false',
    ];
    return [host(c, `${t(c, 'ovs-vsctl')} --no-wait set Open_vSwitch . ${set.join(' ')}`)];
  },
  undo: (c) => [host(c, `${t(c, 'ovs-vsctl')} --no-wait remove Open_vSwitch . other_config ${DPDK_KEYS.join(' ')}`)],
};

export const hostStartVswitchdDpdk: StepDef = {
  id: 'host.start-vswitchd-dpdk',
  title: 'Start the DPDK build of ovs-vswitchd and wait for DPDK to initialise',
  host: 'host',
  commands: (c) => {
    const p = c.tb.paths;
    const build = selectedBuild(c.tb);
    return [
      // A build's files before anything starts: one that is not on the DUT host is named by its field.
      ...(build ? [host(c, buildPathsCheck(c.tb, build))] : []),
      // Where its log stands before it starts: the log check reads only what this run's daemon wrote.
      host(
        c,
        `mkdir -p ${shq(p.workDir)} && (stat -c %s ${shq(`${p.ovsLogDir}/ovs-vswitchd.log`)} 2>/dev/null || echo 0) > ${shq(`${p.workDir}/vswitchd-log-offset`)}`,
      ),
      host(c, `${HUGEPAGES_FREE(c.tb.ovsDpdk.hugepageSizeKb)} > ${shq(`${p.workDir}/hugepages-free-before`)}`),
      host(
        c,
        vswitchdLaunch(
          c.tb,
          build,
          `unix:${shq(`${p.ovsRunDir}/db.sock`)} --pidfile=${shq(p.vswitchdPidfile)} --unixctl=${shq(dpdkVswitchdCtl(c.tb))} --no-chdir --log-file=${shq(`${p.ovsLogDir}/ovs-vswitchd.log`)}`,
        ),
        { background: { name: 'ovs-vswitchd', pidfile: p.vswitchdPidfile, ready: `test -S ${shq(dpdkVswitchdCtl(c.tb))}` } },
      ),
      // This run's own: what a later run's stop step may stop.
      host(c, recordStarted(p.vswitchdPidfile, vswitchdRecord(c.tb)).line),
      // DPDK initialises in the background: wait (bounded) for the daemon to say so, then read what it says.
      host(c, `${t(c, 'ovs-vsctl')} --timeout=15 wait-until Open_vSwitch . dpdk_initialized=true`, { timeoutMs: 25_000, okExitCodes: [0, 142] }),
      host(c, `${t(c, 'ovs-vsctl')} get Open_vSwitch . dpdk_initialized dpdk_version`),
      // What the daemon really is, where the run names a build: read back before anything is measured on it.
      ...(build ? buildReadback(c.tb, build, t(c, 'ovs-vsctl'), vswitchdLogSinceStart(p)).map((line) => host(c, line)) : []),
    ];
  },
  after: async (s, outputs) => {
    const build = selectedBuild(s.tb);
    const readback = build ? outputs.splice(-BUILD_READBACK_COMMANDS) : [];
    // The build first: a daemon that is not what its build claims (one build's core with another's drivers, which
    // DPDK may refuse to initialise) is the lab's error, never the DUT's.
    if (build) s.note(judgeBuild(s.tb, build, readback));
    const [initialized, version] = outputs.at(-1)!.trim().split('\n');
    CheckFailure.ifAny('dpdk', checkDpdkInitialized(initialized ?? '', (version ?? '').replace(/^"|"$/g, '')));
  },
  // A build's files missing on the DUT host: the lab's error, naming the fields.
  explain: async (s, err) => {
    const build = selectedBuild(s.tb);
    return build ? explainMissing(build, err) : err;
  },
  // Stopped through its own command, so that it removes the devices it made; then every hugepage it took must be back
  // before the run ends: the next run on the lab (a nightly right after its baseline) takes them at once.
  undo: (c) => [host(c, `${t(c, 'ovs-appctl')} -t ${shq(dpdkVswitchdCtl(c.tb))} exit --cleanup`, { okExitCodes: [0, 1] })],
  undone: async (s) => {
    const p = s.tb.paths;
    const shell = await s.connect('host');
    const before = shq(`${p.workDir}/hugepages-free-before`);
    const r = await shell.run(`cat ${before} 2>/dev/null; rm -f ${before} ${shq(`${p.workDir}/vswitchd-log-offset`)} ${shq(vswitchdRecord(s.tb))}`);
    const b = r.stdout.trim();
    return awaitHugepagesBack(shell, s.tb, p.vswitchdPidfile, /^\d+$/.test(b) ? Number(b) : null, 'ovs-vswitchd');
  },
};

export const hostMoveTaps: StepDef = {
  id: 'host.move-taps',
  title: "Move the tap ports' kernel side into the guest's network namespace",
  host: 'host',
  commands: (c) => c.tb.vmPorts.filter((k) => k.kind === 'tap' && k.netns).map((k) => ({ line: `ip link set dev ${shq(k.guestIf)} netns ${shq(k.netns!)}` })),
};
