// RFC 2544's frame loss rate around the throughput (issue 44), on a DUT of
// known capacity (the guest forwards at most CAPACITY frames/s: a token
// bucket that drops, no queue): after the search, at half the NDR nothing is
// lost, and above the capacity the loss ratio is what the bucket must drop,
// 1 - CAPACITY / offered, within the search's width.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseDocument } from 'yaml';
import type { RunResult } from '../../lib/results/run.js';
import { throughputOf } from '../../lib/results/throughput.js';
import { labDown, labUp, type LabState } from '../../lib/vlab/lab.js';
import { dutlabRun } from '../helpers/cli.js';

const ID = 'rfc';
const CAPACITY = 5000;
const WIDTH = 0.05;
const reports = mkdtempSync(join(tmpdir(), 'dutlab-rfc2544-'));
let lab: LabState;

beforeAll(async () => {
  lab = await labUp({ id: ID, capacity: CAPACITY });
}, 120_000);
afterAll(async () => {
  await labDown({ id: ID });
  rmSync(reports, { recursive: true, force: true });
});

describe('the frame loss rate around the NDR', () => {
  it('at half the NDR nothing lost; at 1.5 and 2 times it, the share a DUT of known capacity must drop', async () => {
    const doc = parseDocument(readFileSync(lab.testbedFile, 'utf8'));
    const goal = { relativeWidth: WIDTH, initialTrialS: 0.5, finalTrialS: 1, durationSumS: 2 };
    doc.setIn(['throughput', 'ndr'], goal);
    doc.setIn(['throughput', 'pdr'], goal);
    doc.setIn(['throughput', 'maxRate'], 3 * CAPACITY);
    doc.setIn(['throughput', 'calibrate'], 'none');
    doc.setIn(['throughput', 'telemetry'], false);
    doc.setIn(['throughput', 'latency', 'loads'], []);
    doc.setIn(['throughput', 'lossCurve'], doc.createNode({ loads: [0.5, 1.5, 2], durationS: 2 }));
    const testbed = join(lab.stateDir, 'curve.yaml');
    writeFileSync(testbed, doc.toString());
    const r = await dutlabRun(['--testbed', testbed, '--profile', 'virtual', '--suite', 'throughput'], reports);
    expect(r.exitCode, r.stderr).toBe(0);
    const run = JSON.parse(readFileSync(join(reports, r.summary.runId, 'run.json'), 'utf8')) as RunResult;
    const t = throughputOf(run.suites[0]!)[0]!;
    const curve = t.lossCurve!;
    process.stderr.write(`NDR ${t.goals[0]!.lowerBound}; curve ${JSON.stringify(curve)}\n`);
    expect(curve.map((p) => p.share)).toEqual([0.5, 1.5, 2]);
    expect(curve[0]!.lossRatio).toBeLessThanOrEqual(0.005);
    for (const p of curve.slice(1)) {
      const expected = 1 - CAPACITY / p.rate;
      expect(Math.abs(p.lossRatio! - expected), `at ${p.rate} frames/s: ${p.lossRatio} against ${expected}`).toBeLessThanOrEqual(WIDTH);
    }
    expect(readFileSync(join(reports, r.summary.runId, 'summary.md'), 'utf8')).toContain('Frame loss rate at loads around the NDR (RFC 2544, 26.3)');
  }, 180_000);
});
