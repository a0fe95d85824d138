// Every profile there is: each `<name>.profile.ts` of this folder, found when
// this module loads (its default export, named after its file). A new profile
// is its file and, for steps the others do not have, its steps' file under
// steps/; no list names it (tests/unit/profiles.test.ts adds one that way).
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Profile } from './profile.js';

export type { Profile } from './profile.js';

export const PROFILES_DIR = fileURLToPath(new URL('.', import.meta.url));
const SUFFIX = '.profile.ts';

export class ProfileFileError extends Error {}

/** The profiles of these directories, by file name; a file that is not one, or two of one name, is an error naming the files. */
export async function profilesIn(dirs: readonly string[]): Promise<Profile[]> {
  const found: Array<{ profile: Profile; file: string }> = [];
  for (const dir of dirs) {
    for (const f of readdirSync(dir)
      .filter((x) => x.endsWith(SUFFIX))
      .sort()) {
      const file = join(dir, f);
      const name = f.slice(0, -SUFFIX.length);
      const profile = ((await import(pathToFileURL(file).href)) as { default?: Profile }).default;
      if (!profile?.name || !Array.isArray(profile.steps)) throw new ProfileFileError(`${file}: a profile's file must \`export default\` its Profile`);
      if (profile.name !== name)
        throw new ProfileFileError(`${file}: the profile calls itself ${JSON.stringify(profile.name)}; name it after its file, ${JSON.stringify(name)}`);
      const same = found.find((p) => p.profile.name === name);
      if (same) throw new ProfileFileError(`two profiles are named ${JSON.stringify(name)}: ${same.file} and ${file}`);
      found.push({ profile, file });
    }
  }
  return found.map((p) => p.profile);
}

export const PROFILES: readonly Profile[] = await profilesIn([PROFILES_DIR]);
export const PROFILE_NAMES: string[] = PROFILES.map((p) => p.name);

export function profileByName(name: string): Profile {
  const p = PROFILES.find((x) => x.name === name);
  if (!p) throw new Error(`unknown profile ${JSON.stringify(name)}: use one of ${PROFILE_NAMES.join(', ')}`);
  return p;
}
