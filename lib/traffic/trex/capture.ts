// TRex's capture, as the capturing face uses it: one capture of both ports
// (what each sends, TX, and what each receives, RX), stopped, fetched in
// pages, and split into the pcaps the suite reads, each frame on this
// machine's clock. Which port and origin goes to which file is the caller's
// (the forward stream's return is the receive port's RX; both ways, the
// reverse stream's is the transmit port's).
import { CaptureError } from '../../errors.js';
import { waitUntil } from '../../wait.js';
import { writeFramesPcap } from '../pcap.js';
import type { TrexRpc } from './rpc.js';

interface CapturedPacket {
  binary: string;
  ts: number;
  port: number;
  origin: 'RX' | 'TX';
  index: number;
}

/** One file of a capture: the frames of one port and origin. */
export interface CaptureSplit {
  origin: 'RX' | 'TX';
  port: number;
  file: string;
}

/**
 * Stops capture `id`, fetches it, writes each split's frames (in capture
 * order, timed from the capture's start `startTs` placed at `anchorUs` here)
 * and returns each split's frames. A capture that filled its `limit` is a
 * CaptureError: what came back is not all there.
 */
export async function collectCapture(
  rpc: TrexRpc,
  server: string,
  at: { id: number; startTs: number; anchorUs: number; limit: number },
  splits: readonly CaptureSplit[],
): Promise<Buffer[][]> {
  const stopped = await rpc.call<{ pkt_count?: number }>('capture', { command: 'stop', capture_id: at.id });
  if ((stopped.pkt_count ?? 0) >= at.limit)
    throw new CaptureError(`${server}'s capture ${at.id} filled up (${at.limit} packets): what came back is not all there`);
  const packets: CapturedPacket[] = [];
  const fetch = async () => {
    const r = await rpc.call<{ pkts: CapturedPacket[]; pending: number }>('capture', { command: 'fetch', capture_id: at.id, pkt_limit: 1000 });
    packets.push(...r.pkts);
    return r.pending === 0 || (r.pkts.length === 0 && null);
  };
  await waitUntil(`${server}'s capture ${at.id} to be fetched`, fetch, { timeoutMs: 60_000, intervalMs: 0 });
  return splits.map((s) => {
    const frames = packets
      .filter((p) => p.origin === s.origin && p.port === s.port)
      .sort((a, b) => a.index - b.index)
      .map((p) => ({ data: Buffer.from(p.binary, 'base64'), timeUs: at.anchorUs + (p.ts - at.startTs) * 1e6 }));
    writeFramesPcap(s.file, frames);
    return frames.map((f) => f.data);
  });
}
