// The guest's vEths as the KNI cases reach them: a command on the guest, the
// links' state (ip -s -j addr), a link's carrier awaited, and a capture on a
// link around what a case does.
import { join } from 'node:path';
import { CheckFailure } from '../../errors.js';
import { parseIpJson, type IpLink } from '../../parsers/net.js';
import type { LabRun } from '../../scenario/lab-run.js';
import { shq } from '../../transport/quote.js';
import { ANY_EXIT, type CommandResult } from '../../transport/shell.js';
import { readPcap } from '../../traffic/pcap.js';
import { captureRecordOf, Tcpdump } from '../../traffic/tcpdump.js';
import { orOnTimeout, waitUntil } from '../../wait.js';

/** Every exit status: the caller reads what the command printed. */

export class GuestLinks {
  constructor(private readonly lab: LabRun) {}

  run(line: string, ok: number[] = [0]): Promise<CommandResult> {
    return this.lab.session.shell('guest').run(line, { okExitCodes: ok });
  }

  async links(): Promise<IpLink[]> {
    return parseIpJson((await this.run('ip -s -j addr')).stdout);
  }

  async linkOf(name: string): Promise<IpLink> {
    const l = (await this.links()).find((x) => x.name === name);
    if (!l) throw new CheckFailure('link', `the guest has no interface ${name}`);
    return l;
  }

  /** RUNNING comes with the carrier, a moment after UP: polled, bounded. */
  async waitRunning(name: string): Promise<IpLink> {
    let l = await this.linkOf(name);
    const running = async () => (l = await this.linkOf(name)).flags.includes('LOWER_UP');
    // Not RUNNING within the bound: the last reading says so, and the case judges it.
    await waitUntil(`${name} to be RUNNING`, running, { timeoutMs: 3000, intervalMs: 100 }).catch(orOnTimeout(() => false));
    return l;
  }

  /**
   * Runs `during` with tcpdump on a guest interface, and returns the frames
   * it saw (the pcap read back into the run directory). A capture that
   * dropped is a CaptureError: the lab's, not the DUT's.
   */
  async capturing(iface: string, direction: 'in' | 'out', filter: string, name: string, during: () => Promise<void>): Promise<Buffer[]> {
    const work = this.lab.tb.paths.workDir;
    const file = `${work}/${name}.pcap`;
    const logFile = `${work}/${name}.log`;
    await this.run(`mkdir -p ${shq(work)}`);
    const cap = await Tcpdump.start(this.lab.session.shell('guest'), {
      name,
      iface,
      direction,
      file,
      logFile,
      filter,
      record: captureRecordOf(this.lab.tb, 'guest'),
    });
    const frames: Buffer[] = [];
    try {
      await during();
      await Tcpdump.stopAll([cap]);
      const local = join(this.lab.dir, `${name}.pcap`);
      await this.lab.session.shell('guest').get(file, local);
      await readPcap(local, (frame) => {
        frames.push(Buffer.from(frame));
      });
    } finally {
      await cap.abandon();
      await this.run(`rm -f ${shq(file)} ${shq(logFile)}`, ANY_EXIT);
    }
    return frames;
  }
}
