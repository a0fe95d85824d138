// npm run bench:vm: the VM lab's figures (packages installed; the guest image
// is built first if the cache lacks it, and that time is printed apart).
// Prints: QEMU's start to the guest's SSH (the steps host.start-vm through
// guest.connect of the run), and the whole PVP run on the VM lab, beside the
// same run on the namespace guest (tap ports) measured in the same session.
// Targets (issue 15): boot to SSH at most 20 s under TCG, the VM run at most 60 s.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { ensureGuestImage } from '../lib/vlab/image.js';
import { labDown, labUp, type GuestKind } from '../lib/vlab/lab.js';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 2);
const ROOT = new URL('..', import.meta.url).pathname;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const fmt = (xs: number[]) => `median ${median(xs).toFixed(1)} s, min ${Math.min(...xs).toFixed(1)}, max ${Math.max(...xs).toFixed(1)}`;

let t0 = performance.now();
const image = await ensureGuestImage();
console.log(`guest image: ${((performance.now() - t0) / 1000).toFixed(1)} s (${image.dir}; a cached image costs only the key)`);

/** One PVP run on a lab: its wall time, and the time from QEMU's start to the guest's SSH (VM only). */
async function pvpRun(testbed: string): Promise<{ total: number; boot: number | null }> {
  const reports = mkdtempSync(join(tmpdir(), 'dutlab-bench-'));
  try {
    const t = performance.now();
    const r = await execa('node', ['bin/dutlab.js', 'run', '--quiet', '--reports', reports, '--testbed', testbed, '--profile', 'ovs-dpdk'], {
      cwd: ROOT,
      reject: false,
    });
    const total = (performance.now() - t) / 1000;
    if (r.exitCode !== 0) console.log(`the run did not pass (exit ${r.exitCode}): ${r.stderr.split('\n').at(-3)}`);
    const stages = (
      JSON.parse(readFileSync(join(reports, 'latest', 'run.json'), 'utf8')) as { suites: Array<{ stages: Array<{ id: string; durationMs: number }> }> }
    ).suites[0]!.stages;
    const from = stages.findIndex((s) => s.id === 'host.start-vm');
    const to = stages.findIndex((s) => s.id === 'guest.connect');
    const boot = from < 0 ? null : stages.slice(from, to + 1).reduce((a, s) => a + s.durationMs, 0) / 1000;
    return { total, boot };
  } finally {
    rmSync(reports, { recursive: true, force: true });
  }
}

const figures: Record<GuestKind, { total: number[]; boot: number[] }> = { vm: { total: [], boot: [] }, netns: { total: [], boot: [] } };
for (const guest of ['vm', 'netns'] as const) {
  const id = `bench-${guest}`;
  await labDown({ id });
  t0 = performance.now();
  const lab = await labUp({ id, datapath: 'dpdk', guest });
  console.log(`lab up --datapath dpdk --guest ${guest}: ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  try {
    for (let i = 0; i < ROUNDS; i++) {
      const r = await pvpRun(lab.testbedFile);
      figures[guest].total.push(r.total);
      if (r.boot !== null) figures[guest].boot.push(r.boot);
    }
  } finally {
    await labDown({ id });
  }
}
console.log(`${ROUNDS} rounds each`);
console.log(`QEMU start to guest SSH (TCG, vhost-user NICs): ${fmt(figures.vm.boot)}  (target: at most 20 s)`);
console.log(`PVP run, VM guest on vhost-user:     ${fmt(figures.vm.total)}  (target: at most 60 s, boot included)`);
console.log(`PVP run, namespace guest on tap:     ${fmt(figures.netns.total)}`);
console.log(`ratio VM / namespace: ${(median(figures.vm.total) / median(figures.netns.total)).toFixed(1)}x`);
