// Builds of OVS and DPDK (issue 43, part 1): the testbed's builds and their
// refusals, how a build side by side starts (its mount namespace, its driver
// directory over the system's, its libraries first), and the read-back that
// tells a daemon from what its build claims, on real read-backs of the DPDK
// lab (the libraries it mapped, hashed as it sees them; each build's files,
// hashed); Debian's versions as DPDK says them.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ParseError } from '../../lib/errors.js';
import { parseFileHashes } from '../../lib/parsers/file-hashes.js';
import { BUILD_MISSING_EXIT, buildPathsCheck, judgeBuild, selectedBuild, vswitchdLaunch } from '../../lib/profiles/steps/build.js';
import { parseTestbed } from '../../lib/testbed/load.js';
import { checkBuild, isDpdkLibrary, reportedDpdk } from '../../lib/verify/build.js';
import { madisonVersions, upstreamVersion } from '../../lib/vlab/builds.js';
import { fixturePath, MINIMAL_TESTBED as MINIMAL, testbedProblems } from '../helpers/fixtures.js';

const fixture = (name: string) => readFileSync(fixturePath(`outputs/${name}`), 'utf8');
const OTHER = '/var/cache/dutlab/builds/dpdk-22.11.7/root/usr/lib/x86_64-linux-gnu';
const BUILDS = `ovsDpdk:
  build: dpdk-22.11.7
  builds:
    dpdk-22.11.11: { dpdkVersion: 22.11.11 }
    dpdk-22.11.7: { dpdkVersion: 22.11.7, libDir: ${OTHER}, pmdDir: ${OTHER}/dpdk/pmds-23.0 }
`;

describe('builds in the testbed', () => {
  it('takes named builds and the one a run starts; without one, ovsDpdk.vswitchd with the system’s DPDK', () => {
    const tb = parseTestbed(`${MINIMAL}${BUILDS}`);
    expect(selectedBuild(tb)).toEqual({
      name: 'dpdk-22.11.7',
      dpdkVersion: '22.11.7',
      vswitchd: '/usr/lib/openvswitch-switch-dpdk/ovs-vswitchd-dpdk',
      libDir: OTHER,
      pmdDir: `${OTHER}/dpdk/pmds-23.0`,
    });
    expect(selectedBuild(parseTestbed(MINIMAL))).toBeNull();
  });

  it('refuses a build it does not list, two builds that are one, half a side-by-side build, a version that is not one', () => {
    expect(testbedProblems(`${MINIMAL}ovsDpdk: { build: b, builds: { a: { dpdkVersion: 22.11.7 } } }\n`)).toEqual([
      { path: 'ovsDpdk.build', message: 'b is not one of ovsDpdk.builds (a)' },
    ]);
    expect(testbedProblems(`${MINIMAL}ovsDpdk: { builds: { a: { dpdkVersion: 22.11.7 }, b: { dpdkVersion: 22.11.7 } } }\n`)).toEqual([
      { path: 'ovsDpdk.builds.b', message: 'the same build as a: two builds that are one compare nothing' },
    ]);
    expect(
      testbedProblems(`${MINIMAL}ovsDpdk: { builds: { a: { dpdkVersion: 22.11.7, libDir: /x }, b: { dpdkVersion: 22.11.8, libDir: /x, pmdDir: /y } } }\n`).map(
        (p) => p.path,
      ),
    ).toEqual(['ovsDpdk.builds.a.pmdDir']);
    expect(testbedProblems(`${MINIMAL}ovsDpdk: { builds: { a: { dpdkVersion: latest } } }\n`)).toEqual([
      { path: 'ovsDpdk.builds.a.dpdkVersion', message: 'a DPDK version like 22.11.7' },
    ]);
  });

  it("starts a side-by-side build in a mount namespace of its own, its drivers over the system's, its libraries first; the system's as it is", () => {
    const tb = parseTestbed(`${MINIMAL}${BUILDS}`);
    expect(vswitchdLaunch(tb, selectedBuild(tb), '--version')).toBe(
      `unshare --mount --propagation private sh -c 'mount --bind ${OTHER}/dpdk/pmds-23.0 /usr/lib/x86_64-linux-gnu/dpdk/pmds-23.0 && LD_LIBRARY_PATH=${OTHER} exec /usr/lib/openvswitch-switch-dpdk/ovs-vswitchd-dpdk --version'`,
    );
    // A path a shell would split never gets that far: the testbed's path grammar refuses it.
    expect(
      testbedProblems(`${MINIMAL}ovsDpdk: { builds: { b: { dpdkVersion: 22.11.7, libDir: /opt/my dpdk, pmdDir: /opt/x } } }\n`).map((p) => p.path),
    ).toEqual(['ovsDpdk.builds.b.libDir']);
    const system = parseTestbed(`${MINIMAL}ovsDpdk: { build: dpdk-22.11.11, builds: { dpdk-22.11.11: { dpdkVersion: 22.11.11 } } }\n`);
    expect(vswitchdLaunch(system, selectedBuild(system), '--version')).toBe('/usr/lib/openvswitch-switch-dpdk/ovs-vswitchd-dpdk --version');
    // Its files are checked first, each named by its field.
    expect(buildPathsCheck(tb, selectedBuild(tb)!)).toContain(`test -d ${OTHER} || { echo 'ovsDpdk.builds.dpdk-22.11.7.libDir: ${OTHER}'; missing=1; }`);
    expect(buildPathsCheck(tb, selectedBuild(tb)!)).toMatch(new RegExp(`exit ${BUILD_MISSING_EXIT}$`));
  });
});

describe('what the running daemon is', () => {
  // Captured on the DPDK lab: ovs-vswitchd started as build dpdk-22.11.7, what it mapped, and each build's files.
  const mappedText = fixture('dpdk-build-22.11.7-mapped-hashes.txt');
  const ownText = fixture('dpdk-build-22.11.7-file-hashes.txt');
  const mapped = parseFileHashes(mappedText, 'mapped');
  const own = parseFileHashes(ownText, 'own');
  const system = parseFileHashes(fixture('dpdk-system-22.11.11-file-hashes.txt'), 'system');

  it("reads each DPDK library and driver it mapped, as it sees them: the drivers at the system's paths, where its own directory stands over them", () => {
    expect(mapped.every((f) => isDpdkLibrary(f.path))).toBe(true);
    expect(mapped.length).toBeGreaterThanOrEqual(20);
    expect(mapped.map((f) => f.path)).toContain('/usr/lib/x86_64-linux-gnu/dpdk/pmds-23.0/librte_net_af_packet.so.23.0');
    expect(() => parseFileHashes('abc /x\n', 'mapped')).toThrow(ParseError);
    expect(() => parseFileHashes(`${'a'.repeat(64)} relative/path\n`, 'mapped')).toThrow(/cannot parse mapped/);
  });

  it('is the build where it reports its version and maps only its files; names what is not', () => {
    expect(checkBuild('22.11.7', '"DPDK 22.11.7"', mapped, own, 'x')).toEqual({ problems: [], libraries: mapped.length });
    expect(reportedDpdk('"DPDK 22.11.7"')).toBe('22.11.7');
    // Against the system's files (22.11.11): every library and driver it mapped is named as not the build's.
    const { problems } = checkBuild('22.11.7', '"DPDK 22.11.7"', mapped, system, "the system's");
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/^(\d+) of the \1 DPDK libraries and drivers it mapped are not the build's files \(the system's\): /);
    // The system's core with the build's drivers: only the drivers named.
    const drivers = mapped.filter((f) => f.path.includes('/pmds-23.0/'));
    const mixed = mapped.map((f) => (f.path.includes('/pmds-23.0/') ? f : system.find((x) => x.path.endsWith(f.path.slice(f.path.lastIndexOf('/'))))!));
    expect(checkBuild('22.11.7', '"DPDK 22.11.7"', mixed, own, 'x').problems[0]).toMatch(
      new RegExp(
        `^${mapped.length - drivers.length} of the ${mapped.length} DPDK libraries and drivers it mapped are not the build's files \\(x\\): /usr/lib/x86_64-linux-gnu/librte_`,
      ),
    );
    expect(checkBuild('22.11.11', '"DPDK 22.11.7"', mapped, own, 'x').problems).toEqual(['it reports DPDK 22.11.7 (dpdk_version)']);
    expect(checkBuild('22.11.7', '""', [], own, 'x').problems).toEqual(['it reports no DPDK version (dpdk_version)', 'it has no DPDK library mapped']);
  });

  it("says so in the run's notes, or throws the lab's error naming the build and the daemon", () => {
    const tb = parseTestbed(`${MINIMAL}${BUILDS}`);
    const b = selectedBuild(tb)!;
    expect(judgeBuild(tb, b, ['"DPDK 22.11.7"', mappedText, ownText, ''])).toMatch(
      /^ovs-vswitchd is build dpdk-22\.11\.7: it reports DPDK 22\.11\.7 and every one of the 21 DPDK libraries and drivers it mapped is the build's/,
    );
    expect(() => judgeBuild(tb, b, ['"DPDK 22.11.11"', mappedText, ownText, ''])).toThrow(
      'ovs-vswitchd is not build dpdk-22.11.7 (DPDK 22.11.7): it reports DPDK 22.11.11 (dpdk_version)',
    );
    // Gone before it could be read: one build's core with another's drivers panics registering a library twice (the
    // DPDK lab's log, the other build's libraries first on the path); any other death is left to the DPDK check.
    const panic = [
      '2026-12-07T18:33:10.351Z|00012|dpdk|ERR|EAL: UIO_RESOURCE_LIST tailq is already registered',
      '2026-12-07T18:33:10.351Z|00013|dpdk|EMER|PANIC in tailqinitfn_rte_uio_tailq():',
      '2026-12-07T18:33:10.351Z|00014|dpdk|EMER|Cannot initialize tailq: UIO_RESOURCE_LIST',
    ].join('\n');
    expect(() => judgeBuild(tb, b, ['[]', '', ownText, panic])).toThrow(
      "ovs-vswitchd is not build dpdk-22.11.7 (DPDK 22.11.7): it died as DPDK initialised, a DPDK library registered twice (two builds' files in one daemon); its log: EAL: UIO_RESOURCE_LIST tailq is already registered; PANIC in tailqinitfn_rte_uio_tailq():; Cannot initialize tailq: UIO_RESOURCE_LIST",
    );
    expect(judgeBuild(tb, b, ['[]', '', ownText, '2026-12-07T18:33:10.351Z|00012|dpdk|ERR|EAL: Cannot get hugepage information.'])).toBe(
      'ovs-vswitchd of build dpdk-22.11.7 could not be read back: it was gone (its log: EAL: Cannot get hugepage information.)',
    );
  });
});

describe("Debian's DPDK releases", () => {
  it("reads apt-cache madison's versions and says each as DPDK does", () => {
    const versions = madisonVersions(fixture('apt-cache-madison-librte-eal23.txt'));
    expect(versions).toEqual(['22.11.11-0+deb12u1', '22.11.7-1~deb12u1']);
    expect(versions.map(upstreamVersion)).toEqual(['22.11.11', '22.11.7']);
    expect(upstreamVersion('1:23.11.1-1')).toBe('23.11.1');
  });
});
