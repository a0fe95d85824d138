// The KNI suite's pure parts: the capture case's frames (each kind built as
// the wire has it, checksums right, told apart in a capture), the TG's
// address in a vEth's subnet, ping's summary, and what a case changed.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parsePingSummary } from '../../lib/parsers/net.js';
import { hostAddressIn } from '../../lib/suite/kni-functional/values.js';
import { buildKindFrame, FRAME_KINDS, kindOf, mixedPcap, RAW_ETHERTYPE } from '../../lib/traffic/frames.js';
import { readPcap } from '../../lib/traffic/pcap.js';
import { stateChanges } from '../../lib/verify/state.js';
import { spec as pcapSpec } from '../helpers/pcaps.js';

const spec = pcapSpec({ dstMac: '00:4B:4E:49:30:00', count: 80, runId: 2 });

/** The ones'-complement sum of a range, folded: 0xffff over a header whose checksum is right. */
function fold(b: Buffer, from: number, to: number, start = 0): number {
  let s = start;
  for (let i = from; i < to; i += 2) s += (b[i]! << 8) | (i + 1 < to ? b[i + 1]! : 0);
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  return s;
}

describe("the capture case's frames", () => {
  it('are 60 bytes, addressed as the stream, and each kind is told apart', () => {
    for (const kind of FRAME_KINDS) {
      const f = buildKindFrame(kind, spec, 7);
      expect(f.length, kind).toBe(60);
      expect(f.subarray(0, 6).toString('hex')).toBe('004b4e493000');
      expect(f.subarray(6, 12).toString('hex')).toBe('020000000001');
      expect(kindOf(f)).toBe(kind);
    }
    expect(buildKindFrame('raw Ethernet', spec, 0).readUInt16BE(12)).toBe(RAW_ETHERTYPE);
    const arp = Buffer.alloc(60);
    arp.writeUInt16BE(0x0806, 12);
    expect(kindOf(arp)).toBeNull();
  });

  it('carry right IP, ICMP and TCP checksums (a router or a capture may check them)', () => {
    for (const kind of ['TCP', 'ICMP'] as const) {
      const f = buildKindFrame(kind, spec, 3);
      expect(fold(f, 14, 34), `${kind} IP header`).toBe(0xffff);
      if (kind === 'ICMP') expect(fold(f, 34, 60)).toBe(0xffff);
      else expect(fold(f, 34, 60, fold(Buffer.from([1, 1, 1, 1, 6, 6, 6, 2, 0, 6, 0, 26]), 0, 12))).toBe(0xffff);
    }
    expect(buildKindFrame('TCP', spec, 3)[14 + 20 + 13]).toBe(0x02);
    expect(buildKindFrame('ICMP', spec, 3)[34]).toBe(8);
  });

  it('go into one pcap, interleaved, PER_KIND of each', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dutlab-frames-'));
    try {
      const file = join(dir, 'mixed.pcap');
      writeFileSync(file, mixedPcap(spec, 5));
      const kinds: string[] = [];
      await readPcap(file, (frame) => kinds.push(kindOf(frame) ?? 'other'));
      expect(kinds).toHaveLength(20);
      expect(kinds.slice(0, 4)).toEqual([...FRAME_KINDS]);
      for (const k of FRAME_KINDS) expect(kinds.filter((x) => x === k)).toHaveLength(5);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("the TG's address in a vEth's subnet", () => {
  it('is the lowest free host address, the vEth and the gateway avoided; the unused one from the top', () => {
    expect(hostAddressIn('2.2.2.1/24', ['3.3.3.2'])).toBe('2.2.2.2');
    expect(hostAddressIn('3.3.3.1/24', ['3.3.3.2'])).toBe('3.3.3.3');
    expect(hostAddressIn('2.2.2.1/24', ['2.2.2.2'], true)).toBe('2.2.2.254');
    expect(hostAddressIn('10.0.0.2/30', [])).toBe('10.0.0.1');
    expect(() => hostAddressIn('10.0.0.1/30', ['10.0.0.2'])).toThrow(/no free host address in 10\.0\.0\.1\/30/);
  });
});

describe("ping's summary", () => {
  it('reads iputils and busybox, and refuses output without one', () => {
    const iputils =
      'PING 2.2.2.1 (2.2.2.1) from 2.2.2.2 tg0: 56(84) bytes of data.\n\n--- 2.2.2.1 ping statistics ---\n3 packets transmitted, 3 received, 0% packet loss, time 402ms\n';
    expect(parsePingSummary(iputils)).toEqual({ transmitted: 3, received: 3 });
    expect(parsePingSummary('3 packets transmitted, 0 received, +3 errors, 100% packet loss, time 2042ms')).toEqual({ transmitted: 3, received: 0 });
    expect(parsePingSummary('--- 2.2.2.1 ping statistics ---\n3 packets transmitted, 2 packets received, 33% packet loss')).toEqual({
      transmitted: 3,
      received: 2,
    });
    expect(() => parsePingSummary('ping: SO_BINDTODEVICE: No such device\n')).toThrow(/cannot parse ping: expected a summary line/);
  });
});

describe('what a case changed of the lab', () => {
  const before = { 'guest vEths': ['vEth_port33 mtu 1500 UP 3.3.3.1/24'], flows: ['ip,in_port=16 actions=output:32'] };

  it('is nothing when the state reads the same', () => {
    expect(stateChanges(before, structuredClone(before))).toEqual([]);
  });

  it('names each line that went or came, by aspect', () => {
    const after = {
      'guest vEths': ['vEth_port33 mtu 1300 UP 3.3.3.1/24'],
      flows: ['ip,in_port=16 actions=output:32', 'arp,in_port=16 actions=output:32'],
      'TG ports': ['tg0 2.2.2.2/24'],
    };
    expect(stateChanges(before, after)).toEqual([
      'guest vEths: gone: vEth_port33 mtu 1500 UP 3.3.3.1/24',
      'guest vEths: new: vEth_port33 mtu 1300 UP 3.3.3.1/24',
      'flows: new: arp,in_port=16 actions=output:32',
      'TG ports: new: tg0 2.2.2.2/24',
    ]);
  });
});
