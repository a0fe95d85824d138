// The virtual lab's VM guest image: a small Debian built with mmdebstrap from
// the mirror this machine's apt already uses (no other network), its kernel
// and initrd beside an ext4 disk made without a loop device (mkfs.ext4 -d).
// A minimal init (guest-init.sh) instead of systemd: under TCG it boots in
// half the time. Cached by a key over everything that shapes the image, so a
// second `lab up` does not rebuild it.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { execa } from 'execa';
import { fingerprintOf } from '../transport/known-hosts.js';
import { LocalShell } from '../transport/local.js';
import { cmd, shq } from '../transport/quote.js';
import { startTimeOf } from './procs.js';

export const IMAGE_CACHE = '/var/cache/dutlab/images';
const INIT_SCRIPT = new URL('./guest-init.sh', import.meta.url).pathname;
/** Raise when the build itself changes in a way the inputs below do not show. */
const BUILD_FORMAT = 1;

/**
 * What the guest runs: the kernel (the cloud flavour: virtio, no firmware),
 * the initramfs tools that load its virtio modules, OpenSSH, and the guide's
 * tools (ifconfig, route and arp from net-tools; sysctl from procps) with
 * those the checks and suites use (nftables, tcpdump, ethtool).
 */
export const GUEST_PACKAGES = [
  'linux-image-cloud-amd64',
  'initramfs-tools',
  'kmod',
  // mount(8) is not essential: the init mounts /proc, /sys, /run and /tmp with it.
  'mount',
  'openssh-server',
  'iproute2',
  'net-tools',
  'procps',
  'nftables',
  'tcpdump',
  'ethtool',
  'iputils-ping',
  // DPDK's testpmd (Debian 12 ships it in dpdk-dev) and dpdk-telemetry.py: the guest that forwards with DPDK (vm.forwarding: testpmd).
  'dpdk-dev',
] as const;

/** The virtio drivers the initramfs must load: the cloud kernel has them as modules (ext4 is built in). */
const INITRAMFS_MODULES = ['virtio_pci', 'virtio_blk', 'virtio_net'];
const DISK_SIZE = '2G';

export interface GuestImage {
  dir: string;
  key: string;
  kernel: string;
  initrd: string;
  disk: string;
  /** The key the harness logs in with (root). */
  clientKey: string;
  /** The guest sshd's ed25519 host key fingerprint, pinned in the lab testbed. */
  hostKeyFingerprint: string;
  kernelVersion: string;
}

interface ImageMeta {
  key: string;
  inputs: Record<string, unknown>;
  kernelVersion: string;
  builtAt: string;
  buildSeconds: number;
}

/** The suite the guest is built from: the host's own (apt's sources), so the mirror is the one apt already uses. */
function hostSuite(): string {
  const m = /^VERSION_CODENAME=(\w+)/m.exec(readFileSync('/etc/os-release', 'utf8'));
  if (!m) throw new Error('/etc/os-release names no VERSION_CODENAME: cannot tell which Debian suite the guest is built from');
  return m[1]!;
}

/** Everything that shapes the image: the suite, each package's candidate version, the init, the build steps. */
async function imageInputs(sh: LocalShell): Promise<Record<string, unknown>> {
  const policy = await sh.run(cmd('apt-cache', 'policy', ...GUEST_PACKAGES), { timeoutMs: 60_000 });
  const versions: Record<string, string> = {};
  let pkg = '';
  for (const line of policy.stdout.split('\n')) {
    const name = /^(\S+):$/.exec(line);
    if (name) pkg = name[1]!;
    const cand = /^\s+Candidate: (\S+)/.exec(line);
    if (cand && pkg) versions[pkg] = cand[1]!;
  }
  const unknown = GUEST_PACKAGES.filter((p) => !versions[p] || versions[p] === '(none)');
  if (unknown.length > 0) throw new Error(`apt knows no candidate for ${unknown.join(', ')}: run apt-get update, or check apt's sources`);
  const mmdebstrap = (await sh.run('mmdebstrap --version')).stdout.trim();
  return {
    format: BUILD_FORMAT,
    suite: hostSuite(),
    versions,
    init: readFileSync(INIT_SCRIPT, 'utf8'),
    initramfsModules: INITRAMFS_MODULES,
    disk: DISK_SIZE,
    mmdebstrap,
  };
}

const keyOf = (inputs: Record<string, unknown>) => createHash('sha256').update(JSON.stringify(inputs)).digest('hex').slice(0, 16);

function load(dir: string): GuestImage | null {
  try {
    const meta = JSON.parse(readFileSync(join(dir, 'image.json'), 'utf8')) as ImageMeta;
    const img = files(dir, meta);
    for (const f of [img.kernel, img.initrd, img.disk, img.clientKey]) if (!existsSync(f)) return null;
    return img;
  } catch {
    return null;
  }
}

function files(dir: string, meta: ImageMeta): GuestImage {
  const hostPub = readFileSync(join(dir, 'ssh_host_ed25519_key.pub'), 'utf8').split(' ')[1]!;
  return {
    dir,
    key: meta.key,
    kernel: join(dir, 'vmlinuz'),
    initrd: join(dir, 'initrd.img'),
    disk: join(dir, 'root.ext4'),
    clientKey: join(dir, 'client'),
    hostKeyFingerprint: fingerprintOf(Buffer.from(hostPub, 'base64')),
    kernelVersion: meta.kernelVersion,
  };
}

/** Build directories whose builder is gone (a killed `lab image`): removed before a new build. */
function sweepStaleBuilds(log: (line: string) => void): void {
  if (!existsSync(IMAGE_CACHE)) return;
  for (const name of readdirSync(IMAGE_CACHE)) {
    const m = /^\.build-(\d+)-(\d+)$/.exec(name);
    if (!m || startTimeOf(Number(m[1])) === m[2]) continue;
    rmSync(join(IMAGE_CACHE, name), { recursive: true, force: true });
    log(`removed ${name}, left by a build that did not finish`);
  }
}

export interface ImageOptions {
  log?: (line: string) => void;
  /** Build again even if the cache holds an image for these inputs. */
  rebuild?: boolean;
}

/** The guest image for the current inputs: from the cache, or built (about a minute). */
export async function ensureGuestImage(options: ImageOptions = {}): Promise<GuestImage> {
  const log = options.log ?? (() => undefined);
  const sh = new LocalShell('image');
  for (const tool of ['mmdebstrap', 'mkfs.ext4', 'apt-cache']) {
    if ((await sh.run(`command -v ${tool}`, { okExitCodes: [0, 1] })).exitCode !== 0)
      throw new Error(`the guest image needs ${tool} (Debian: ${tool === 'mkfs.ext4' ? 'e2fsprogs' : tool === 'apt-cache' ? 'apt' : tool})`);
  }
  const inputs = await imageInputs(sh);
  const key = keyOf(inputs);
  const dir = join(IMAGE_CACHE, key);
  const cached = options.rebuild ? null : load(dir);
  if (cached) {
    log(`guest image ${key} from the cache (${dir})`);
    return cached;
  }
  mkdirSync(IMAGE_CACHE, { recursive: true, mode: 0o700 });
  sweepStaleBuilds(log);
  const build = join(IMAGE_CACHE, `.build-${process.pid}-${startTimeOf(process.pid)}`);
  const started = Date.now();
  try {
    const meta = await buildInto(sh, build, inputs, key, log);
    meta.buildSeconds = Math.round((Date.now() - started) / 100) / 10;
    writeFileSync(join(build, 'image.json'), `${JSON.stringify(meta, null, 2)}\n`);
    rmSync(dir, { recursive: true, force: true });
    renameSync(build, dir);
    log(`guest image ${key} built in ${meta.buildSeconds} s: kernel ${meta.kernelVersion}, ${dir}`);
    // The images of earlier inputs will not boot again (their packages are gone from the mirror): 400 MB each, given back.
    for (const old of cachedImages().filter((i) => i.key !== key)) {
      rmSync(old.dir, { recursive: true, force: true });
      log(`removed the guest image ${old.key} of earlier inputs`);
    }
    return files(dir, meta);
  } finally {
    rmSync(build, { recursive: true, force: true });
  }
}

async function buildInto(sh: LocalShell, build: string, inputs: Record<string, unknown>, key: string, log: (l: string) => void): Promise<ImageMeta> {
  const rootfs = join(build, 'rootfs');
  mkdirSync(build, { recursive: true, mode: 0o700 });
  // The harness's login key: made for this image, kept beside it (the image's root trusts only it).
  await sh.run(cmd('ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-C', `dutlab-guest-${key}`, '-f', join(build, 'client')));
  const modules = INITRAMFS_MODULES.join('\\n');
  const hooks = [
    // The virtio drivers into the initramfs, which is made again with them.
    `printf '${modules}\\n' >> "$1/etc/initramfs-tools/modules" && chroot "$1" update-initramfs -u -k all`,
    `install -D -m 0755 ${shq(INIT_SCRIPT)} "$1/sbin/dutlab-init"`,
    `install -D -m 0600 ${shq(join(build, 'client.pub'))} "$1/root/.ssh/authorized_keys" && chmod 0700 "$1/root/.ssh"`,
    // The guest's host keys are made once, here, so that the lab can pin them.
    `rm -f "$1"/etc/ssh/ssh_host_* && ssh-keygen -q -t ed25519 -N '' -C dutlab-guest -f "$1/etc/ssh/ssh_host_ed25519_key"`,
    `cp "$1/etc/ssh/ssh_host_ed25519_key.pub" ${shq(build)}/`,
    `cp "$1"/boot/vmlinuz-* ${shq(build)}/vmlinuz && cp "$1"/boot/initrd.img-* ${shq(build)}/initrd.img && ls "$1/lib/modules" > ${shq(build)}/kernel-version`,
  ];
  log(`building the guest image ${key} with mmdebstrap (${inputs.suite}; about a minute)`);
  await mmdebstrap(
    ['--variant=apt', '--mode=root', `--include=${GUEST_PACKAGES.join(',')}`, ...hooks.map((h) => `--customize-hook=${h}`), String(inputs.suite), rootfs],
    log,
  );
  log(`making the disk (mkfs.ext4 -d, ${DISK_SIZE})`);
  await sh.run(cmd('mkfs.ext4', '-q', '-F', '-L', 'dutlab-guest', '-d', rootfs, join(build, 'root.ext4'), DISK_SIZE), { timeoutMs: 120_000 });
  rmSync(rootfs, { recursive: true, force: true });
  const kernelVersion = readFileSync(join(build, 'kernel-version'), 'utf8').trim();
  return { key, inputs, kernelVersion, builtAt: new Date().toISOString(), buildSeconds: 0 };
}

/** The images in the cache, newest first (for `lab image --list`). */
export function cachedImages(): Array<{ key: string; dir: string; builtAt: string; bytes: number }> {
  if (!existsSync(IMAGE_CACHE)) return [];
  return readdirSync(IMAGE_CACHE)
    .filter((n) => !n.startsWith('.'))
    .flatMap((key) => {
      const dir = join(IMAGE_CACHE, key);
      try {
        const meta = JSON.parse(readFileSync(join(dir, 'image.json'), 'utf8')) as ImageMeta;
        const bytes = ['vmlinuz', 'initrd.img', 'root.ext4'].reduce((n, f) => n + statSync(join(dir, f)).blocks * 512, 0);
        return [{ key, dir, builtAt: meta.builtAt, bytes }];
      } catch {
        return [];
      }
    })
    .sort((a, b) => b.builtAt.localeCompare(a.builtAt));
}

/** mmdebstrap, its progress lines ("I: ...") passed on as they come; the tail of its output in the error if it fails. */
async function mmdebstrap(args: string[], log: (l: string) => void): Promise<void> {
  const child = execa('mmdebstrap', args, { reject: false, all: true, timeout: 600_000, stdin: 'ignore' });
  const lines: string[] = [];
  createInterface({ input: child.all! }).on('line', (l) => {
    lines.push(l);
    if (lines.length > 40) lines.shift();
    // Its hooks are echoed whole: the first words say which.
    if (l.startsWith('I: ')) log(`mmdebstrap: ${l.length > 110 ? `${l.slice(3, 110)}…` : l.slice(3)}`);
  });
  const r = await child;
  if (r.exitCode !== 0)
    throw new Error(`mmdebstrap ${r.timedOut ? 'timed out' : `exited ${r.exitCode ?? r.signal}`}; its output ends:\n${lines.slice(-15).join('\n')}`);
}
