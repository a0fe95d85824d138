// Parsers for Open vSwitch's tools: `ovs-vsctl show`, `ovs-ofctl dump-flows`, `ovs-ofctl dump-ports`.
import { ParseError } from '../errors.js';

export interface OvsInterface {
  name: string;
  type: string;
  options: Record<string, string>;
  error?: string;
}
export interface OvsPort {
  name: string;
  interfaces: OvsInterface[];
}
export interface OvsBridge {
  name: string;
  datapathType?: string;
  ports: OvsPort[];
}
export interface OvsShow {
  uuid: string;
  bridges: OvsBridge[];
  ovsVersion?: string;
}

const unquote = (s: string) => s.trim().replace(/^"(.*)"$/, '$1');

/** Parses `key="v", k2=v2` as printed inside `options: {...}`. */
function parseOptionMap(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of text.matchAll(/([\w:-]+)=("(?:[^"\\]|\\.)*"|[^,}]*)/g)) out[m[1]!] = unquote(m[2]!);
  return out;
}

export function parseOvsVsctlShow(text: string): OvsShow {
  const lines = text.split('\n').filter((l) => l.trim() !== '');
  const uuid = lines[0]?.trim() ?? '';
  if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(uuid)) {
    throw new ParseError('ovs-vsctl show', 'a database UUID on the first line', text);
  }
  const show: OvsShow = { uuid, bridges: [] };
  let bridge: OvsBridge | undefined;
  let port: OvsPort | undefined;
  let iface: OvsInterface | undefined;
  for (const line of lines.slice(1)) {
    const t = line.trim();
    let m: RegExpExecArray | null;
    if ((m = /^Bridge (.+)$/.exec(t))) {
      bridge = { name: unquote(m[1]!), ports: [] };
      show.bridges.push(bridge);
      port = iface = undefined;
    } else if ((m = /^Port (.+)$/.exec(t))) {
      if (!bridge) throw new ParseError('ovs-vsctl show', 'a Bridge before its Port lines', line);
      port = { name: unquote(m[1]!), interfaces: [] };
      bridge.ports.push(port);
      iface = undefined;
    } else if ((m = /^Interface (.+)$/.exec(t))) {
      if (!port) throw new ParseError('ovs-vsctl show', 'a Port before its Interface lines', line);
      iface = { name: unquote(m[1]!), type: '', options: {} };
      port.interfaces.push(iface);
    } else if ((m = /^type: (.+)$/.exec(t)) && iface) {
      iface.type = unquote(m[1]!);
    } else if ((m = /^options: \{(.*)\}$/.exec(t)) && iface) {
      iface.options = parseOptionMap(m[1]!);
    } else if ((m = /^error: (.+)$/.exec(t)) && iface) {
      iface.error = unquote(m[1]!);
    } else if ((m = /^datapath_type: (.+)$/.exec(t)) && bridge && !port) {
      bridge.datapathType = unquote(m[1]!);
    } else if ((m = /^ovs_version: (.+)$/.exec(t))) {
      show.ovsVersion = unquote(m[1]!);
    }
    // Other keys (Controller, fail_mode, tag, ...) are legal and not needed here.
    if ((t.match(/"/g)?.length ?? 0) % 2 !== 0 || (t.includes('{') && !t.includes('}'))) {
      throw new ParseError('ovs-vsctl show', 'whole lines (an unclosed quote or brace: the output was cut off)', line);
    }
  }
  // ovs-vsctl prints every bridge with its own internal port, and every port with its interfaces.
  for (const b of show.bridges) {
    if (b.ports.length === 0) throw new ParseError('ovs-vsctl show', `Port lines under Bridge ${b.name} (output cut off?)`, text.slice(-200));
    for (const p of b.ports)
      if (p.interfaces.length === 0) throw new ParseError('ovs-vsctl show', `an Interface line under Port ${p.name} (output cut off?)`, text.slice(-200));
  }
  return show;
}

export interface FlowEntry {
  cookie: string;
  durationS: number;
  table: number;
  nPackets: number;
  nBytes: number;
  idleTimeout?: number;
  /** The match as printed, e.g. `ip,in_port=16,nw_src=1.1.1.1,nw_dst=6.6.6.2`. */
  match: string;
  fields: Record<string, string>;
  actions: string;
}

export function parseDumpFlows(text: string): FlowEntry[] {
  const flows: FlowEntry[] = [];
  const lines = text.split('\n').filter((l) => l.trim() !== '');
  if (lines.length === 0) throw new ParseError('ovs-ofctl dump-flows', 'a reply header or flow lines', text);
  for (const line of lines) {
    const t = line.trim();
    if (/^(NXST|OFPST)_FLOW reply/.test(t)) continue;
    const m = /^(.*?)\s*actions=(.*)$/.exec(t);
    if (!m || !/cookie=/.test(m[1]!)) throw new ParseError('ovs-ofctl dump-flows', 'a flow line "cookie=..., n_packets=..., <match> actions=..."', line);
    const parts = m[1]!.split(/,\s*|\s+/).filter(Boolean);
    const stats: Record<string, string> = {};
    const matchParts: string[] = [];
    for (const p of parts) {
      const [k, v] = p.split('=', 2) as [string, string | undefined];
      if (['cookie', 'duration', 'table', 'n_packets', 'n_bytes', 'idle_timeout', 'idle_age', 'hard_age', 'hard_timeout', 'priority_'].includes(k))
        stats[k] = v ?? '';
      else matchParts.push(p);
    }
    const num = (k: string) => {
      if (!/^\d+$/.test(stats[k] ?? '')) throw new ParseError('ovs-ofctl dump-flows', `a number after ${k}=`, line);
      return Number(stats[k]);
    };
    const fields: Record<string, string> = {};
    for (const p of matchParts) {
      const [k, v] = p.split('=', 2) as [string, string | undefined];
      fields[k] = v ?? '';
    }
    flows.push({
      cookie: stats.cookie ?? '0x0',
      durationS: Number((stats.duration ?? '0').replace(/s$/, '')),
      table: Number(stats.table ?? 0),
      nPackets: num('n_packets'),
      nBytes: num('n_bytes'),
      ...(stats.idle_timeout !== undefined ? { idleTimeout: Number(stats.idle_timeout) } : {}),
      match: matchParts.join(','),
      fields,
      actions: m[2]!.trim(),
    });
  }
  return flows;
}

export interface PortCounters {
  rxPackets: number;
  rxBytes: number;
  rxDropped: number;
  rxErrors: number;
  txPackets: number;
  txBytes: number;
  txDropped: number;
  txErrors: number;
}

/** Counters by port: the OpenFlow port number as a string, or "LOCAL", or the name when ovs-ofctl prints names. */
export function parseDumpPorts(text: string): Map<string, PortCounters> {
  const lines = text.split('\n');
  if (!lines.some((l) => /^(OFPST|NXST)_PORT reply/.test(l.trim()))) {
    throw new ParseError('ovs-ofctl dump-ports', 'an "OFPST_PORT reply" header', text);
  }
  const out = new Map<string, PortCounters>();
  // "?" is OVS's "this port does not count it"; anything else must be a count.
  const v = (s: string | undefined, line: string) => {
    if (s === undefined || s === '?') return 0;
    if (!/^\d+$/.test(s)) throw new ParseError('ovs-ofctl dump-ports', `a count or "?", not ${JSON.stringify(s)}`, line);
    return Number(s);
  };
  for (let i = 0; i < lines.length; i++) {
    const rx = /^\s*port\s+"?([^":]+)"?:\s*rx pkts=(\S+?), bytes=(\S+?), drop=(\S+?), errs=(\S+?),/.exec(lines[i]!);
    if (!rx) continue;
    const tx = /^\s*tx pkts=(\S+?), bytes=(\S+?), drop=(\S+?), errs=(\S+?),/.exec(lines[i + 1] ?? '');
    if (!tx) throw new ParseError('ovs-ofctl dump-ports', `a "tx pkts=" line after port ${rx[1]}`, lines[i + 1] ?? '<end of output>');
    const [rxLine, txLine] = [lines[i]!, lines[i + 1]!];
    out.set(rx[1]!.trim(), {
      rxPackets: v(rx[2], rxLine),
      rxBytes: v(rx[3], rxLine),
      rxDropped: v(rx[4], rxLine),
      rxErrors: v(rx[5], rxLine),
      txPackets: v(tx[1], txLine),
      txBytes: v(tx[2], txLine),
      txDropped: v(tx[3], txLine),
      txErrors: v(tx[4], txLine),
    });
    i++;
  }
  const declared = /reply \(xid=\S+\): (\d+) ports/.exec(text);
  if (declared && Number(declared[1]) !== out.size) {
    throw new ParseError('ovs-ofctl dump-ports', `${declared[1]} ports as the header says (output truncated?)`, text.slice(-200));
  }
  return out;
}

export const INTERFACE_STATISTICS_ARGS = '--format=json --columns=name,statistics list Interface';

/** `ovs-vsctl INTERFACE_STATISTICS_ARGS`: each Interface's statistics map (rx_dropped, rx_missed_errors, ovs_tx_failure_drops, ...). */
export function parseInterfaceStatistics(text: string): Map<string, Record<string, number>> {
  const what = 'ovs-vsctl list Interface statistics';
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw new ParseError(what, 'JSON (--format=json)', text);
  }
  const d = doc as { headings?: unknown; data?: unknown };
  if (!Array.isArray(d.data) || JSON.stringify(d.headings) !== '["name","statistics"]')
    throw new ParseError(what, 'headings ["name","statistics"] and data', text);
  const out = new Map<string, Record<string, number>>();
  for (const row of d.data as unknown[]) {
    const [name, stats] = row as [unknown, unknown];
    const pairs = Array.isArray(stats) && stats[0] === 'map' && Array.isArray(stats[1]) ? (stats[1] as unknown[]) : null;
    if (typeof name !== 'string' || !pairs) throw new ParseError(what, 'a name and a ["map", [...]] a row', JSON.stringify(row));
    const m: Record<string, number> = {};
    for (const p of pairs) {
      const [k, v] = p as [unknown, unknown];
      if (typeof k === 'string' && typeof v === 'number') m[k] = v;
    }
    out.set(name, m);
  }
  return out;
}

/** One entry of a bridge's MAC table, as `ovs-appctl fdb/show` prints it. */
export interface FdbEntry {
  /** The OpenFlow port number (or LOCAL). */
  port: string;
  vlan: number;
  mac: string;
  /** An entry added by fdb/add: it never ages out and learning never moves it. */
  static: boolean;
  /** Seconds since it was last seen ("static" for a static entry). */
  age: string;
}

/**
 * `ovs-appctl fdb/show <bridge>` (OVS 3.1): a header line, then
 * ` port  VLAN  MAC  Age` rows; a static entry's age is "static". A row that
 * is not four fields is a ParseError: a table read wrong would place a MAC
 * on the wrong port.
 */
export function parseFdbShow(text: string): FdbEntry[] {
  const lines = text.split('\n').filter((l) => l.trim() !== '');
  if (!/^\s*port\s+VLAN\s+MAC\s+Age\s*$/.test(lines[0] ?? '')) throw new ParseError('ovs-appctl fdb/show', 'the header " port  VLAN  MAC  Age"', text);
  return lines.slice(1).map((line) => {
    const m = /^\s*(\S+)\s+(\d+)\s+([0-9a-f]{2}(?::[0-9a-f]{2}){5})\s+(static|\d+)\s*$/.exec(line);
    if (!m) throw new ParseError('ovs-appctl fdb/show', 'rows of port, VLAN, MAC and age', line);
    return { port: m[1]!, vlan: Number(m[2]), mac: m[3]!, static: m[4] === 'static', age: m[4]! };
  });
}
