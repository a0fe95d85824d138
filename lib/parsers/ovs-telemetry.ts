// What ovs-vswitchd says about how its datapath spends its time, as
// ovs-appctl prints it (OVS 3.1, Debian's, on the virtual lab's DPDK datapath:
// fixtures/outputs/), and what /proc says of its threads: the telemetry trial's
// raw readings. Counters only: the metrics are their deltas over a trial
// (lib/suite/throughput/telemetry-metrics.ts), never a figure OVS averaged
// since its start.
import { ParseError } from '../errors.js';

/** One PMD thread's counters in `dpif-netdev/pmd-perf-show` (cumulative since OVS started or pmd-stats-clear). */
export interface PmdPerf {
  numaId: number;
  coreId: number;
  iterations: number;
  /** TSC cycles the thread used (3.1: "Used TSC cycles"; earlier and later releases: "Cycles"). */
  cycles: number;
  idleIterations: number;
  busyIterations: number;
  rxPackets: number;
  passes: number;
  simpleMatchHits: number;
  emcHits: number;
  smcHits: number;
  megaflowHits: number;
  upcalls: number;
  lostUpcalls: number;
  /** Microseconds an upcall took on average, over the time pmd-perf-metrics was on: null where it was off (OVS prints 0.0 then). */
  usPerUpcall: number | null;
  txPackets: number;
  txBatches: number;
}

export interface PmdPerfShow {
  /** Seconds since the counters were last cleared (OVS's "Measurement duration"). */
  durationS: number;
  pmds: PmdPerf[];
}

const PMD_HEADER = /^pmd thread numa_id (\d+) core_id (\d+):$/;

/** The labels of pmd-perf-show's counter lines, by field; a field with two labels has another release's too. */
const PERF_LABELS: Record<string, keyof PmdPerf> = {
  Iterations: 'iterations',
  'Used TSC cycles': 'cycles',
  Cycles: 'cycles',
  'idle iterations': 'idleIterations',
  idle: 'idleIterations',
  'busy iterations': 'busyIterations',
  busy: 'busyIterations',
  'Rx packets': 'rxPackets',
  'Datapath passes': 'passes',
  'Simple Match hits': 'simpleMatchHits',
  'EMC hits': 'emcHits',
  'SMC hits': 'smcHits',
  'Megaflow hits': 'megaflowHits',
  Upcalls: 'upcalls',
  'Lost upcalls': 'lostUpcalls',
  'Tx packets': 'txPackets',
  'Tx batches': 'txBatches',
};

/** Counters OVS prints only when the thread received packets: zero when "Rx packets: 0". */
const WITH_RX: Array<keyof PmdPerf> = ['passes', 'simpleMatchHits', 'emcHits', 'smcHits', 'megaflowHits', 'upcalls', 'lostUpcalls'];
/** Counters OVS prints only when the thread sent packets. */
const WITH_TX: Array<keyof PmdPerf> = ['txBatches'];

/** One counter line: `  - EMC hits:   4379289  ( 81.6 %)`. */
const COUNTER_LINE = /^\s+(?:- )?([A-Za-z][A-Za-z ]*?):\s+(\d+)(?:\s+\((.*)\))?\s*$/;

export function parsePmdPerfShow(text: string): PmdPerfShow {
  const lines = text.split('\n');
  const duration = /^Measurement duration: ([\d.]+) s$/m.exec(text);
  const pmds: PmdPerf[] = [];
  let cur: Partial<PmdPerf> | null = null;
  let inHistograms = false;
  const finish = () => {
    if (cur) pmds.push(completePmd(cur));
    cur = null;
  };
  for (const line of lines) {
    const header = PMD_HEADER.exec(line);
    if (header) {
      finish();
      inHistograms = false;
      cur = { numaId: Number(header[1]), coreId: Number(header[2]), usPerUpcall: null };
      continue;
    }
    if (/^Histograms$/.test(line)) inHistograms = true;
    if (!cur || inHistograms) continue;
    const m = COUNTER_LINE.exec(line);
    const field = m ? PERF_LABELS[m[1]!] : undefined;
    if (!m || !field) continue;
    (cur as Record<string, number>)[field] = Number(m[2]);
    if (field === 'upcalls') {
      const us = /, ([\d.]+) us\/upcall/.exec(m[3] ?? '');
      (cur as Partial<PmdPerf>).usPerUpcall = us && Number(us[1]) > 0 ? Number(us[1]) : null;
    }
  }
  finish();
  if (!duration || pmds.length === 0)
    throw new ParseError('ovs-appctl dpif-netdev/pmd-perf-show', 'a "Measurement duration" line and at least one "pmd thread" block', text);
  return { durationS: Number(duration[1]), pmds };
}

function completePmd(p: Partial<PmdPerf>): PmdPerf {
  const where = `pmd thread numa_id ${p.numaId} core_id ${p.coreId}`;
  const need: Array<keyof PmdPerf> = ['iterations', 'cycles', 'rxPackets', 'txPackets'];
  if (p.rxPackets) need.push(...WITH_RX.filter((k) => k !== 'simpleMatchHits' && k !== 'smcHits'));
  if (p.txPackets) need.push(...WITH_TX);
  const missing = need.filter((k) => p[k] === undefined);
  if (missing.length)
    throw new ParseError(
      'ovs-appctl dpif-netdev/pmd-perf-show',
      `${where} with its ${missing.join(', ')} lines (the output was cut, or is another OVS's layout)`,
      '',
    );
  const zero = (k: keyof PmdPerf) => (p[k] as number | undefined) ?? 0;
  return {
    numaId: p.numaId!,
    coreId: p.coreId!,
    iterations: zero('iterations'),
    cycles: zero('cycles'),
    idleIterations: zero('idleIterations'),
    busyIterations: zero('busyIterations'),
    rxPackets: zero('rxPackets'),
    passes: zero('passes'),
    simpleMatchHits: zero('simpleMatchHits'),
    emcHits: zero('emcHits'),
    smcHits: zero('smcHits'),
    megaflowHits: zero('megaflowHits'),
    upcalls: zero('upcalls'),
    lostUpcalls: zero('lostUpcalls'),
    usPerUpcall: p.usPerUpcall ?? null,
    txPackets: zero('txPackets'),
    txBatches: zero('txBatches'),
  };
}

/** One receive queue in `dpif-netdev/pmd-rxq-show`: its PMD, and its share of that PMD's cycles over OVS's window. */
export interface RxqUsage {
  coreId: number;
  port: string;
  queue: number;
  enabled: boolean;
  /** Percent of the PMD's cycles over the window; null where OVS says NOT AVAIL. */
  usagePct: number | null;
}

export interface PmdRxqShow {
  /** The window OVS averaged over ("Displaying last N seconds pmd usage %"). */
  windowS: number | null;
  queues: RxqUsage[];
  /** Each PMD's overhead (its cycles spent on no queue), where OVS prints it. */
  overheadPct: Record<number, number>;
}

const RXQ_LINE = /^\s+port: (\S+)\s+queue-id:\s+(\d+) \((enabled|disabled)\)\s+pmd usage:\s*(?:(\d+) %|NOT AVAIL)\s*$/;

export function parsePmdRxqShow(text: string): PmdRxqShow {
  const window = /^Displaying last (\d+) seconds pmd usage %$/m.exec(text);
  const queues: RxqUsage[] = [];
  const overheadPct: Record<number, number> = {};
  let core: number | null = null;
  for (const line of text.split('\n')) {
    const header = PMD_HEADER.exec(line);
    if (header) {
      core = Number(header[2]);
      continue;
    }
    if (core === null) continue;
    const q = RXQ_LINE.exec(line);
    if (q) {
      queues.push({ coreId: core, port: q[1]!, queue: Number(q[2]), enabled: q[3] === 'enabled', usagePct: q[4] === undefined ? null : Number(q[4]) });
      continue;
    }
    const o = /^\s+overhead:\s+(\d+) %$/.exec(line);
    if (o) overheadPct[core] = Number(o[1]);
    else if (/^\s+port:/.test(line)) throw new ParseError('ovs-appctl dpif-netdev/pmd-rxq-show', `a queue line not understood: ${line.trim()}`, text);
  }
  return { windowS: window ? Number(window[1]) : null, queues, overheadPct };
}

/** `upcall/show`: the datapath's flows against their limit, and how long a revalidator's dump took. */
export interface UpcallShow {
  datapath: string;
  flows: { current: number; avg: number; max: number; limit: number };
  dumpDurationMs: number;
}

export function parseUpcallShow(text: string): UpcallShow[] {
  const out: UpcallShow[] = [];
  const blocks = text.split(/^(?=\S+@\S+:$)/m).filter((b) => /^\S+@\S+:$/m.test(b));
  for (const b of blocks) {
    const name = /^(\S+@\S+):$/m.exec(b)![1]!;
    const f = /^\s+flows\s+: \(current (\d+)\) \(avg (\d+)\) \(max (\d+)\) \(limit (\d+)\)$/m.exec(b);
    const d = /^\s+dump duration : (\d+)ms$/m.exec(b);
    if (!f || !d) throw new ParseError('ovs-appctl upcall/show', `${name} with its "${f ? 'dump duration' : 'flows'}" line (the output was cut?)`, text);
    out.push({ datapath: name, flows: { current: Number(f[1]), avg: Number(f[2]), max: Number(f[3]), limit: Number(f[4]) }, dumpDurationMs: Number(d[1]) });
  }
  return out;
}

/** `coverage/show`: each event's total since OVS started (events never hit are not listed: zero). */
export function parseCoverageShow(text: string): Record<string, number> {
  // Its last line says how many events were never hit: without it the list may have been cut.
  if (!/^Event coverage, /m.test(text) || !/^\d+ events never hit$/m.test(text))
    throw new ParseError('ovs-appctl coverage/show', 'an "Event coverage" header and the closing "N events never hit" line', text);
  const totals: Record<string, number> = {};
  for (const m of text.matchAll(/^(\w+)\s+[\d.]+\/sec\s+[\d.]+\/sec\s+[\d.]+\/sec\s+total: (\d+)$/gm)) totals[m[1]!] = Number(m[2]);
  return totals;
}

/** One thread of a process, as /proc/<pid>/task/<tid>/stat says: its name and the CPU time it used, in clock ticks. */
export interface ThreadTicks {
  tid: number;
  name: string;
  ticks: number;
  /** Nanoseconds it waited on a run queue for a CPU (/proc/.../schedstat), where the kernel keeps it. */
  waitNs?: number;
}

/**
 * Each thread's stat line of the process whose pidfile is given (its path
 * shell-quoted by the caller), then the end marker the parser asks for (a
 * reading cut short is refused); exit 3 where the process is not there.
 */
export const taskStatsCommand = (quotedPidfile: string) =>
  `p=$(cat ${quotedPidfile}) && [ -d "/proc/$p/task" ] || exit 3; for t in /proc/"$p"/task/*; do cat "$t/stat" 2>/dev/null && ` +
  `{ w=$(cat "$t/schedstat" 2>/dev/null) && echo "schedstat \${t##*/} $w"; true; }; done; echo dutlab-end`;

/**
 * Lines of /proc/<pid>/task/<tid>/stat (taskStatsCommand's), each followed,
 * where the kernel keeps it, by `schedstat <tid> <run ns> <wait ns> <slices>`.
 * The name is between the first "(" and the last ")" (QEMU's "CPU 0/TCG" has
 * a space; a name may hold a parenthesis); utime and stime are fields 14 and 15.
 */
export function parseTaskStats(text: string): ThreadTicks[] {
  const out: ThreadTicks[] = [];
  const lines = text.split('\n').filter((l) => l.trim() !== '');
  if (lines.at(-1) !== 'dutlab-end')
    throw new ParseError('/proc/<pid>/task/*/stat', 'the "dutlab-end" line after the last thread (the reading was cut?)', text);
  for (const line of lines.slice(0, -1)) {
    const sched = /^schedstat (\d+) (\d+) (\d+) \d+$/.exec(line);
    if (sched) {
      const t = out.find((x) => x.tid === Number(sched[1]));
      if (t) t.waitNs = Number(sched[3]);
      continue;
    }
    const open = line.indexOf('(');
    const close = line.lastIndexOf(')');
    const rest = line.slice(close + 2).split(' ');
    // rest[0] is field 3 (state): utime is field 14, stime 15.
    const utime = Number(rest[11]);
    const stime = Number(rest[12]);
    if (open < 0 || close < open || !Number.isInteger(utime) || !Number.isInteger(stime))
      throw new ParseError('/proc/<pid>/task/<tid>/stat', `a line not understood: ${line.slice(0, 80)}`, text);
    out.push({ tid: Number(line.slice(0, open).trim()), name: line.slice(open + 1, close), ticks: utime + stime });
  }
  return out;
}

/** VmRSS of /proc/<pid>/status, in kB; null where the kernel does not say (a zombie). */
export function parseVmRssKb(status: string): number | null {
  const m = /^VmRSS:\s+(\d+) kB$/m.exec(status);
  return m ? Number(m[1]) : null;
}
