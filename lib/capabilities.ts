// What a lab can do, and what a suite, a case or a profile needs of it. A
// lab that lacks something does not fail: what needs it is *blocked*, with
// the reason, and kept apart from what was skipped because something failed
// (DTS's capabilities, pytest's skip-with-reason). Pure: no I/O.

/**
 * A feature of a lab. `guest`: something that forwards behind the VM-side
 * ports (the namespace guest of the virtual lab is one); `vm`: a real virtual
 * machine; `dpdk`: a DPDK datapath; `kni`: DPDK's kernel NIC interface;
 * `ivshmem`: QEMU's shared-memory device with DPDK's metadata; `ovs-dpdk-fork`:
 * the Intel DPDK vSwitch's tools (ovs_dpdk, ovs-ivshm-mngr); `dpdk-ports`:
 * upstream OVS's `type=dpdk` ports; `tap`: the tap PMD; `vhost-user`: vhost-user ports;
 * `guest-router`: the guest forwards in its kernel (its routes, ARP entries
 * and sysctls are the guide's); `testpmd`: it forwards with DPDK's testpmd.
 */
export const FEATURES = ['guest', 'vm', 'dpdk', 'kni', 'ivshmem', 'ovs-dpdk-fork', 'dpdk-ports', 'tap', 'vhost-user', 'guest-router', 'testpmd'] as const;
export type Feature = (typeof FEATURES)[number];

/** Software whose version a requirement may bound. */
export type Component = 'ovs' | 'dpdk' | 'hostKernel' | 'guestKernel';

export interface Requirement {
  feature: Feature;
  /** A version range, on one component: at least `atLeast`, and before `below`. */
  version?: { component: Component; atLeast?: string; below?: string };
  /** Why the bound exists, as the reason shows it: "KNI was removed in DPDK 23.11". */
  why?: string;
}

export interface LabCapabilities {
  features: ReadonlySet<Feature>;
  /** As the lab printed them ("DPDK 22.11.11", "6.1.0-28-amd64"); a missing one is not known yet. */
  versions: Partial<Record<Component, string>>;
}

/** What DPDK's releases removed that the guide stands on (DPDK release notes 16.11 and 23.11). */
export const IVSHMEM_REMOVED: Requirement = {
  feature: 'ivshmem',
  version: { component: 'dpdk', below: '16.11' },
  why: 'IVSHMEM was removed in DPDK 16.11',
};
export const KNI_REMOVED: Requirement = { feature: 'kni', version: { component: 'dpdk', below: '23.11' }, why: 'KNI was removed in DPDK 23.11' };

const COMPONENT_NAMES: Record<Component, string> = { ovs: 'Open vSwitch', dpdk: 'DPDK', hostKernel: 'the host kernel', guestKernel: 'the guest kernel' };

/** The first dotted number in a version text ("DPDK 22.11.11" → [22, 11, 11]), or null. */
export function parseVersion(text: string): number[] | null {
  const m = /(\d+(?:\.\d+)+|\d+)/.exec(text);
  return m ? m[1]!.split('.').map(Number) : null;
}

/** Compares dotted versions part by part; a missing part counts as 0 (23.11 = 23.11.0). */
export function compareVersions(a: number[], b: number[]): number {
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const d = (a[i] ?? 0) - (b[i] ?? 0);
    if (d !== 0) return Math.sign(d);
  }
  return 0;
}

/** Why one requirement is not met by the lab, or null when it is (or cannot be judged yet: an unknown version). */
export function unmetBy(req: Requirement, lab: LabCapabilities): string | null {
  if (!lab.features.has(req.feature)) return `blocked: this lab has no ${req.feature}${req.why ? ` (${req.why})` : ''}`;
  const range = req.version;
  if (!range) return null;
  const text = lab.versions[range.component];
  const have = text ? parseVersion(text) : null;
  if (!have) return null;
  const name = COMPONENT_NAMES[range.component];
  const tooNew = range.below !== undefined && compareVersions(have, parseVersion(range.below)!) >= 0;
  const tooOld = range.atLeast !== undefined && compareVersions(have, parseVersion(range.atLeast)!) < 0;
  if (!tooNew && !tooOld) return null;
  const wanted = [range.atLeast && `${range.atLeast} or later`, range.below && `before ${range.below}`].filter(Boolean).join(' and ');
  return `blocked: ${req.why ?? `${req.feature} needs ${name} ${wanted}`}, this host has ${have.join('.')}`;
}

/** A requirement as the capability matrix shows it: met, not met, or not yet known (a version not read). */
export function requirementRow(req: Requirement, lab: LabCapabilities): { requirement: string; lab: string; met: boolean | null } {
  const known = !req.version || parseVersion(lab.versions[req.version.component] ?? '') !== null || !lab.features.has(req.feature);
  return { requirement: `${describeRequirement(req)}${req.why ? ` (${req.why})` : ''}`, lab: labFor(req, lab), met: known ? unmetBy(req, lab) === null : null };
}

/** The reason the first unmet requirement gives, or null when the lab meets them all. */
export function unmet(reqs: readonly Requirement[], lab: LabCapabilities): string | null {
  for (const r of reqs) {
    const why = unmetBy(r, lab);
    if (why) return why;
  }
  return null;
}

/** The reason every time: "blocked: ..." is how a blocked case's message starts. */
export const isBlocked = (message: string | undefined): boolean => message?.startsWith('blocked: ') ?? false;

/** A requirement as a person reads it: "kni, DPDK before 23.11 (KNI was removed in DPDK 23.11)". */
export function describeRequirement(req: Requirement): string {
  const r = req.version;
  const range = r
    ? `, ${COMPONENT_NAMES[r.component]}${r.atLeast ? ` ${r.atLeast} or later` : ''}${r.atLeast && r.below ? ' and' : ''}${r.below ? ` before ${r.below}` : ''}`
    : '';
  return `${req.feature}${range}`;
}

/** What the lab has for a requirement: the feature, and the version it bounds. */
export function labFor(req: Requirement, lab: LabCapabilities): string {
  if (!lab.features.has(req.feature)) return `no ${req.feature}`;
  const v = req.version && lab.versions[req.version.component];
  return req.version ? `${req.feature}, ${v ?? `${COMPONENT_NAMES[req.version.component]} not read`}` : req.feature;
}
