// RFC 2544's back-to-back frames (with RFC 9004's correction) and system
// recovery (issue 44), without a lab: the burst search on simulated DUTs
// whose buffer is known, the recovery read from the captures of a simulated
// tail-drop queue and of a policer, the phased stream's schedule, the
// tables, the testbed's refusals, the history and `compare`.
import { describe, expect, it } from 'vitest';
import { CaptureError, GeneratorShortError } from '../../lib/errors.js';
import { compareBeyondNdr } from '../../lib/report/compare-beyond.js';
import { rfc2544Of } from '../../lib/results/history.js';
import type { SeenPacket } from '../../lib/results/latency.js';
import type { RunRecord } from '../../lib/results/run.js';
import type { RecoveryPhase } from '../../lib/results/throughput.js';
import { backToBackTable } from '../../lib/suite/throughput/back-to-back.js';
import { recoveryTable } from '../../lib/suite/throughput/recovery.js';
import { backToBackResult } from '../../lib/results/back-to-back.js';
import { backToBackSearch, type Burst, longestBurst } from '../../lib/throughput/back-to-back.js';
import { phasedTimes } from '../../lib/traffic/pcap.js';
import { recoveryOf } from '../../lib/verify/recovery.js';
import { loadTestbed } from '../../lib/testbed/load.js';
import type { MeasuringTrafficGenerator } from '../../lib/traffic/tg.js';
import { TrexTrafficGenerator } from '../../lib/traffic/trex/driver.js';
import { TrexError } from '../../lib/traffic/trex/rpc.js';
import { LocalShell } from '../../lib/transport/local.js';
import { fixturePath, MINIMAL_TESTBED as MINIMAL, testbedProblems } from '../helpers/fixtures.js';

/**
 * A DUT with a buffer of `buffer` frames that forwards `throughput` frames/s, behind a generator that sends bursts
 * at `rate`: a burst of n frames lasts n / rate, the DUT forwards throughput x that meanwhile, and loses what the
 * buffer cannot hold. `jitter(i)` adds to the buffer on the i-th burst (a DUT that does not repeat itself).
 */
function burstyDut(buffer: number, throughput: number, rate: number, jitter: (i: number) => number = () => 0) {
  const sent: number[] = [];
  const send = async (frames: number): Promise<Burst> => {
    const seconds = frames / rate;
    const held = buffer + jitter(sent.length) + Math.floor(throughput * seconds);
    sent.push(frames);
    return { frames, sent: frames, received: Math.min(frames, held), seconds, captured: frames };
  };
  return { send, sent };
}

describe('back-to-back frames', () => {
  it('finds the longest lossless burst to one frame, and RFC 9004 corrects it back to the buffer', async () => {
    // 100 frames of buffer, 5000 frames/s forwarded, bursts at 200,000 frames/s: 102 frames pass, 103 do not.
    const dut = burstyDut(100, 5000, 200_000);
    const rep = await longestBurst(dut.send, 10_000);
    expect(rep.frames).toBe(102);
    expect(dut.sent[0]).toBe(10_000);
    const r = backToBackResult([rep], 10_000, 5000);
    expect(r.meanFrames).toBe(102);
    expect(r.burstRate).toBe(200_000);
    expect(r.impliedBufferMs).toBe(0.51);
    // 102 x (1 - 5000 / 200000) = 99.45: the buffer, less the frame the DUT forwarded as the burst began.
    expect(r.correctedFrames).toBeCloseTo(99.5, 1);
    expect(r.correctedBufferMs).toBeCloseTo(0.497, 3);
    expect(r.drainMs).toBeCloseTo(19.89, 2);
    expect(r.sdFrames).toBeNull();
  });

  it('repeats as asked, each repetition starting from the last answer: the same answer in fewer bursts', async () => {
    const dut = burstyDut(100, 5000, 200_000, (i) => (i % 7 === 0 ? 3 : 0));
    const reps = await backToBackSearch(dut.send, 10_000, 5);
    expect(reps).toHaveLength(5);
    expect(reps.every((r) => r.frames >= 102 && r.frames <= 105)).toBe(true);
    for (const r of reps.slice(1)) expect(r.bursts.length).toBeLessThan(reps[0]!.bursts.length);
    const res = backToBackResult(reps, 10_000, 5000);
    expect(res.trials).toBe(reps.reduce((a, r) => a + r.bursts.length, 0));
    expect(res.bursts).toEqual(reps.map((r) => r.frames));
  });

  it('says a burst of maxBurst lost nothing (not bounded), and 0 where a single frame is lost', async () => {
    expect((await longestBurst(burstyDut(1e6, 0, 1e5).send, 500)).frames).toBe(500);
    expect(backToBackResult([{ frames: 500, bursts: [] }], 500, 1000).unbounded).toBe(1);
    expect((await longestBurst(burstyDut(0, 0, 1e5).send, 500)).frames).toBe(0);
    // Starting from an answer above the truth, it steps down to it.
    expect((await longestBurst(burstyDut(10, 0, 1e5).send, 500, 40)).frames).toBe(10);
  });

  it("a burst the generator did not send whole is the generator's, never the DUT's; one its capture missed, the lab's", async () => {
    const short = async (frames: number): Promise<Burst> => ({ frames, sent: frames - 1, received: frames - 1, seconds: 0.001, captured: frames - 1 });
    await expect(longestBurst(short, 100)).rejects.toThrow(GeneratorShortError);
    await expect(longestBurst(short, 100)).rejects.toThrow('the generator sent 99 of a burst of 100 frames');
    // Its length is read from the capture of what left: one that missed frames is the lab's.
    const missed = async (frames: number): Promise<Burst> => ({ frames, sent: frames, received: frames, seconds: 0.001, captured: frames - 3 });
    await expect(longestBurst(missed, 100)).rejects.toThrow(CaptureError);
    await expect(longestBurst(missed, 100)).rejects.toThrow('the capture of a burst leaving the generator holds 97 of its 100 frames');
  });

  it('without an NDR the buffer is not corrected, and the table says not measured', () => {
    const r = backToBackResult([{ frames: 80, bursts: [{ frames: 80, sent: 80, received: 80, seconds: 0.0004, captured: 80 }] }], 1000, null);
    expect(r.correctedFrames).toBeNull();
    const t = backToBackTable([{ frame: 64, backToBack: r }])!;
    expect(t.rows[0]).toEqual([
      '64',
      '80',
      'one repetition',
      '80 to 80',
      '200000',
      'none',
      '0.4 ms',
      'not measured (no NDR)',
      'not measured (no NDR)',
      'not measured (no NDR)',
    ]);
    expect(backToBackTable([{ frame: 64 }])).toBeNull();
  });
});

/**
 * What a generator's two captures would hold of a phased stream through a tail-drop queue of `queue` frames
 * served at `serviceRate` (no queue: a policer that drops above its rate, at once): each frame's departure and,
 * where it was not dropped, its arrival.
 */
function throughQueue(phases: RecoveryPhase[], queue: number, serviceRate: number, baseUs = 50) {
  const at = phasedTimes(phases);
  const total = phases.reduce((a, p) => a + p.frames, 0);
  const sent: SeenPacket[] = [];
  const received: SeenPacket[] = [];
  const inQueue: number[] = [];
  let last = 0;
  const service = 1e6 / serviceRate;
  for (let seq = 0; seq < total; seq++) {
    const t = 1_000_000 + at(seq);
    sent.push({ seq, us: t });
    while (inQueue.length && inQueue[0]! <= t) inQueue.shift();
    if (inQueue.length >= queue) continue;
    last = Math.max(t, last) + service;
    inQueue.push(last);
    received.push({ seq, us: last + baseUs });
  }
  return { sent, received };
}

describe('system recovery', () => {
  const phases = (ndr: number): [RecoveryPhase, RecoveryPhase] => [
    { share: 1.5, rate: ndr * 1.5, seconds: 1, frames: ndr * 1.5 },
    { share: 0.5, rate: ndr * 0.5, seconds: 1, frames: ndr * 0.5 },
  ];

  it("a queue loses nothing once the load drops, and its latency settles when it has drained: the queue over the drain's rate", () => {
    const [overload, recover] = phases(5000);
    const { sent, received } = throughQueue([overload, recover], 100, 5000);
    const r = recoveryOf(sent, received, { ndr: 5000, overload, recover, settledWithinMs: 1 });
    expect(r.lostInOverload).toBeGreaterThan(2400);
    expect(r.lostInRecovery).toBe(0);
    expect(r.lossRecoveryMs).toBe(0);
    // Full (100 frames, 20 ms) at the reduction, drained at 5000 - 2500 frames/s: settled within 1 ms (5 frames) of
    // the service time after (100 - 1 - 5) / 2500 s = 37.6 ms, to one frame's interval at the lower load.
    expect(Math.abs(r.delayRecoveryMs! - 37.6)).toBeLessThanOrEqual(r.resolutionMs);
    expect(r.peakLatencyUs).toBeGreaterThan(19_900);
    expect(r.settledLatencyUs).toBe(250);
    expect(r.resolutionMs).toBe(0.4);
    expect(r.invalid).toBeUndefined();
  });

  it('a policer (no queue) recovers at once by both measures', () => {
    const [overload, recover] = phases(5000);
    const { sent, received } = throughQueue([overload, recover], 1, 5000);
    const r = recoveryOf(sent, received, { ndr: 5000, overload, recover, settledWithinMs: 1 });
    expect(r.lostInOverload).toBeGreaterThan(0);
    expect([r.lossRecoveryMs, r.delayRecoveryMs]).toEqual([0, 0]);
  });

  it("RFC 2544's recovery is the reduction to the last frame lost, by when it was sent", () => {
    const [overload, recover] = phases(1000);
    const { sent, received } = throughQueue([overload, recover], 1e9, 1e9);
    // Frames 1500 (the reduction) to 1519 lost: a DUT that stalled for 20 frames (40 ms at 500 frames/s) as the load dropped.
    const r = recoveryOf(
      sent,
      received.filter((p) => p.seq < 1500 || p.seq >= 1520),
      { ndr: 1000, overload, recover, settledWithinMs: 1 },
    );
    expect(r.lostInRecovery).toBe(20);
    expect(r.lossRecoveryMs).toBe(38);
    expect(r.lostInOverload).toBe(0);
  });

  it('a capture that missed the reduction or more than a few frames says so: not measured, never a guess', () => {
    const [overload, recover] = phases(1000);
    const { sent, received } = throughQueue([overload, recover], 1e9, 1e9);
    const r = recoveryOf(
      sent.filter((p) => p.seq !== 1500),
      received,
      { ndr: 1000, overload, recover, settledWithinMs: 1 },
    );
    expect(r.invalid).toContain('the reduction (frame 1500) is not in the capture of what left the generator');
    const r2 = recoveryOf(
      sent.filter((p) => p.seq % 10 !== 3),
      received,
      { ndr: 1000, overload, recover, settledWithinMs: 1 },
    );
    expect(r2.invalid).toBe('the capture of what left the generator holds 1800 of the 2000 frames');
    expect(recoveryTable([{ frame: 64, recovery: r2 }])!.rows[0]![5]).toMatch(/^not measured \(the capture/);
  });

  it("the phased stream's schedule: each phase evenly at its rate, one after the other", () => {
    const at = phasedTimes([
      { rate: 1000, frames: 3 },
      { rate: 500, frames: 2 },
    ]);
    expect([0, 1, 2, 3, 4].map(at)).toEqual([0, 1000, 2000, 3000, 5000]);
  });
});

describe('the generators', () => {
  it('the TRex driver offers no bursts, and refuses a timed stream before anything reaches its server', async () => {
    const tg = new TrexTrafficGenerator(new LocalShell('tg'), loadTestbed(fixturePath('testbeds/real-ovs-dpdk.yaml')), 'r1');
    expect((tg as MeasuringTrafficGenerator).burst).toBeUndefined();
    const err = await tg
      .sendAndCapture({ pcap: 'x.pcap', packets: 10, rate: 10, timed: true, into: { rx: 'rx.pcap', tx: 'tx.pcap' } })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TrexError);
    expect((err as Error).message).toBe("a timed stream (the pcap's own timestamps) is not offered by the TRex driver");
  });
});

describe("the testbed's RFC 2544 sections", () => {
  it('refuses what cannot be measured, naming the field', () => {
    const problems = (y: string) => testbedProblems(`${MINIMAL}${y}`);
    expect(problems('throughput: { backToBack: { maxBurst: 200000 } }\n')[0]!.path).toBe('throughput.backToBack.maxBurst');
    expect(problems('throughput: { backToBack: { repeats: 0 } }\n')[0]!.path).toBe('throughput.backToBack.repeats');
    expect(problems('throughput: { recovery: { overload: 1 } }\n')).toEqual([
      { path: 'throughput.recovery.overload', message: 'above 1: an overload is more than the NDR' },
    ]);
    expect(problems('throughput: { recovery: { recover: 1.2 } }\n')[0]!.path).toBe('throughput.recovery.recover');
    expect(problems('throughput: { recovery: { recoverS: 0.1 } }\n')).toEqual([
      { path: 'throughput.recovery.recoverS', message: '0.1 s at 0.5 x an NDR as low as throughput.minRate (1000 frames/s) is fewer than 100 frames' },
    ]);
    expect(problems('throughput: { fixedLoad: 1000, backToBack: {} }\n')).toEqual([
      { path: 'throughput.backToBack', message: "needs the search's NDR: throughput.fixedLoad runs no search" },
    ]);
    expect(problems('traffic: { direction: both }\nthroughput: { recovery: {} }\n')).toContainEqual({
      path: 'throughput.recovery',
      message: 'measured one way: traffic.direction both is not offered',
    });
    expect(problems('tg:\n  type: trex\n  trex:\n    ports: { transmit: 0, receive: 1 }\nthroughput: { linkSpeedGbps: 10, backToBack: {} }\n')).toEqual([
      { path: 'throughput.backToBack', message: 'the trex driver does not send bursts at its utmost rate yet; the linux generator does' },
    ]);
    expect(() => problems('throughput: { backToBack: {}, recovery: {} }\n')).toThrow('the testbed was accepted');
  });
});

describe('the history and compare', () => {
  const record = (b2b: number | null, rec: number | null, unbounded = 0): RunRecord =>
    ({
      run: {
        runId: 'r',
        suites: [
          {
            suite: 'throughput',
            cases: [],
            measured: {
              kind: 'throughput',
              results: [
                {
                  frame: 64,
                  goals: [],
                  trials: [],
                  ...(b2b !== null
                    ? {
                        backToBack: {
                          meanFrames: b2b,
                          unbounded,
                          maxBurst: 1000,
                          burstRate: 1e5,
                          impliedBufferMs: 1,
                          correctedFrames: b2b,
                          correctedBufferMs: 1,
                        },
                      }
                    : {}),
                  ...(rec !== null ? { recovery: { lossRecoveryMs: 0, delayRecoveryMs: rec, lostInRecovery: 0, resolutionMs: 0.4 } } : {}),
                },
              ],
            },
          },
        ],
      },
      cases: [],
    }) as unknown as RunRecord;

  it('names fewer frames absorbed and a longer recovery beyond the threshold as regressions', () => {
    const c = compareBeyondNdr(record(100, 40), record(80, 60), 0.1, 0.5);
    expect(c.regressions).toEqual([
      'back-to-back at 64-byte frames fell: 80.0 frames now, 100.0 in the baseline (threshold 0.1)',
      'system recovery (latency settled) at 64-byte frames: 60 ms now, 40 ms in the baseline (threshold 0.1)',
    ]);
    expect(compareBeyondNdr(record(100, 40), record(95, 44), 0.1, 0.5).regressions).toEqual([]);
    expect(compareBeyondNdr(record(100, null, 1), record(100, null), 0.1, 0.5).changes).toEqual([
      'back-to-back at 64-byte frames: not compared (a burst of 1000 frames lost nothing in one of them: not bounded)',
    ]);
    expect(compareBeyondNdr(record(null, null), record(90, 3), 0.1, 0.5).changes).toEqual([
      'back-to-back at 64-byte frames: measured now, not in the baseline',
      'system recovery at 64-byte frames: measured now, not in the baseline',
    ]);
  });

  it('keeps each frame size’s figures in the history line', () => {
    expect(rfc2544Of(record(100, 40).run)).toEqual([
      {
        frame: 64,
        backToBack: { meanFrames: 100, unbounded: 0, burstRate: 1e5, impliedBufferMs: 1, correctedFrames: 100, correctedBufferMs: 1 },
        recovery: { lossRecoveryMs: 0, delayRecoveryMs: 40, lostInRecovery: 0 },
      },
    ]);
  });
});
