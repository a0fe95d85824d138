// A delay of known size on the virtual lab (tests/suites/known-delay.e2e.ts):
// a tbf queue on the guest's egress link whose full-queue wait is computed
// before any frame is sent, found by the latency measurement in p50 within
// the stated tolerance; a load near the queue's rate (in bunches) raises the latency
// above that of a load far below it; and a queue of another size than the
// computed one fails the check, naming how far off it is.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadRun } from '../../lib/store/file.js';
import { loadTestbed } from '../../lib/testbed/load.js';
import { topologyOf } from '../../lib/testbed/topology.js';
import { labDown, labUp, type LabState } from '../../lib/vlab/lab.js';
import { fullQueueDelayUs, queueCommand } from '../../lib/vlab/queue.js';
import { dutlabRun, failedCases } from '../helpers/cli.js';
import type { KnownDelayMeasured } from '../../lib/vlab/known-delay.js';
import { QUEUE, TOLERANCE } from '../../lib/vlab/known-delay.js';

const ROOT = new URL('../..', import.meta.url).pathname;
const ID = 'lat';
let lab: LabState;
const reports = mkdtempSync(join(tmpdir(), 'dutlab-latency-'));
beforeAll(async () => {
  lab = await labUp({ id: ID });
}, 120_000);
afterAll(async () => {
  await labDown({ id: ID });
  rmSync(reports, { recursive: true, force: true });
});

const run = (extra: string[] = []) =>
  dutlabRun(['--testbed', lab.testbedFile, '--profile', 'virtual', '--suites-dir', join(ROOT, 'tests/suites'), '--suite', 'known-delay', ...extra], reports);
const measuredOf = (runId: string) => loadRun(runId, reports).run.suites[0]!.measured as KnownDelayMeasured;

describe('latency against a delay of known size', () => {
  const expectedUs = fullQueueDelayUs({ ...QUEUE, iface: 'x' });

  it('finds the full queue in p50 within the tolerance, nearly nothing far below its rate, more near it', async () => {
    expect(expectedUs).toBe(20_000);
    const r = await run();
    expect(r.exitCode, r.stderr).toBe(0);
    const m = measuredOf(r.summary.runId);
    const { under, near, over } = m.trials;
    expect(Math.abs(over.latency!.p50Us! - expectedUs) / expectedUs).toBeLessThanOrEqual(TOLERANCE);
    // A full queue drops what does not fit: the latency stream loses some of its packets there too.
    expect(over.latency!.lost).toBeGreaterThan(0);
    expect(under.latency!.p50Us!).toBeLessThan(expectedUs * TOLERANCE);
    expect(near.latency!.avgUs).toBeGreaterThan(under.latency!.avgUs);
    expect(near.latency!.p90Us!).toBeGreaterThan(under.latency!.p90Us!);
    // Each load went in bunches of 8 frames (tcpreplay --pps-multi), the latency stream evenly.
    const tgLog = readFileSync(join(reports, r.summary.runId, 'known-delay', 'transcripts', 'tg.log'), 'utf8');
    expect(tgLog.match(/tcpreplay -T nano -i \S+ --pps=\d+ --pps-multi=8 --loop=/g)).toHaveLength(3);
    expect(tgLog).toMatch(/tcpreplay -T nano -i \S+ --pps=100 \S*latency/);
    expect(r.summary.suites[0]!.tables.find((t) => t.title === 'Latency against a queue of known size (µs)')!.rows).toHaveLength(3);
  }, 120_000);

  it('fails on a queue half the computed size, naming how far p50 is from the computed delay', async () => {
    const half = `ip netns exec ${lab.namespaces.guest} ${queueCommand({ ...QUEUE, queueFrames: QUEUE.queueFrames / 2, iface: topologyOf(loadTestbed(lab.testbedFile)).vmEgress.guestIf })}`;
    const r = await run(['--hook-before-traffic', half]);
    expect(r.exitCode, r.stderr).toBe(1);
    expect(failedCases(r.summary)['delay.check']).toMatch(
      /p50 with the queue full is (9\d{3}|1\d{4}) µs, [4-5]\d % off the 20000 µs the queue makes \(tolerance 15 %\)/,
    );
  }, 120_000);
});
