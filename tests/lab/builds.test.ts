// Two DPDK builds on one lab (issue 43, part 1): `lab up --builds` puts the
// installed DPDK and the other point release Debian's archives keep (fetched
// and unpacked into dutlab's cache, never installed) in the testbed; a run on
// either reads back what its ovs-vswitchd really is (the version it reports,
// every DPDK library and driver it mapped, by device and inode). Known
// answers: each build is what it claims; a daemon whose library path alone
// was swapped (the other build's core, the system's drivers) is not, and is
// the lab's error naming both; a build whose files are not there is named by
// its field; the machine's DPDK packages are the same before and after.
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseDocument } from 'yaml';
import { labDown, labUp, type LabState } from '../../lib/vlab/lab.js';
import { dutlabRun } from '../helpers/cli.js';

const ID = 'builds';
const reports = mkdtempSync(join(tmpdir(), 'dutlab-builds-'));
let lab: LabState;
let packagesBefore: string;
const dpdkPackages = async () => (await execa('dpkg-query', ['-W', '-f=${db:Status-Abbrev} ${Package} ${Version}\n', 'librte-*'])).stdout;

beforeAll(async () => {
  packagesBefore = await dpdkPackages();
  lab = await labUp({ id: ID, datapath: 'dpdk', builds: true });
}, 300_000);
afterAll(async () => {
  await labDown({ id: ID });
  rmSync(reports, { recursive: true, force: true });
  // Nothing of the machine's DPDK changed: the other build was unpacked, never installed.
  expect(await dpdkPackages()).toBe(packagesBefore);
});

/** The lab's testbed with `edit` applied, written beside it. */
function variant(name: string, edit: (doc: ReturnType<typeof parseDocument>) => void): string {
  const doc = parseDocument(readFileSync(lab.testbedFile, 'utf8'));
  edit(doc);
  const file = join(lab.stateDir, `${name}.yaml`);
  writeFileSync(file, doc.toString());
  return file;
}
const builds = () => lab.builds!;
const pvp = (testbed: string) => dutlabRun(['--testbed', testbed, '--profile', 'ovs-dpdk'], reports);

describe('two DPDK builds on the DPDK lab', () => {
  it('runs the PVP suite on each build (run --build), each read back as what it claims: the installed one and the unpacked one', async () => {
    const [installed, other] = builds();
    expect(installed!.libDir).toBeUndefined();
    expect(other!.libDir).toMatch(/^\/var\/cache\/dutlab\/builds\/dpdk-22\.11\.\d+\/root\/usr\/lib\/x86_64-linux-gnu$/);
    expect(other!.dpdkVersion).not.toBe(installed!.dpdkVersion);
    for (const b of [other!, installed!]) {
      const r = await dutlabRun(['--testbed', lab.testbedFile, '--profile', 'ovs-dpdk', '--build', b.name], reports);
      expect(r.exitCode, r.stderr).toBe(0);
      expect(r.summary.versions.dpdk).toBe(`DPDK ${b.dpdkVersion}`);
      expect(r.summary.notes.join('\n')).toMatch(
        new RegExp(
          `^ovs-vswitchd is build ${b.name}: it reports DPDK ${b.dpdkVersion.replace(/\./g, '\\.')} and every one of the \\d+ DPDK libraries and drivers it mapped is the build's`,
          'm',
        ),
      );
    }
  }, 240_000);

  it("a daemon whose library path alone was swapped (the other build's core, the system's drivers) dies in DPDK's start: the lab's error, naming the build and what DPDK said", async () => {
    const other = builds()[1]!;
    // What a person might do by hand: the other build's libraries first on the path, nothing else. DPDK's EAL still
    // loads the system's drivers from its plugin directory, beside the other build's bus driver the core pulled in.
    const wrapper = join(lab.stateDir, 'vswitchd-library-path-only');
    writeFileSync(wrapper, `#!/bin/sh\nLD_LIBRARY_PATH='${other.libDir}' exec /usr/lib/openvswitch-switch-dpdk/ovs-vswitchd-dpdk "$@"\n`);
    chmodSync(wrapper, 0o755);
    const tb = variant('mixed', (doc) => {
      doc.setIn(['ovsDpdk', 'builds', 'mixed'], doc.createNode({ dpdkVersion: other.dpdkVersion, vswitchd: wrapper }));
      doc.setIn(['ovsDpdk', 'build'], 'mixed');
    });
    const r = await pvp(tb);
    expect(r.exitCode, r.stderr).toBe(2);
    expect(r.stderr).toMatch(
      new RegExp(
        `ovs-vswitchd is not build mixed \\(DPDK ${other.dpdkVersion.replace(/\./g, '\\.')}\\): it died as DPDK initialised, a DPDK library registered twice \\(two builds' files in one daemon\\); its log: EAL: [A-Z_]+ tailq is already registered; PANIC in `,
      ),
    );
    expect(r.summary.verdict).toBe('infra-error');
  }, 120_000);

  it("a build that claims another version, or whose files are not on the DUT host, is the lab's error naming it", async () => {
    const other = builds()[1]!;
    const claims = await pvp(
      variant('claims', (doc) => {
        // In place of the other build: two builds of the same files would be refused as one.
        doc.deleteIn(['ovsDpdk', 'builds', other.name]);
        doc.setIn(['ovsDpdk', 'builds', 'claims'], doc.createNode({ dpdkVersion: '22.11.99', libDir: other.libDir, pmdDir: other.pmdDir }));
        doc.setIn(['ovsDpdk', 'build'], 'claims');
      }),
    );
    expect(claims.exitCode, claims.stderr).toBe(2);
    expect(claims.stderr).toMatch(
      new RegExp(`ovs-vswitchd is not build claims \\(DPDK 22\\.11\\.99\\): it reports DPDK ${other.dpdkVersion.replace(/\./g, '\\.')} \\(dpdk_version\\)`),
    );
    const gone = await pvp(
      variant('gone', (doc) => {
        doc.setIn(
          ['ovsDpdk', 'builds', 'gone'],
          doc.createNode({ dpdkVersion: '22.11.98', libDir: '/var/cache/dutlab/builds/none/lib', pmdDir: '/var/cache/dutlab/builds/none/pmds' }),
        );
        doc.setIn(['ovsDpdk', 'build'], 'gone');
      }),
    );
    expect(gone.exitCode, gone.stderr).toBe(2);
    // A build the testbed does not have: refused before anything touches the lab.
    const unknown = await dutlabRun(['--testbed', lab.testbedFile, '--profile', 'ovs-dpdk', '--build', 'dpdk-23.11'], reports);
    expect(unknown.exitCode).toBe(2);
    expect(unknown.stderr).toMatch(/ovsDpdk\.builds: --build dpdk-23\.11: not one of its builds \(dpdk-22\.11\.\d+, dpdk-22\.11\.\d+\)/);
    expect(unknown.summary.cases).toEqual([]);
    expect(gone.stderr).toMatch(
      /build gone: not on the DUT host: ovsDpdk\.builds\.gone\.libDir: \/var\/cache\/dutlab\/builds\/none\/lib; ovsDpdk\.builds\.gone\.pmdDir: \/var\/cache\/dutlab\/builds\/none\/pmds/,
    );
  }, 120_000);
});
