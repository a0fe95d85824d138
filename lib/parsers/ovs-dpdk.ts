// What upstream OVS-DPDK prints about its DPDK side: the PMD threads'
// statistics, the interfaces' state, and the daemon's log lines. Pure.
import { ParseError } from '../errors.js';

/** A pmd-stats-show block's counters (cumulative since ovs-vswitchd started, or pmd-stats-clear). */
export interface PmdCounters {
  packetsReceived: number;
  /** Packets no cache or classifier rule matched, sent up to ofproto ("miss with success upcall"). */
  upcalls: number;
  /** Those whose upcall failed ("miss with failed upcall"). */
  failedUpcalls: number;
  /** Packets each lookup stage matched: the simple-match cache (in_port-only megaflows), the exact-match cache, the signature-match cache, the megaflow classifier (dpcls). */
  simpleMatchHits: number;
  emcHits: number;
  smcHits: number;
  megaflowHits: number;
}

type PmdCounter = keyof PmdCounters;

export interface PmdThreadStats extends PmdCounters {
  /** "pmd thread numa_id 0 core_id 1", or "main thread" (the non-PMD ports'). */
  name: string;
  /** A PMD's TSC cycles polling with nothing received and processing packets (the main thread has none). */
  cycles?: { idle: number; processing: number };
}

/** Each PMD thread and the main thread, and their counters summed. */
export interface PmdStats extends PmdCounters {
  threads: PmdThreadStats[];
}

const PMD_COUNTERS: Record<string, PmdCounter> = {
  'packets received': 'packetsReceived',
  'miss with success upcall': 'upcalls',
  'miss with failed upcall': 'failedUpcalls',
  'simple match hits': 'simpleMatchHits',
  'emc hits': 'emcHits',
  'smc hits': 'smcHits',
  'megaflow hits': 'megaflowHits',
};

/** `ovs-appctl dpif-netdev/pmd-stats-show`: each thread's counters (cumulative since ovs-vswitchd started or pmd-stats-clear). */
export function parsePmdStatsShow(text: string): PmdStats {
  const threads: PmdThreadStats[] = [];
  let current: PmdThreadStats | null = null;
  for (const line of text.split('\n')) {
    const head = /^(pmd thread .*|main thread):$/.exec(line);
    if (head) {
      // packetsReceived stays NaN until its line is read: a block without it is a cut output.
      current = {
        name: head[1]!,
        ...(Object.fromEntries(Object.values(PMD_COUNTERS).map((k) => [k, 0])) as unknown as PmdCounters),
        packetsReceived: Number.NaN,
      };
      threads.push(current);
      continue;
    }
    const field = /^\s+([a-z ]+): (\d+)$/.exec(line);
    const key = field && PMD_COUNTERS[field[1]!];
    if (key && current) current[key] = Number(field[2]);
    const cycles = /^\s+(idle|processing) cycles: (\d+) \(/.exec(line);
    if (cycles && current) current.cycles = { idle: 0, processing: 0, ...current.cycles, [cycles[1]!]: Number(cycles[2]) };
  }
  const whole = threads.filter((t) => !Number.isNaN(t.packetsReceived));
  if (whole.length !== threads.length || !threads.some((t) => t.name === 'main thread')) {
    throw new ParseError(
      'ovs-appctl dpif-netdev/pmd-stats-show',
      'a "main thread:" block, and each block with its "packets received:" line (output cut off?)',
      text.slice(0, 200),
    );
  }
  const totals = Object.fromEntries(Object.values(PMD_COUNTERS).map((k) => [k, threads.reduce((a, t) => a + t[k], 0)])) as unknown as PmdCounters;
  return { threads, ...totals };
}

/**
 * `ovs-appctl dpctl/dump-flows` of the userspace datapath: how many distinct
 * datapath flows (megaflows) it holds, one line each ("recirc_id(0),in_port(2),
 * ..., packets:1999, ..., actions:3") under a "flow-dump from ..." line per
 * thread; a flow two PMD threads each hold counts once.
 */
export function countDatapathFlows(text: string): number {
  const lines = text.split('\n').filter((l) => l.trim() !== '');
  const flows = lines.filter((l) => /, actions:\S*/.test(l));
  const other = lines.filter((l) => !/, actions:\S*/.test(l) && !/^flow-dump from /.test(l));
  if (other.length > 0) throw new ParseError('ovs-appctl dpctl/dump-flows', 'a flow per line, each with its actions', other[0]!.slice(0, 200));
  return new Set(flows.map((l) => l.replace(/, packets:.*$/, ''))).size;
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
