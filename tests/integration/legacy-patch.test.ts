// The guide's `patch -N -p1 < rte_kni_module_1_6.patch` exits 1 both for a
// patch applied before (skipped) and for one that failed: the legacy profile
// believes "already applied" only when reversing it would apply cleanly.
// Real patch(1) on real files, the step's own command line.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, describe, expect, it } from 'vitest';
import { guestBuildDpdk } from '../../lib/profiles/steps/kni.js';
import { legacyKni } from '../../lib/profiles/legacy-kni.profile.js';
import { loadTestbed } from '../../lib/testbed/load.js';
import { fixturePath } from '../helpers/fixtures.js';

const dir = mkdtempSync(join(tmpdir(), 'dutlab-patch-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const PATCH = `--- a/lib/kni.c
+++ b/lib/kni.c
@@ -1,3 +1,3 @@
 one
-two
+two, patched for KNI
 three
`;

/** The step's patch line, run in a tree of its own (the guide's DPDK directory), with this patch. */
async function applyInTree(tree: string, patch: string): Promise<number> {
  const tb = loadTestbed(fixturePath('testbeds/legacy-kni.yaml'));
  const file = join(tree, 'kni.patch');
  writeFileSync(file, patch);
  const [apply, proof] = guestBuildDpdk.commands({ tb: { ...tb, guestBuild: { ...tb.guestBuild, patch: file } }, profile: legacyKni } as never);
  // As the step runs them: the guide's line (exit 1 allowed), then the proof that the patch is in.
  const a = (await execa('sh', ['-c', apply!.line], { cwd: tree, reject: false })).exitCode ?? -1;
  if (!apply!.okExitCodes?.includes(a)) return a;
  return (await execa('sh', ['-c', proof!.line], { cwd: tree, reject: false })).exitCode ?? -1;
}

function tree(name: string, second: string): string {
  const t = join(dir, name);
  mkdirSync(join(t, 'lib'), { recursive: true });
  writeFileSync(join(t, 'lib/kni.c'), `one\n${second}\nthree\n`);
  return t;
}

describe("the guide's KNI patch", () => {
  it('applies it, and on a tree where it is applied already says so (exit 0) and changes nothing', async () => {
    const t = tree('fresh', 'two');
    expect(await applyInTree(t, PATCH)).toBe(0);
    expect(readFileSync(join(t, 'lib/kni.c'), 'utf8')).toBe('one\ntwo, patched for KNI\nthree\n');
    expect(await applyInTree(t, PATCH)).toBe(0);
    expect(readFileSync(join(t, 'lib/kni.c'), 'utf8')).toBe('one\ntwo, patched for KNI\nthree\n');
  });

  it('fails the step on a tree the patch does not fit (not "already applied")', async () => {
    const t = tree('other', 'two, changed upstream');
    expect(await applyInTree(t, PATCH)).not.toBe(0);
  });
});
