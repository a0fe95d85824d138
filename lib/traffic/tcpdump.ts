// One tcpdump capture on a lab machine: started in the background by pid,
// waited on until it listens, stopped with SIGINT so that it flushes and says
// what it captured and what it dropped. Used by the TG driver and for the
// guest's links.
import { CaptureError, CommandError } from '../errors.js';
import { shq } from '../transport/quote.js';
import { PidProcess, type BackgroundProcess, type Shell } from '../transport/shell.js';
import { orOnTimeout, waitUntil } from '../wait.js';

/** Bytes kept of each frame: a whole Ethernet frame of the stream (1518) with room for a VLAN tag. */
const SNAPLEN = 2048;
/** The kernel buffer of each capture, KiB. */
const BUFFER_KIB = 16384;

export interface CaptureSpec {
  /** A name for the report and the log file: tcpdump-rx, guest-vEth_port32. */
  name: string;
  iface: string;
  direction: 'in' | 'out';
  /** The pcap file on the machine that captures. */
  file: string;
  /** Where the log goes on that machine. */
  logFile: string;
  filter?: string;
  snaplen?: number;
  /** The CPUs it runs on (taskset -c), apart from the DUT's; anywhere by default. */
  cpus?: string;
  /** Where the capture is recorded while it runs, so that the next run on the lab stops it if this one is killed. */
  record?: CaptureRecord;
}

/**
 * A lab's records of its running captures on one machine: files named
 * `<prefix><pid>` in the testbed's paths.workDir, and the lab they belong to
 * (its lock path: a TG box shared by two labs keeps their records apart).
 */
export interface CaptureRecord {
  prefix: string;
  lab: string;
}

/** The record of a lab's captures on one of its machines (by role: the virtual lab's machines share one file system). */
export function captureRecordOf(tb: { paths: { workDir: string }; lock: { path: string } }, role: string): CaptureRecord {
  return { prefix: `${tb.paths.workDir}/capture-${role}.`, lab: tb.lock.path };
}

/**
 * Stops the captures a dead run of this lab left running on a machine (its
 * records name pid and start time: a pid reused since is left alone) and
 * removes their files. Called by the run that holds the lab's lock, before it
 * starts captures of its own. Returns one line per capture it stopped.
 */
export async function stopLeftoverCaptures(shell: Shell, rec: CaptureRecord): Promise<string[]> {
  // One line a record: its file, then what the capture wrote in it (pid, start time, lab, pcap, log).
  const listed = await shell.run(`for f in ${shq(rec.prefix)}*; do [ -f "$f" ] && printf '%s %s\\n' "$f" "$(cat "$f")"; done; true`);
  const stopped: string[] = [];
  for (const line of listed.stdout.split('\n').filter((l) => l.trim())) {
    const [file, pid, startTime, lab, pcap, log] = line.trim().split(' ');
    if (lab !== rec.lab) continue;
    if (!/^\d+$/.test(pid ?? '') || !/^\d+$/.test(startTime ?? '')) {
      await shell.run(`rm -f ${shq(file!)}`);
      continue;
    }
    // Stopped as a capture is (SIGINT, then KILL), by the one way a process is stopped by pid; that removes the record.
    const proc = new PidProcess(shell, Number(pid), startTime!, log ?? '', false, false, rec.prefix);
    if (await proc.isAlive()) {
      await proc.stop('SIGINT', 2000);
      stopped.push(`stopped pid ${pid} capturing into ${pcap}`);
    }
    await shell.run(`rm -f ${[file, pcap, log].flatMap((f) => (f ? [shq(f)] : [])).join(' ')}`);
  }
  return stopped;
}

export class Tcpdump {
  private constructor(
    readonly spec: CaptureSpec,
    private readonly proc: BackgroundProcess,
    private readonly role: string,
  ) {}

  /** Starts the capture and returns once tcpdump says it listens (a sleep would only guess). */
  static async start(shell: Shell, spec: CaptureSpec): Promise<Tcpdump> {
    // --immediate-mode: each packet reaches tcpdump as it arrives. Without it libpcap's ring hands them
    // over a block at a time (up to a second late): the file lags behind the wire, and what is still in
    // the ring at SIGINT is lost without counting as dropped. -U: each packet is written as it arrives.
    // -s and -B: in immediate mode the ring's slots are snapshot-length sized, so the default (262144
    // bytes, 8 slots in a 2 MB buffer) drops bursts; frames here are at most 1518 bytes (VLAN-tagged or
    // jumbo foreign frames are cut, which their counting does not mind), and the buffer holds thousands.
    const words = [
      'tcpdump',
      '-i',
      shq(spec.iface),
      '-nn',
      '--immediate-mode',
      '-U',
      '-Q',
      spec.direction,
      '-s',
      String(spec.snaplen ?? SNAPLEN),
      '-B',
      String(BUFFER_KIB),
      '-w',
      shq(spec.file),
    ];
    const pinned = spec.cpus ? `taskset -c ${shq(spec.cpus)} ` : '';
    const proc = await shell.start(`${pinned}${words.join(' ')}${spec.filter ? ` ${shq(spec.filter)}` : ''}`, {
      logFile: spec.logFile,
      ...(spec.record ? { record: { prefix: spec.record.prefix, line: `${spec.record.lab} ${spec.file} ${spec.logFile}` } } : {}),
    });
    const capture = new Tcpdump(spec, proc, shell.host);
    const listening = async () => {
      if (/listening on /.test(await proc.logTail(5))) return true;
      // Read the log again once it is dead: what it said before dying may have come after the first read.
      if (!(await proc.isAlive())) {
        const said = (await proc.logTail(5)).trim();
        // Gone already: stop() only removes its record.
        await proc.stop('SIGINT', 0).catch(() => undefined);
        throw new CommandError(shell.host, 'tcpdump', null, null, `tcpdump exited: ${said}`);
      }
      return false;
    };
    await waitUntil(`tcpdump on ${spec.iface} to listen`, listening, { timeoutMs: 15_000 }).catch(
      orOnTimeout(async () => {
        await proc.stop('SIGINT', 1000).catch(() => undefined);
        throw new CommandError(shell.host, 'tcpdump', null, null, `tcpdump on ${spec.iface} did not start listening within 15 s`);
      }),
    );
    return capture;
  }

  /**
   * Stops the capture. A capture that dropped packets (or could not say) is
   * incomplete: judging the DUT from it would blame the DUT for the capture's loss.
   */
  async stop(): Promise<void> {
    await this.proc.stop('SIGINT', 5000);
    const stats = parseTcpdumpStats(await this.proc.logTail(10));
    const where = `[${this.role}] ${this.spec.name} on ${this.spec.iface}`;
    if (!stats) throw new CaptureError(`${where} did not report what it captured: the capture may be incomplete, so the DUT cannot be judged from it`);
    if (stats.dropped > 0) {
      throw new CaptureError(
        `${where} dropped ${stats.dropped} of ${stats.received} packets (${stats.droppedBy}): the capture is incomplete, so the DUT cannot be judged from it`,
      );
    }
  }

  /** Starts several captures at once; if one cannot start, stops those that did and throws its error. */
  static async startAll(shell: Shell, specs: CaptureSpec[]): Promise<Tcpdump[]> {
    const started = await Promise.allSettled(specs.map((spec) => Tcpdump.start(shell, spec)));
    const running = started.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
    const failed = started.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) {
      await Promise.all(running.map((c) => c.abandon()));
      throw failed.reason;
    }
    return running;
  }

  /** Stops several captures at once; every one is stopped, then the first that was incomplete is thrown. */
  static async stopAll(captures: Tcpdump[]): Promise<void> {
    const stopped = await Promise.allSettled(captures.map((c) => c.stop()));
    const failed = stopped.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
  }

  /** Stops it without judging (cleanup after a failure). */
  async abandon(): Promise<void> {
    await this.proc.stop('SIGINT', 3000).catch(() => undefined);
  }
}

/** tcpdump's closing statistics: "N packets received by filter", "N packets dropped by kernel" (and "by interface"). */
export function parseTcpdumpStats(log: string): { received: number; dropped: number; droppedBy: string } | null {
  const received = /(\d+) packets? received by filter/.exec(log);
  const kernel = /(\d+) packets? dropped by kernel/.exec(log);
  if (!received || !kernel) return null;
  const iface = /(\d+) packets? dropped by interface/.exec(log);
  const byKernel = Number(kernel[1]);
  const byIface = Number(iface?.[1] ?? 0);
  const droppedBy = [byKernel ? `${byKernel} by the kernel` : '', byIface ? `${byIface} by the interface` : ''].filter(Boolean).join(', ');
  return { received: Number(received[1]), dropped: byKernel + byIface, droppedBy };
}

/** A stream's captures: what comes back to the port it returns to, what leaves the port that sends it, and the watch. */
export function streamCaptures(
  prefix: string,
  ports: { send: string; back: string },
  files: { rx: string; tx: string; watch: string },
  stream: { src: string; dst: string },
): Array<Omit<CaptureSpec, 'logFile'>> {
  return [
    // rx: only what the DUT sends us; tx: only what leaves (the stream, and whatever else the TG sends).
    { name: `${prefix}-rx`, iface: ports.back, direction: 'in', file: files.rx },
    { name: `${prefix}-tx`, iface: ports.send, direction: 'out', file: files.tx },
    // The stream's packets alone, headers only: its growth says whether the stream is still arriving,
    // whatever else the port receives (LLDP, ARP, a neighbour's traffic never stop).
    {
      name: `${prefix}-watch`,
      iface: ports.back,
      direction: 'in',
      file: files.watch,
      snaplen: 64,
      filter: `udp and src host ${stream.src} and dst host ${stream.dst}`,
    },
  ];
}
