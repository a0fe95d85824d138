// A capture that lost packets cannot judge the DUT: tcpdump's own closing
// statistics decide whether a capture is complete.
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CaptureError, failureKind } from '../../lib/errors.js';
import { Tcpdump, parseTcpdumpStats } from '../../lib/traffic/tcpdump.js';
import { LocalShell } from '../../lib/transport/local.js';

const dir = mkdtempSync(join(tmpdir(), 'dutlab-tcpdump-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// What tcpdump 4.99.3 (Debian 12) prints on stderr, from its start to its exit on SIGINT.
const CLEAN =
  'tcpdump: listening on tg1, link-type EN10MB (Ethernet), snapshot length 262144 bytes\n1000 packets captured\n1000 packets received by filter\n0 packets dropped by kernel\n';
const DROPPED =
  'tcpdump: listening on tg1, link-type EN10MB (Ethernet), snapshot length 262144 bytes\n988 packets captured\n1000 packets received by filter\n12 packets dropped by kernel\n';
const IFACE =
  'tcpdump: listening on tg1, link-type EN10MB (Ethernet), snapshot length 262144 bytes\n980 packets captured\n1000 packets received by filter\n0 packets dropped by kernel\n20 packets dropped by interface\n';

describe("tcpdump's closing statistics", () => {
  it('reads received and dropped, by the kernel and by the interface', () => {
    expect(parseTcpdumpStats(CLEAN)).toEqual({ received: 1000, dropped: 0, droppedBy: '' });
    expect(parseTcpdumpStats(DROPPED)).toEqual({ received: 1000, dropped: 12, droppedBy: '12 by the kernel' });
    expect(parseTcpdumpStats(IFACE)).toEqual({ received: 1000, dropped: 20, droppedBy: '20 by the interface' });
  });

  it('has none when tcpdump did not say (killed before it could)', () => {
    expect(parseTcpdumpStats('tcpdump: listening on tg1, link-type EN10MB (Ethernet), snapshot length 262144 bytes\n')).toBeNull();
  });
});

/**
 * A stand-in tcpdump on PATH that listens and, on SIGINT, prints the given
 * statistics, as the real one does. In node, not sh: a background job's sh
 * ignores SIGINT and cannot trap it, where tcpdump installs its own handler.
 */
function fakeTcpdump(stats: string): string {
  const bin = mkdtempSync(join(dir, 'bin-'));
  const script = join(bin, 'tcpdump');
  writeFileSync(
    script,
    `#!${process.execPath}\nprocess.stderr.write(${JSON.stringify(stats.split('\n')[0] + '\n')});\nprocess.on('SIGINT', () => { process.stderr.write(${JSON.stringify(stats.split('\n').slice(1).join('\n'))}); process.exit(0); });\nsetInterval(() => {}, 1000);\n`,
  );
  chmodSync(script, 0o755);
  return bin;
}

describe('a capture that dropped packets', () => {
  const capture = async (stats: string) => {
    const path = process.env.PATH;
    process.env.PATH = `${fakeTcpdump(stats)}:${path}`;
    try {
      const shell = new LocalShell('tg');
      const t = await Tcpdump.start(shell, {
        name: 'tcpdump-rx',
        iface: 'tg1',
        direction: 'in',
        file: join(dir, 'rx.pcap'),
        logFile: join(dir, `log-${Math.random()}`),
      });
      return await t.stop().then(
        () => null,
        (e: unknown) => e,
      );
    } finally {
      process.env.PATH = path;
    }
  };

  it('is complete when tcpdump says it dropped nothing', async () => {
    expect(await capture(CLEAN)).toBeNull();
  });

  it('is an infrastructure error that says how many the capture lost, never a DUT verdict', async () => {
    const err = await capture(DROPPED);
    expect(err).toBeInstanceOf(CaptureError);
    expect(failureKind(err)).toBe('infra');
    expect((err as Error).message).toBe(
      '[tg] tcpdump-rx on tg1 dropped 12 of 1000 packets (12 by the kernel): the capture is incomplete, so the DUT cannot be judged from it',
    );
  });
});
