// A DUT of known capacity: a token bucket in the guest's forward path (an
// nftables limit on the stream's packets), far below what the virtual DUT can
// forward, so that a throughput search has a right answer to find. The bucket
// holds what the generator sends in one burst at that rate (measured at lab
// up: the generator's own frames, captured as they leave the TG's port), the
// batch in which OVS's userspace datapath hands frames on (up to 32), and what
// piles up while that datapath waits for a CPU (10 ms of frames): a bucket any
// smaller drops frames of a load below the capacity. What the bucket holds
// lets through at most `burst` frames more than the rate in a trial, an error
// of burst / (capacity x trial length) that docs/gate.md states.
// The burst is the generator's own: tcpreplay's captured as it leaves the
// TG's port, or (lab up --tg trex) TRex's, captured where it arrives, on the
// DUT's phy port (tcpdump on TRex's own veth sees nothing TRex sends: its
// af_packet port bypasses the qdisc tcpdump taps).
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Testbed } from '../testbed/schema.js';
import { topologyOf } from '../testbed/topology.js';
import { readPcap, writeStreamPcap } from '../traffic/pcap.js';
import { burstFor } from '../traffic/spacing.js';
import { buildFrame, streamFromTestbed } from '../traffic/stream.js';
import { stlStream } from '../traffic/trex/streams.js';
import { TrexPorts, TrexRpc } from '../traffic/trex/rpc.js';
import { Tcpdump } from '../traffic/tcpdump.js';
import { LAB_TG_TIMER } from './pinning.js';
import { type LocalShell, NamespaceShell } from '../transport/local.js';
import { shq } from '../transport/quote.js';
import { waitUntil, waitUntilSteady } from '../wait.js';

/** OVS's userspace datapath receives and sends up to this many frames at once (NETDEV_MAX_BURST). */
export const DATAPATH_BATCH = 32;
/**
 * What piles up while the datapath waits for a CPU on a box it shares with
 * the generator: 10 ms of frames. Without it a bucket at 10 kframes/s dropped
 * frames of loads near 7 kframes/s here (npm run bench:throughput).
 */
export const SCHEDULING_DELAY_S = 0.01;

export interface Capacity {
  /** Frames per second the guest forwards of the stream, at most. */
  fps: number;
  /** The bucket: what it lets through at once. */
  burst: number;
  /** The generator's own burst at this rate, as measured. */
  generatorBurst: number;
}

const TABLE = 'dutlab_capacity';

/** The nft command that sets (or resets) the guest's capacity: run in the guest's namespace. */
export function capacityRule(srcIp: string, fps: number, burst: number): string {
  if (!/^\d{1,3}(\.\d{1,3}){3}$/.test(srcIp)) throw new Error(`capacity: ${JSON.stringify(srcIp)} is not an IPv4 address`);
  if (!Number.isInteger(fps) || fps < 1 || !Number.isInteger(burst) || burst < 1)
    throw new Error(`capacity: ${fps} frames/s, burst ${burst}: whole numbers above 0`);
  const rule = `add rule ip ${TABLE} forward ip saddr ${srcIp} limit rate over ${fps}/second burst ${burst} packets counter drop`;
  return `nft ${shq(`add table ip ${TABLE}; add chain ip ${TABLE} forward { type filter hook forward priority 0; }; flush chain ip ${TABLE} forward; ${rule}`)}`;
}

/**
 * Measures how the generator spaces its frames at `fps` (one second of the
 * stream from the TG's transmit port, captured there as it leaves), then
 * installs the bucket in the guest's namespace.
 */
export async function shapeGuest(
  sh: LocalShell,
  namespaces: Record<'tg' | 'host' | 'guest', string>,
  tb: Testbed,
  fps: number,
  workDir: string,
  trexSocket?: string,
): Promise<Capacity> {
  const generatorBurst = await measureGeneratorBurst(sh, namespaces, tb, fps, workDir, trexSocket);
  const burst = Math.ceil(generatorBurst) + DATAPATH_BATCH + Math.ceil(fps * SCHEDULING_DELAY_S);
  await sh.run(`ip netns exec ${shq(namespaces.guest)} ${capacityRule(tb.traffic.srcIp, fps, burst)}`);
  return { fps, burst, generatorBurst: Math.ceil(generatorBurst) };
}

/** In the lab's work dir: a lab up killed while it measures leaves nothing that lab down does not remove. */
async function measureGeneratorBurst(
  sh: LocalShell,
  ns: Record<'tg' | 'host', string>,
  tb: Testbed,
  fps: number,
  workDir: string,
  trexSocket?: string,
): Promise<number> {
  const dir = mkdtempSync(join(workDir, 'spacing-'));
  try {
    const stream = streamFromTestbed(tb, 1);
    const capture = join(dir, 'sent.pcap');
    const t = topologyOf(tb);
    // Where the generator's frames can be seen: tcpreplay's as they leave the TG's port, TRex's where they arrive.
    const at = trexSocket ? { shell: new NamespaceShell(sh, ns.host), iface: t.phyIngress.name, direction: 'in' as const } : null;
    const spec = {
      name: 'generator-spacing',
      iface: at?.iface ?? t.tgTx,
      direction: at?.direction ?? 'out',
      file: capture,
      logFile: join(dir, 'tcpdump.log'),
      filter: 'udp',
      snaplen: 96,
    } as const;
    const tcpdump = await Tcpdump.start(at?.shell ?? new NamespaceShell(sh, ns.tg), spec);
    let sent: number;
    try {
      sent = trexSocket ? await sendWithTrex(trexSocket, buildFrame(stream, 0), fps) : await sendWithTcpreplay(sh, ns.tg, tb, fps, dir);
      await waitUntilSteady(
        'the spacing capture',
        async () => statSync(capture).size,
        (n) => n,
        { quietMs: 200, timeoutMs: 2000, intervalMs: 50 },
      );
    } catch (err) {
      await tcpdump.abandon();
      throw err;
    }
    // A capture that dropped frames would hide the generator's bunches: Tcpdump says so (CaptureError).
    await tcpdump.stop();
    const times: number[] = [];
    await readPcap(capture, (_data, timeUs) => times.push(timeUs));
    // In immediate mode the capture holds every frame sent (without it, about a tenth went missing uncounted); a few
    // short would still show the bunches, more means the generator stopped short.
    if (times.length < sent * 0.99) throw new Error(`capacity: the generator's spacing: captured ${times.length} of the ${sent} frames sent`);
    return burstFor(times, fps);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** One second of the stream at `fps` from the TG's port with tcpreplay, paced as the lab's testbed paces it; what it sent. */
async function sendWithTcpreplay(sh: LocalShell, tgNs: string, tb: Testbed, fps: number, dir: string): Promise<number> {
  const stream = streamFromTestbed(tb, 1);
  const frames = join(dir, 'stream.pcap');
  writeStreamPcap(frames, stream);
  const loops = Math.max(1, Math.ceil(fps / stream.count));
  const port = topologyOf(tb).tgTx;
  await new NamespaceShell(sh, tgNs).run(
    `tcpreplay -q -T ${LAB_TG_TIMER} -i ${shq(port)} --pps=${fps} --loop=${loops} --preload-pcap ${shq(frames)} >/dev/null`,
  );
  return loops * stream.count;
}

/** One second of the frame at `fps` from the lab's TRex (its port 0: the lab's transmit port), as the driver sends a trial; what TRex says it sent. */
async function sendWithTrex(socket: string, frame: Buffer, fps: number): Promise<number> {
  const rpc = new TrexRpc({ endpoint: `ipc://${socket}`, name: "the lab's TRex" });
  try {
    await rpc.connect();
    const ports = new TrexPorts(rpc, 'dutlab lab up', process.pid);
    await ports.acquire({ transmit: 0 });
    try {
      const handler = ports.handler(0);
      const sent = async () => (await rpc.call<{ opackets: number }>('get_port_stats', { port_id: 0 })).opackets;
      const before = await sent();
      await rpc.call('remove_all_streams', { handler, port_id: 0 });
      await rpc.call('add_stream', { handler, port_id: 0, stream_id: 1, stream: stlStream(frame, fps) });
      await rpc.call('start_traffic', { handler, port_id: 0, mul: { type: 'raw', op: 'abs', value: 1 }, duration: 1, force: false });
      const idle = async () => (await rpc.call<{ state: string }>('get_port_status', { port_id: 0, block: false })).state !== 'TX';
      await waitUntil("the lab's TRex to finish the spacing stream", idle, { timeoutMs: 10_000, intervalMs: 100 });
      await rpc.call('remove_all_streams', { handler, port_id: 0 });
      return (await sent()) - before;
    } finally {
      await ports.release();
    }
  } finally {
    rpc.close();
  }
}
