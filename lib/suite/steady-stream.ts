// A steady stream with something done while it flows (a restart, a soak's
// sampling), shared by the restart and soak suites: the stream through the
// generator's capturing call, the task begun just before the stream starts
// and awaited once it has ended (its failure is the stage's), then the
// return read by sequence number with any loss allowed (what the suite judges
// is when and how long, not whether). A generator that sent less than the
// stream is the lab's, named with what could not be read.
import { join } from 'node:path';
import { CheckFailure } from '../errors.js';
import type { LabRun } from '../scenario/lab-run.js';
import { pcapFrames } from '../traffic/pcap.js';
import type { StreamSpec } from '../traffic/stream.js';
import type { SendResult } from '../traffic/tg.js';
import { verifyCapture, type PacketVerdict } from '../verify/packets.js';

/** What the task is told: when the stream was about to start (the controller's clock), and whether it has ended. */
export interface StreamClock {
  startedAt: number;
  ended(): boolean;
}

/** The stream (tx.pcap in the suite's directory), `during` run beside it, the return verified. */
export async function steadyStream(
  run: LabRun,
  stream: StreamSpec,
  during: (clock: StreamClock) => Promise<void>,
  o: { intervalS?: number; eventSample?: number } = {},
): Promise<{ sent: SendResult; verdict: PacketVerdict }> {
  const tg = await run.trafficGenerator();
  let task: Promise<void> | null = null;
  let ended = false;
  const r = await tg
    .sendAndCapture({
      pcap: join(run.dir, 'tx.pcap'),
      packets: stream.count,
      rate: stream.rate,
      into: { rx: join(run.dir, 'rx.pcap'), tx: join(run.dir, 'tx-capture.pcap') },
      around: {
        before: {
          last: async () => {
            task = during({ startedAt: Date.now(), ended: () => ended });
            // Awaited below, once the stream has ended: its failure must not go unhandled meanwhile.
            task.catch(() => undefined);
          },
        },
      },
    })
    .finally(() => {
      ended = true;
    });
  if (task) await task;
  const verdict = await verifyCapture(pcapFrames(join(run.dir, 'rx.pcap')), {
    stream,
    dstMac: run.tb.gateway.mac,
    srcMac: run.topology.vmEgress.mac,
    lossTolerance: 1,
    maxProblems: 5,
    macForwarding: run.tb.vm?.forwarding === 'testpmd',
    ...(o.intervalS ? { intervalS: o.intervalS } : {}),
    ...(o.eventSample ? { eventSample: o.eventSample } : {}),
  });
  return { sent: r.sent, verdict };
}

/** The generator's shortfall, checked once what it sent is recorded: the lab's, never the DUT's. */
export function checkSentAll(sent: SendResult, stream: StreamSpec, unread: string): void {
  CheckFailure.ifAny('traffic', sent.packetsSent < stream.count ? [`the generator sent ${sent.packetsSent} of ${stream.count} frames: ${unread}`] : []);
}
