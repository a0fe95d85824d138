import { describe, expect, it } from 'vitest';
import { orOnTimeout, waitUntil, waitUntilSteady, WaitAbortedError, WaitTimeoutError } from '../../lib/wait.js';

describe('waitUntil, the one way to wait', () => {
  it('returns what the probe found once it holds', async () => {
    let n = 0;
    await expect(waitUntil('the third probe', () => ++n >= 3 && `found at ${n}`, { timeoutMs: 1000, intervalMs: 1 })).resolves.toBe('found at 3');
  });

  it('names what it waited for and its bound when the condition never holds, after probing once more at the bound', async () => {
    let probes = 0;
    const started = Date.now();
    const err = await waitUntil(
      'the sshd to listen',
      () => {
        probes++;
        return false;
      },
      { timeoutMs: 120, intervalMs: 50 },
    ).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WaitTimeoutError);
    expect((err as Error).message).toBe('timed out after 120 ms waiting for the sshd to listen');
    expect(Date.now() - started).toBeGreaterThanOrEqual(115);
    expect(probes).toBeGreaterThanOrEqual(3);
  });

  it("ends at once with the probe's own error (a process that died while awaited)", async () => {
    const started = Date.now();
    await expect(
      waitUntil(
        'QEMU',
        () => {
          throw new Error('QEMU exited');
        },
        { timeoutMs: 5000 },
      ),
    ).rejects.toThrow('QEMU exited');
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it('gives a fallback for a timeout only, never for another error', async () => {
    await expect(waitUntil('never', () => null, { timeoutMs: 10 }).catch(orOnTimeout(() => 'fallback'))).resolves.toBe('fallback');
    await expect(
      waitUntil(
        'broken',
        () => {
          throw new TypeError('broken probe');
        },
        { timeoutMs: 10 },
      ).catch(orOnTimeout(() => 'fallback')),
    ).rejects.toThrow(TypeError);
  });

  it('ends at once when its signal aborts, mid-pause, before another probe, in the words of what it awaited', async () => {
    const ac = new AbortController();
    let probes = 0;
    const t0 = Date.now();
    setTimeout(() => ac.abort(), 100);
    const never = () => {
      probes++;
      return false;
    };
    const err = await waitUntil('a testbed labelled "pair"', never, { timeoutMs: 10_000, intervalMs: 2000, signal: ac.signal }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WaitAbortedError);
    expect((err as Error).message).toBe('stopped waiting for a testbed labelled "pair": interrupted');
    expect(probes).toBe(1);
    expect(Date.now() - t0).toBeLessThan(1500);
    // Aborted before it began: no probe at all.
    const before = await waitUntil('x', () => true, { timeoutMs: 1000, signal: AbortSignal.abort() }).catch((e: unknown) => e);
    expect(before).toBeInstanceOf(WaitAbortedError);
  });
});

describe('waitUntilSteady: a reading that has stopped changing', () => {
  it('returns the reading once it has stayed the same for the quiet period, not before', async () => {
    // A counter that counts four more frames, then stops.
    const readings = [10, 11, 12, 14];
    let reads = 0;
    const started = Date.now();
    let changedLast = started;
    const got = await waitUntilSteady(
      'rx_packets',
      async () => {
        const v = readings[Math.min(reads++, readings.length - 1)]!;
        if (reads <= readings.length) changedLast = Date.now();
        return { rx: v };
      },
      (r) => r.rx,
      { quietMs: 60, timeoutMs: 2000, intervalMs: 10 },
    );
    expect(got).toEqual({ rx: 14 });
    expect(Date.now() - changedLast).toBeGreaterThanOrEqual(55);
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it('gives the last reading at its bound when the reading never stays the same (a DUT that keeps sending)', async () => {
    let n = 0;
    const started = Date.now();
    const got = await waitUntilSteady(
      'a looping port',
      async () => ++n,
      (v) => v,
      { quietMs: 50, timeoutMs: 150, intervalMs: 10 },
    );
    expect(got).toBe(n);
    expect(n).toBeGreaterThan(3);
    expect(Date.now() - started).toBeGreaterThanOrEqual(145);
  });

  it("ends at once with the reading's own error", async () => {
    await expect(
      waitUntilSteady(
        'a dead TG',
        async () => {
          throw new Error('connection lost');
        },
        (v: number) => v,
        { quietMs: 50, timeoutMs: 5000 },
      ),
    ).rejects.toThrow('connection lost');
  });
});
