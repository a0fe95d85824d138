// Parsers for the guest's network state: ifconfig (old and new net-tools),
// `ip -j addr/link`, `ip route`, `ip neigh` / `arp -n`, and sysctl.
import { ParseError } from '../errors.js';

export interface Iface {
  name: string;
  flags: string[];
  mtu?: number;
  mac?: string;
  inet?: { address: string; netmask: string };
  rx?: { packets: number; bytes: number };
  tx?: { packets: number; bytes: number };
}

const lowerMac = (m: string) => m.toLowerCase();

export function netmaskToPrefix(mask: string): number {
  return mask.split('.').reduce((n, o) => n + Number(o).toString(2).replace(/0/g, '').length, 0);
}

export function prefixToNetmask(len: number): string {
  const m = len === 0 ? 0 : (~0 << (32 - len)) >>> 0;
  return [24, 16, 8, 0].map((s) => (m >>> s) & 255).join('.');
}

/** Parses `ifconfig` / `ifconfig -a`, both the net-tools 1.60 format and the 2.x format. */
export function parseIfconfig(text: string): Iface[] {
  const blocks = text.split(/\n(?=\S)/).filter((b) => b.trim() !== '');
  if (blocks.length === 0) throw new ParseError('ifconfig', 'at least one interface block', text);
  return blocks.map(parseIfconfigBlock);
}

function parseIfconfigBlock(block: string): Iface {
  const head = /^(\S+?):? +(?:flags=\d+<([^>]*)>\s+mtu (\d+)|Link encap:)/.exec(block);
  if (!head) throw new ParseError('ifconfig', 'an interface header ("NAME: flags=..." or "NAME Link encap:...")', block);
  // Every block ends with its counters: a block without them was cut off (the output is incomplete).
  const last = head[2] !== undefined ? /^\s+TX errors \d+/m : /^\s+RX bytes:\d+/m;
  if (!last.test(block))
    throw new ParseError(
      'ifconfig',
      `the interface block of ${head[1]!.replace(/:$/, '')} to end with its ${head[2] !== undefined ? '"TX errors"' : '"RX bytes:"'} line (output cut off?)`,
      block,
    );
  const iface: Iface = { name: head[1]!.replace(/:$/, ''), flags: [] };
  let m: RegExpExecArray | null;
  if (head[2] !== undefined) {
    // net-tools 2.x
    iface.flags = head[2] ? head[2].split(',') : [];
    iface.mtu = Number(head[3]);
    if ((m = /\bether ([0-9a-fA-F:]{17})/.exec(block))) iface.mac = lowerMac(m[1]!);
    if ((m = /\binet (\S+)\s+netmask (\S+)/.exec(block))) iface.inet = { address: m[1]!, netmask: m[2]! };
    if ((m = /RX packets (\d+)\s+bytes (\d+)/.exec(block))) iface.rx = { packets: Number(m[1]), bytes: Number(m[2]) };
    if ((m = /TX packets (\d+)\s+bytes (\d+)/.exec(block))) iface.tx = { packets: Number(m[1]), bytes: Number(m[2]) };
  } else {
    // net-tools 1.60: "UP BROADCAST RUNNING MULTICAST  MTU:1500  Metric:1"
    if ((m = /HWaddr ([0-9a-fA-F:]{17})/.exec(block))) iface.mac = lowerMac(m[1]!);
    if ((m = /inet addr:(\S+).*?Mask:(\S+)/.exec(block))) iface.inet = { address: m[1]!, netmask: m[2]! };
    if ((m = /^\s+((?:[A-Z]+ )*[A-Z]+)\s+MTU:(\d+)/m.exec(block))) {
      iface.flags = m[1]!.split(' ');
      iface.mtu = Number(m[2]);
    }
    const rxp = /RX packets:(\d+)/.exec(block);
    const txp = /TX packets:(\d+)/.exec(block);
    const bytes = /RX bytes:(\d+).*?TX bytes:(\d+)/.exec(block);
    if (rxp && bytes) iface.rx = { packets: Number(rxp[1]), bytes: Number(bytes[1]) };
    if (txp && bytes) iface.tx = { packets: Number(txp[1]), bytes: Number(bytes[2]) };
  }
  return iface;
}

/** A JSON array of objects (iproute2's -j output); anything else is a ParseError, never a TypeError later. */
function parseJson(what: string, text: string): Array<Record<string, unknown>> {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    throw new ParseError(what, 'a JSON array', text);
  }
  if (!Array.isArray(v)) throw new ParseError(what, 'a JSON array', text);
  for (const e of v) if (e === null || typeof e !== 'object' || Array.isArray(e)) throw new ParseError(what, 'a JSON array of objects', JSON.stringify(e));
  return v as Array<Record<string, unknown>>;
}

const str = (what: string, o: Record<string, unknown>, key: string): string => {
  if (typeof o[key] !== 'string') throw new ParseError(what, `objects with a string "${key}"`, JSON.stringify(o));
  return o[key] as string;
};

const DROP_FIELDS = { rx: ['dropped', 'errors', 'over_errors', 'missed'], tx: ['dropped', 'errors', 'carrier_errors'] } as const;

/** The drop and error counters of `ip -s -j link`, where the kernel gives them. */
function linkDrops(o: Record<string, unknown>): Record<string, number> {
  const s = ('stats64' in o ? o.stats64 : o.stats) as Record<string, Record<string, unknown> | undefined>;
  const out: Record<string, number> = {};
  for (const dir of ['rx', 'tx'] as const)
    for (const f of DROP_FIELDS[dir]) {
      const v = s[dir]?.[f];
      if (typeof v === 'number') out[`${dir}_${f}`] = v;
    }
  return out;
}

/** A counter object of `ip -s -j link` (stats64 or stats): rx and tx with numeric packets and bytes. */
function linkStats(o: Record<string, unknown>): IpLink['stats'] | undefined {
  const s = 'stats64' in o ? o.stats64 : o.stats;
  if (s === undefined) return undefined;
  const dir = (d: string) => {
    const x = (s as Record<string, unknown> | null)?.[d] as Record<string, unknown> | undefined;
    if (!x || typeof x.packets !== 'number' || typeof x.bytes !== 'number') {
      throw new ParseError('ip -s -j link', `"${d}" counters with numeric packets and bytes for ${String(o.ifname)}`, JSON.stringify(s));
    }
    return { packets: x.packets, bytes: x.bytes };
  };
  const rx = dir('rx');
  const tx = dir('tx');
  return { rxPackets: rx.packets, rxBytes: rx.bytes, txPackets: tx.packets, txBytes: tx.bytes };
}

export interface IpLink {
  name: string;
  flags: string[];
  operstate: string;
  mac?: string;
  mtu?: number;
  addrs: Array<{ family: string; local: string; prefixlen: number }>;
  stats?: { rxPackets: number; rxBytes: number; txPackets: number; txBytes: number };
  /** What the link did not pass on, as the kernel names it: rx_dropped, rx_errors, rx_over_errors, rx_missed, tx_dropped, tx_errors, tx_carrier_errors. */
  drops?: Record<string, number>;
}

/** Parses `ip -j addr`, `ip -j link` and `ip -j -s link`. */
export function parseIpJson(text: string): IpLink[] {
  const what = 'ip -j addr/link';
  return parseJson(what, text).map((o) => {
    const name = str(what, o, 'ifname');
    const addrs = o.addr_info ?? [];
    if (!Array.isArray(addrs)) throw new ParseError(what, `a list "addr_info" for ${name}`, JSON.stringify(o));
    const stats = linkStats(o);
    return {
      name,
      flags: Array.isArray(o.flags) ? o.flags.map(String) : [],
      operstate: String(o.operstate ?? 'UNKNOWN'),
      ...(typeof o.address === 'string' ? { mac: lowerMac(o.address) } : {}),
      ...(typeof o.mtu === 'number' ? { mtu: o.mtu } : {}),
      addrs: addrs.map((a: unknown) => {
        const x = a as Record<string, unknown> | null;
        if (!x || typeof x.local !== 'string' || typeof x.prefixlen !== 'number')
          throw new ParseError(what, `addresses with "local" and "prefixlen" on ${name}`, JSON.stringify(a));
        return { family: String(x.family), local: x.local, prefixlen: x.prefixlen };
      }),
      ...(stats ? { stats } : {}),
      ...(stats ? { drops: linkDrops(o) } : {}),
    };
  });
}

export interface Route {
  dst: string;
  gateway?: string;
  dev?: string;
}

/**
 * Parses `ip route` text or `ip -j route`, or `route -n`. `required`: the
 * table cannot be empty (a guest reached over its management NIC has at least
 * that NIC's route), so empty output is output that was lost, not "no routes".
 */
export function parseRoutes(text: string, { required = false }: { required?: boolean } = {}): Route[] {
  const t = text.trim();
  if (t === '' || t === '[]') {
    if (required) throw new ParseError('ip route', 'at least the route of the interface the harness reaches the host by', text);
    return [];
  }
  if (t.startsWith('[')) {
    return parseJson('ip -j route', t).map((o) => ({
      dst: str('ip -j route', o, 'dst'),
      ...(typeof o.gateway === 'string' ? { gateway: o.gateway } : {}),
      ...(typeof o.dev === 'string' ? { dev: o.dev } : {}),
    }));
  }
  if (t.startsWith('Kernel IP routing table')) return parseRouteN(t);
  return t.split('\n').map((line) => {
    const m = /^(\S+)\s*(.*)$/.exec(line.trim());
    // A destination: default, an IPv4 address or prefix, or a route type (a destination follows it).
    const dst = m?.[1] ?? '';
    const ok = dst === 'default' || isIpv4Prefix(dst) || (/^(blackhole|unreachable|prohibit|local|broadcast|multicast|throw)$/.test(dst) && m![2] !== '');
    if (!m || !ok) {
      throw new ParseError('ip route', 'lines like "default via 3.3.3.2 dev vEth_port33"', line);
    }
    const via = /\bvia (\S+)/.exec(m[2]!);
    const dev = /\bdev (\S+)/.exec(m[2]!);
    return { dst: m[1]!, ...(via ? { gateway: via[1]! } : {}), ...(dev ? { dev: dev[1]! } : {}) };
  });
}

/** 1.2.3.0/24 or 1.2.3.4: four octets of at most 255, a prefix of at most 32. */
function isIpv4Prefix(s: string): boolean {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})(?:\/(\d{1,2}))?$/.exec(s);
  if (!m) return false;
  return m.slice(1, 5).every((o) => Number(o) <= 255) && (m[5] === undefined || Number(m[5]) <= 32);
}

function parseRouteN(t: string): Route[] {
  return t
    .split('\n')
    .slice(2)
    .map((line) => {
      const f = line.trim().split(/\s+/);
      if (f.length < 8) throw new ParseError('route -n', 'eight columns per route', line);
      const dst = f[0] === '0.0.0.0' && f[2] === '0.0.0.0' ? 'default' : `${f[0]}/${netmaskToPrefix(f[2]!)}`;
      return { dst, ...(f[1] !== '0.0.0.0' ? { gateway: f[1]! } : {}), dev: f[7]! };
    });
}

export interface Neighbour {
  ip: string;
  mac?: string;
  dev: string;
  permanent: boolean;
}

/** Parses `ip neigh`, `ip -j neigh` or `arp -n`. */
export function parseNeighbours(text: string): Neighbour[] {
  const t = text.trim();
  if (t.startsWith('[')) {
    return parseJson('ip -j neigh', t).map((o) => {
      const state = Array.isArray(o.state) ? o.state.map(String) : [];
      return {
        ip: str('ip -j neigh', o, 'dst'),
        ...(typeof o.lladdr === 'string' ? { mac: lowerMac(o.lladdr) } : {}),
        dev: str('ip -j neigh', o, 'dev'),
        permanent: state.includes('PERMANENT'),
      };
    });
  }
  if (t === '') return [];
  if (/^Address\s+HWtype/.test(t)) {
    return t
      .split('\n')
      .slice(1)
      .filter((l) => l.trim())
      .map((line) => {
        const f = line.trim().split(/\s+/);
        if (f[1] === '(incomplete)') return { ip: f[0]!, dev: f[f.length - 1]!, permanent: false };
        if (f.length < 4 || !/^[0-9a-fA-F:]{17}$/.test(f[2] ?? '')) throw new ParseError('arp -n', 'Address HWtype HWaddress Flags Iface columns', line);
        return { ip: f[0]!, mac: lowerMac(f[2]!), dev: f[f.length - 1]!, permanent: (f[3] ?? '').includes('M') };
      });
  }
  return t.split('\n').map((line) => {
    const m = /^(\S+) dev (\S+)(?: lladdr ([0-9a-fA-F:]{17}))?.*?\b([A-Z]+)\s*$/.exec(line.trim());
    if (!m) throw new ParseError('ip neigh', 'lines like "3.3.3.2 dev vEth_port33 lladdr de:ad:be:ef:ca:fe PERMANENT"', line);
    return { ip: m[1]!, dev: m[2]!, ...(m[3] ? { mac: lowerMac(m[3]) } : {}), permanent: m[4] === 'PERMANENT' };
  });
}

/**
 * Parses `sysctl a.b c.d` output: `key = value` per line. A line without a
 * value, or a key asked for and missing, is output that was cut: a ParseError
 * (the lab's), never an empty value a check would blame the DUT for.
 */
export function parseSysctl(text: string, keys: readonly string[] = []): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    const m = /^([\w.\-/]+)\s*=\s*(.*)$/.exec(line.trim());
    if (!m) throw new ParseError('sysctl', 'lines like "net.ipv4.ip_forward = 1"', line);
    if (m[2]!.trim() === '') throw new ParseError('sysctl', `a value after "${m[1]} =" (output cut?)`, line);
    out[m[1]!] = m[2]!.trim();
  }
  if (Object.keys(out).length === 0) throw new ParseError('sysctl', 'at least one "key = value" line', text);
  const missing = keys.filter((k) => !(k in out));
  if (missing.length > 0) throw new ParseError('sysctl', `a line for each key asked for; none for ${missing.join(', ')} (output cut?)`, text);
  return out;
}

export interface PingSummary {
  transmitted: number;
  received: number;
}

/** The summary line of ping (iputils: "3 packets transmitted, 3 received, 0% packet loss"; busybox: "3 packets received"). */
export function parsePingSummary(text: string): PingSummary {
  const m = /(\d+) packets transmitted, (\d+) (?:packets )?received/.exec(text);
  if (!m) throw new ParseError('ping', 'a summary line like "3 packets transmitted, 3 received, 0% packet loss"', text.slice(-300));
  return { transmitted: Number(m[1]), received: Number(m[2]) };
}
