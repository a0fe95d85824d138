import { afterAll, describe, expect, it } from 'vitest';
import { PcapError } from '../../lib/errors.js';
import { readPcap, writeStreamPcap } from '../../lib/traffic/pcap.js';
import { ETH_LEN, OFF_MAGIC, OFF_RUN, buildFrame, frameLength, sentBytes, sizePattern } from '../../lib/traffic/stream.js';
import { verifyCapture } from '../../lib/verify/packets.js';
import { loadTestbed } from '../../lib/testbed/load.js';
import { streamFromTestbed } from '../../lib/traffic/stream.js';
import { EGRESS_MAC, GATEWAY_MAC, TempDir, fixChecksum, pcapBytes, routed, spec, toBigEndian } from '../helpers/pcaps.js';
import { pcapFrames } from '../../lib/traffic/pcap.js';

const tmp = new TempDir();
afterAll(() => tmp.remove());

const s = spec();
const expectation = { stream: s, dstMac: GATEWAY_MAC, srcMac: EGRESS_MAC, lossTolerance: 0, maxProblems: 10 };
const all = () => Array.from({ length: s.count }, (_, i) => routed(s, i));

async function verdictOf(frames: Buffer[], name: string, exp = expectation) {
  return verifyCapture(pcapFrames(tmp.file(`${name}.pcap`, pcapBytes(frames))), exp);
}

describe('stream and pcap writer', () => {
  it('writes a classic pcap that reads back packet for packet', async () => {
    const st = spec({
      count: 50,
      sizes: sizePattern([
        { size: 64, weight: 2 },
        { size: 1518, weight: 1 },
      ]),
    });
    const file = tmp.file('tx.pcap', '');
    const w = writeStreamPcap(file, st);
    const got: Buffer[] = [];
    await readPcap(file, (d) => got.push(Buffer.from(d)));
    expect(got).toHaveLength(50);
    expect(got.map((d) => d.length).slice(0, 3)).toEqual([60, 60, 1514]);
    expect(w.bytes).toBe(sentBytes(st));
    expect(got[7]).toEqual(buildFrame(st, 7));
  });

  it('numbers each payload with the run id and the sequence number', () => {
    const f = buildFrame(s, 17);
    expect(f.readUInt32BE(OFF_RUN)).toBe(4242);
    expect(f.readUInt32BE(OFF_RUN + 4)).toBe(17);
    expect(f.length).toBe(frameLength(s, 17));
  });
});

describe('return-packet verification', () => {
  it('passes the stream as the guest router forwards it', async () => {
    const v = await verdictOf(all(), 'good');
    expect(v).toMatchObject({ ok: true, sent: 20, received: 20, lost: 0, duplicated: 0, reordered: 0, mismatched: 0 });
    expect(v.problems).toEqual([]);
  });

  it('fails a packet whose TTL was not decremented: it did not cross the router', async () => {
    const frames = all();
    frames[17]![ETH_LEN + 8] = 64;
    fixChecksum(frames[17]!);
    const v = await verdictOf(frames, 'ttl');
    expect(v.ok).toBe(false);
    expect(v.mismatched).toBe(1);
    expect(v.problems).toContain("seq 17: TTL 64, expected 63: the packet did not cross the guest's router");
  });

  it('recognises frames switched straight from port 16 to 17', async () => {
    const v = await verdictOf(
      Array.from({ length: s.count }, (_, i) => buildFrame(s, i)),
      'straight',
    );
    expect(v.mismatched).toBe(20);
    // One line for one cause, however many packets it spoiled.
    expect(v.problems).toEqual([
      "seq 0, 1, 2 and 17 more: came back exactly as sent (dst MAC 00:4b:4e:49:30:00, TTL 64): it did not cross the guest's router (switched straight from the ingress to the egress port?)",
    ]);
  });

  it('fails a wrong destination MAC (the ARP entry points elsewhere)', async () => {
    const frames = all();
    Buffer.from([0, 0x11, 0x22, 0x33, 0x44, 0x55]).copy(frames[3]!, 0);
    const v = await verdictOf(frames, 'dmac');
    expect(v.problems).toEqual(["seq 3: dst MAC 00:11:22:33:44:55, expected de:ad:be:ef:ca:fe: the guest did not send it to the gateway's static ARP MAC"]);
  });

  it('fails a wrong source MAC', async () => {
    const frames = all();
    Buffer.from([2, 0, 0, 0, 0, 9]).copy(frames[4]!, 6);
    expect((await verdictOf(frames, 'smac')).problems[0]).toMatch(/^seq 4: src MAC 02:00:00:00:00:09, expected 00:4b:4e:49:30:01/);
  });

  it('fails a changed TOS byte', async () => {
    const frames = all();
    frames[5]![ETH_LEN + 1] = 0x10;
    fixChecksum(frames[5]!);
    expect((await verdictOf(frames, 'tos')).problems).toEqual(['seq 5: TOS 0x10, expected 0x0: the IPv4 header was changed']);
  });

  it('fails a bad IPv4 header checksum', async () => {
    const frames = all();
    frames[6]![ETH_LEN + 11] = frames[6]![ETH_LEN + 11]! ^ 0xff;
    expect((await verdictOf(frames, 'csum')).problems[0]).toMatch(/^seq 6: IPv4 header checksum 0x[0-9a-f]+ is not valid$/);
  });

  it('fails a corrupted payload', async () => {
    const frames = all();
    frames[8]![58] = frames[8]![58]! ^ 1;
    expect((await verdictOf(frames, 'payload')).problems).toEqual(['seq 8: the UDP payload differs from what was sent (corrupted on the path)']);
  });

  it('counts a duplicate', async () => {
    const frames = all();
    frames.splice(10, 0, routed(s, 9));
    const v = await verdictOf(frames, 'dup');
    expect(v).toMatchObject({ ok: false, received: 20, duplicated: 1, lost: 0 });
    expect(v.problems).toContain('seq 9: received more than once (duplicated on the path)');
  });

  it('counts reordering', async () => {
    const frames = all();
    [frames[11], frames[12]] = [frames[12]!, frames[11]!];
    const v = await verdictOf(frames, 'reorder');
    expect(v).toMatchObject({ ok: false, reordered: 1, lost: 0 });
    expect(v.problems).toContain('seq 11: arrived after seq 12 (reordered)');
  });

  it('counts loss, and allows it within the tolerance', async () => {
    const frames = all().filter((_, i) => i !== 2 && i !== 13);
    const v = await verdictOf(frames, 'loss');
    expect(v).toMatchObject({ ok: false, received: 18, lost: 2, lostSample: [2, 13] });
    expect(v.problems[0]).toBe('2 of 20 packets lost (allowed: 0); first lost: seq 2, 13');
    expect((await verdictOf(frames, 'loss-ok', { ...expectation, lossTolerance: 0.1 })).ok).toBe(true);
  });

  it('says so when nothing came back', async () => {
    const v = await verdictOf([], 'empty');
    expect(v).toMatchObject({ ok: false, received: 0, lost: 20 });
    expect(v.problems[0]).toBe('none of the 20 packets sent came back');
  });

  it("counts other packets apart: ARP, an IPv6 router solicitation, other UDP, another run's stream", async () => {
    const arp = Buffer.alloc(60);
    arp.writeUInt16BE(0x0806, 12);
    // ff02::2 from fe80::1, ICMPv6 type 133: what a Linux interface sends when it comes up.
    const rs = Buffer.from(
      '333300000002' +
        '020000000001' +
        '86dd' +
        '6000000000083aff' +
        'fe800000000000000000000000000001' +
        'ff020000000000000000000000000002' +
        '8500' +
        '0000' +
        '00000000',
      'hex',
    );
    const otherUdp = routed(s, 2);
    otherUdp.writeUInt32BE(0x12345678, OFF_MAGIC);
    const otherRun = routed(s, 1);
    otherRun.writeUInt32BE(999, OFF_RUN);
    const v = await verdictOf([arp, rs, ...all(), otherUdp, otherRun], 'other');
    expect(v).toMatchObject({ ok: true, received: 20, other: { total: 4, otherRun: 1, notStream: 3 }, capturedPackets: 24 });
  });

  it('refuses a truncated capture', async () => {
    const bytes = pcapBytes(all());
    await expect(verifyCapture(pcapFrames(tmp.file('cut.pcap', bytes.subarray(0, bytes.length - 7))), expectation)).rejects.toThrow(
      /truncated: .* after packet 19/,
    );
  });

  it('refuses a record longer than the snapshot length at once, without reading what it claims', async () => {
    const bytes = pcapBytes(all());
    // Record 3's captured length (at the header's offset 8) claims 2 GB: a corrupt file, not a frame.
    const third = 24 + 2 * (16 + all()[0]!.length);
    bytes.writeUInt32LE(0x7fffffff, third + 8);
    const t0 = Date.now();
    await expect(verifyCapture(pcapFrames(tmp.file('huge.pcap', bytes)), expectation)).rejects.toThrow(
      /record 3 \(at byte \d+\) claims 2147483647 bytes, more than the file's snapshot length 262144: the file is corrupt/,
    );
    expect(Date.now() - t0).toBeLessThan(1000);
    // The snapshot length the file itself declares is the bound.
    const small = pcapBytes(all());
    small.writeUInt32LE(32, 16);
    await expect(verifyCapture(pcapFrames(tmp.file('snap32.pcap', small)), expectation)).rejects.toThrow(
      /record 1 \(at byte 24\) claims \d+ bytes, more than the file's snapshot length 32/,
    );
  });

  it('refuses a pcapng file with what to do about it', async () => {
    const ng = Buffer.from('0a0d0d0a1c0000004d3c2b1a01000000ffffffffffffffff1c000000', 'hex');
    await expect(verifyCapture(pcapFrames(tmp.file('x.pcapng', ng)), expectation)).rejects.toThrow(/is pcapng/);
  });

  it('refuses garbage, and a file too short to be a capture', async () => {
    await expect(verifyCapture(pcapFrames(tmp.file('g.pcap', Buffer.alloc(100, 0x41))), expectation)).rejects.toThrow(
      /not a pcap file \(magic number 41414141\)/,
    );
    await expect(verifyCapture(pcapFrames(tmp.file('s.pcap', 'abc')), expectation)).rejects.toThrow(PcapError);
    await expect(verifyCapture(pcapFrames(tmp.path + '/missing.pcap'), expectation)).rejects.toThrow(/missing.pcap: cannot read/);
  });

  it('reads a big-endian capture the same as a little-endian one', async () => {
    const frames = all();
    frames[6]![ETH_LEN + 11] = frames[6]![ETH_LEN + 11]! ^ 0xff;
    const le = pcapBytes(frames);
    const fromLe = await verifyCapture(pcapFrames(tmp.file('le.pcap', le)), expectation);
    const fromBe = await verifyCapture(pcapFrames(tmp.file('be.pcap', toBigEndian(le))), expectation);
    expect(fromBe).toEqual(fromLe);
    expect(fromBe).toMatchObject({ received: 20, mismatched: 1, capturedPackets: 20 });
  });

  it('refuses a nanosecond pcap with what to do about it', async () => {
    const nano = pcapBytes(all());
    nano.writeUInt32LE(0xa1b23c4d, 0);
    await expect(verifyCapture(pcapFrames(tmp.file('nano.pcap', nano)), expectation)).rejects.toThrow(
      /nano.pcap: is a pcap with nanosecond timestamps, .*--time-stamp-precision=nano/,
    );
  });

  it('verifies an IMIX stream, and finds a corrupted byte deep in a 1518-byte frame', async () => {
    const imix = spec({
      count: 30,
      sizes: sizePattern([
        { size: 64, weight: 7 },
        { size: 594, weight: 4 },
        { size: 1518, weight: 1 },
      ]),
    });
    const frames = Array.from({ length: imix.count }, (_, i) => routed(imix, i));
    const exp = { ...expectation, stream: imix };
    expect(await verdictOf(frames, 'imix', exp)).toMatchObject({ ok: true, received: 30 });
    expect(frames[23]!.length).toBe(1514);
    frames[23]![1400] = frames[23]![1400]! ^ 0x80;
    expect((await verdictOf(frames, 'imix-bad', exp)).problems).toEqual(['seq 23: the UDP payload differs from what was sent (corrupted on the path)']);
  });

  it('follows the IPv4 id past 65,535, where it wraps', async () => {
    const long = spec({ count: 70_000 });
    const frames = Array.from({ length: long.count }, (_, i) => routed(long, i));
    expect(await verdictOf(frames, 'long', { ...expectation, stream: long })).toMatchObject({ ok: true, received: 70_000, mismatched: 0 });
    frames[65_540]!.writeUInt16BE((65_540 & 0xffff) ^ 1, ETH_LEN + 4);
    fixChecksum(frames[65_540]!);
    expect((await verdictOf(frames, 'long-bad', { ...expectation, stream: long })).problems).toEqual([
      'seq 65540: IPv4 id 5, expected 4: the IPv4 header was changed',
    ]);
  });

  it('describes at most maxProblems distinct problems', async () => {
    const frames = all();
    frames[1]![58] = frames[1]![58]! ^ 1;
    frames[2]![ETH_LEN + 1] = 0x10;
    fixChecksum(frames[2]!);
    frames[3]![ETH_LEN + 11] = frames[3]![ETH_LEN + 11]! ^ 0xff;
    const v = await verdictOf(frames, 'many', { ...expectation, maxProblems: 2 });
    expect(v.mismatched).toBe(3);
    expect(v.problems).toEqual([
      'seq 1: the UDP payload differs from what was sent (corrupted on the path)',
      'seq 2: TOS 0x10, expected 0x0: the IPv4 header was changed',
    ]);
  });
});

describe('real captures from the virtual lab (fixtures/pcaps)', () => {
  const fixture = (name: string) => new URL(`../../fixtures/pcaps/${name}`, import.meta.url).pathname;
  const tb = loadTestbed(new URL('../../fixtures/testbeds/virtual.yaml', import.meta.url).pathname);
  const imix = (runId: number) => ({
    stream: streamFromTestbed(tb, runId, {
      count: 36,
      sizes: sizePattern([
        { size: 64, weight: 7 },
        { size: 594, weight: 4 },
        { size: 1518, weight: 1 },
      ]),
    }),
    dstMac: tb.gateway.mac,
    srcMac: tb.vmPorts[1].mac,
    lossTolerance: 0,
    maxProblems: 10,
  });

  it('passes the stream the guest routed back', async () => {
    const v = await verifyCapture(pcapFrames(fixture('imix-36-returned-through-guest-run-238554446.pcap')), imix(238554446));
    expect(v).toMatchObject({ ok: true, sent: 36, received: 36, lost: 0, mismatched: 0, capturedPackets: 36 });
    expect(v.receivedBytes).toBe(sentBytes(imix(238554446).stream));
  });

  it('fails the stream switched straight from port 16 to 17, in one line', async () => {
    const v = await verifyCapture(pcapFrames(fixture('imix-36-switched-straight-16-to-17-run-239284745.pcap')), imix(239284745));
    expect(v).toMatchObject({ ok: false, received: 36, lost: 0, mismatched: 36 });
    expect(v.problems).toEqual([
      "seq 0, 1, 2 and 33 more: came back exactly as sent (dst MAC 00:4b:4e:49:30:00, TTL 64): it did not cross the guest's router (switched straight from the ingress to the egress port?)",
    ]);
  });

  it("ignores a capture of another run's stream as someone else's packets", async () => {
    const v = await verifyCapture(pcapFrames(fixture('imix-36-returned-through-guest-run-238554446.pcap')), imix(239284745));
    expect(v).toMatchObject({ ok: false, received: 0, other: { otherRun: 36 } });
    expect(v.problems[0]).toBe('none of the 36 packets sent came back');
  });
});
