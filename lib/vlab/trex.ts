// A real TRex in the virtual lab's TG namespace (lab up --tg trex): the
// stateless server built from trex-core's sources (../shared/trex, or where
// DUTLAB_TREX_DIR points: a dependency like a Debian package, never copied
// into the project), started with its own start.sh in software mode on the
// TG's two veths (DPDK's af_packet driver: no hugepages, no NIC binding),
// `low_end` on the generator's CPU, its own DPDK file prefix, `--hdrh`.
// Recorded by pid and start time, stopped by pid; what a start leaves on
// the machine (/run/dpdk/<prefix>, /tmp/trex-bird) is given back at lab down.
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { orOnTimeout, waitUntil } from '../wait.js';
import { DPDK_RUN_DIR, giveBackDpdkRunDir } from './dpdk-run.js';
import { isAlive, parentOf, spawnDaemon, startTimeOf, stopProc, type ProcRecord } from './procs.js';

export const DEFAULT_TREX_DIR = new URL('../../../shared/trex', import.meta.url).pathname;
/** The upstream launcher makes it at every start and exit (README of ../shared/trex); the lab starts no BIRD. */
export const TREX_BIRD_DIR = '/tmp/trex-bird';
/** Says a lab made /tmp/trex-bird: the last lab TRex to stop removes both (labs come up and go down in any order). */
const BIRD_MARK = '/run/dutlab-trex-bird';
/** TRex's JSON-RPC port inside the TG namespace (its default). */
export const TREX_RPC_PORT = 4501;

/** The DPDK file prefix of a lab's TRex (its runtime dir is /var/run/dpdk/<this>). */
export const trexPrefixOf = (labId: string): string => `dutlab-${labId}-trex`;

/** Where the TRex package is: DUTLAB_TREX_DIR, else ../shared/trex beside the project. */
export function trexDir(): string {
  return process.env.DUTLAB_TREX_DIR ?? DEFAULT_TREX_DIR;
}

export interface LabTrex {
  /** `_t-rex-64` itself, and its launcher (upstream's t-rex-64 script, which cleans up after the server exits). */
  server: ProcRecord;
  launcher: ProcRecord | null;
  /** DPDK's --file-prefix of this instance. */
  prefix: string;
  cfg: string;
  log: string;
  /** TRex's port ids by the testbed's port names (the TG's veths). */
  ports: Record<string, number>;
  /** The core `low_end` pins every TRex thread to. */
  core: number;
  version: string;
  /** /tmp/trex-bird was not there before this lab's TRex started (the last lab TRex to stop removes it). */
  madeBird: boolean;
  /** /var/run/dpdk was not there before: lab down removes it if it is empty. */
  madeDpdkRunDir: boolean;
  /** The relay's Unix socket (ZeroMQ: ipc://<this>) to TRex's RPC port. */
  rpcSocket?: string;
}

export class LabTrexError extends Error {}

/** One port of the platform config: its veth, the MAC TRex writes as source and the DUT port's as destination (used only with flags 0). */
export interface TrexPortCfg {
  iface: string;
  srcMac: string;
  dstMac: string;
}

/** trex_cfg.yaml for software mode on the TG's veths (../shared/trex/trex_cfg.example.yaml's shape). */
export function trexConfig(ports: TrexPortCfg[], prefix: string, core: number): string {
  if (!/^[a-z0-9][a-z0-9-]{0,40}$/.test(prefix)) throw new LabTrexError(`TRex prefix ${JSON.stringify(prefix)}: lower-case letters, digits and '-'`);
  const mac = (m: string) => {
    if (!/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i.test(m)) throw new LabTrexError(`TRex port MAC ${JSON.stringify(m)} is not a MAC address`);
    return m.toLowerCase();
  };
  for (const p of ports)
    if (!/^[A-Za-z0-9_.-]{1,15}$/.test(p.iface)) throw new LabTrexError(`TRex interface ${JSON.stringify(p.iface)} is not an interface name`);
  return [
    "# Written by `dutlab lab up --tg trex`: TRex in software mode on the TG namespace's veths (../shared/trex/README.md).",
    '- version: 2',
    `  port_limit: ${ports.length}`,
    `  interfaces: [${ports.map((p) => `'${p.iface}'`).join(', ')}]`,
    '  low_end: true',
    `  low_end_core: ${core}`,
    `  prefix: ${prefix}`,
    '  port_info:',
    ...ports.flatMap((p) => [`    - src_mac: '${mac(p.srcMac)}'`, `      dest_mac: '${mac(p.dstMac)}'`]),
    '',
  ].join('\n');
}

/**
 * The generator's core: the first of the CPUs --pin gives the generator;
 * else the last CPU that is not a PMD core of the DPDK datapath (`low_end`
 * TRex shares its core: beside a PMD it starved, and stopped answering its
 * RPC within 10 s), else the last CPU.
 */
export function trexCore(generatorCpus?: string, cpuCount = cpus().length, pmdMask?: string): number {
  if (generatorCpus) return Number(/^\d+/.exec(generatorCpus)?.[0] ?? 0);
  const pmd = (cpu: number) => pmdMask !== undefined && ((BigInt(pmdMask) >> BigInt(cpu)) & 1n) === 1n;
  for (let cpu = cpuCount - 1; cpu >= 0; cpu--) if (!pmd(cpu)) return cpu;
  return Math.max(0, cpuCount - 1);
}

const tail = (file: string, lines = 15) => {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
};

/**
 * Starts TRex in the namespace with the config and waits until it listens
 * (start.sh's own bounded wait); a TRex that fails to start is named with
 * its log's tail, and nothing of it is left running.
 */
export async function startLabTrex(o: { ns: string; dir: string; ports: TrexPortCfg[]; prefix: string; core: number }): Promise<LabTrex> {
  const home = trexDir();
  const startSh = join(home, 'start.sh');
  if (!existsSync(startSh))
    throw new LabTrexError(`no TRex at ${home} (start.sh missing): put ../shared/trex beside the project or point DUTLAB_TREX_DIR at a copy`);
  const cfg = join(o.dir, 'trex_cfg.yaml');
  const log = join(o.dir, 'trex.log');
  writeFileSync(cfg, trexConfig(o.ports, o.prefix, o.core));
  const madeBird = !existsSync(TREX_BIRD_DIR);
  if (madeBird) writeFileSync(BIRD_MARK, `${TREX_BIRD_DIR} was made by a dutlab lab's TRex (${o.ns})\n`);
  const madeDpdkRunDir = !existsSync(DPDK_RUN_DIR);
  const r = await execa(startSh, [o.ns, cfg, log], { reject: false, stdin: 'ignore', env: { TREX_START_TIMEOUT: '60' }, timeout: 90_000 });
  const pid = Number(r.stdout.trim());
  const startTime = r.exitCode === 0 && Number.isInteger(pid) ? startTimeOf(pid) : null;
  if (startTime === null) {
    giveBackBird();
    throw new LabTrexError(`TRex did not start in ${o.ns} (start.sh exit ${r.exitCode}): ${r.stderr.trim().split('\n').slice(0, 1).join('')}\n${tail(log)}`);
  }
  const server = { name: 'trex', pid, startTime };
  const ppid = parentOf(pid);
  const launcherStart = ppid ? startTimeOf(ppid) : null;
  const version = readFileSync(join(home, 'server', 'VERSION'), 'utf8').trim();
  return {
    server,
    launcher: ppid && launcherStart ? { name: 'trex-launcher', pid: ppid, startTime: launcherStart } : null,
    prefix: o.prefix,
    cfg,
    log,
    ports: Object.fromEntries(o.ports.map((p, i) => [p.iface, i])),
    core: o.core,
    version,
    madeBird,
    madeDpdkRunDir,
  };
}

/**
 * Stops the lab's TRex by pid: SIGTERM to the server (it exits within a
 * second), then its launcher is given the time to run upstream's cleanup
 * before it is stopped too; then what the start left is removed. Returns
 * what it removed; safe when TRex is gone already.
 */
export async function stopLabTrex(t: LabTrex): Promise<string[]> {
  const removed: string[] = [];
  if (isAlive(t.server)) {
    await stopProc(t.server, 5000);
    removed.push(`process trex (pid ${t.server.pid})`);
  }
  if (t.launcher && isAlive(t.launcher)) {
    const launcher = t.launcher;
    await waitUntil(`TRex's launcher (pid ${launcher.pid}) to finish its cleanup`, () => !isAlive(launcher), { timeoutMs: 8000 }).catch(
      orOnTimeout(() => false),
    );
    if (isAlive(launcher)) await stopProc(launcher, 2000);
    removed.push(`process trex-launcher (pid ${launcher.pid})`);
  }
  removed.push(...giveBackDpdkRunDir(t.prefix, t.madeDpdkRunDir));
  if (giveBackBird()) removed.push(TREX_BIRD_DIR);
  return removed;
}

/** Removes /tmp/trex-bird once no TRex runs on the machine, if a lab made it (its launcher makes it again as it exits). */
function giveBackBird(): boolean {
  if (!existsSync(BIRD_MARK) || runningTrexes().length > 0) return false;
  rmSync(TREX_BIRD_DIR, { recursive: true, force: true });
  rmSync(BIRD_MARK, { force: true });
  return true;
}

/** Every `_t-rex-64` on the machine, by pid (read, never signalled). */
export function runningTrexes(): number[] {
  return readdirSync('/proc')
    .filter((p) => /^\d+$/.test(p))
    .filter((p) => {
      try {
        return readFileSync(`/proc/${p}/comm`, 'utf8').trim() === '_t-rex-64' && startTimeOf(Number(p)) !== null;
      } catch {
        return false;
      }
    })
    .map(Number);
}

/**
 * A relay from a Unix socket of the lab's state dir to TRex's RPC port in the
 * TG namespace: how lab up (the DUT of known capacity, sized from TRex's own
 * burst) and the tests reach TRex from this namespace without SSH. Stopped as
 * the SSH forwarders are (by pid, its process group).
 */
export async function startTrexRelay(ns: string, dir: string): Promise<{ socket: string; proc: ProcRecord }> {
  const socket = join(dir, 'rpc.sock');
  if (!/^[A-Za-z0-9_./-]+$/.test(socket) || !/^[a-z0-9-]+$/.test(ns)) throw new LabTrexError(`TRex relay: ${socket} in ${ns}: unexpected characters`);
  const proc = spawnDaemon(
    'forwarder-trex',
    ['socat', `UNIX-LISTEN:${socket},fork,mode=600,unlink-early`, `EXEC:ip netns exec ${ns} socat STDIO TCP\\:127.0.0.1\\:${TREX_RPC_PORT}`],
    join(dir, 'relay.log'),
  );
  await waitUntil(`TRex's relay at ${socket}`, () => existsSync(socket), { timeoutMs: 3000 });
  return { socket, proc };
}

/** The log's last lines: what a TRex that died said last. */
export const trexLogTail = (t: LabTrex, lines = 15): string => tail(t.log, lines);
