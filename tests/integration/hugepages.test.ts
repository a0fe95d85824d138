// Hugepages a DPDK daemon gives back after it said it would exit: the next
// run's preflight waits for a daemon of this lab that is still exiting
// instead of refusing the lab, and names (never stops) a process that is not
// the lab's. The holder is a real process on real 2 MB hugepages (a
// hugetlbfs file it maps, in a mount namespace of its own, unlinked as DPDK's
// --huge-unlink does), its command line naming the lab's pidfile as
// ovs-vswitchd's does; on SIGTERM it takes a known time to exit, as a
// daemon unmapping gigabytes does on a loaded host.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DUT_PROBES } from '../../lib/probes/dut.js';
import type { CommandProbe } from '../../lib/probes/probe.js';
import { ovsDpdk } from '../../lib/profiles/ovs-dpdk.profile.js';
import { awaitExitingLabHolders, readHugepages } from '../../lib/profiles/steps/hugepages.js';
import { loadTestbed } from '../../lib/testbed/load.js';
import type { Testbed } from '../../lib/testbed/schema.js';
import { LocalShell } from '../../lib/transport/local.js';
import { releaseHugepages, reserveHugepages } from '../../lib/vlab/hugepages.js';
import { fixturePath } from '../helpers/fixtures.js';

const PAGES = 4;
const EXIT_DELAY_S = 2;
const dir = mkdtempSync(join(tmpdir(), 'dutlab-hp-'));
const shell = new LocalShell('host');
let reserved = 0;

// Maps `pages` 2 MB pages of a hugetlbfs file, unlinks it, touches each page; on SIGTERM sleeps, then exits.
const HOLDER = `
import mmap, os, signal, sys, time
n, path, delay = int(sys.argv[1]), sys.argv[2], float(sys.argv[3])
size = n * 2 * 1024 * 1024
fd = os.open(path, os.O_CREAT | os.O_RDWR); os.ftruncate(fd, size)
m = mmap.mmap(fd, size); os.unlink(path)
for i in range(n): m[i * 2 * 1024 * 1024] = 1
signal.signal(signal.SIGTERM, lambda *a: (time.sleep(delay), os._exit(0)))
print('ready', flush=True)
while True: signal.pause()
`;

const holders: ChildProcess[] = [];
/** A process holding PAGES pages, its command line ending in `tail` (a lab's `--pidfile=...` or not). */
async function holder(name: string, tail: string[]): Promise<ChildProcess> {
  const mnt = join(dir, name);
  const script = `mkdir -p "$1" && mount -t hugetlbfs -o pagesize=2M none "$1" && exec python3 -c "$2" ${PAGES} "$1/f" ${EXIT_DELAY_S} "$@"`;
  const p = spawn('unshare', ['-m', '--propagation', 'private', 'sh', '-c', script, 'holder', mnt, HOLDER, ...tail], { stdio: ['ignore', 'pipe', 'inherit'] });
  holders.push(p);
  for await (const line of createInterface({ input: p.stdout! })) if (line === 'ready') return p;
  throw new Error(`the hugepage holder ${name} exited before it held its pages`);
}
/** The doctor's hugepage probe, as the preflight runs it after the wait. */
async function probeHugepages(tb: Testbed) {
  const probe = DUT_PROBES.find((x) => x.id === 'hugepages') as CommandProbe;
  const r = await shell.run(probe.command({ tb, profile: ovsDpdk }));
  return probe.judge({ stdout: r.stdout, exitCode: r.exitCode, fromUs: 0, toUs: 0 }, { tb, profile: ovsDpdk });
}
const exited = (p: ChildProcess) => (p.exitCode !== null || p.signalCode !== null ? Promise.resolve() : new Promise((r) => p.once('exit', r)));

/** The ovs-dpdk testbed with its pidfiles in this test's dir and its socket memory such that the run needs `short` pages more than are free. */
async function testbedShort(short: number): Promise<Testbed> {
  const tb = loadTestbed(fixturePath('testbeds/virtual-dpdk.yaml'));
  const free = (await readHugepages(shell, tb)).free ?? 0;
  return { ...tb, paths: { ...tb.paths, vswitchdPidfile: join(dir, 'vswitchd.pid') }, ovsDpdk: { ...tb.ovsDpdk, socketMemMb: (free + short) * 2 } };
}

beforeAll(async () => {
  await reserveHugepages(2048, PAGES * 2);
  reserved = PAGES * 2;
});
afterEach(async () => {
  for (const p of holders.splice(0)) {
    p.kill('SIGKILL');
    await exited(p);
  }
  rmSync(join(dir, 'vswitchd.pid'), { force: true });
});
afterAll(async () => {
  if (reserved) await releaseHugepages(2048, reserved);
  rmSync(dir, { recursive: true, force: true });
});

describe("the preflight and a lab's exiting DPDK daemon", () => {
  it('waits for a daemon of this lab that is exiting to give back its pages, and says how long it waited', async () => {
    const p = await holder('exiting', [`--pidfile=${join(dir, 'vswitchd.pid')}`]);
    const tb = await testbedShort(PAGES);
    const before = await readHugepages(shell, tb);
    expect(before.holders.find((h) => h.pid === p.pid)).toMatchObject({ pidfile: join(dir, 'vswitchd.pid'), exiting: true, kb: PAGES * 2048 });
    const t0 = Date.now();
    p.kill('SIGTERM');
    const said = await awaitExitingLabHolders(shell, tb, ovsDpdk);
    const took = (Date.now() - t0) / 1000;
    expect(took).toBeGreaterThanOrEqual(EXIT_DELAY_S - 0.2);
    expect(said).toMatch(
      new RegExp(`^waited \\d+\\.\\d s for pid ${p.pid} \\(python3, ${PAGES} pages, of this lab, exiting\\) to give back its hugepages .*: \\d+ free now$`),
    );
    // Its pages are free again: the probe the preflight runs next passes.
    expect(await probeHugepages(tb)).toMatchObject({ status: 'ok' });
  });

  it('does not wait for a process that is not of the lab: the probe fails naming its pid, and it is left running', async () => {
    const p = await holder('other', ['--name', 'someone-else']);
    const tb = await testbedShort(PAGES);
    const t0 = Date.now();
    expect(await awaitExitingLabHolders(shell, tb, ovsDpdk)).toBeNull();
    expect(Date.now() - t0).toBeLessThan(EXIT_DELAY_S * 1000);
    const judged = await probeHugepages(tb);
    expect(judged.status).toBe('fail');
    expect(judged.evidence).toContain(`held by pid ${p.pid} (python3, ${PAGES} pages, not of this lab)`);
    expect(judged.fix).toMatch(/^stop what holds them \(by its pid, if it is yours\)/);
    expect(p.exitCode).toBeNull();
  });

  it("does not wait for a daemon of this lab that is running (its pidfile names it): the probe names it as the lab's", async () => {
    const p = await holder('running', [`--pidfile=${join(dir, 'vswitchd.pid')}`]);
    writeFileSync(join(dir, 'vswitchd.pid'), `${p.pid}\n`);
    const tb = await testbedShort(PAGES);
    expect((await readHugepages(shell, tb)).holders.find((h) => h.pid === p.pid)).toMatchObject({ exiting: false });
    expect(await awaitExitingLabHolders(shell, tb, ovsDpdk)).toBeNull();
    const judged = await probeHugepages(tb);
    expect(judged.evidence).toContain(`held by pid ${p.pid} (python3, ${PAGES} pages, of this lab)`);
  });
});
