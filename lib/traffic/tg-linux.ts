// The `linux` traffic generator: a Linux box with tcpreplay and tcpdump,
// driven over the transport. The interface is small so that a TRex or pktgen
// driver can stand beside it without the suites changing.
import { CommandError } from '../errors.js';
import type { Testbed } from '../testbed/schema.js';
import { shq } from '../transport/quote.js';
import type { BackgroundProcess, Shell } from '../transport/shell.js';

export interface PortCounters {
  rxPackets: number;
  rxBytes: number;
  txPackets: number;
  txBytes: number;
}

export interface SendResult {
  /** What the generator says it put on the wire. */
  packetsSent: number;
  failed: number;
  raw: string;
}

export interface TrafficGenerator {
  prepare(): Promise<void>;
  counters(): Promise<Record<string, PortCounters>>;
  startCapture(): Promise<void>;
  send(localPcap: string, packets: number, rate: number): Promise<SendResult>;
  /** Waits for the stream's tail (or a quiet period), stops the capture cleanly, and downloads it. */
  stopCapture(localPcap: string, expectedBytes: number): Promise<void>;
  cleanup(): Promise<void>;
}

export class LinuxTrafficGenerator implements TrafficGenerator {
  private capture: BackgroundProcess | null = null;
  private readonly txPort: string;
  private readonly rxPort: string;
  private readonly remoteTx: string;
  private readonly remoteRx: string;

  constructor(
    private readonly shell: Shell,
    private readonly tb: Testbed,
    runId: string,
  ) {
    this.txPort = tb.phyPorts[0].tgPort;
    this.rxPort = tb.phyPorts[1].tgPort;
    this.remoteTx = `${tb.paths.workDir}/${runId}-tx.pcap`;
    this.remoteRx = `${tb.paths.workDir}/${runId}-rx.pcap`;
  }

  async prepare(): Promise<void> {
    const missing = await this.shell.run('for t in tcpreplay tcpdump; do command -v $t >/dev/null || echo $t; done');
    if (missing.stdout.trim()) {
      throw new CommandError('tg', 'command -v tcpreplay tcpdump', 127, null, `missing on the traffic generator: ${missing.stdout.trim().split('\n').join(', ')}`);
    }
    await this.shell.run(`mkdir -p ${shq(this.tb.paths.workDir)}`);
    for (const port of [this.txPort, this.rxPort]) await this.shell.run(`ip link set dev ${shq(port)} up`);
  }

  async counters(): Promise<Record<string, PortCounters>> {
    const ports = [this.txPort, this.rxPort];
    const files = ['rx_packets', 'rx_bytes', 'tx_packets', 'tx_bytes'];
    const r = await this.shell.run(ports.map((p) => files.map((f) => `cat /sys/class/net/${shq(p)}/statistics/${f}`).join('; ')).join('; '));
    const n = r.stdout.trim().split('\n').map(Number);
    if (n.length !== ports.length * files.length || n.some((x) => !Number.isFinite(x))) {
      throw new CommandError('tg', 'read port counters', 0, null, `unexpected counter output: ${JSON.stringify(r.stdout.slice(0, 200))}`);
    }
    return Object.fromEntries(ports.map((p, i) => [p, { rxPackets: n[i * 4]!, rxBytes: n[i * 4 + 1]!, txPackets: n[i * 4 + 2]!, txBytes: n[i * 4 + 3]! }]));
  }

  async startCapture(): Promise<void> {
    // -U: each packet is written as it arrives; -Q in: only what the DUT sends us.
    this.capture = await this.shell.start(`tcpdump -i ${shq(this.rxPort)} -nn -U -Q in -w ${shq(this.remoteRx)}`, {
      logFile: `${this.tb.paths.workDir}/tcpdump.log`,
    });
    const deadline = Date.now() + 15_000;
    // Listening is what tcpdump says once the socket is bound; a sleep would only guess.
    while (Date.now() < deadline) {
      const log = await this.capture.logTail(5);
      if (/listening on /.test(log)) return;
      if (!(await this.capture.isAlive())) throw new CommandError('tg', 'tcpdump', null, null, `tcpdump exited: ${log.trim()}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new CommandError('tg', 'tcpdump', null, null, 'tcpdump did not start listening within 15 s');
  }

  async send(localPcap: string, packets: number, rate: number): Promise<SendResult> {
    await this.shell.put(localPcap, this.remoteTx);
    const timeoutMs = Math.ceil((packets / rate) * 1000) * 2 + 30_000;
    const r = await this.shell.run(`tcpreplay -i ${shq(this.txPort)} --pps=${rate} ${shq(this.remoteTx)}`, { timeoutMs });
    const sent = /Successful packets:\s+(\d+)/.exec(r.stdout);
    const failed = /Failed packets:\s+(\d+)/.exec(r.stdout);
    if (!sent) throw new CommandError('tg', 'tcpreplay', r.exitCode, null, `could not read "Successful packets" from tcpreplay's output`, r.stdout);
    return { packetsSent: Number(sent[1]), failed: Number(failed?.[1] ?? 0), raw: r.stdout };
  }

  async stopCapture(localPcap: string, expectedBytes: number): Promise<void> {
    if (!this.capture) throw new Error('no capture running');
    await this.waitForTail(expectedBytes);
    // SIGINT: tcpdump flushes and closes the file, so the capture is complete.
    await this.capture.stop('SIGINT', 5000);
    this.capture = null;
    await this.shell.get(this.remoteRx, localPcap);
  }

  /** Until the capture holds the whole stream, or it has not grown for a quiet period. */
  private async waitForTail(expectedBytes: number): Promise<void> {
    const quietMs = this.tb.verify.quietMs;
    const hardDeadline = Date.now() + Math.max(30_000, quietMs * 10);
    let last = -1;
    let lastChange = Date.now();
    while (Date.now() < hardDeadline) {
      const r = await this.shell.run(`stat -c %s ${shq(this.remoteRx)}`, { okExitCodes: [0, 1] });
      const size = Number(r.stdout.trim()) || 0;
      if (size >= expectedBytes) return;
      if (size !== last) {
        last = size;
        lastChange = Date.now();
      } else if (Date.now() - lastChange >= quietMs) return;
      await new Promise((res) => setTimeout(res, 100));
    }
  }

  async cleanup(): Promise<void> {
    if (this.capture) {
      await this.capture.stop('SIGINT', 3000).catch(() => undefined);
      this.capture = null;
    }
    await this.shell.run(`rm -f ${shq(this.remoteTx)} ${shq(this.remoteRx)}`, { okExitCodes: [0, 1] });
  }
}

/** Bytes a capture of the whole stream takes: the pcap header and one record per packet. */
export function captureBytes(packets: number, frameBytes: number): number {
  return 24 + packets * 16 + frameBytes;
}
