import { describe, expect, it } from 'vitest';
import { orOnTimeout, waitUntil, WaitTimeoutError } from '../../lib/wait.js';

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
});
