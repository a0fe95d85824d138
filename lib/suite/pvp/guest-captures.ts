// The PVP suite's captures on the guest's side of each vEth: what crossed its
// links that was not the stream, for the counters' accounting of other frames.
import { join } from 'node:path';
import { errorMessage } from '../../errors.js';
import type { LabRun } from '../../scenario/lab-run.js';
import { shq } from '../../transport/quote.js';
import { captureRecordOf, Tcpdump } from '../../traffic/tcpdump.js';
import { topologyOf } from '../../testbed/topology.js';
import { guestCaptureName, type Direction } from './direction.js';

export class GuestCaptures {
  private readonly captures: Tcpdump[] = [];
  /** Files the captures may have left on the guest. */
  private readonly files: string[] = [];
  /** The guest's links were captured during the traffic, and the captures are here. */
  captured = false;

  constructor(private readonly run: LabRun) {}

  /**
   * The guest's side of each vEth, captured where the guest has tcpdump: what
   * crossed its links that was not the stream. Only the counters' accounting
   * of other frames depends on it, so whatever goes wrong here (no tcpdump, a
   * vEth that is down, the guest unreachable) is a note and the run goes on:
   * the checks judge the guest.
   */
  async start(directions: readonly Direction[]): Promise<void> {
    const work = this.run.tb.paths.workDir;
    if (this.run.tb.vm?.forwarding === 'testpmd') {
      this.run.note("no capture on the guest's links: its NICs are DPDK's (testpmd), not its kernel's; frames other than the stream there are not told apart");
      return;
    }
    // From here on the guest may hold captures and their files: a fixture of the run (the engine cleans up the traffic generator's).
    this.run.teardown.defer('guest captures', () => this.remove());
    try {
      const guest = this.run.session.shell('guest');
      if ((await guest.run('command -v tcpdump', { okExitCodes: [0, 1, 127] })).exitCode !== 0) throw new Error('the guest has no tcpdump');
      await guest.run(`mkdir -p ${shq(work)}`);
      // Each direction's stream comes in by its ingress vEth and leaves by its egress vEth.
      const specs = directions.flatMap((d) => {
        const { vmIngress: vmIn, vmEgress: vmOut } = topologyOf(d.tb);
        return (
          [
            [vmIn.guestIf, 'in'],
            [vmOut.guestIf, 'out'],
          ] as const
        ).map(([iface, direction]) => ({
          name: guestCaptureName(d, iface),
          iface,
          direction,
          file: `${work}/${this.run.config.runId}-${guestCaptureName(d, iface)}.pcap`,
          logFile: `${work}/${guestCaptureName(d, iface)}.log`,
          record: captureRecordOf(this.run.tb, 'guest'),
        }));
      });
      for (const spec of specs) this.files.push(spec.file, spec.logFile);
      this.captures.push(...(await Tcpdump.startAll(guest, specs)));
    } catch (err) {
      this.run.note(
        `no capture on the guest's links (${errorMessage(err)}): frames other than the stream there are not told apart (only verify.counterSlack allows for them)`,
      );
    }
  }

  async stop(): Promise<void> {
    const captures = this.captures.splice(0);
    if (captures.length === 0) return;
    try {
      await Tcpdump.stopAll(captures);
      for (const c of captures) await this.run.session.shell('guest').get(c.spec.file, join(this.run.dir, `${c.spec.name}.pcap`));
      this.captured = true;
    } catch (err) {
      this.run.note(`the guest's captures are not used (${errorMessage(err)}): frames other than the stream on its links are not told apart`);
    }
  }

  /** Removes the guest's capture files and logs, if captures were started: nothing is sent to the guest otherwise. */
  async remove(): Promise<void> {
    await Promise.all(this.captures.splice(0).map((c) => c.abandon()));
    const files = this.files.splice(0);
    if (files.length === 0 || !this.run.session.connected('guest')) return;
    await this.run.session
      .shell('guest')
      .run(`rm -f ${files.map(shq).join(' ')}`, { okExitCodes: [0, 1] })
      .catch(() => undefined);
  }
}
