// A trial measures the DUT only if the generator sent as it was asked to. A
// generator whose host is a virtual machine (the virtual lab's, a TG in a
// cloud) can lose its CPU to the hypervisor for a period of the VM's quota
// (100 ms, Linux's CFS bandwidth control): it stops, then catches up in a
// burst that a DUT with a short queue drops, and the search would call that
// the DUT's loss. So each of a search's trials is bracketed by two readings
// of the TG host's steal time (lib/parsers/proc-stat.ts); a trial during
// which a CPU lost more than tg.steal.maxMs and whose loss the stall can
// explain (no more frames than the generator would have sent while it stood
// still) is measured again, up to tg.steal.tries in all, and said so. A loss
// the stall cannot explain stays the DUT's. After the last try the trial
// counts as measured, noted: a lab whose own load spends its VM's quota
// stalls at every load near what it forwards, and that is what it forwards.
import { parseSteal, STEAL_COMMAND, stolenMs, type StealReading } from '../../parsers/proc-stat.js';
import type { Testbed } from '../../testbed/schema.js';
import type { Shell } from '../../transport/shell.js';

/** The testbed's tg.steal: the most ms one CPU may lose during a trial that counts at once, and the tries in all. */
export type StealLimits = Testbed['tg']['steal'];

/** What a search's trial counted: frames the generator sent and that came back, over its duration. */
export interface Counted {
  sent: number;
  received: number;
  durationS: number;
}

export class StealWatch {
  constructor(
    private readonly tgShell: Pick<Shell, 'run'>,
    private readonly limits: StealLimits,
    private readonly note: (line: string) => void,
  ) {}

  /** `measure` (one try of a trial at `rate` frames/s) until a try whose loss no stall of the TG's host explains, or the last; what it found. */
  async trial<T extends Counted>(rate: number, what: string, measure: () => Promise<T>): Promise<T> {
    const stolen: number[] = [];
    for (let i = 1; ; i++) {
      const before = await this.read();
      const result = await measure();
      const ms = stolenMs(before, await this.read());
      if (ms <= this.limits.maxMs || !StealWatch.lossExplained(result, ms)) return result;
      stolen.push(ms);
      if (i >= this.limits.tries) {
        this.note(
          `${what} at ${rate} frames/s counted as measured after ${i} tries: a CPU of the TG's host lost ${stolen.join(', ')} ms to its hypervisor during them (steal time; tg.steal.maxMs ${this.limits.maxMs}), and its loss may be the generator's burst after the stall`,
        );
        return result;
      }
      this.note(
        `${what} at ${rate} frames/s measured again: a CPU of the TG's host lost ${ms} ms to its hypervisor during it (steal time; tg.steal.maxMs ${this.limits.maxMs}), so the generator's frames left late and then in a burst, and the loss may be that burst's`,
      );
    }
  }

  /**
   * A trial's loss the stall can explain: some, and no more than the generator would have sent while it stood
   * still (a tick of steal's rounding beside it). A trial that passed despite a stall passed.
   */
  static lossExplained(t: Counted, stolenMs: number): boolean {
    const lost = t.sent - t.received;
    return lost > 0 && lost <= (t.sent / t.durationS) * ((stolenMs + 10) / 1000);
  }

  private async read(): Promise<StealReading> {
    return parseSteal((await this.tgShell.run(STEAL_COMMAND)).stdout);
  }
}
