// The one way to wait: a condition polled until it holds, within a bound, and
// on timeout an error in the words of what was awaited (Open vSwitch's
// testsuite: OVS_WAIT_UNTIL). The virtual lab and the run engine, the
// drivers and the suites all wait through it; no other deadline loop.
import { setTimeout as sleep } from 'node:timers/promises';
import { DutlabError } from './errors.js';

export interface WaitOptions {
  /** The bound: after it, WaitTimeoutError (or what the caller makes of it with `orOnTimeout`). */
  timeoutMs: number;
  /** Between two probes; default 50 ms. */
  intervalMs?: number;
  /** Ends the wait before its bound (a signal to the run): WaitAbortedError, before the next probe. */
  signal?: AbortSignal;
}

/** A wait ended by its AbortSignal before the condition held. */
export class WaitAbortedError extends DutlabError {
  constructor(readonly what: string) {
    super(`stopped waiting for ${what}: interrupted`);
  }
}

/** A condition that did not hold within its bound. */
export class WaitTimeoutError extends DutlabError {
  constructor(
    readonly what: string,
    readonly timeoutMs: number,
  ) {
    super(`timed out after ${timeoutMs} ms waiting for ${what}`);
  }
}

/**
 * Polls `probe` until it returns something other than `false`, `null` or
 * `undefined`, and returns that. The probe is tried at once, then every
 * `intervalMs`, and once more at the bound. It may throw to end the wait at
 * once (a process that died while it was awaited): that error is the wait's.
 */
export async function waitUntil<T>(
  what: string,
  probe: () => T | false | null | undefined | Promise<T | false | null | undefined>,
  opts: WaitOptions,
): Promise<T> {
  const deadline = Date.now() + opts.timeoutMs;
  for (;;) {
    if (opts.signal?.aborted) throw new WaitAbortedError(what);
    const last = Date.now() >= deadline;
    const got = await probe();
    if (got !== false && got !== null && got !== undefined) return got;
    if (last) throw new WaitTimeoutError(what, opts.timeoutMs);
    const pause = Math.max(0, Math.min(opts.intervalMs ?? 50, deadline - Date.now()));
    await sleep(pause, undefined, opts.signal ? { signal: opts.signal } : {}).catch(() => undefined);
  }
}

/** For a wait whose timeout is an answer, not an error: `.catch(orOnTimeout(fallback))` gives the fallback on WaitTimeoutError only. */
export const orOnTimeout =
  <F>(fallback: () => F) =>
  (err: unknown): F => {
    if (err instanceof WaitTimeoutError) return fallback();
    throw err;
  };

/**
 * Reads `read` until `countOf` its reading has not changed for `quietMs`, and
 * returns that last reading: a port's counters once it has stopped counting
 * (frames in flight are counted), a capture once it has stopped growing. Never
 * steady within `timeoutMs` (a DUT that keeps sending the stream back): the
 * last reading all the same, so that such a DUT cannot hold the run.
 */
export async function waitUntilSteady<R>(
  what: string,
  read: () => Promise<R>,
  countOf: (reading: R) => number | string,
  opts: WaitOptions & { quietMs: number },
): Promise<R> {
  let last = await read();
  let since = Date.now();
  const steady = async () => {
    const now = await read();
    const changed = countOf(now) !== countOf(last);
    last = now;
    if (changed) since = Date.now();
    return !changed && Date.now() - since >= opts.quietMs;
  };
  await waitUntil(`${what} to stay unchanged for ${opts.quietMs} ms`, steady, opts).catch(orOnTimeout(() => false));
  return last;
}
