// The VM a run started, watched from its host: how its QEMU ended, the tail
// of its console, and what its guest's kernel said of its own failure there
// (the guest's last words), which turn a guest that stopped answering into
// the DUT's failure or the lab's.
import { CommandTimeoutError, ConnectionError, errorMessage, GuestKernelFailure, VmError } from '../errors.js';
import { kernelLastWords } from '../parsers/dmesg.js';
import type { HostRole } from '../testbed/schema.js';
import { shq } from '../transport/quote.js';
import { describeExit, EXIT_MARKER, exitStatusIn, type BackgroundProcess, type Shell } from '../transport/shell.js';

/** A process the run started on a host: the VM's QEMU, with its serial console's file where it has one. */
export interface StartedVm {
  role: HostRole;
  proc: BackgroundProcess;
  console?: string;
}

export class VmWatch {
  constructor(
    private readonly on: {
      vm(): StartedVm | undefined;
      shell(role: HostRole): Shell;
      connected(role: HostRole): boolean;
    },
  ) {}

  /** How the run's QEMU ended, with its console's tail; null while it runs (or when the run started none). */
  async gone(): Promise<string | null> {
    const vm = this.on.vm();
    if (!vm || !this.on.connected(vm.role)) return null;
    if (await vm.proc.isAlive().catch(() => true)) return null;
    const log = await vm.proc.logTail(50).catch(() => '');
    const status = exitStatusIn(log);
    // QEMU's own last words (an assertion, "Aborted"), where its console is a file of its own.
    const said = vm.console
      ? log
          .split('\n')
          .filter((l) => l.trim() !== '' && !l.startsWith(EXIT_MARKER))
          .slice(-3)
      : [];
    return (
      `QEMU (pid ${vm.proc.pid}) ${status === null ? 'is gone' : `exited, ${describeExit(status)}`}` +
      `${said.length > 0 ? `; it printed:\n${said.join('\n')}\n` : '; '}${await this.consoleTail()}`
    );
  }

  async consoleTail(lines = 15): Promise<string> {
    const vm = this.on.vm();
    if (!vm) return '';
    const file = vm.console ?? vm.proc.logFile;
    const out = await this.on
      .shell(vm.role)
      .run(`tail -n ${lines} ${shq(file)}`, { okExitCodes: [0, 1] })
      // The serial console ends its lines with \r\n.
      .then((r) => r.stdout.replace(/\r/g, '').trimEnd())
      .catch((e: unknown) => `(unreadable: ${errorMessage(e)})`);
    return `its console (${file}) ends:\n${out || '(empty)'}`;
  }

  /**
   * The guest stopped answering: its kernel may have said why on the console
   * (a panic, an Oops, a hung task, the OOM killer), which makes it the DUT's
   * failure, QEMU alive or not; a QEMU gone without a word from the guest is
   * the lab's; a guest that said nothing while QEMU runs stays what it was.
   */
  async explainGuestError(e: unknown): Promise<unknown> {
    if (!(e instanceof ConnectionError || e instanceof CommandTimeoutError)) return e;
    const gone = await this.gone().catch(() => null);
    const said = await this.guestLastWords();
    if (said.length > 0) {
      const qemu = gone ? `then ${gone.split(';')[0]}` : `QEMU (pid ${this.on.vm()!.proc.pid}) still runs`;
      return new GuestKernelFailure(said, `the guest's kernel failed (${qemu}; the guest's connection: ${errorMessage(e)})`, { cause: e });
    }
    return gone ? new VmError(`the guest's VM is gone: ${gone}`, { cause: e }) : e;
  }

  /** What the guest's kernel said of its own failure on the console of the VM this run started (none: no VM, or nothing said). */
  private async guestLastWords(): Promise<string[]> {
    const vm = this.on.vm();
    if (!vm || !this.on.connected(vm.role)) return [];
    // The console is this run's own (removed before QEMU starts): all of it is since the run began. Its last 256 KB.
    const r = await this.on
      .shell(vm.role)
      .run(`tail -c 262144 ${shq(vm.console ?? vm.proc.logFile)}`, { okExitCodes: [0, 1] })
      .catch(() => null);
    return r ? kernelLastWords(r.stdout) : [];
  }
}
