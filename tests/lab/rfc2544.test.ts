// RFC 2544's tests beyond throughput (issue 44), each against a DUT whose
// answer is known before a frame is sent:
// - a DUT of known capacity (the guest forwards at most CAPACITY frames/s: an
//   nftables token bucket that drops, no queue): the loss ratio above the NDR
//   is what the bucket must drop, 1 - CAPACITY / offered, within the search's
//   width; back-to-back, corrected with the NDR (RFC 9004), is the bucket's
//   burst; and it recovers from an overload at once;
// - a queue of known size (the latency bench's tbf: 100 frames served at 5000
//   frames/s, its bucket ten frames): back-to-back, corrected, is the queue
//   and the bucket; after an overload it loses nothing more but its latency
//   settles only once the queue has drained, at the service rate less the
//   lower load's.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseDocument } from 'yaml';
import type { RunResult } from '../../lib/results/run.js';
import { throughputOf, type ThroughputResult } from '../../lib/results/throughput.js';
import { loadTestbed } from '../../lib/testbed/load.js';
import { topologyOf } from '../../lib/testbed/topology.js';
import { QUEUE } from '../../lib/vlab/known-delay.js';
import { labDown, labUp, type LabState } from '../../lib/vlab/lab.js';
import { queueCommand } from '../../lib/vlab/queue.js';
import { dutlabRun } from '../helpers/cli.js';

const CAPACITY = 5000;
const WIDTH = 0.05;
/** The queue's bucket: ten frames at once, so that tbf's late wake-ups on this shared box do not cost it its rate (lib/vlab/queue.ts). */
const BUCKET = 10;
const reports = mkdtempSync(join(tmpdir(), 'dutlab-rfc2544-'));
const labs: Record<'bucket' | 'queue', LabState | null> = { bucket: null, queue: null };

beforeAll(async () => {
  [labs.bucket, labs.queue] = await Promise.all([labUp({ id: 'rfc', capacity: CAPACITY }), labUp({ id: 'rfq' })]);
}, 180_000);
afterAll(async () => {
  await Promise.all([labDown({ id: 'rfc' }), labDown({ id: 'rfq' })]);
  rmSync(reports, { recursive: true, force: true });
});

/** The lab's testbed with a quick search and RFC 2544's other tests, written beside it. */
function rfcTestbed(lab: LabState, name: string, extra: Record<string, unknown>): string {
  const doc = parseDocument(readFileSync(lab.testbedFile, 'utf8'));
  const goal = { relativeWidth: WIDTH, initialTrialS: 0.5, finalTrialS: 1, durationSumS: 2 };
  doc.setIn(['throughput', 'ndr'], goal);
  doc.setIn(['throughput', 'pdr'], goal);
  doc.setIn(['throughput', 'maxRate'], 3 * CAPACITY);
  doc.setIn(['throughput', 'calibrate'], 'none');
  doc.setIn(['throughput', 'telemetry'], false);
  doc.setIn(['throughput', 'latency', 'loads'], []);
  // The loss curve's latency stream: a few frames a second beside thousands (it shares the bucket with the load).
  doc.setIn(['throughput', 'latency', 'rate'], 100);
  doc.setIn(['throughput', 'backToBack'], doc.createNode({ repeats: 3, maxBurst: 1000 }));
  // Twice the NDR: a timed replay on this shared box left the generator at 70 to 80 % of its schedule (measured, and
  // judged so: the overload must still be one, and fill the queue).
  doc.setIn(['throughput', 'recovery'], doc.createNode({ overload: 2, overloadS: 1, recoverS: 1 }));
  for (const [k, v] of Object.entries(extra)) doc.setIn(['throughput', k], doc.createNode(v));
  const file = join(lab.stateDir, `${name}.yaml`);
  writeFileSync(file, doc.toString());
  return file;
}

async function throughputRun(testbed: string, extra: string[] = []): Promise<{ t: ThroughputResult; summary: string }> {
  const r = await dutlabRun(['--testbed', testbed, '--profile', 'virtual', '--suite', 'throughput', ...extra], reports);
  expect(r.exitCode, r.stderr).toBe(0);
  const run = JSON.parse(readFileSync(join(reports, r.summary.runId, 'run.json'), 'utf8')) as RunResult;
  const t = throughputOf(run.suites[0]!)[0]!;
  process.stderr.write(
    `NDR ${t.goals[0]!.lowerBound}; curve ${JSON.stringify(t.lossCurve ?? null)}; back-to-back ${JSON.stringify(t.backToBack)}; recovery ${JSON.stringify(t.recovery)}\n`,
  );
  return { t, summary: readFileSync(join(reports, r.summary.runId, 'summary.md'), 'utf8') };
}

describe('RFC 2544 on a DUT of known capacity (a token bucket that drops, no queue)', () => {
  it('the loss curve is what the bucket drops, back-to-back is its burst, and it recovers at once', async () => {
    const lab = labs.bucket!;
    const burst = lab.capacity!.burst;
    process.stderr.write(`the bucket: ${JSON.stringify(lab.capacity)}\n`);
    const { t, summary } = await throughputRun(rfcTestbed(lab, 'bucket', { lossCurve: { loads: [0.5, 1.5, 2], durationS: 2 } }));
    const curve = t.lossCurve!;
    expect(curve.map((p) => p.share)).toEqual([0.5, 1.5, 2]);
    expect(curve[0]!.lossRatio).toBeLessThanOrEqual(0.005);
    // The latency stream on each load: a bucket drops, it does not queue, so even at twice the capacity what comes
    // back comes back at once (a queue of this capacity would hold frames for tens of ms).
    for (const p of curve) {
      expect(p.latency!.received, JSON.stringify(p.latency)).toBeGreaterThan(0);
      expect(p.latency!.p50Us!).toBeLessThan(5000);
    }
    for (const p of curve.slice(1)) {
      const expected = 1 - CAPACITY / p.rate;
      expect(Math.abs(p.lossRatio! - expected), `at ${p.rate} frames/s: ${p.lossRatio} against ${expected}`).toBeLessThanOrEqual(WIDTH);
    }
    // A full bucket lets `burst` frames through at once, and refills at CAPACITY while the burst lasts: corrected with
    // the NDR (the capacity, within the search's width) the burst is the bucket's, within a tenth (93.2 to 104.9 frames
    // against buckets of 98 to 105 here: the bucket is sized at lab up from the generator's own bunching as measured then).
    const b = t.backToBack!;
    expect(b.bursts).toHaveLength(3);
    expect(b.unbounded).toBe(0);
    expect(Math.abs(b.correctedFrames! - burst), `corrected ${b.correctedFrames} against the bucket's ${burst}`).toBeLessThanOrEqual(burst * 0.1);
    // No queue: no frame sent after the reduction is lost, and the latency is settled at once (to a few frames' intervals).
    const r = t.recovery!;
    expect(r.invalid).toBeUndefined();
    expect(r.lostInOverload).toBeGreaterThan(0);
    expect(r.lossRecoveryMs).toBeLessThanOrEqual(2 * r.resolutionMs);
    expect(r.delayRecoveryMs!).toBeLessThanOrEqual(5 * r.resolutionMs);
    for (const title of [
      'Frame loss rate at loads around the NDR (RFC 2544, 26.3)',
      'Back-to-back frames (RFC 2544 26.4, RFC 9004)',
      'System recovery (RFC 2544 26.5)',
    ])
      expect(summary).toContain(title);
  }, 240_000);
});

describe('RFC 2544 on a queue of known size (tbf: 100 frames served at 5000 frames/s)', () => {
  it('back-to-back is the queue; after an overload nothing more is lost, and the latency settles once the queue has drained', async () => {
    const lab = labs.queue!;
    const iface = topologyOf(loadTestbed(lab.testbedFile)).vmEgress.guestIf;
    const queue = `ip netns exec ${lab.namespaces.guest} ${queueCommand({ ...QUEUE, burstFrames: BUCKET, iface })}`;
    const { t } = await throughputRun(rfcTestbed(lab, 'queue', {}), ['--hook-before-traffic', queue]);
    const ndr = t.goals[0]!.lowerBound!;
    // The queue's rate, within the search's width and what a 1 s trial also empties (the 110 frames it holds).
    expect(ndr).toBeLessThanOrEqual(QUEUE.fps * (1 + WIDTH) + QUEUE.queueFrames + BUCKET);
    expect(ndr).toBeGreaterThanOrEqual(QUEUE.fps * 0.9);
    // The queue (100 frames) and its bucket (10), within the generator's own bunching.
    const held = QUEUE.queueFrames + BUCKET;
    const b = t.backToBack!;
    expect(Math.abs(b.correctedFrames! - held), `corrected ${b.correctedFrames} against the queue's ${held}`).toBeLessThanOrEqual(5);
    const r = t.recovery!;
    expect(r.invalid).toBeUndefined();
    expect(r.lossRecoveryMs).toBeLessThanOrEqual(2 * r.resolutionMs);
    // Full at the reduction (100 frames), the queue drains at its service rate less the lower load (as it left the
    // generator); the latency is within the margin (settledWithinMs: 5 frames' service) of the settled latency once all
    // but those frames have gone. The service rate lies between the queue's setting and the NDR the search found, less
    // what this shared box takes from the guest while the generator busy-waits its timed stream: within a quarter.
    expect(r.lostInOverload).toBeGreaterThan(0);
    const lower = r.recover.achievedRate ?? r.recover.rate;
    const drainMs = (serviceRate: number) => ((QUEUE.queueFrames - (r.settledWithinMs / 1000) * serviceRate) / (serviceRate - lower)) * 1000;
    const [fastest, slowest] = [drainMs(Math.max(QUEUE.fps, ndr)), drainMs(Math.min(QUEUE.fps, ndr))];
    expect(r.peakLatencyUs!).toBeGreaterThan((QUEUE.queueFrames / QUEUE.fps) * 1e6 * 0.85);
    expect(
      r.delayRecoveryMs!,
      `settled after ${r.delayRecoveryMs} ms; the drain takes ${fastest.toFixed(1)} to ${slowest.toFixed(1)} ms`,
    ).toBeGreaterThanOrEqual(fastest * 0.75);
    expect(r.delayRecoveryMs!).toBeLessThanOrEqual(slowest * 1.25);
  }, 240_000);
});
