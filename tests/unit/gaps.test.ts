// Loss events from sequence numbers (lib/verify/gaps.ts) on streams whose
// losses are known, and the known outage's script and bounds
// (lib/vlab/outage.ts) without a lab.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { lossEvents, lossEventsLine } from '../../lib/verify/gaps.js';
import { outageBounds, outageHook } from '../../lib/vlab/outage.js';

/** A stream of `count` frames with the given seqs missing. */
const stream = (count: number, missing: Array<[number, number]>) => {
  const seen = new Uint8Array(count).fill(1);
  for (const [from, to] of missing) seen.fill(0, from, to);
  return seen;
};

describe('loss events in a stream', () => {
  it('finds none where every frame came back', () => {
    expect(lossEvents(stream(1000, []), 2000)).toEqual({ rate: 2000, resolutionMs: 0.5, events: 0, lost: 0, longest: null, resetTimeMs: 0, sample: [] });
    expect(lossEventsLine(lossEvents(stream(1000, []), 2000))).toBeNull();
  });

  it('reads one outage as one event: its frames, when it began and how long, the reset time the same', () => {
    // 400 frames at 2000 frames/s from seq 600: 200 ms, 300 ms into the stream.
    const g = lossEvents(stream(4000, [[600, 1000]]), 2000);
    expect(g).toMatchObject({ events: 1, lost: 400, resetTimeMs: 200, longest: { firstSeq: 600, frames: 400, startMs: 300, lengthMs: 200 } });
    expect(lossEventsLine(g)).toBe(
      '1 loss event; the longest 400 frames from seq 600, 200 ms (300 ms into the stream); frame-loss reset time (RFC 6201: 400 lost / 2000 frames/s) 200 ms; resolution 0.5 ms',
    );
  });

  it('tells scattered losses from one outage: the reset time counts them all, the longest gap one', () => {
    const g = lossEvents(
      stream(10_000, [
        [10, 11],
        [500, 502],
        [3000, 3100],
        [9990, 10_000],
      ]),
      1000,
    );
    expect(g).toMatchObject({ events: 4, lost: 113, resetTimeMs: 113, longest: { firstSeq: 3000, frames: 100, lengthMs: 100 } });
    // The stream's tail lost is an event too.
    expect(g.sample.at(-1)).toEqual({ firstSeq: 9990, frames: 10, startMs: 9990, lengthMs: 10 });
    // ... and says the path never forwarded again: a restart that did not come back before the stream ended.
    expect(g.toEnd).toBe(true);
    expect(lossEvents(stream(100, [[0, 100]]), 100)).toMatchObject({ events: 1, lost: 100, longest: { frames: 100, lengthMs: 1000 }, toEnd: true });
    expect(lossEvents(stream(100, [[0, 99]]), 100).toEnd).toBeUndefined();
  });
});

describe('an outage of known length', () => {
  const dir = mkdtempSync(join(tmpdir(), 'dutlab-outage-unit-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('is a detached script that waits for the stream, blocks forwarding, then unblocks, writing its times', () => {
    const hook = outageHook({ netns: 'dutlab-x-guest', ingressIf: 'vEth_port32', ms: 200, afterFrames: 400, delayMs: 300, timesFile: '/run/x/outage.times' });
    expect(hook).toMatch(/^setsid sh -c '.*' > \/dev\/null 2>&1 < \/dev\/null &$/);
    expect(hook).toContain('cat /sys/class/net/vEth_port32/statistics/rx_packets');
    expect(hook).toContain('sleep 0.200');
    expect(hook).toContain('policy drop;');
    expect(hook).toContain('nft delete table ip dutlab_outage');
  });

  it('lies between when removal began less when addition ended, and when removal ended less when addition began', () => {
    const f = join(dir, 'times');
    expect(outageBounds(f)).toBeNull();
    writeFileSync(f, '1000000000 1005000000 1205000000 1209000000 0 0\n');
    expect(outageBounds(f)).toEqual({ minMs: 200, maxMs: 209 });
    writeFileSync(f, '1000000000 1005000000\n');
    expect(outageBounds(f)).toBeNull();
    // An outage nft refused did not happen: said so, never read as one of zero length.
    writeFileSync(f, '1000000000 1005000000 1205000000 1209000000 1 1\n');
    expect(() => outageBounds(f)).toThrow('the outage did not happen as asked: nft exited 1 adding the rule and 1 removing it');
  });
});
