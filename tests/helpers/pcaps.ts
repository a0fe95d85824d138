// Crafted captures: what the guest's router sends back for a stream, and ways to spoil it.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ETH_LEN, buildFrame, ipChecksum, macBytes, type StreamSpec } from '../../lib/traffic/stream.js';

export const GATEWAY_MAC = 'de:ad:be:ef:ca:fe';
export const EGRESS_MAC = '00:4b:4e:49:30:01';

export function spec(overrides: Partial<StreamSpec> = {}): StreamSpec {
  return { srcMac: '02:00:00:00:00:01', dstMac: '00:4b:4e:49:30:00', srcIp: '1.1.1.1', dstIp: '6.6.6.2', srcPort: 1024, dstPort: 1024, ttl: 64, tos: 0, sizes: [64], count: 20, rate: 1000, runId: 4242, ...overrides };
}

/** The frame as the guest's router forwards it: new MACs, TTL - 1, checksum updated. */
export function routed(s: StreamSpec, seq: number): Buffer {
  const f = buildFrame(s, seq);
  macBytes(GATEWAY_MAC).copy(f, 0);
  macBytes(EGRESS_MAC).copy(f, 6);
  f[ETH_LEN + 8] = s.ttl - 1;
  fixChecksum(f);
  return f;
}

export function fixChecksum(f: Buffer): void {
  f.writeUInt16BE(0, ETH_LEN + 10);
  f.writeUInt16BE(ipChecksum(f, ETH_LEN), ETH_LEN + 10);
}

export function pcapBytes(frames: Buffer[]): Buffer {
  const head = Buffer.alloc(24);
  head.writeUInt32LE(0xa1b2c3d4, 0);
  head.writeUInt16LE(2, 4);
  head.writeUInt16LE(4, 6);
  head.writeUInt32LE(262144, 16);
  head.writeUInt32LE(1, 20);
  const recs = frames.map((f, i) => {
    const h = Buffer.alloc(16);
    h.writeUInt32LE(1000 + i, 0);
    h.writeUInt32LE(f.length, 8);
    h.writeUInt32LE(f.length, 12);
    return Buffer.concat([h, f]);
  });
  return Buffer.concat([head, ...recs]);
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
