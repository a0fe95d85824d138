// The build a run starts (issue 43): ovsDpdk.build names one of
// ovsDpdk.builds. A build side by side with the system's starts in a mount
// namespace of its own, its driver directory bind-mounted over the system's
// (what DPDK's EAL loads drivers from, whatever the library path) and its
// libraries first on the library path; the mount goes with the daemon. Once
// it runs, what it really is is read back: the DPDK version it reports and
// each DPDK library and driver it has mapped, by content, against the
// build's own files. A daemon that is not what its build claims is the
// lab's error, naming both: comparing it would gate the wrong upgrade.
import { CommandError, DutlabError } from '../../errors.js';
import { parseFileHashes } from '../../parsers/file-hashes.js';
import type { Testbed } from '../../testbed/schema.js';
import { shq } from '../../transport/quote.js';
import { checkBuild } from '../../verify/build.js';

/** The build's ovs-vswitchd is not what the build claims, or the build's files are not on the DUT host: the lab's error. */
export class BuildError extends DutlabError {}

/** A command's exit code that says the build's files are not there (its output names them). */
export const BUILD_MISSING_EXIT = 3;

export type SelectedBuild = Testbed['ovsDpdk']['builds'][string] & { name: string; vswitchd: string };

/** The build the run starts, or null (ovsDpdk.vswitchd with the system's DPDK, not read back). */
export function selectedBuild(tb: Testbed): SelectedBuild | null {
  const d = tb.ovsDpdk;
  if (d.build === undefined) return null;
  const b = d.builds[d.build]!;
  return { ...b, name: d.build, vswitchd: b.vswitchd ?? d.vswitchd };
}

/** The build's files the run needs, each by the field that names it: a command that prints the missing ones and exits BUILD_MISSING_EXIT. */
export function buildPathsCheck(tb: Testbed, b: SelectedBuild): string {
  const field = `ovsDpdk.builds.${b.name}`;
  const own = tb.ovsDpdk.builds[b.name]!.vswitchd !== undefined;
  const paths: Array<[string, string, '-x' | '-d']> = [[b.vswitchd, own ? `${field}.vswitchd` : 'ovsDpdk.vswitchd', '-x']];
  if (b.libDir && b.pmdDir)
    paths.push([b.libDir, `${field}.libDir`, '-d'], [b.pmdDir, `${field}.pmdDir`, '-d'], [tb.ovsDpdk.systemPmdDir, 'ovsDpdk.systemPmdDir', '-d']);
  const tests = paths.map(([p, f, op]) => `test ${op} ${shq(p)} || { echo ${shq(`${f}: ${p}`)}; missing=1; }`);
  return `missing=0; ${tests.join('; ')}; [ "$missing" = 0 ] || exit ${BUILD_MISSING_EXIT}`;
}

/** The missing paths' error, where the check found some. */
export function explainMissing(b: SelectedBuild, err: unknown): unknown {
  if (!(err instanceof CommandError) || err.exitCode !== BUILD_MISSING_EXIT) return err;
  return new BuildError(`build ${b.name}: not on the DUT host: ${err.stdout.trim().split('\n').join('; ')}`, { cause: err });
}

/** The phy ingress port's policing as the build has it (a known regression: policeIngressKbps), none (0) where it has none; the burst is 10 ms of the rate. */
export function ingressPolicing(b: SelectedBuild | null): string[] {
  const kbps = b?.policeIngressKbps ?? 0;
  return [`ingress_policing_rate=${kbps}`, `ingress_policing_burst=${kbps === 0 ? 0 : Math.max(1, Math.round(kbps / 100))}`];
}

/** ovs-vswitchd's command line as the build starts it: in its own mount namespace where it stands side by side. */
export function vswitchdLaunch(tb: Testbed, b: SelectedBuild | null, args: string): string {
  if (!b) return `${shq(tb.ovsDpdk.vswitchd)} ${args}`;
  if (!b.libDir || !b.pmdDir) return `${shq(b.vswitchd)} ${args}`;
  const inside = `mount --bind ${shq(b.pmdDir)} ${shq(tb.ovsDpdk.systemPmdDir)} && LD_LIBRARY_PATH=${shq(b.libDir)} exec ${shq(b.vswitchd)} ${args}`;
  return `unshare --mount --propagation private sh -c ${shq(inside)}`;
}

/** `<sha256> <path>` of each file in `files` (a shell word list), the ones that are regular files. */
const hashEach = (files: string) => `for f in ${files}; do [ -f "$f" ] && printf '%s %s\\n' "$(sha256sum < "$f" | cut -c1-64)" "$f"; done; true`;

/**
 * The read-back's commands: the version the daemon reports; each DPDK library and driver it has mapped, hashed as
 * it sees it (through /proc/<pid>/root: its own mount namespace); the build's own files, hashed; the ERR and EMER
 * lines of this run's part of its log (`logSinceStart`), for a daemon that died before it could be read.
 */
export const BUILD_READBACK_COMMANDS = 4;
export function buildReadback(tb: Testbed, b: SelectedBuild, vsctl: string, logSinceStart: string): string[] {
  const dirs = b.libDir && b.pmdDir ? [b.libDir, b.pmdDir] : [tb.ovsDpdk.systemLibDir, tb.ovsDpdk.systemPmdDir];
  const pid = `$(cat ${shq(tb.paths.vswitchdPidfile)})`;
  return [
    `${vsctl} get Open_vSwitch . dpdk_version`,
    `pid=${pid}; [ -r "/proc/$pid/maps" ] || exit 0; awk '$6 ~ /\\/librte_[^/]*\\.so/ { print $6 }' "/proc/$pid/maps" | sort -u | while read -r p; do printf '%s %s\\n' "$(sha256sum < "/proc/$pid/root$p" | cut -c1-64)" "$p"; done`,
    hashEach(dirs.map((d) => `${shq(d)}/librte_*.so*`).join(' ')),
    `${logSinceStart} | grep -E '[|](ERR|EMER)[|]' | tail -n 5; true`,
  ];
}

/** What the read-back found: a line for the run's notes, or the lab's error naming the build and the daemon. */
export function judgeBuild(tb: Testbed, b: SelectedBuild, [version, maps, files, errors]: string[]): string {
  // Gone before it could be read. A DPDK library registered twice (EAL's "tailq is already registered") is two builds'
  // files in one daemon: the build is not what it claims. Any other death is left to the DPDK check (the DUT's).
  if ((maps ?? '').trim() === '') {
    const lines = (errors ?? '')
      .trim()
      .split('\n')
      .filter(Boolean)
      .map((l) => l.replace(/^[^|]*\|\d+\|[^|]*\|[A-Z]+\|/, ''));
    if (lines.some((l) => /tailq is already registered/.test(l)))
      throw new BuildError(
        `ovs-vswitchd is not build ${b.name} (DPDK ${b.dpdkVersion}): it died as DPDK initialised, a DPDK library registered twice (two builds' files in one daemon); its log: ${lines.join('; ')}`,
      );
    return `ovs-vswitchd of build ${b.name} could not be read back: it was gone (its log: ${lines.join('; ') || 'no error'})`;
  }
  const where = b.libDir ? `${b.libDir} and ${b.pmdDir}` : `the system's, ${tb.ovsDpdk.systemLibDir} and ${tb.ovsDpdk.systemPmdDir}`;
  const mapped = parseFileHashes(maps ?? '', 'the DPDK libraries ovs-vswitchd mapped (/proc/<pid>/maps)');
  const own = parseFileHashes(files ?? '', `build ${b.name}'s files`);
  const { problems, libraries } = checkBuild(b.dpdkVersion, version ?? '', mapped, own, where);
  if (problems.length > 0) throw new BuildError(`ovs-vswitchd is not build ${b.name} (DPDK ${b.dpdkVersion}): ${problems.join('; ')}`);
  return `ovs-vswitchd is build ${b.name}: it reports DPDK ${b.dpdkVersion} and every one of the ${libraries} DPDK libraries and drivers it mapped is the build's (${where})`;
}
