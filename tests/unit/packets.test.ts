import { afterAll, describe, expect, it } from 'vitest';
import { PcapError } from '../../lib/errors.js';
import { readPcap, writeStreamPcap } from '../../lib/traffic/pcap.js';
import { ETH_LEN, OFF_RUN, buildFrame, frameLength, sentBytes, sizePattern } from '../../lib/traffic/stream.js';
import { verifyCapture } from '../../lib/verify/packets.js';
import { EGRESS_MAC, GATEWAY_MAC, TempDir, fixChecksum, pcapBytes, routed, spec } from '../helpers/pcaps.js';

const tmp = new TempDir();
afterAll(() => tmp.remove());

const s = spec();
const expectation = { stream: s, dstMac: GATEWAY_MAC, srcMac: EGRESS_MAC, lossTolerance: 0, maxProblems: 10 };
const all = () => Array.from({ length: s.count }, (_, i) => routed(s, i));

async function verdictOf(frames: Buffer[], name: string, exp = expectation) {
  return verifyCapture(tmp.file(`${name}.pcap`, pcapBytes(frames)), exp);
}

describe('stream and pcap writer', () => {
  it('writes a classic pcap that reads back packet for packet', async () => {
    const st = spec({ count: 50, sizes: sizePattern([{ size: 64, weight: 2 }, { size: 1518, weight: 1 }]) });
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
    const v = await verdictOf(Array.from({ length: s.count }, (_, i) => buildFrame(s, i)), 'straight');
    expect(v.mismatched).toBe(20);
    expect(v.problems[0]).toMatch(/seq 0: dst MAC 00:4b:4e:49:30:00, expected de:ad:be:ef:ca:fe/);
  });

  it('fails a wrong destination MAC (the ARP entry points elsewhere)', async () => {
    const frames = all();
    Buffer.from([0, 0x11, 0x22, 0x33, 0x44, 0x55]).copy(frames[3]!, 0);
    const v = await verdictOf(frames, 'dmac');
    expect(v.problems).toEqual(['seq 3: dst MAC 00:11:22:33:44:55, expected de:ad:be:ef:ca:fe: the guest did not send it to the gateway\'s static ARP MAC']);
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

  it("counts other packets apart: ARP, another run's stream", async () => {
    const arp = Buffer.alloc(60);
    arp.writeUInt16BE(0x0806, 12);
    const otherRun = routed(s, 1);
    otherRun.writeUInt32BE(999, OFF_RUN);
    const v = await verdictOf([arp, ...all(), otherRun], 'other');
    expect(v).toMatchObject({ ok: true, received: 20, other: { total: 2, otherRun: 1, notIpv4Udp: 1 }, capturedPackets: 22 });
  });

  it('refuses a truncated capture', async () => {
    const bytes = pcapBytes(all());
    await expect(verifyCapture(tmp.file('cut.pcap', bytes.subarray(0, bytes.length - 7)), expectation)).rejects.toThrow(/truncated: .* after packet 19/);
  });

  it('refuses a pcapng file with what to do about it', async () => {
    const ng = Buffer.from('0a0d0d0a1c0000004d3c2b1a01000000ffffffffffffffff1c000000', 'hex');
    await expect(verifyCapture(tmp.file('x.pcapng', ng), expectation)).rejects.toThrow(/is pcapng/);
  });

  it('refuses garbage, and a file too short to be a capture', async () => {
    await expect(verifyCapture(tmp.file('g.pcap', Buffer.alloc(100, 0x41)), expectation)).rejects.toThrow(/not a pcap file \(magic number 41414141\)/);
    await expect(verifyCapture(tmp.file('s.pcap', 'abc'), expectation)).rejects.toThrow(PcapError);
    await expect(verifyCapture(tmp.path + '/missing.pcap', expectation)).rejects.toThrow(/missing.pcap: cannot read/);
  });
});
