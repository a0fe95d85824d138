// The built-in virtual lab: the guide's Phy->VM->Phy topology on one Linux
// machine, out of real parts. Three network namespaces stand in for the
// traffic generator, the DUT host and the guest VM; veth pairs stand in for
// the cables (TG <-> phy ports) and for the KNI vports (host portNN <-> guest
// vEth_portNN). Each namespace runs a real OpenSSH sshd; the harness reaches
// host and tg only through 127.0.0.1 forwarders and the guest only through the
// host, so no lab address is ever routed from the root namespace.
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { LocalShell } from '../transport/local.js';
import { cmd } from '../transport/quote.js';
import { loadTestbed } from '../testbed/load.js';
import type { Testbed } from '../testbed/schema.js';
import { isAlive, pidsInNetns, startTimeOf, stopProc, type ProcRecord } from './procs.js';
import { ensurePackages } from './packages.js';
import { releaseHugepages, reserveHugepages } from './hugepages.js';
import { DATAPATH_BATCH, shapeGuest } from './capacity.js';
import { pinningFor, pinSwitch, type Pinning } from './pinning.js';
import { hugepagesNeeded } from '../testbed/sizing.js';
import { ensureGuestImage } from './image.js';
import { waitUntil } from '../wait.js';
import { makeKeys, portOpen, sshdListening, startForwarder, startOvs, startSshd } from './daemons.js';
import { MGMT_GUEST, nsRoles, wire, type Datapath, type GuestKind, type Role } from './wiring.js';
import { startLabTrex, startTrexRelay, stopLabTrex, trexCore, trexLogTail, trexPrefixOf, type LabTrex } from './trex.js';
import { DPDK_RUN_DIR, giveBackDpdkRunDir } from './dpdk-run.js';
import { labTestbed, type LabTestbedState } from './lab-testbed.js';
import { prepareDpdkBuilds } from './builds.js';

export type { Datapath, GuestKind } from './wiring.js';

export const DEFAULT_LAB_ID = 'vlab';
export const DEFAULT_TEMPLATE = new URL('../../fixtures/testbeds/virtual.yaml', import.meta.url).pathname;
export const DPDK_TEMPLATE = new URL('../../fixtures/testbeds/virtual-dpdk.yaml', import.meta.url).pathname;
export const VM_TEMPLATE = new URL('../../fixtures/testbeds/virtual-vm.yaml', import.meta.url).pathname;
/** linux: tcpreplay and tcpdump in the TG namespace (the testbed's default); trex: a real TRex there (lib/vlab/trex.ts). */
export type TgKind = 'linux' | 'trex';

/** What lab up made and recorded (state.json): lab-testbed.ts's part, and the processes, the testbed file and the hugepages. */
export interface LabState extends LabTestbedState {
  processes: ProcRecord[];
  testbedFile: string;
  /** The hugepages this lab reserved (dpdk), given back at lab down. */
  hugepages?: { sizeKb: number; pages: number };
  /** /var/run/dpdk did not exist before this lab (dpdk): lab down removes it if it is empty. */
  madeDpdkRunDir?: boolean;
}

export function labNames(id: string) {
  if (!/^[a-z0-9][a-z0-9-]{0,15}$/.test(id)) throw new Error(`lab id ${JSON.stringify(id)}: use 1-16 lower-case letters, digits or '-'`);
  const stateDir = `/run/dutlab-${id}`;
  return {
    stateDir,
    namespaces: { tg: `dutlab-${id}-tg`, host: `dutlab-${id}-host`, guest: `dutlab-${id}-guest` } as Record<Role, string>,
    stateFile: join(stateDir, 'state.json'),
  };
}

export interface UpOptions {
  id?: string;
  template?: string;
  log?: (line: string) => void;
  installPackages?: boolean;
  datapath?: Datapath;
  guest?: GuestKind;
  /** Build the guest image again even if the cache has it (vm). */
  rebuildImage?: boolean;
  /** A DUT of known capacity: the guest forwards at most this many of the stream's frames a second (netns guest; lib/vlab/capacity.ts). */
  capacity?: number;
  /** The switch on CPU 0, the generator and its captures on the others (netdev datapath; lib/vlab/pinning.ts). */
  pin?: boolean;
  /** The generator in the TG namespace: the linux tools (default) or a real TRex (--tg trex). */
  tg?: TgKind;
  /** Two DPDK builds in the testbed: the installed one and the other Debian keeps, unpacked (dpdk; lib/vlab/builds.ts). */
  builds?: boolean;
}

/** What lab up checks before it touches anything: the options together, the template read. */
function upPlan(options: UpOptions) {
  if (process.getuid?.() !== 0) throw new Error('the virtual lab needs root (network namespaces, sshd)');
  const guest = options.guest ?? 'netns';
  const datapath = options.datapath ?? (guest === 'vm' ? 'dpdk' : 'netdev');
  if (guest === 'vm' && datapath !== 'dpdk') throw new Error('a VM guest sits on vhost-user ports: it needs the DPDK datapath (--datapath dpdk)');
  if (options.capacity !== undefined && (guest !== 'netns' || !Number.isInteger(options.capacity) || options.capacity < 100 || options.capacity > 1_000_000))
    throw new Error(`--capacity ${options.capacity}: whole frames/s from 100 to 1000000, on a guest namespace (not --guest vm)`);
  if (options.pin && datapath !== 'netdev') throw new Error('--pin: the netdev datapath only (the DPDK datapath takes its own CPUs: ovsDpdk.pmdCpuMask)');
  if (options.builds && datapath !== 'dpdk') throw new Error('--builds: DPDK builds, for the DPDK datapath (--datapath dpdk)');
  const pinning = options.pin ? pinningFor() : undefined;
  // The template before anything is torn down or installed: a mistyped --template leaves the existing lab as it is.
  const template = options.template ?? (guest === 'vm' ? VM_TEMPLATE : datapath === 'dpdk' ? DPDK_TEMPLATE : DEFAULT_TEMPLATE);
  return { guest, datapath, pinning, template, templateTb: loadTestbed(template) };
}

/** A lab coming up: its state (saved after each thing it starts, so that lab down finds it), its template, its log. */
interface Bringing {
  sh: LocalShell;
  state: LabState;
  tb: Testbed;
  save: () => void;
  log: (line: string) => void;
}

export async function labUp(options: UpOptions = {}): Promise<LabState> {
  const id = options.id ?? DEFAULT_LAB_ID;
  const log = options.log ?? (() => undefined);
  const names = labNames(id);
  const { guest, datapath, pinning, template, templateTb } = upPlan(options);
  if (options.installPackages !== false) await ensurePackages(log, datapath === 'dpdk', guest === 'vm');
  if (existsSync(names.stateDir) || (await existingNamespaces(id)).length > 0) {
    log(`clearing what an earlier run of lab ${id} left`);
    await labDown({ id, log });
  }
  // The image before anything of the lab exists: a build that fails leaves nothing to clear.
  const image = guest === 'vm' ? await ensureGuestImage({ log, ...(options.rebuildImage ? { rebuild: true } : {}) }) : undefined;
  // The builds too: fetched into the cache before the lab exists, never installed.
  const builds = options.builds ? await prepareDpdkBuilds(log) : undefined;
  const state: LabState = {
    id,
    stateDir: names.stateDir,
    namespaces: names.namespaces,
    forwarders: { host: 0, tg: 0 },
    processes: [],
    testbedFile: join(names.stateDir, 'testbed.yaml'),
    createdAt: new Date().toISOString(),
    datapath,
    guest,
    ...(image ? { image, kvm: await kvmUsable(log) } : {}),
    ...(builds ? { builds } : {}),
  };
  // A VM guest has its own sshd; the guest namespace exists only as the namespace guest.
  const dirs = ['keys', 'ovs', 'work', 'logs', ...(guest === 'vm' ? ['vm'] : []), ...nsRoles(guest).flatMap((r) => [`sshd-${r}`, `tmp-${r}`])];
  dirs.forEach((d) => mkdirSync(join(names.stateDir, d), { recursive: true, mode: 0o700 }));
  const up: Bringing = { sh: new LocalShell('vlab'), state, tb: templateTb, save: () => writeFileSync(names.stateFile, JSON.stringify(state, null, 2)), log };
  up.save();
  try {
    await makeKeys(up.sh, names.stateDir);
    if (datapath === 'dpdk') await reserveLabHugepages(up);
    await wire(up.sh, names.namespaces, templateTb, guest);
    log('namespaces and veth pairs wired');
    await startLabDaemons(up, pinning);
    if (options.tg === 'trex') await startLabTrexAndRelay(up);
    if (options.capacity !== undefined) {
      state.capacity = await shapeGuest(up.sh, names.namespaces, templateTb, options.capacity, join(names.stateDir, 'work'), state.trex?.rpcSocket);
      up.save();
      log(
        `the guest forwards at most ${state.capacity.fps} frames/s of the stream (a bucket of ${state.capacity.burst}: the generator's burst ${state.capacity.generatorBurst}, the datapath's batch of ${DATAPATH_BATCH} and 10 ms of frames)`,
      );
    }
    writeFileSync(state.testbedFile, labTestbed(template, state));
    if (image) {
      // For a person (or a test) reaching the guest by hand from the host's namespace: ssh -o UserKnownHostsFile=<this> -i <image>/client -p PORT root@127.0.0.1.
      const hostKey = readFileSync(join(image.dir, 'ssh_host_ed25519_key.pub'), 'utf8').split(' ').slice(0, 2).join(' ');
      writeFileSync(join(names.stateDir, 'vm', 'known_hosts'), `[127.0.0.1]:${templateTb.vm!.mgmtForwardPort} ${hostKey}\n`);
    }
    up.save();
    log(`lab ${id} is up; testbed: ${state.testbedFile}`);
    return state;
  } catch (err) {
    log(`lab up failed, clearing: ${(err as Error).message}`);
    await labDown({ id, log });
    throw err;
  }
}

/** The DPDK datapath's hugepages, recorded before they are taken: whatever happens next, lab down gives back what was reserved. */
async function reserveLabHugepages({ state, tb, save, log }: Bringing): Promise<void> {
  const pages = hugepagesNeeded(tb);
  state.madeDpdkRunDir = !existsSync(DPDK_RUN_DIR);
  await reserveHugepages(tb.ovsDpdk.hugepageSizeKb, pages);
  state.hugepages = { sizeKb: tb.ovsDpdk.hugepageSizeKb, pages };
  save();
  log(`reserved ${pages} hugepages of ${tb.ovsDpdk.hugepageSizeKb / 1024} MB`);
}

/** Each namespace's sshd, OVS (pinned where asked), the forwarders to the host's and the TG's sshd; then each answering. */
async function startLabDaemons({ sh, state, save, log }: Bringing, pinning: Pinning | undefined): Promise<void> {
  const { guest = 'netns', datapath = 'netdev' } = state;
  for (const role of nsRoles(guest)) {
    state.processes.push(startSshd(role, state.stateDir, state.namespaces[role]));
    save();
  }
  state.processes.push(...(await startOvs(sh, state.stateDir, state.namespaces.host, datapath)));
  save();
  if (pinning) {
    await pinSwitch(sh, state.processes.find((p) => p.name === 'ovs-vswitchd')!.pid, pinning);
    state.pinned = pinning;
    save();
    log(`ovs-vswitchd on CPU ${pinning.switch}, the generator and its captures on CPU ${pinning.generator}`);
  }
  log(
    datapath === 'dpdk'
      ? "ovsdb-server running in the host namespace (ovs-vswitchd is the run's)"
      : 'ovsdb-server and ovs-vswitchd running in the host namespace',
  );
  for (const role of ['host', 'tg'] as const) {
    const { port, proc } = await startForwarder(role, state.stateDir, state.namespaces[role]);
    state.forwarders[role] = port;
    state.processes.push(proc);
    save();
  }
  if (guest === 'netns') await waitUntil('the guest sshd', () => sshdListening(state.namespaces.guest, MGMT_GUEST), { timeoutMs: 10_000 });
  await Promise.all((['host', 'tg'] as const).map((r) => waitUntil(`the ${r} forwarder`, () => portOpen(state.forwarders[r]), { timeoutMs: 10_000 })));
}

/** A real TRex in the TG namespace, and the relay the controller reaches its RPC through. */
async function startLabTrexAndRelay({ sh, state, tb, save, log }: Bringing): Promise<void> {
  const trex = await startTrex(sh, state, tb);
  state.trex = trex;
  // Recorded with the lab's other processes too (what the leftover checks look for); lab down stops them first, its own way.
  state.processes.push(trex.server, ...(trex.launcher ? [trex.launcher] : []));
  save();
  const relay = await startTrexRelay(state.namespaces.tg, join(state.stateDir, 'trex'));
  state.processes.push(relay.proc);
  trex.rpcSocket = relay.socket;
  save();
  log(`TRex ${trex.version} (pid ${trex.server.pid}) listening in ${state.namespaces.tg}, on core ${trex.core}, DPDK prefix ${trex.prefix}`);
}

/** The lab's TRex on the TG's veths in the testbed's order, each port's frames (with flags 0) addressed to the DUT port it is cabled to. */
async function startTrex(sh: LocalShell, state: LabState, tb: ReturnType<typeof loadTestbed>): Promise<LabTrex> {
  const macOf = async (ns: string, ifname: string) => JSON.parse((await sh.run(cmd('ip', '-j', '-n', ns, 'link', 'show', ifname))).stdout)[0].address as string;
  const ports = [];
  for (const phy of tb.phyPorts)
    ports.push({ iface: phy.tgPort, srcMac: await macOf(state.namespaces.tg, phy.tgPort), dstMac: await macOf(state.namespaces.host, phy.name) });
  const dir = join(state.stateDir, 'trex');
  mkdirSync(join(dir, 'pcaps'), { recursive: true, mode: 0o700 });
  return startLabTrex({
    ns: state.namespaces.tg,
    dir,
    ports,
    prefix: trexPrefixOf(state.id),
    core: trexCore(state.pinned?.generator, undefined, state.datapath === 'dpdk' ? tb.ovsDpdk.pmdCpuMask : undefined),
  });
}

/**
 * Whether QEMU can run a KVM vCPU here. /dev/kvm is not enough: under nested
 * virtualisation it may exist while QEMU aborts setting the first vCPU's MSRs
 * (seen on this kind of machine). A VM with no disk that is still running
 * after a second and a half ran its firmware.
 */
async function kvmUsable(log: (line: string) => void): Promise<boolean> {
  if (!existsSync('/dev/kvm')) {
    log('no /dev/kvm: the VM runs under TCG');
    return false;
  }
  const probe = ['-accel', 'kvm', '-machine', 'q35', '-cpu', 'host', '-m', '64', '-display', 'none', '-monitor', 'none', '-serial', 'none', '-nodefaults'];
  const r = await execa('qemu-system-x86_64', probe, { reject: false, timeout: 1500, stdin: 'ignore' });
  if (r.timedOut) return true;
  log(`/dev/kvm is there but QEMU cannot run a KVM vCPU (${r.stderr.trim().split('\n')[0] ?? `exit ${r.exitCode}`}): the VM runs under TCG`);
  return false;
}

export function readState(id: string): LabState | null {
  try {
    return JSON.parse(readFileSync(labNames(id).stateFile, 'utf8')) as LabState;
  } catch {
    return null;
  }
}

async function existingNamespaces(id: string): Promise<string[]> {
  const r = await new LocalShell('vlab').run('ip netns list', { okExitCodes: [0, 1] });
  const prefix = `dutlab-${id}-`;
  return r.stdout
    .split('\n')
    .map((l) => l.split(' ')[0]!)
    .filter((n) => n.startsWith(prefix));
}

function netnsInode(ns: string): string | null {
  try {
    return `net:[${statSync(`/run/netns/${ns}`).ino}]`;
  } catch {
    return null;
  }
}

/** Removes everything labUp made. Safe to run any number of times, and after a crash. */
export async function labDown(options: { id?: string; log?: (line: string) => void } = {}): Promise<string[]> {
  const id = options.id ?? DEFAULT_LAB_ID;
  const log = options.log ?? (() => undefined);
  const names = labNames(id);
  const removed: string[] = [];
  const state = readState(id);
  // TRex first: stopped by its pid, given the time its launcher's cleanup takes, before the namespaces' sweep.
  if (state?.trex) removed.push(...(await stopLabTrex(state.trex)));
  // Forwarders first (so nothing new connects), then sshd and OVS, by recorded pid.
  const order = ['forwarder', 'sshd', 'ovs-vswitchd', 'ovsdb-server'];
  const procs = [...(state?.processes ?? [])].sort((a, b) => order.findIndex((p) => a.name.startsWith(p)) - order.findIndex((p) => b.name.startsWith(p)));
  for (const p of procs) {
    if (isAlive(p)) {
      await stopProc(p, 2000, p.name.startsWith('forwarder'));
      removed.push(`process ${p.name} (pid ${p.pid})`);
    }
  }
  // What runs inside the lab's namespaces was started by the lab or by runs
  // against it (sshd sessions, tcpdump): stop those by pid as well.
  const namespaces = [...new Set([...Object.values(names.namespaces), ...(await existingNamespaces(id))])];
  for (const ns of namespaces) {
    const inode = netnsInode(ns);
    if (inode === null) continue;
    for (const pid of pidsInNetns(inode)) {
      const startTime = startTimeOf(pid);
      if (startTime === null) continue;
      await stopProc({ name: `in ${ns}`, pid, startTime }, 1000);
      removed.push(`process ${pid} in ${ns}`);
    }
    await new LocalShell('vlab').run(cmd('ip', 'netns', 'del', ns), { okExitCodes: [0, 1] });
    removed.push(`namespace ${ns}`);
  }
  if (state?.hugepages) {
    const { sizeKb, pages } = state.hugepages;
    const given = await releaseHugepages(sizeKb, pages);
    removed.push(
      given === pages
        ? `${pages} hugepages of ${sizeKb / 1024} MB (given back)`
        : `${given} of the ${pages} hugepages of ${sizeKb / 1024} MB it reserved (given back; the pool held only ${given}: somebody else lowered it)`,
    );
  }
  if (state?.datapath === 'dpdk') {
    // What DPDK made for this lab's file prefix, and the parent if this lab made it and nothing else uses it.
    removed.push(...giveBackDpdkRunDir(`dutlab-${id}`, state.madeDpdkRunDir === true));
  }
  if (existsSync(names.stateDir)) {
    rmSync(names.stateDir, { recursive: true, force: true });
    removed.push(`state dir ${names.stateDir}`);
  }
  removed.forEach((r) => log(`removed ${r}`));
  return removed;
}

export interface LabStatus {
  id: string;
  stateDir: string | null;
  namespaces: string[];
  processes: Array<ProcRecord & { alive: boolean }>;
  forwarders: Record<string, number> | null;
  testbedFile: string | null;
  /** The lab's TRex (--tg trex): alive, or dead with what it said last. */
  trex?: { version: string; pid: number; alive: boolean; logTail?: string };
}

export async function labStatus(id = DEFAULT_LAB_ID): Promise<LabStatus> {
  const names = labNames(id);
  const state = readState(id);
  return {
    id,
    stateDir: existsSync(names.stateDir) ? names.stateDir : null,
    namespaces: await existingNamespaces(id),
    processes: (state?.processes ?? []).map((p) => ({ ...p, alive: isAlive(p) })),
    forwarders: state?.forwarders ?? null,
    testbedFile: state && existsSync(state.testbedFile) ? state.testbedFile : null,
    ...(state?.trex ? { trex: trexStatus(state.trex) } : {}),
  };
}

function trexStatus(t: LabTrex): NonNullable<LabStatus['trex']> {
  const alive = isAlive(t.server);
  return { version: t.version, pid: t.server.pid, alive, ...(alive ? {} : { logTail: trexLogTail(t) }) };
}

/** Everything of this lab that still exists: empty after a clean `lab down`. */
export async function labLeftovers(id = DEFAULT_LAB_ID, recorded: ProcRecord[] = []): Promise<string[]> {
  const st = await labStatus(id);
  const trexRun = join(DPDK_RUN_DIR, trexPrefixOf(id));
  return [
    ...st.namespaces.map((n) => `namespace ${n}`),
    ...(st.stateDir ? [`state dir ${st.stateDir}`] : []),
    ...recorded.filter(isAlive).map((p) => `process ${p.name} (pid ${p.pid})`),
    ...(existsSync(trexRun) ? [`TRex's DPDK runtime dir ${trexRun}`] : []),
  ];
}
