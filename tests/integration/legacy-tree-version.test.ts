// The legacy profile reads the version of the guide's DPDK tree, never the
// system's: a host with a modern DPDK installed (its libdpdk.pc says 23.11)
// beside the guide's 1.6 tree was read as too new and the whole profile
// blocked. The preflight's own command, run by sh on real files, with a
// pkg-config on PATH that would say 23.11.
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, describe, expect, it } from 'vitest';
import { dpdkTreeVersion } from '../../lib/profiles/steps/kni.js';
import { loadTestbed } from '../../lib/testbed/load.js';
import { fixturePath } from '../helpers/fixtures.js';

const dir = mkdtempSync(join(tmpdir(), 'dutlab-tree-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** DPDK 1.6.0r2's rte_version.h, the lines that say its version. */
const RTE_VERSION_1_6 = `#define RTE_VER_PREFIX "RTE"
#define RTE_VER_MAJOR 1
#define RTE_VER_MINOR 6
#define RTE_VER_PATCH_LEVEL 0
#define RTE_VER_PATCH_RELEASE 2
`;

async function versionOf(tree: string): Promise<string> {
  const bin = join(dir, 'bin');
  mkdirSync(bin, { recursive: true });
  writeFileSync(join(bin, 'pkg-config'), '#!/bin/sh\necho 23.11.1\n');
  chmodSync(join(bin, 'pkg-config'), 0o755);
  const tb = loadTestbed(fixturePath('testbeds/legacy-kni.yaml'));
  const r = await execa('sh', ['-c', dpdkTreeVersion({ ...tb, paths: { ...tb.paths, dpdkDir: tree } })], {
    env: { PATH: `${bin}:${process.env.PATH}` },
    reject: false,
  });
  return r.stdout.trim();
}

describe("the guide's DPDK tree's version", () => {
  it("is read from the tree's rte_version.h (1.6 has no VERSION file), not from the system's libdpdk", async () => {
    const tree = join(dir, 'dpdk-1.6.0r2');
    mkdirSync(join(tree, 'lib/librte_eal/common/include'), { recursive: true });
    writeFileSync(join(tree, 'lib/librte_eal/common/include/rte_version.h'), RTE_VERSION_1_6);
    expect(await versionOf(tree)).toBe('1.6.0r2');
  });

  it('is its VERSION file where the tree has one, and nothing (unknown) where it has neither', async () => {
    const tree = join(dir, 'dpdk-16.07');
    mkdirSync(tree, { recursive: true });
    writeFileSync(join(tree, 'VERSION'), '16.07.2\n');
    expect(await versionOf(tree)).toBe('16.07.2');
    const bare = join(dir, 'not-a-tree');
    mkdirSync(bare, { recursive: true });
    expect(await versionOf(bare)).toBe('');
  });
});
