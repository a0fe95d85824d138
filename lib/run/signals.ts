// The process's one handler of SIGINT, SIGTERM and SIGHUP. Whatever runs for
// long says what a signal means to it while it runs (the pool's wait stops, a
// run writes its abort file so that its suite tears down, the main job brings
// its lab down after the run): the first signal tells each of them. A second
// signal is a person who will not wait for the teardown: each still writes
// what it can (a run its reports, from what its suites recorded so far), then
// the process exits with the aborted code. The suites run in a worker thread:
// signals reach this process only, and reach the suite through the abort file.
import { EXIT_CODES } from '../report/verdict.js';

export interface SignalListener {
  /** The first signal: stop, tear down, and end as aborted. */
  first(sig: NodeJS.Signals): void;
  /** The second: write what can be written at once (synchronously); the process exits right after. */
  last?(sig: NodeJS.Signals): void;
}

const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
const listeners = new Set<SignalListener>();
let received: NodeJS.Signals | null = null;

function onSignal(sig: NodeJS.Signals): void {
  if (received) {
    for (const l of [...listeners]) {
      try {
        l.last?.(sig);
      } catch (err) {
        process.stderr.write(`dutlab: ${sig}: could not write all of it: ${(err as Error).message}\n`);
      }
    }
    process.stderr.write(`dutlab: ${sig} again: exiting now; the lab may keep this run's setup, and its lease goes to the next run from here\n`);
    process.exit(EXIT_CODES.aborted);
  }
  received = sig;
  for (const l of [...listeners]) l.first(sig);
}

/**
 * Listens while `listener` is registered; the returned function unregisters it.
 * The process's handler is installed with the first listener and removed with
 * the last (a new run in the same process starts with no signal received).
 */
export function onSignals(listener: SignalListener): () => void {
  if (listeners.size === 0) for (const sig of SIGNALS) process.on(sig, onSignal);
  listeners.add(listener);
  if (received) listener.first(received);
  return () => {
    listeners.delete(listener);
    if (listeners.size > 0) return;
    for (const sig of SIGNALS) process.off(sig, onSignal);
    received = null;
  };
}

/** The signal this process received while something listened, if any. */
export const signalReceived = (): NodeJS.Signals | null => received;
