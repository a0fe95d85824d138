// Runs interrupted from outside, on virtual labs of their own: the run as a
// gate starts it, and what a run may leave on its lab. Shared by the fast
// tier's signals (tests/integration/abort.test.ts) and the lab tier's forced
// exits (tests/lab/abort-forced.test.ts).
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa, type ResultPromise } from 'execa';
import { afterAll, expect } from 'vitest';
import { LocalShell } from '../../lib/transport/local.js';
import { labDown, labLeftovers, labUp, type LabState } from '../../lib/vlab/lab.js';
import { pidsInNetns } from '../../lib/vlab/procs.js';
import { netnsId } from './lab.js';

const ROOT = new URL('../..', import.meta.url).pathname;
const sh = new LocalShell('test');

/** The labs and report directories of a file's cases, removed (and the labs checked clean) after them all. */
export function abortLabs(): { newLab(id: string): Promise<LabState>; dirs: string[] } {
  const dirs: string[] = [];
  const labs: LabState[] = [];
  afterAll(async () => {
    for (const lab of labs) {
      await labDown({ id: lab.id });
      expect(await labLeftovers(lab.id, lab.processes)).toEqual([]);
    }
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });
  return {
    dirs,
    /** Each case has a lab of its own, so that they run at once. */
    async newLab(id: string): Promise<LabState> {
      const lab = await labUp({ id });
      labs.push(lab);
      return lab;
    },
  };
}

/** `dutlab run` started as a gate starts it, in a process group of its own (what a CI kills whole). */
export function startRun(lab: LabState, dirs: string[], extra: string[] = []): { child: ResultPromise; reports: string } {
  const reports = mkdtempSync(join(tmpdir(), 'dutlab-reports-'));
  dirs.push(reports);
  const child = execa('node', ['bin/dutlab.js', 'run', '--quiet', '--reports', reports, '--testbed', lab.testbedFile, '--profile', 'virtual', ...extra], {
    cwd: ROOT,
    reject: false,
    detached: true,
  });
  return { child, reports };
}

/** What a run may leave on the lab: the bridge, the guest's addresses, route and ARP entry, the lock, processes. */
export async function labState(lab: LabState): Promise<Record<string, unknown>> {
  const ID = lab.id;
  const inNs = (role: string, c: string) => sh.run(`ip netns exec dutlab-${ID}-${role} ${c}`, { okExitCodes: [0, 1, 2, 255] });
  const env = `env OVS_RUNDIR=${lab.stateDir}/ovs`;
  const procs = (role: string) =>
    pidsInNetns(netnsId(`dutlab-${ID}-${role}`))
      .map((pid) => readFileSync(`/proc/${pid}/comm`, 'utf8').trim())
      .filter((c) => !['sshd', 'socat', 'ovs-vswitchd', 'ovsdb-server'].includes(c));
  return {
    bridges: (await inNs('host', `${env} ovs-vsctl list-br`)).stdout.trim(),
    guestAddresses:
      (await inNs('guest', 'ip -4 -o addr show dev vEth_port32')).stdout.trim() + (await inNs('guest', 'ip -4 -o addr show dev vEth_port33')).stdout.trim(),
    defaultRoute: (await inNs('guest', 'ip route show default')).stdout.trim(),
    gatewayArp: (await inNs('guest', 'ip neigh show 3.3.3.2')).stdout.trim(),
    lock: existsSync(join(lab.stateDir, 'lock')),
    processes: [...procs('host'), ...procs('guest'), ...procs('tg')],
  };
}

export const CLEAN = { bridges: '', guestAddresses: '', defaultRoute: '', gatewayArp: '', lock: false, processes: [] };
