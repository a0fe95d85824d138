// npm run bench:soak: a soak as long as a nightly's (10 minutes by default),
// on the virtual lab of known capacity (5000 frames/s; the 2000 frames/s
// stream well inside it), with outages of known length at known offsets (the
// outage helper: the guest's forwarding blocked by one nftables rule, each
// nft command timed). Prints, per run: the outages injected and the loss
// events found, each event's offset against its outage's and its length
// against the bounds nft's own timing gives (the tool measured in the same
// run), events found where there was no outage (false alarms), each watched
// process's fitted growth, the latency windows' p99 range and the run's wall
// time. `-- --minutes M --runs R --every S --ms L`.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { parseDocument } from 'yaml';
import type { RunResult } from '../lib/results/run.js';
import { soakOf } from '../lib/results/soak.js';
import { loadTestbed } from '../lib/testbed/load.js';
import { topologyOf } from '../lib/testbed/topology.js';
import { labDown, labUp } from '../lib/vlab/lab.js';
import { outagesHook } from '../lib/vlab/outage.js';

const ROOT = new URL('..', import.meta.url).pathname;
const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(`--${name}`);
  const v = i < 0 ? fallback : Number(process.argv[i + 1]);
  if (!(v > 0)) throw new Error(`--${name}: a number above 0`);
  return v;
};
const MINUTES = arg('minutes', 10);
const RUNS = arg('runs', 1);
const EVERY_S = arg('every', 60);
const OUTAGE_MS = arg('ms', 100);
const RATE = 2000;
const ID = 'bsoak';
const reports = mkdtempSync(join(tmpdir(), 'dutlab-bench-soak-'));

/** nft's own timing of each outage: when it began (s after the stream reached the guest), and its length's bounds (ms). */
function nftTimes(timesFile: string): Array<{ atS: number; minMs: number; maxMs: number }> {
  const t0 = Number(readFileSync(`${timesFile}.start`, 'utf8').trim());
  return readFileSync(timesFile, 'utf8')
    .trim()
    .split('\n')
    .map((l) => l.split(/\s+/).map(Number))
    .map(([a0, a1, d0, d1]) => ({ atS: (a1! - t0) / 1e9, minMs: (d0! - a1!) / 1e6, maxMs: (d1! - a0!) / 1e6 }));
}

async function soak(testbed: string, netns: string, ingressIf: string, run: number): Promise<void> {
  const durationS = MINUTES * 60;
  const atS = Array.from({ length: Math.floor((durationS - 5) / EVERY_S) }, (_, i) => (i + 0.5) * EVERY_S);
  const timesFile = join(reports, `outages-${run}.times`);
  const hook = outagesHook({ netns, ingressIf, ms: OUTAGE_MS, atS, timesFile });
  const t0 = Date.now();
  const r = await execa(
    'node',
    ['bin/dutlab.js', 'run', '--quiet', '--reports', reports, '--testbed', testbed, '--profile', 'virtual', '--suite', 'soak', '--hook-before-traffic', hook],
    { cwd: ROOT, reject: false },
  );
  const runId = /report: .*\/([^/]+)\/summary\.md/.exec(r.stderr)?.[1];
  if (!runId) throw new Error(`the soak did not report: ${r.stderr}`);
  const m = soakOf((JSON.parse(readFileSync(join(reports, runId, 'run.json'), 'utf8')) as RunResult).suites[0]!)!;
  const nft = nftTimes(timesFile);
  const events = m.gaps?.sample ?? [];
  const res = m.gaps?.resolutionMs ?? 0;
  console.log(`run ${run}: ${MINUTES} min at ${RATE} frames/s, exit ${r.exitCode}, ${((Date.now() - t0) / 1000).toFixed(0)} s wall time`);
  console.log(`  outages injected ${nft.length}, loss events found ${m.gaps?.events ?? 'not read'}`);
  let within = 0;
  for (const o of nft) {
    const e = events.find((x) => Math.abs(x.startMs / 1000 - o.atS) <= m.intervalS);
    if (!e) {
      console.log(`  outage at ${o.atS.toFixed(2)} s (${o.minMs.toFixed(1)} to ${o.maxMs.toFixed(1)} ms by nft): not found`);
      continue;
    }
    const ok = e.lengthMs >= o.minMs - res && e.lengthMs <= o.maxMs + res;
    if (ok) within++;
    const mid = (o.minMs + o.maxMs) / 2;
    console.log(
      `  outage at ${o.atS.toFixed(2)} s: event at ${(e.startMs / 1000).toFixed(3)} s (offset ${(e.startMs / 1000 - o.atS).toFixed(3)} s), ${e.lengthMs} ms against nft's ${o.minMs.toFixed(1)} to ${o.maxMs.toFixed(1)} ms (ratio to the middle ${(e.lengthMs / mid).toFixed(3)})${ok ? '' : ': OUTSIDE'}`,
    );
  }
  const falseAlarms = events.filter((e) => !nft.some((o) => Math.abs(e.startMs / 1000 - o.atS) <= m.intervalS)).length;
  console.log(
    `  lengths within nft's bounds: ${within} of ${nft.length}; events with no outage (false alarms, of the first ${events.length} kept): ${falseAlarms}`,
  );
  for (const g of m.growth ?? []) console.log(`  ${g.text}`);
  const p99 = (m.latencyWindows ?? []).flatMap((w) => (w.p99Us === null ? [] : [w.p99Us]));
  if (p99.length) console.log(`  latency p99 per ${m.windowS} s window: ${Math.min(...p99)} to ${Math.max(...p99)} µs over ${p99.length} windows`);
}

async function main(): Promise<void> {
  const lab = await labUp({ id: ID, capacity: 5000 });
  try {
    const doc = parseDocument(readFileSync(lab.testbedFile, 'utf8'));
    // Every event is kept in the record (eventSample), so that each outage is matched; loss events do not fail the bench's runs' purpose.
    doc.setIn(['soak'], doc.createNode({ rate: RATE, durationS: MINUTES * 60, intervalS: 1, settleS: 10, maxLossEvents: 1000 }));
    const testbed = join(lab.stateDir, 'bench-soak.yaml');
    writeFileSync(testbed, doc.toString());
    const ingressIf = topologyOf(loadTestbed(testbed)).vmIngress.guestIf;
    for (let i = 1; i <= RUNS; i++) await soak(testbed, lab.namespaces.guest, ingressIf, i);
  } finally {
    await labDown({ id: ID });
    rmSync(reports, { recursive: true, force: true });
  }
}

await main();
