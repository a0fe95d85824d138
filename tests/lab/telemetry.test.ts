// Why the number moved, on known answers (issue 42): on the DPDK lab (one PMD,
// on CPU 1), the telemetry trial alone at a fixed load (throughput.fixedLoad:
// no search, whose spread on a shared 2-core box is not what is tested here),
// clean, then with one thing broken, each compared with the clean run by
// `dutlab compare`: a busy loop pinned to the PMD's CPU (a process this test
// starts and stops by pid, its session at nice -10) must show first as a rise
// in cycles per packet, the PMD thread's wait for a CPU named beside it; the
// exact-match cache turned off (other_config:emc-insert-inv-prob=0) as its hit
// share falling to 0.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseDocument } from 'yaml';
import type { RunResult } from '../../lib/results/run.js';
import { pmdIntervals, soakOf } from '../../lib/results/soak.js';
import { labDown, labUp, type LabState } from '../../lib/vlab/lab.js';
import { dutlabRun } from '../helpers/cli.js';
import { guestForwardRule, labOf } from '../helpers/faults.js';
import { waitUntil } from '../../lib/wait.js';

const ROOT = new URL('../..', import.meta.url).pathname;
const ID = 'tele';
/**
 * Frames/s, under half of what this lab forwards: the DPDK lab's NDR at 64 B on this 2-core box was 44 to 63 kfps in
 * three quick searches in a row, and a search in CI once found loss at every load it tried down to 41 kfps before its
 * cap (a stall of the shared box), which is why this test does not search.
 */
const FIXED_LOAD = 20_000;
const reports = mkdtempSync(join(tmpdir(), 'dutlab-tele-'));
let lab: LabState;
let testbed: string;

beforeAll(async () => {
  lab = await labUp({ id: ID, datapath: 'dpdk' });
  // The telemetry trial alone, 2 s at a fixed load well below what this lab forwards (FIXED_LOAD), no latency.
  const doc = parseDocument(readFileSync(lab.testbedFile, 'utf8'));
  doc.setIn(['throughput', 'fixedLoad'], FIXED_LOAD);
  doc.setIn(['throughput', 'pdr', 'finalTrialS'], 2);
  doc.setIn(['throughput', 'latency', 'loads'], []);
  testbed = join(lab.stateDir, 'telemetry.yaml');
  writeFileSync(testbed, doc.toString());
}, 120_000);
afterAll(async () => {
  await labDown({ id: ID });
  rmSync(reports, { recursive: true, force: true });
});

const trial = (hook?: string) =>
  dutlabRun(['--testbed', testbed, '--profile', 'ovs-dpdk', '--suite', 'throughput', ...(hook ? ['--hook-before-traffic', hook] : [])], reports);
const compare = (base: string, cand: string) => execa('node', ['bin/dutlab.js', 'compare', base, cand, '--reports', reports], { cwd: ROOT, reject: false });
/** The figures `compare` lists under the telemetry heading, in its order. */
const moved = (out: string) => [...(out.split(/datapath telemetry beyond its thresholds[^\n]*\n/)[1] ?? '').matchAll(/^ {2}- (.*)$/gm)].map((m) => m[1]!);

describe('the telemetry trial on known answers (DPDK lab, one PMD on CPU 1)', () => {
  it("a busy loop on the PMD's CPU is named first as cycles per packet; the exact-match cache off as its share falling to 0", async () => {
    const clean = await trial();
    expect(clean.exitCode, clean.stderr).toBe(0);
    // No search ran: the telemetry trial at the fixed load is the run's measurement.
    expect(clean.summary.trials ?? [], clean.stderr).toEqual([]);
    expect(clean.summary.telemetry![0]).toMatchObject({ rate: FIXED_LOAD, goal: 'fixed load' });
    const emc = (r: typeof clean) => r.summary.telemetry![0]!.metrics.find((m) => m.id === 'pmd.hits.emc')!.value!;
    expect(emc(clean)).toBeGreaterThan(90);

    // The busy loop: started here, pinned to CPU 1, stopped by its pid whatever happens.
    // In a session of its own (the kernel groups a session's processes, autogroup, and shares a CPU between groups
    // by their weight), that group at nice -10: it takes about nine tenths of CPU 1 whenever the PMD wants it too.
    let loop: ChildProcess | null = spawn('setsid', ['taskset', '-c', '1', 'sh', '-c', 'while :; do :; done'], { stdio: 'ignore' });
    let busy: Awaited<ReturnType<typeof trial>>;
    try {
      // Once it runs sh, setsid has made its session: its autogroup is its own, not this process's.
      const proc = `/proc/${loop.pid}`;
      await waitUntil('the busy loop to run in its own session', () => existsSync(proc) && readFileSync(`${proc}/comm`, 'utf8') === 'sh\n', {
        timeoutMs: 5000,
      });
      writeFileSync(`${proc}/autogroup`, '-10');
      expect(readFileSync(`${proc}/autogroup`, 'utf8')).not.toBe(readFileSync('/proc/self/autogroup', 'utf8'));
      expect(readFileSync(`${proc}/autogroup`, 'utf8')).toMatch(/ nice -10$/m);
      busy = await trial();
    } finally {
      loop.kill('SIGKILL');
      loop = null;
    }
    const c1 = await compare(clean.summary.runId, busy.summary.runId);
    const named = moved(c1.stdout);
    // Each busy iteration of the PMD now spans the time it waited for its turn: cycles per packet first (on this box
    // about three times the clean run's), and the PMD thread's wait for a CPU (schedstat) among the figures named.
    expect(named[0], c1.stdout).toMatch(/^(processing )?cycles per packet( \(idle included\))? \+\d+ % on core 1 at 64 B/);
    expect(named.join('\n'), c1.stdout).toMatch(/^share of the trial it waited for a CPU [\d.]+ % → [\d.]+ % on ovs-vswitchd thread pmd-c01\/id:\d+ at 64 B$/m);
    // The PMD thread's own CPU share is read too (a PMD polls whatever the load: beside the loop it has what the loop leaves it).
    const pmdShare = (r: typeof clean) => r.summary.telemetry![0]!.metrics.find((m) => m.id === 'thread.cpu' && /thread pmd-c01/.test(m.scope))!.value;
    expect(
      [pmdShare(clean), pmdShare(busy)].every((v) => typeof v === 'number'),
      c1.stdout,
    ).toBe(true);
    process.stderr.write(`telemetry known answer: the PMD thread's CPU share ${pmdShare(clean)} % clean, ${pmdShare(busy)} % beside the busy loop\n`);

    // The exact-match cache off before the first trial: no entry is ever inserted, the classifier serves every packet.
    const emcOff = await trial(`ovs-vsctl --db=unix:${lab.stateDir}/ovs/db.sock set Open_vSwitch . other_config:emc-insert-inv-prob=0`);
    expect(emc(emcOff)).toBeLessThan(1);
    const c2 = await compare(clean.summary.runId, emcOff.summary.runId);
    // Named first with the classifier's share that rose as much (both in points of their shares).
    expect(moved(c2.stdout).slice(0, 2).join('\n'), c2.stdout).toMatch(/^exact-match cache hits \d+ % → 0 % on core 1 at 64 B$/m);
    expect(moved(c2.stdout).slice(0, 2).join('\n'), c2.stdout).toMatch(/^megaflow \(dpcls\) hits \d+ % → \d+ % on core 1 at 64 B$/m);
  }, 300_000);

  it("a soak on the DPDK lab reads the PMD's cycles at every sample: its busy share and cycles per packet in each interval", async () => {
    const doc = parseDocument(readFileSync(testbed, 'utf8'));
    doc.setIn(['soak'], doc.createNode({ rate: 5000, durationS: 6, intervalS: 1, settleS: 1 }));
    const soakTestbed = join(lab.stateDir, 'soak.yaml');
    writeFileSync(soakTestbed, doc.toString());
    const r = await dutlabRun(['--testbed', soakTestbed, '--profile', 'ovs-dpdk', '--suite', 'soak'], reports);
    expect(r.exitCode, r.stderr).toBe(0);
    const m = soakOf((JSON.parse(readFileSync(join(reports, r.summary.runId, 'run.json'), 'utf8')) as RunResult).suites[0]!)!;
    expect(m.pmdNotOffered).toBeUndefined();
    expect(m.samples.every((x) => x.pmd && x.pmd.processing + x.pmd.idle > 0)).toBe(true);
    const per = pmdIntervals(m.samples);
    process.stderr.write(`soak on the DPDK lab, the PMD per interval: ${JSON.stringify(per)}\n`);
    expect(per.length).toBeGreaterThanOrEqual(4);
    // The PMD polls all the time; 5000 frames a second arrive in every interval.
    for (const x of per) {
      expect(x.busyPct!).toBeGreaterThan(0);
      expect(x.busyPct!).toBeLessThanOrEqual(100);
      expect(x.cyclesPerPacket!).toBeGreaterThan(0);
    }
    expect((r.summary.soak as { pmd: { intervals: number } }).pmd.intervals).toBe(per.length);
  }, 120_000);

  it("a guest that drops the stream at the fixed load: the DUT's failure, naming the load and the frames lost; its telemetry kept", async () => {
    // Last: the rule stays in the guest's namespace until lab down.
    const dropped = await trial(guestForwardRule('drop')(labOf(ID)));
    expect(dropped.exitCode, dropped.stderr).toBe(1);
    const failed = dropped.summary.cases.find((c) => c.id === 'throughput.telemetry-64')!;
    expect(failed.status).toBe('failed');
    expect(failed.message).toMatch(
      new RegExp(
        `^throughput: at the fixed load of ${FIXED_LOAD} frames/s at 64-byte frames (\\d+) of \\1 frames were lost \\(loss ratio 1; the PDR's 0\\.005\\)$`,
      ),
    );
    expect(dropped.summary.telemetry![0]).toMatchObject({ rate: FIXED_LOAD, goal: 'fixed load', received: 0 });
  }, 120_000);
});
