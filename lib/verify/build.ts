// Whether a running ovs-vswitchd is the build it was started as (issue 43):
// the DPDK version the daemon itself reports, and each DPDK library and
// driver it has mapped one of the build's files, by content (a driver
// directory bind-mounted over the system's shows the system's paths). The
// `ovs_version` column is not read: start-up scripts write it, not the
// daemon. Pure.
import type { HashedFile } from '../parsers/file-hashes.js';

const baseName = (p: string) => p.slice(p.lastIndexOf('/') + 1);

/** A DPDK library or driver: librte_<name>.so, .so.23, .so.23.0. */
export const isDpdkLibrary = (path: string) => /^librte_[A-Za-z0-9_]+\.so(\.[\d.]+)?$/.test(baseName(path));

/** The DPDK version in dpdk_version's words: `"DPDK 22.11.7"` is 22.11.7. */
export const reportedDpdk = (column: string) =>
  column
    .trim()
    .replace(/^"|"$/g, '')
    .replace(/^DPDK /, '');

/**
 * What keeps the daemon from being the build: another version reported, no
 * DPDK library mapped, or one mapped that is none of the build's files
 * (named by path). `where` says where the build's files are, for the words.
 */
export function checkBuild(
  dpdkVersion: string,
  reported: string,
  mapped: HashedFile[],
  buildFiles: HashedFile[],
  where: string,
): { problems: string[]; libraries: number } {
  const problems: string[] = [];
  const version = reportedDpdk(reported);
  if (version !== dpdkVersion) problems.push(`it reports ${version ? `DPDK ${version}` : 'no DPDK version'} (dpdk_version)`);
  const own = new Set(buildFiles.map((f) => f.sha256));
  const dpdk = mapped.filter((f) => isDpdkLibrary(f.path));
  if (dpdk.length === 0) problems.push('it has no DPDK library mapped');
  const foreign = dpdk.filter((f) => !own.has(f.sha256));
  if (foreign.length > 0)
    problems.push(
      `${foreign.length} of the ${dpdk.length} DPDK libraries and drivers it mapped are not the build's files (${where}): ${foreign.map((f) => f.path).join(', ')}`,
    );
  return { problems, libraries: dpdk.length };
}
