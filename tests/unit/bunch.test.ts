// A load in bunches (Trial.bunch): frames back to back at each tick of the
// rate, so that a DUT's queue is where they wait (the known-delay suite's
// loads). The linux TG sends them with tcpreplay --pps-multi (the lab tier's
// tests/lab/latency.test.ts reads it in the TG's transcript); a driver that
// cannot send them refuses the trial rather than send an even load instead.
import { describe, expect, it } from 'vitest';
import { loadTestbed } from '../../lib/testbed/load.js';
import { bunchOf } from '../../lib/traffic/tg.js';
import { TrexTrafficGenerator } from '../../lib/traffic/trex/driver.js';
import { TrexError } from '../../lib/traffic/trex/rpc.js';
import { LocalShell } from '../../lib/transport/local.js';
import { fixturePath } from '../helpers/fixtures.js';

describe('a trial in bunches', () => {
  it('is a whole number of frames, 1 to 1000 (1, as evenly as the generator can, when not asked)', () => {
    expect(bunchOf({})).toBe(1);
    expect(bunchOf({ bunch: 8 })).toBe(8);
    for (const bunch of [0, -1, 2.5, 1001, Number.NaN]) expect(() => bunchOf({ bunch })).toThrow(/a bunch of .* frames; a whole number, 1 to 1000/);
  });

  it('is refused by the TRex driver, naming the bunch, before anything reaches the server', async () => {
    const tg = new TrexTrafficGenerator(new LocalShell('tg'), loadTestbed(fixturePath('testbeds/real-ovs-dpdk.yaml')), 'r1');
    const err = await tg.measure({ rate: 4500, durationS: 2, frame: 64, bunch: 8 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TrexError);
    expect((err as Error).message).toBe('the TRex driver sends no bunched load (a trial asked for bunches of 8 frames)');
  });
});
