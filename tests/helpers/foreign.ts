// Frames a real lab's links carry that are not the stream: LLDP from a
// switch, an ARP request, IPv6 neighbour discovery, a neighbour's UDP. The
// fault tests send them on every link of the virtual lab during a run.
import { writeFileSync } from 'node:fs';
import { ipChecksum, macBytes } from '../../lib/traffic/stream.js';
import { pcapBytes } from './pcaps.js';

const eth = (dst: string, src: string, type: number, payload: Buffer) => {
  const h = Buffer.alloc(14);
  macBytes(dst).copy(h, 0);
  macBytes(src).copy(h, 6);
  h.writeUInt16BE(type, 12);
  const f = Buffer.concat([h, payload]);
  return f.length < 60 ? Buffer.concat([f, Buffer.alloc(60 - f.length)]) : f;
};

const ip4 = (a: string) => Buffer.from(a.split('.').map(Number));

/** LLDP: chassis id, port id, TTL, end (802.1AB), to the nearest-bridge group address. */
function lldp(src: string): Buffer {
  const tlv = (type: number, value: Buffer) => Buffer.concat([Buffer.from([(type << 1) | (value.length >> 8), value.length & 255]), value]);
  const body = Buffer.concat([
    tlv(1, Buffer.concat([Buffer.from([4]), macBytes(src)])),
    tlv(2, Buffer.from('\x05Ethernet1/1', 'latin1')),
    tlv(3, Buffer.from([0, 120])),
    tlv(0, Buffer.alloc(0)),
  ]);
  return eth('01:80:c2:00:00:0e', src, 0x88cc, body);
}

/** ARP who-has `target` tell `sender`, broadcast: a host that answers, answers on the same link. */
function arpRequest(src: string, sender: string, target: string): Buffer {
  const b = Buffer.alloc(28);
  b.writeUInt16BE(1, 0);
  b.writeUInt16BE(0x0800, 2);
  b[4] = 6;
  b[5] = 4;
  b.writeUInt16BE(1, 6);
  macBytes(src).copy(b, 8);
  ip4(sender).copy(b, 14);
  ip4(target).copy(b, 24);
  return eth('ff:ff:ff:ff:ff:ff', src, 0x0806, b);
}

/** IPv6 neighbour solicitation for fe80::1 (to its solicited-node group). The ICMPv6 checksum is not checked by a counter. */
function neighbourSolicitation(src: string): Buffer {
  const ip6 = Buffer.alloc(40 + 24);
  ip6[0] = 0x60;
  ip6.writeUInt16BE(24, 4);
  ip6[6] = 58;
  ip6[7] = 255;
  Buffer.from('fe800000000000000000000000000002', 'hex').copy(ip6, 8);
  Buffer.from('ff0200000000000000000001ff000001', 'hex').copy(ip6, 24);
  ip6[40] = 135;
  Buffer.from('fe800000000000000000000000000001', 'hex').copy(ip6, 48);
  return eth('33:33:ff:00:00:01', src, 0x86dd, ip6);
}

/** A neighbour's UDP: documentation addresses (TEST-NET-1), another port. */
function otherUdp(src: string, dst: string): Buffer {
  const b = Buffer.alloc(20 + 8 + 18);
  b[0] = 0x45;
  b.writeUInt16BE(b.length, 2);
  b[8] = 64;
  b[9] = 17;
  ip4('192.0.2.10').copy(b, 12);
  ip4('192.0.2.20').copy(b, 16);
  b.writeUInt16BE(ipChecksum(b, 0), 10);
  b.writeUInt16BE(5353, 20);
  b.writeUInt16BE(5353, 22);
  b.writeUInt16BE(26, 24);
  return eth(dst, src, 0x0800, b);
}

/**
 * Writes the foreign frames a link gets: `arpFor` is an address on the far
 * side of the link that will answer (so the far side sends frames too).
 */
export function writeForeignPcap(file: string, arpFor: string): void {
  const src = '02:00:00:00:0f:0e';
  writeFileSync(file, pcapBytes([lldp(src), arpRequest(src, '192.0.2.99', arpFor), neighbourSolicitation(src), otherUdp(src, '02:00:00:00:0f:0f')]));
}

/**
 * The injection points of the virtual lab, both ends of every link:
 * [namespace role, interface, an address that answers ARP on the far side].
 * From the host's side of the guest's links, the guest answers the ARP
 * requests: frames the guest itself sends that are not the stream.
 */
export const INJECTION_POINTS = [
  ['tg', 'tg0', '2.2.2.1'],
  ['tg', 'tg1', '3.3.3.1'],
  ['host', 'port16', '2.2.2.1'],
  ['host', 'port17', '3.3.3.1'],
  ['host', 'port32', '2.2.2.1'],
  ['host', 'port33', '3.3.3.1'],
  ['guest', 'vEth_port32', '2.2.2.1'],
  ['guest', 'vEth_port33', '3.3.3.1'],
] as const;

/**
 * A shell line that sends foreign frames on every link at about `pps` frames
 * a second each, for about `seconds`, in the background (bounded: tcpreplay
 * stops after its loops, and the lab's down stops it before that).
 */
export function injectForeignFrames(ns: (role: string) => string, dir: string, pps = 40, seconds = 30): string {
  const loops = Math.ceil((pps * seconds) / 4);
  return INJECTION_POINTS.map(([role, iface, arpFor]) => {
    const file = `${dir}/foreign-${iface}.pcap`;
    writeForeignPcap(file, arpFor);
    return `ip netns exec ${ns(role)} tcpreplay -q -i ${iface} --pps=${pps} --loop=${loops} ${file} >/dev/null 2>&1 &`;
  }).join(' ');
}
