// One tcpdump capture on a lab machine: started in the background by pid,
// waited on until it listens, stopped with SIGINT so that it flushes and says
// what it captured and what it dropped. Used by the TG driver and for the
// guest's links.
import { CaptureError, CommandError } from '../errors.js';
import { shq } from '../transport/quote.js';
import type { BackgroundProcess, Shell } from '../transport/shell.js';

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
  const alive = `[ "$(cut -d' ' -f22 /proc/$pid/stat 2>/dev/null)" = "$st" ] && ! grep -q '^State:[[:space:]]*Z' /proc/$pid/status 2>/dev/null`;
  const script = [
    `lab=${shq(rec.lab)}`,
    `for f in ${shq(rec.prefix)}*; do`,
    '  [ -f "$f" ] || continue',
    '  pid=; st=; owner=; file=; log=',
    '  read -r pid st owner file log < "$f"',
    '  [ "$owner" = "$lab" ] || continue',
    '  case "$pid$st" in ""|*[!0-9]*) rm -f "$f"; continue;; esac',
    `  if ${alive}; then`,
    // SIGINT, as a capture is stopped, then KILL after two seconds.
    '    kill -s INT "$pid" 2>/dev/null; i=0',
    `    while [ $i -lt 100 ] && ${alive}; do sleep 0.02; i=$((i+1)); done`,
    `    ${alive} && kill -s KILL "$pid" 2>/dev/null`,
    '    echo "stopped pid $pid capturing into $file"',
    '  fi',
    '  rm -f "$f" "$file" "$log"',
    'done',
  ].join('\n');
  const r = await shell.run(script, { timeoutMs: 60_000 });
  return r.stdout.split('\n').filter((l) => l.startsWith('stopped '));
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
    const proc = await shell.start(`${words.join(' ')}${spec.filter ? ` ${shq(spec.filter)}` : ''}`, {
      logFile: spec.logFile,
      ...(spec.record ? { record: { prefix: spec.record.prefix, line: `${spec.record.lab} ${spec.file} ${spec.logFile}` } } : {}),
    });
    const capture = new Tcpdump(spec, proc, shell.host);
    const deadline = Date.now() + 15_000;
    while (Date.now() < deadline) {
      const log = await proc.logTail(5);
      if (/listening on /.test(log)) return capture;
      // Read the log again once it is dead: what it said before dying may have come after the first read.
      if (!(await proc.isAlive())) {
        const said = (await proc.logTail(5)).trim();
        // Gone already: stop() only removes its record.
        await proc.stop('SIGINT', 0).catch(() => undefined);
        throw new CommandError(shell.host, 'tcpdump', null, null, `tcpdump exited: ${said}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    await proc.stop('SIGINT', 1000).catch(() => undefined);
    throw new CommandError(shell.host, 'tcpdump', null, null, `tcpdump on ${spec.iface} did not start listening within 15 s`);
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
