// What upstream OVS-DPDK prints about its DPDK side: the PMD threads'
// statistics, the interfaces' state, and the daemon's log lines. Pure.
import { ParseError } from '../errors.js';

export interface PmdStats {
  /** Each PMD thread ("pmd thread numa_id 0 core_id 1") and the main thread, with the packets it received. */
  threads: Array<{ name: string; packetsReceived: number }>;
  /** All threads' packets received. */
  packetsReceived: number;
}

/** `ovs-appctl dpif-netdev/pmd-stats-show`. */
export function parsePmdStatsShow(text: string): PmdStats {
  const threads: PmdStats['threads'] = [];
  let current: string | null = null;
  for (const line of text.split('\n')) {
    const head = /^(pmd thread .*|main thread):$/.exec(line);
    if (head) {
      current = head[1]!;
      continue;
    }
    const rx = /^\s+packets received: (\d+)$/.exec(line);
    if (rx && current) {
      threads.push({ name: current, packetsReceived: Number(rx[1]) });
      current = null;
    }
  }
  if (threads.length === 0 || !threads.some((t) => t.name === 'main thread')) {
    throw new ParseError(
      'ovs-appctl dpif-netdev/pmd-stats-show',
      'a "main thread:" block with its "packets received:" line (output cut off?)',
      text.slice(0, 200),
    );
  }
  return { threads, packetsReceived: threads.reduce((a, t) => a + t.packetsReceived, 0) };
}

export interface InterfaceState {
  name: string;
  type: string;
  error: string;
  linkState: string;
}

/** The arguments of ovs-vsctl whose output parseInterfaceStates reads. */
export const INTERFACE_STATES_ARGS = '--format=csv --data=bare --no-headings --columns=name,type,error,link_state list Interface';

/** `ovs-vsctl INTERFACE_STATES_ARGS`. */
export function parseInterfaceStates(text: string): InterfaceState[] {
  return text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((line) => {
      // The error column may hold commas: it is quoted then.
      const m = /^([^,]+),([^,]*),("(?:[^"]|"")*"|[^,]*),([^,]*)$/.exec(line);
      if (!m) throw new ParseError('ovs-vsctl list Interface', 'name,type,error,link_state', line);
      const unquote = (v: string) => (v.startsWith('"') ? v.slice(1, -1).replace(/""/g, '"') : v);
      return { name: m[1]!, type: m[2]!, error: unquote(m[3]!), linkState: m[4]! };
    });
}

export interface LogLine {
  level: string;
  module: string;
  text: string;
  line: string;
}

/** An OVS log file: `2026-11-23T16:45:35.167Z|00008|dpdk|INFO|EAL ARGS: ...`; lines of another shape (a continuation) are skipped. */
export function parseOvsLog(text: string): LogLine[] {
  const out: LogLine[] = [];
  for (const line of text.split('\n')) {
    const m = /^\S+\|\d+\|([^|]+)\|([A-Z]+)\|(.*)$/.exec(line);
    if (m) out.push({ module: m[1]!, level: m[2]!, text: m[3]!, line });
  }
  return out;
}
