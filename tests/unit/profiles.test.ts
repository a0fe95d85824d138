// The profiles there are: each lib/profiles/<name>.profile.ts, found by its
// file. A new profile is its file and its steps' file, and nothing else:
// shown here with the tests' example (tests/profiles/), and by the absence of
// any list of the built-in ones.
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { PROFILE_NAMES, PROFILES_DIR, profileByName, profilesIn } from '../../lib/profiles/index.js';
import { profileProblems } from '../../lib/profiles/profile.js';
import { formatPlan, planOf } from '../../lib/scenario/plan.js';
import { loadTestbed } from '../../lib/testbed/load.js';

const EXAMPLE_DIR = join(import.meta.dirname, '..', 'profiles');
const LIB = join(import.meta.dirname, '..', '..', 'lib');
const tb = loadTestbed(join(import.meta.dirname, '..', '..', 'fixtures', 'testbeds', 'virtual.yaml'));

const tmp: string[] = [];
afterAll(() => {
  for (const d of tmp) rmSync(d, { recursive: true, force: true });
});

/** A directory holding these profile files (plain objects: no import needed). */
function dirWith(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'dutlab-profiles-'));
  tmp.push(dir);
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}

const tsFiles = (dir: string): string[] =>
  readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts'))
    .map((e) => join(e.parentPath, e.name));

describe('the profiles, each found by its file', () => {
  it('are the files lib/profiles/<name>.profile.ts, and no file of lib/ lists them', () => {
    const files = readdirSync(PROFILES_DIR).filter((f) => f.endsWith('.profile.ts'));
    expect([...PROFILE_NAMES].sort()).toEqual(files.map((f) => f.replace('.profile.ts', '')).sort());
    expect(PROFILE_NAMES).toEqual(expect.arrayContaining(['legacy-kni', 'virtual', 'ovs-dpdk']));
    // A profile's module is imported by no other file of lib/: adding one edits no list.
    const importers = tsFiles(LIB).filter((f) => !f.endsWith('.profile.ts') && /from '[^']*\.profile\.js'/.test(readFileSync(f, 'utf8')));
    expect(importers).toEqual([]);
  });

  it('takes a new profile from its file and its steps file alone: its plan has the new step, the built-in ones are unchanged', async () => {
    const all = await profilesIn([PROFILES_DIR, EXAMPLE_DIR]);
    const example = all.find((p) => p.name === 'virtual-dump-flows');
    expect(example, 'tests/profiles/virtual-dump-flows.profile.ts found').toBeDefined();
    expect(all.map((p) => p.name).filter((n) => n !== 'virtual-dump-flows')).toEqual([...PROFILE_NAMES]);
    const ids = planOf(tb, example!).map((s) => s.id);
    expect(ids.slice(ids.indexOf('host.flows'), ids.indexOf('host.flows') + 2)).toEqual(['host.flows', 'host.dump-flows']);
    const text = formatPlan(tb, example!, planOf(tb, example!));
    const step = text.slice(text.indexOf("[host] host.dump-flows: Show the bridge's flows as installed"));
    expect(step.split('\n\n')[0]).toContain(`    ovs-ofctl dump-flows ${tb.bridge}`);
    expect(profileProblems(example!, tb, 'virtual.yaml')).toBeNull();
    expect(planOf(tb, profileByName('virtual')).map((s) => s.id)).not.toContain('host.dump-flows');
  });

  it('refuses a file that is not a profile, one named apart from its file, and two of one name, naming the files', async () => {
    const noDefault = dirWith({ 'empty.profile.ts': 'export const x = 1;\n' });
    await expect(profilesIn([noDefault])).rejects.toThrow(`${join(noDefault, 'empty.profile.ts')}: a profile's file must \`export default\` its Profile`);
    const misnamed = dirWith({ 'fast.profile.ts': "export default { name: 'slow', steps: [] };\n" });
    await expect(profilesIn([misnamed])).rejects.toThrow('the profile calls itself "slow"; name it after its file, "fast"');
    const twice = dirWith({ 'virtual.profile.ts': "export default { name: 'virtual', steps: [] };\n" });
    await expect(profilesIn([PROFILES_DIR, twice])).rejects.toThrow(
      `two profiles are named "virtual": ${join(PROFILES_DIR, 'virtual.profile.ts')} and ${join(twice, 'virtual.profile.ts')}`,
    );
    expect(() => profileByName('virtual-dump-flows')).toThrow(/unknown profile "virtual-dump-flows": use one of /);
  });
});
