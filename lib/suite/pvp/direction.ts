// The PVP suite's stream in each direction it goes: the forward one (the
// guide's), and with traffic.direction both the reverse one, judged on the
// testbed as the reverse stream sees it (lib/testbed/topology.ts
// reverseTestbed): its own stream and sequence numbers, its own path of hops
// (the other counter of each port: what was a port's rx is its tx), its own
// captures. The checks iterate the directions; nothing else knows there are two.
import type { Testbed } from '../../testbed/schema.js';
import { pvpPath, type PvpPath, type Wire } from '../../testbed/path.js';
import { reverseTestbed, topologyOf } from '../../testbed/topology.js';
import { reverseRunId, streamFromTestbed, type StreamSpec } from '../../traffic/stream.js';

export interface Direction {
  name: 'forward' | 'reverse';
  /** The testbed as this direction's stream sees it. */
  tb: Testbed;
  stream: StreamSpec;
  path: PvpPath;
  /** Its files in the run directory: the pcap sent, what came back (rx), what left the sending port (tx). */
  files: { sent: string; rx: string; tx: string };
  /** How its tables and diagnoses are titled: "" for the forward stream (as one-way runs always were), " (reverse)". */
  suffix: string;
}

/** The stream's directions: the forward one, and the reverse one where traffic.direction is both. */
export function directionsOf(tb: Testbed, runId: number): Direction[] {
  const forward: Direction = {
    name: 'forward',
    tb,
    stream: streamFromTestbed(tb, runId),
    path: pvpPath(tb),
    files: { sent: 'tx.pcap', rx: 'rx.pcap', tx: 'tx-capture.pcap' },
    suffix: '',
  };
  if (tb.traffic.direction !== 'both') return [forward];
  const rev = reverseTestbed(tb);
  return [
    forward,
    {
      name: 'reverse',
      tb: rev,
      stream: streamFromTestbed(rev, reverseRunId(runId)),
      path: pvpPath(rev),
      files: { sent: 'tx-reverse.pcap', rx: 'rx-reverse.pcap', tx: 'tx-capture-reverse.pcap' },
      suffix: ' (reverse)',
    },
  ];
}

/** The guest's capture of one of its links in a direction: what comes in on its ingress vEth, what leaves by its egress vEth. */
export const guestCaptureName = (d: Pick<Direction, 'name'>, iface: string): string => `guest-${iface}${d.name === 'reverse' ? '-reverse' : ''}`;

/** The run directory's capture of a wire of a direction's path: the TG's sending and returning ports, the guest's links. */
export function captureOf(d: Direction, w: Wire): string {
  if (w.capturedOn === 'guest') return `${guestCaptureName(d, w.iface)}.pcap`;
  return w.iface === topologyOf(d.tb).tgTx ? d.files.tx : d.files.rx;
}
