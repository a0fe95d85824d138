// Two DPDK builds on the virtual lab (`lab up --builds`, issue 43): the DPDK
// the machine has installed (Debian's, which ovs-vswitchd-dpdk links as
// shared libraries) and the other point release Debian's archives keep (the
// main archive and the security archive keep one each: found with
// `apt-cache madison`, never named here), its packages fetched with
// `apt-get download` and unpacked with `dpkg-deb -x` into dutlab's cache,
// never installed: the machine's packages are never changed. Only the DPDK
// packages installed are fetched, so both builds have the same libraries and
// drivers. One ovs-vswitchd-dpdk runs with either (ABI-compatible releases).
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { LocalShell } from '../transport/local.js';
import { cmd } from '../transport/quote.js';

export const BUILDS_CACHE = '/var/cache/dutlab/builds';
/** The package whose version is DPDK's: its EAL. */
const EAL_PACKAGE = 'librte-eal23';
const LIB_DIR = 'usr/lib/x86_64-linux-gnu';

/** A build as the lab's testbed names it (ovsDpdk.builds). */
export interface LabBuild {
  name: string;
  dpdkVersion: string;
  /** Side by side: its libraries and its drivers (absent: the system's). */
  libDir?: string;
  pmdDir?: string;
}

/** Debian's version of a DPDK package as DPDK says its own: `22.11.7-1~deb12u1` is 22.11.7. */
export const upstreamVersion = (debian: string): string => debian.replace(/^\d+:/, '').replace(/-[^-]*$/, '');

/** The versions `apt-cache madison` lists for a package, as they are. */
export const madisonVersions = (text: string): string[] =>
  text
    .split('\n')
    .map((l) => l.split('|').map((x) => x.trim()))
    .filter((f) => f.length >= 3 && f[1])
    .map((f) => f[1]!);

/** The installed DPDK and the other release the archives keep; null where they keep none (or apt has not been updated). */
export async function dpdkReleases(sh: LocalShell): Promise<{ installed: string; other: string | null; packages: string[] }> {
  const installed = (await sh.run(cmd('dpkg-query', '-W', '-f=${Version}', EAL_PACKAGE))).stdout.trim();
  const listed = madisonVersions((await sh.run(cmd('apt-cache', 'madison', EAL_PACKAGE))).stdout);
  const other = listed.find((v) => upstreamVersion(v) !== upstreamVersion(installed)) ?? null;
  // Installed ones only ("ii"): a package apt knows of but the machine lacks is no part of the build.
  const status = (await sh.run(cmd('dpkg-query', '-W', '-f=${db:Status-Abbrev} ${Package}\n', 'librte-*'))).stdout;
  const packages = status
    .split('\n')
    .filter((l) => l.startsWith('ii '))
    .map((l) => l.slice(3).trim())
    .filter(Boolean);
  return { installed, other, packages };
}

/** The system's build: the installed DPDK, as the loader and the EAL find it. */
const systemBuild = (installed: string): LabBuild => ({ name: `dpdk-${upstreamVersion(installed)}`, dpdkVersion: upstreamVersion(installed) });

/**
 * The other release unpacked into the cache (once: a second lab up finds it
 * there). Built in a directory of its own and renamed into place, so that a
 * build cut short is never taken for a whole one.
 */
async function unpackedBuild(sh: LocalShell, version: string, packages: string[], log: (line: string) => void): Promise<LabBuild> {
  const upstream = upstreamVersion(version);
  const dir = join(BUILDS_CACHE, `dpdk-${upstream}`);
  if (!existsSync(join(dir, 'complete'))) {
    log(`fetching Debian's DPDK ${version} (${packages.length} packages) into ${dir}, never installed`);
    const work = `${dir}.part-${process.pid}`;
    rmSync(work, { recursive: true, force: true });
    mkdirSync(join(work, 'debs'), { recursive: true });
    try {
      await sh.run(cmd('apt-get', 'download', '-q', '-o', 'APT::Sandbox::User=root', ...packages.map((p) => `${p}=${version}`)), {
        cwd: join(work, 'debs'),
        timeoutMs: 300_000,
      });
      for (const deb of readdirSync(join(work, 'debs')).filter((f) => f.endsWith('.deb')))
        await sh.run(cmd('dpkg-deb', '-x', join(work, 'debs', deb), join(work, 'root')));
      writeFileSync(join(work, 'complete'), `${version}\n${packages.join('\n')}\n`);
      rmSync(dir, { recursive: true, force: true });
      renameSync(work, dir);
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  }
  const libDir = join(dir, 'root', LIB_DIR);
  const pmds = readdirSync(join(libDir, 'dpdk')).find((d) => d.startsWith('pmds-'));
  if (!pmds) throw new Error(`${libDir}/dpdk holds no pmds-* directory: the unpacked DPDK ${version} has no drivers`);
  return { name: `dpdk-${upstream}`, dpdkVersion: upstream, libDir, pmdDir: join(libDir, 'dpdk', pmds) };
}

/** Both builds, the installed one first; the other fetched and unpacked where the cache lacks it. */
export async function prepareDpdkBuilds(log: (line: string) => void): Promise<LabBuild[]> {
  const sh = new LocalShell('builds');
  const { installed, other, packages } = await dpdkReleases(sh);
  if (!other)
    throw new Error(
      `Debian's archives list no DPDK release but the installed ${installed} (apt-cache madison ${EAL_PACKAGE}): run apt-get update, with bookworm-security in the sources`,
    );
  return [systemBuild(installed), await unpackedBuild(sh, other, packages, log)];
}
