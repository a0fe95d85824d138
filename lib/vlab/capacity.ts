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
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Testbed } from '../testbed/schema.js';
import { topologyOf } from '../testbed/topology.js';
import { readPcap, writeStreamPcap } from '../traffic/pcap.js';
import { burstFor } from '../traffic/spacing.js';
import { streamFromTestbed } from '../traffic/stream.js';
import type { LocalShell } from '../transport/local.js';
import { shq } from '../transport/quote.js';

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
export async function shapeGuest(sh: LocalShell, namespaces: Record<'tg' | 'guest', string>, tb: Testbed, fps: number): Promise<Capacity> {
  const generatorBurst = await measureGeneratorBurst(sh, namespaces.tg, tb, fps);
  const burst = Math.ceil(generatorBurst) + DATAPATH_BATCH + Math.ceil(fps * SCHEDULING_DELAY_S);
  await sh.run(`ip netns exec ${shq(namespaces.guest)} ${capacityRule(tb.traffic.srcIp, fps, burst)}`);
  return { fps, burst, generatorBurst: Math.ceil(generatorBurst) };
}

async function measureGeneratorBurst(sh: LocalShell, tgNs: string, tb: Testbed, fps: number): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'dutlab-spacing-'));
  try {
    const stream = streamFromTestbed(tb, 1);
    const frames = join(dir, 'stream.pcap');
    const capture = join(dir, 'sent.pcap');
    writeStreamPcap(frames, stream);
    const port = shq(topologyOf(tb).tgTx);
    const loops = Math.max(1, Math.ceil(fps / stream.count));
    const said = join(dir, 'tcpdump.err');
    // tcpdump is this script's own child, stopped by its pid once tcpreplay is done; the frames go only once it listens (at most 10 s).
    await sh.run(
      `ip netns exec ${shq(tgNs)} sh -c ${shq(
        `tcpdump -i ${port} -Q out -s 96 -U -w ${shq(capture)} udp 2>${shq(said)} & p=$!; ` +
          `n=0; until grep -q listening ${shq(said)} || [ $n -ge 200 ]; do sleep 0.05; n=$((n+1)); done; ` +
          `tcpreplay -q -i ${port} --pps=${fps} --loop=${loops} --preload-pcap ${shq(frames)} >/dev/null; sleep 0.3; kill $p; wait $p`,
      )}`,
      { okExitCodes: [0, 143] },
    );
    const times: number[] = [];
    await readPcap(capture, (_data, timeUs) => times.push(timeUs));
    const sent = loops * stream.count;
    // The tap on the port misses a few of what tcpreplay's packet socket sends (about a tenth at 2 kframes/s here): enough to see its bunches.
    if (times.length < sent / 2) throw new Error(`capacity: the generator's spacing: captured ${times.length} of the ${sent} frames sent`);
    return burstFor(times, fps);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
