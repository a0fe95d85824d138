// Crafted captures: what the guest's router sends back for a stream, and ways to spoil it.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RECORD_HEADER_LEN, pcapGlobalHeader, writeRecordHeader } from '../../lib/traffic/pcap.js';
import { ETH_LEN, buildFrame, forwardFrame, ipChecksum, type StreamSpec } from '../../lib/traffic/stream.js';

export const GATEWAY_MAC = 'de:ad:be:ef:ca:fe';
export const EGRESS_MAC = '00:4b:4e:49:30:01';

export function spec(overrides: Partial<StreamSpec> = {}): StreamSpec {
  return {
    srcMac: '02:00:00:00:00:01',
    dstMac: '00:4b:4e:49:30:00',
    srcIp: '1.1.1.1',
    dstIp: '6.6.6.2',
    srcPort: 1024,
    dstPort: 1024,
    ttl: 64,
    tos: 0,
    sizes: [64],
    count: 20,
    rate: 1000,
    runId: 4242,
    ...overrides,
  };
}

/** The frame as the guest's router forwards it: new MACs, TTL - 1, checksum updated. */
export function routed(s: StreamSpec, seq: number): Buffer {
  return forwardFrame(buildFrame(s, seq), GATEWAY_MAC, EGRESS_MAC);
}

export function fixChecksum(f: Buffer): void {
  f.writeUInt16BE(0, ETH_LEN + 10);
  f.writeUInt16BE(ipChecksum(f, ETH_LEN), ETH_LEN + 10);
}

export function pcapBytes(frames: Buffer[]): Buffer {
  const recs = frames.map((f, i) => {
    const h = Buffer.alloc(RECORD_HEADER_LEN);
    writeRecordHeader(h, 0, i * 1000, f.length);
    return Buffer.concat([h, f]);
  });
  return Buffer.concat([pcapGlobalHeader(), ...recs]);
}

/** The same capture as a big-endian machine writes it: every header field byte-swapped. */
export function toBigEndian(le: Buffer): Buffer {
  const be = Buffer.from(le);
  be.writeUInt32BE(le.readUInt32LE(0), 0);
  be.writeUInt16BE(le.readUInt16LE(4), 4);
  be.writeUInt16BE(le.readUInt16LE(6), 6);
  for (const off of [8, 12, 16, 20]) be.writeUInt32BE(le.readUInt32LE(off), off);
  for (let off = 24; off < le.length; off += 16 + le.readUInt32LE(off + 8)) {
    for (let f = 0; f < 16; f += 4) be.writeUInt32BE(le.readUInt32LE(off + f), off + f);
  }
  return be;
}

export class TempDir {
  readonly path = mkdtempSync(join(tmpdir(), 'dutlab-test-'));
  file(name: string, content: Buffer | string): string {
    const p = join(this.path, name);
    writeFileSync(p, content);
    return p;
  }
  remove(): void {
    rmSync(this.path, { recursive: true, force: true });
  }
}
