// Outages of known length (issue 43's known answers for the sequence-gap
// measurement): the guest's forwarding blocked by one nftables rule for 200,
// 500 and 1000 ms while the PVP stream (2000 frames/s: one frame every
// 0.5 ms) flows through a DUT of known capacity (5000 frames/s: the stream
// well inside it, so that nothing but the outage loses a frame). The run fails on the frames lost, and says how: one loss
// event, its length read from the sequence numbers, and RFC 6201's frame-loss
// reset time, both within the outage's own bounds (when its nft commands
// began and ended) widened by the measurement's resolution.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseDocument } from 'yaml';
import { loadTestbed } from '../../lib/testbed/load.js';
import { topologyOf } from '../../lib/testbed/topology.js';
import { labDown, labUp, type LabState } from '../../lib/vlab/lab.js';
import { outageBounds, outageHook } from '../../lib/vlab/outage.js';
import { waitUntil } from '../../lib/wait.js';
import { dutlabRun } from '../helpers/cli.js';

const ID = 'outage';
const RATE = 2000;
const reports = mkdtempSync(join(tmpdir(), 'dutlab-outage-'));
let lab: LabState;
let testbed: string;

beforeAll(async () => {
  lab = await labUp({ id: ID, capacity: 5000 });
  // Four seconds of stream: room for the longest outage after the stream has settled.
  const doc = parseDocument(readFileSync(lab.testbedFile, 'utf8'));
  doc.setIn(['traffic', 'rate'], RATE);
  doc.setIn(['traffic', 'count'], RATE * 4);
  testbed = join(lab.stateDir, 'outage.yaml');
  writeFileSync(testbed, doc.toString());
}, 120_000);
afterAll(async () => {
  await labDown({ id: ID });
  rmSync(reports, { recursive: true, force: true });
});

describe('outages of known length, measured from the sequence numbers', () => {
  it.each([200, 500, 1000])(
    'a %i ms outage: one loss event of that length, and the reset time agreeing',
    async (ms) => {
      const tb = loadTestbed(testbed);
      const timesFile = join(lab.stateDir, `outage-${ms}.times`);
      const hook = outageHook({ netns: lab.namespaces.guest, ingressIf: topologyOf(tb).vmIngress.guestIf, ms, afterFrames: 400, delayMs: 300, timesFile });
      const r = await dutlabRun(['--testbed', testbed, '--profile', 'virtual', '--hook-before-traffic', hook], reports);
      const bounds = await waitUntil(`the ${ms} ms outage's times`, () => outageBounds(timesFile), { timeoutMs: 10_000 });
      // The DUT lost frames: the packets check fails, naming them.
      expect(r.exitCode, r.stderr).toBe(1);
      const gaps = r.summary.packets!.gaps!;
      const res = 1000 / RATE;
      expect(gaps.resolutionMs).toBe(res);
      expect(gaps.events, JSON.stringify(gaps)).toBe(1);
      const [lo, hi] = [bounds.minMs - 2 * res, bounds.maxMs + 2 * res];
      process.stderr.write(
        `outage ${ms} ms: nft bounds ${bounds.minMs.toFixed(1)}..${bounds.maxMs.toFixed(1)} ms, longest gap ${gaps.longest!.lengthMs} ms, reset time ${gaps.resetTimeMs} ms\n`,
      );
      expect(gaps.longest!.lengthMs).toBeGreaterThanOrEqual(lo);
      expect(gaps.longest!.lengthMs).toBeLessThanOrEqual(hi);
      expect(gaps.resetTimeMs).toBe(gaps.longest!.lengthMs);
      // The report says it in a line.
      expect(readFileSync(join(reports, r.summary.runId, 'summary.md'), 'utf8')).toMatch(
        /1 loss event; the longest \d+ frames from seq \d+, [\d.]+ ms \([\d.]+ ms into the stream\); frame-loss reset time \(RFC 6201: \d+ lost \/ 2000 frames\/s\) [\d.]+ ms; resolution 0\.5 ms/,
      );
    },
    120_000,
  );
});
