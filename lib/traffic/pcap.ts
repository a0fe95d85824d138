// Classic libpcap files: writing the stream, and reading a capture as a stream
// of packets through pcap-parser (never the whole file in memory).
import { closeSync, createReadStream, openSync, statSync, writeSync } from 'node:fs';
import pcapParser from 'pcap-parser';
import { PcapError } from '../errors.js';
import { buildFrame, frameLength, type StreamSpec } from './stream.js';

const LINKTYPE_ETHERNET = 1;
const CHUNK = 4 << 20;
export const PCAP_HEADER_LEN = 24;
export const RECORD_HEADER_LEN = 16;
/** libpcap's own ceiling for a snapshot length (MAXIMUM_SNAPLEN): no record of a valid file is longer. */
const MAX_SNAPLEN = 262144;

/** The classic pcap global header: little-endian, microseconds, Ethernet. */
export function pcapGlobalHeader(): Buffer {
  const head = Buffer.alloc(PCAP_HEADER_LEN);
  head.writeUInt32LE(0xa1b2c3d4, 0);
  head.writeUInt16LE(2, 4);
  head.writeUInt16LE(4, 6);
  head.writeInt32LE(0, 8);
  head.writeUInt32LE(0, 12);
  head.writeUInt32LE(262144, 16);
  head.writeUInt32LE(LINKTYPE_ETHERNET, 20);
  return head;
}

/** Writes a record header (time in microseconds, whole frame captured) at `into[off]`. */
export function writeRecordHeader(into: Buffer, off: number, timeUs: number, len: number): void {
  into.writeUInt32LE(Math.floor(timeUs / 1e6), off);
  into.writeUInt32LE(timeUs % 1e6, off + 4);
  into.writeUInt32LE(len, off + 8);
  into.writeUInt32LE(len, off + 12);
}

/**
 * When each frame of a stream in phases leaves (µs from the first): each
 * phase's frames evenly spaced at its rate, one after the other (the system
 * recovery's overload, then its lower load).
 */
export function phasedTimes(phases: ReadonlyArray<{ rate: number; frames: number }>): (seq: number) => number {
  const starts: Array<{ from: number; atUs: number; rate: number }> = [];
  let from = 0;
  let atUs = 0;
  for (const p of phases) {
    starts.push({ from, atUs, rate: p.rate });
    from += p.frames;
    atUs += (p.frames / p.rate) * 1e6;
  }
  return (seq) => {
    const p = starts.findLast((s) => s.from <= seq) ?? starts[0]!;
    return Math.round(p.atUs + ((seq - p.from) / p.rate) * 1e6);
  };
}

/**
 * Writes the stream as a classic pcap (microsecond timestamps, little-endian), spaced at its rate, or at the times
 * `timeUs` gives (a generator that replays as timed sends them so: tcpreplay without --pps).
 */
export function writeStreamPcap(file: string, spec: StreamSpec, timeUs?: (seq: number) => number): { packets: number; bytes: number } {
  const fd = openSync(file, 'w');
  try {
    writeSync(fd, pcapGlobalHeader());
    const buf = Buffer.alloc(CHUNK);
    let used = 0;
    let bytes = 0;
    const gapUs = Math.max(1, Math.round(1e6 / spec.rate));
    for (let seq = 0; seq < spec.count; seq++) {
      const len = frameLength(spec, seq);
      if (used + RECORD_HEADER_LEN + len > CHUNK) {
        writeSync(fd, buf, 0, used);
        used = 0;
      }
      writeRecordHeader(buf, used, timeUs ? timeUs(seq) : seq * gapUs, len);
      buildFrame(spec, seq, buf.subarray(used + RECORD_HEADER_LEN, used + RECORD_HEADER_LEN + len));
      used += RECORD_HEADER_LEN + len;
      bytes += len;
    }
    writeSync(fd, buf, 0, used);
    return { packets: spec.count, bytes };
  } finally {
    closeSync(fd);
  }
}

/** Writes frames as they were captured elsewhere (a generator's capture API) into a classic pcap, in the order given. */
export function writeFramesPcap(file: string, frames: Iterable<{ data: Buffer; timeUs: number }>): number {
  const fd = openSync(file, 'w');
  let n = 0;
  try {
    writeSync(fd, pcapGlobalHeader());
    const head = Buffer.alloc(RECORD_HEADER_LEN);
    for (const f of frames) {
      writeRecordHeader(head, 0, Math.max(0, Math.round(f.timeUs)), f.data.length);
      writeSync(fd, head);
      writeSync(fd, f.data);
      n++;
    }
    return n;
  } finally {
    closeSync(fd);
  }
}

/**
 * Calls onPacket for each packet of a classic pcap file, streaming. A pcapng
 * file, garbage, an unsupported link type or a cut-off last record is a PcapError.
 */
/** A record's capture time, microseconds since the epoch (the capturing host's clock). */
export type RecordTime = number;

export function readPcap(file: string, onPacket: (data: Buffer, timeUs: RecordTime) => void): Promise<{ packets: number }> {
  return new Promise((resolve, reject) => {
    let size: number;
    try {
      size = statSync(file).size;
    } catch (err) {
      return reject(new PcapError(file, `cannot read: ${(err as Error).message}`));
    }
    if (size < 24) return reject(new PcapError(file, `too short for a pcap file (${size} bytes; the global header alone is 24)`));
    const input = createReadStream(file, { highWaterMark: 1 << 20 });
    const parser = pcapParser.parse(input);
    let consumed = 24;
    let packets = 0;
    let failed = false;
    let snaplen = MAX_SNAPLEN;
    const refuse = (message: string) => {
      failed = true;
      // Stop reading: a record that claims gigabytes would otherwise be buffered whole.
      (parser as unknown as { errored: boolean }).errored = true;
      input.destroy();
      reject(new PcapError(file, message));
    };
    parser.on('globalHeader', (h: { linkLayerType: number; snapshotLength: number; majorVersion: number; minorVersion: number }) => {
      // 2.4 is the only classic pcap version libpcap has written since 1998; another is a file this reader would misread.
      if (h.majorVersion !== 2 || h.minorVersion !== 4)
        refuse(`pcap version ${h.majorVersion}.${h.minorVersion}; only 2.4 (libpcap's classic format) can be read`);
      else if (h.linkLayerType !== LINKTYPE_ETHERNET) refuse(`link type ${h.linkLayerType}; only Ethernet (1) captures can be verified`);
      else snaplen = Math.min(h.snapshotLength || MAX_SNAPLEN, MAX_SNAPLEN);
    });
    parser.on('packetHeader', (h: { capturedLength: number }) => {
      if (!failed && h.capturedLength > snaplen) {
        refuse(
          `record ${packets + 1} (at byte ${consumed}) claims ${h.capturedLength} bytes, more than the file's snapshot length ${snaplen}: the file is corrupt`,
        );
      }
    });
    parser.on('packet', (p: { header: { capturedLength: number; timestampSeconds: number; timestampMicroseconds: number }; data: Buffer }) => {
      if (failed) return;
      consumed += 16 + p.header.capturedLength;
      packets++;
      onPacket(p.data, p.header.timestampSeconds * 1e6 + p.header.timestampMicroseconds);
    });
    parser.on('error', (err: Error) => {
      if (failed) return;
      failed = true;
      const magic = /unknown magic number: (\w+)/.exec(err.message)?.[1];
      if (magic === '0a0d0d0a') reject(new PcapError(file, 'is pcapng; capture with tcpdump -w (classic pcap) or convert with `editcap -F pcap`'));
      else if (magic === '4d3cb2a1' || magic === 'a1b23c4d') {
        reject(
          new PcapError(
            file,
            'is a pcap with nanosecond timestamps, which pcap-parser does not read; capture without --time-stamp-precision=nano or convert with `editcap -F pcap`',
          ),
        );
      } else if (magic) reject(new PcapError(file, `is not a pcap file (magic number ${magic})`));
      else reject(new PcapError(file, err.message));
    });
    parser.on('end', () => {
      if (failed) return;
      if (consumed !== size) {
        reject(new PcapError(file, `truncated: ${size - consumed} bytes after packet ${packets} do not make a whole record (the capture was cut off)`));
      } else resolve({ packets });
    });
  });
}

/** A capture file as the checks take it (lib/verify's FrameSource): its frames, read as a stream when asked. */
export const pcapFrames =
  (file: string) =>
  (onFrame: (frame: Buffer, timeUs: number) => void): Promise<{ packets: number }> =>
    readPcap(file, onFrame);
