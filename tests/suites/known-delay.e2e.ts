// A delay of known size: a queue of 100 frames served at 5 kframes/s on the
// guest's egress link (a tbf qdisc: no netem on this kernel), so that a frame
// let into the full queue waits 20 ms, computed before any frame is sent. The
// latency stream runs on top of a load the queue never fills (p50 far below
// the delay), one near its rate whose bunches wait in it (the latency above
// that far below), and one that keeps it full (p50 at the delay, within the
// tolerance): the latency measurement finds a delay it was not told of.
import { join } from 'node:path';
import { CheckFailure } from '../../lib/errors.js';
import { defineSuite } from '../../lib/suite/api.js';
import { LATENCY_STREAM_ID } from '../../lib/suite/throughput/latency.js';
import { writeStreamPcap } from '../../lib/traffic/pcap.js';
import { streamFromTestbed } from '../../lib/traffic/stream.js';
import type { TrialResult } from '../../lib/traffic/tg.js';
import { fullQueueDelayUs, queueCommand, queueRemoveCommand } from '../../lib/vlab/queue.js';
import { BUNCH, type KnownDelayMeasured, LOADS, QUEUE, STREAM, TOLERANCE } from '../../lib/vlab/known-delay.js';

const LOAD_KEYS = Object.keys(LOADS) as Array<keyof typeof LOADS>;
const kept = ({ latencyPackets, ...r }: TrialResult) => r;

export default defineSuite({ name: 'known-delay', title: 'The latency of a queue of known size', requires: [{ feature: 'guest' }] }, (lab) => {
  const queue = { ...QUEUE, iface: lab.topology.vmEgress.guestIf };
  const expectedUs = fullQueueDelayUs(queue);
  const at: Record<keyof typeof LOADS, TrialResult | null> = { under: null, near: null, over: null };
  return [
    ...lab.setupStages(),
    {
      id: 'delay.queue',
      title: `A queue of ${queue.queueFrames} frames at ${queue.fps} frames/s on ${queue.iface} (the guest's egress): ${expectedUs / 1000} ms when full`,
      group: 'setup',
      needs: [lab.setupDone],
      run: async () => {
        const guest = lab.session.shell('guest');
        lab.teardown.defer(`the queue on ${queue.iface}`, () => guest.run(queueRemoveCommand(queue.iface), { okExitCodes: [0, 2] }).then(() => undefined));
        await guest.run(queueCommand(queue));
      },
    },
    {
      id: 'delay.measure',
      title: `The latency stream on top of ${LOAD_KEYS.map((k) => `${LOADS[k] * 100} %`).join(', ')} of the queue's rate, in bunches of ${BUNCH} frames`,
      group: 'traffic',
      needs: ['delay.queue'],
      run: async () => {
        const tg = await lab.trafficGenerator();
        const file = join(lab.dir, 'trial.pcap');
        const spec = streamFromTestbed(lab.tb, 1, { count: 1000, sizes: [queue.frame] });
        writeStreamPcap(file, spec);
        await tg.prepareTrials(file, spec.count);
        // A fault injected here (the test's: another queue than the one computed) is what the trials measure.
        await lab.runHookBeforeTraffic();
        for (const k of LOAD_KEYS) {
          at[k] = await tg.measure({
            rate: Math.round(queue.fps * LOADS[k]),
            bunch: BUNCH,
            durationS: STREAM.durationS,
            frame: queue.frame,
            latency: { streamId: LATENCY_STREAM_ID, rate: STREAM.rate },
          });
        }
        const trials = Object.fromEntries(LOAD_KEYS.map((k) => [k, kept(at[k]!)])) as KnownDelayMeasured['trials'];
        lab.measured({ kind: 'known-delay', expectedUs, tolerance: TOLERANCE, trials } as KnownDelayMeasured);
        lab.table({
          title: 'Latency against a queue of known size (µs)',
          columns: ['load', 'n', 'lost', 'mean', 'p50', 'p90', 'p99', 'expected'],
          rows: LOAD_KEYS.map((k) => {
            const l = at[k]!.latency!;
            const exp = {
              under: `p50 below ${expectedUs * TOLERANCE}`,
              near: `mean and p90 above ${LOADS.under * 100} %'s`,
              over: `p50 ${expectedUs} ± ${TOLERANCE * 100} %`,
            }[k];
            return [`${LOADS[k] * 100} % of the queue's rate`, ...[l.received, l.lost, l.avgUs, l.p50Us, l.p90Us, l.p99Us].map(String), exp];
          }),
        });
      },
    },
    {
      id: 'delay.check',
      title: `p50 at the full queue is ${expectedUs / 1000} ms within ${TOLERANCE * 100} %; far below it at ${LOADS.under * 100} %; mean and p90 at ${LOADS.near * 100} % above those at ${LOADS.under * 100} %`,
      group: 'checks',
      needs: ['delay.measure'],
      run: async () => {
        const [under, near, over] = LOAD_KEYS.map((k) => at[k]!.latency!);
        for (const l of [under!, near!, over!]) if (l.invalid) throw new CheckFailure('latency', `the latency is not valid: ${l.invalid}`, l);
        const off = Math.abs((over!.p50Us ?? 0) - expectedUs) / expectedUs;
        if (over!.p50Us === null || off > TOLERANCE)
          throw new CheckFailure(
            'latency',
            `p50 with the queue full is ${over!.p50Us} µs, ${(off * 100).toFixed(0)} % off the ${expectedUs} µs the queue makes (tolerance ${TOLERANCE * 100} %)`,
            over,
          );
        if (under!.p50Us === null || under!.p50Us > expectedUs * TOLERANCE)
          throw new CheckFailure(
            'latency',
            `p50 at ${LOADS.under * 100} % of the queue's rate is ${under!.p50Us} µs: a queue that never fills should add almost nothing to ${expectedUs} µs`,
            under,
          );
        // Near the rate the load's bunches queue: the tail and the mean rise.
        if (!(near!.avgUs > under!.avgUs && (near!.p90Us ?? 0) > (under!.p90Us ?? 0)))
          throw new CheckFailure(
            'latency',
            `at ${LOADS.near * 100} % of the queue's rate mean ${near!.avgUs} µs and p90 ${near!.p90Us} µs, at ${LOADS.under * 100} % ${under!.avgUs} and ${under!.p90Us}: the load did not raise the latency`,
            { under, near },
          );
      },
    },
  ];
});
