// npm run bench:dpdk: the DPDK virtual lab's figures (packages installed).
// Prints: `lab up --datapath dpdk` and `lab down`; the ovs-dpdk PVP run end to
// end; and the CPU the DPDK ovs-vswitchd takes while the switch is idle,
// beside the netdev datapath's ovs-vswitchd measured the same way on this box.
// Targets (issue 14): lab up at most 10 s, the run at most 15 s, idle CPU below 20 % of a core.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { labDown, labUp } from '../lib/vlab/lab.js';
import { waitUntil } from '../lib/wait.js';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const ROOT = new URL('..', import.meta.url).pathname;
const TICKS = 100; // USER_HZ
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const fmt = (xs: number[], unit = 's') => `median ${median(xs).toFixed(2)} ${unit}, min ${Math.min(...xs).toFixed(2)}, max ${Math.max(...xs).toFixed(2)}`;

/** Percent of one core a process used over `ms`, from /proc/<pid>/stat. */
async function cpuPercent(pid: number, ms: number): Promise<number> {
  const ticks = () => {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return Number(f[11]) + Number(f[12]);
  };
  const t0 = ticks();
  await new Promise((r) => setTimeout(r, ms));
  return ((ticks() - t0) / TICKS / (ms / 1000)) * 100;
}

/** A run whose hook holds the switch idle for 4 s before the traffic, while its ovs-vswitchd's CPU is sampled. */
async function idleCpu(testbed: string, profile: string, pidfile: string): Promise<number> {
  const reports = mkdtempSync(join(tmpdir(), 'dutlab-bench-'));
  try {
    const run = execa(
      'node',
      ['bin/dutlab.js', 'run', '--quiet', '--reports', reports, '--testbed', testbed, '--profile', profile, '--hook-before-traffic', 'sleep 4'],
      {
        cwd: ROOT,
        reject: false,
      },
    );
    await waitUntil(`${pidfile} to exist`, () => existsSync(pidfile), { timeoutMs: 30_000, intervalMs: 100 });
    await new Promise((r) => setTimeout(r, 2500));
    const pct = await cpuPercent(Number(readFileSync(pidfile, 'utf8').trim()), 2000);
    await run;
    return pct;
  } finally {
    rmSync(reports, { recursive: true, force: true });
  }
}

const ID = 'bench-dpdk';
const up: number[] = [];
const down: number[] = [];
const runs: number[] = [];
await labDown({ id: ID });
for (let i = 0; i < ROUNDS; i++) {
  let t0 = performance.now();
  const lab = await labUp({ id: ID, datapath: 'dpdk' });
  up.push((performance.now() - t0) / 1000);
  const reports = mkdtempSync(join(tmpdir(), 'dutlab-bench-'));
  t0 = performance.now();
  const r = await execa('node', ['bin/dutlab.js', 'run', '--quiet', '--reports', reports, '--testbed', lab.testbedFile, '--profile', 'ovs-dpdk'], {
    cwd: ROOT,
    reject: false,
  });
  runs.push((performance.now() - t0) / 1000);
  rmSync(reports, { recursive: true, force: true });
  if (r.exitCode !== 0) console.log(`round ${i + 1}: the run did not pass (exit ${r.exitCode}): ${r.stderr.split('\n').at(-3)}`);
  if (i === ROUNDS - 1) {
    const dpdkIdle = await idleCpu(lab.testbedFile, 'ovs-dpdk', `/run/dutlab-${ID}/ovs/ovs-vswitchd.pid`);
    t0 = performance.now();
    await labDown({ id: ID });
    down.push((performance.now() - t0) / 1000);
    const netdev = await labUp({ id: 'bench-netdev' });
    const netdevIdle = await cpuPercent(Number(readFileSync('/run/dutlab-bench-netdev/ovs/ovs-vswitchd.pid', 'utf8').trim()), 2000);
    await labDown({ id: 'bench-netdev' });
    void netdev;
    console.log(`${ROUNDS} rounds`);
    console.log(`lab up --datapath dpdk: ${fmt(up)}  (target: at most 10 s)`);
    console.log(`lab down:               ${fmt(down)}`);
    console.log(`ovs-dpdk PVP run:       ${fmt(runs)}  (target: at most 15 s)`);
    console.log(`idle ovs-vswitchd CPU:  DPDK ${dpdkIdle.toFixed(1)} % of a core, netdev datapath ${netdevIdle.toFixed(1)} % (target: DPDK below 20 %)`);
  } else {
    t0 = performance.now();
    await labDown({ id: ID });
    down.push((performance.now() - t0) / 1000);
  }
}
