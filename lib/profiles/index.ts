// Every profile by name. A new profile is a file beside these and a line here.
import { legacyKni } from './legacy-kni.js';
import { ovsDpdk } from './ovs-dpdk.js';
import type { Profile } from './profile.js';
import { virtual } from './virtual.js';

export type { Profile } from './profile.js';
export { legacyKni } from './legacy-kni.js';
export { virtual } from './virtual.js';
export { ovsDpdk } from './ovs-dpdk.js';

export const PROFILES: readonly Profile[] = [legacyKni, virtual, ovsDpdk];
export const PROFILE_NAMES: string[] = PROFILES.map((p) => p.name);

export function profileByName(name: string): Profile {
  const p = PROFILES.find((x) => x.name === name);
  if (!p) throw new Error(`unknown profile ${JSON.stringify(name)}: use one of ${PROFILE_NAMES.join(', ')}`);
  return p;
}
