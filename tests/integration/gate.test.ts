// `dutlab gate`'s bad input, refused before it touches a lab (exit 2, with a
// report, naming what and where): a build that is not in the testbed, k of 0,
// a k that is not a number, two builds that are one, a downtime bound finer
// than the stream resolves. The gate itself runs in the lab tier
// (tests/lab/gate.test.ts).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { MINIMAL_TESTBED } from '../helpers/fixtures.js';
import { dutlabRun } from '../helpers/cli.js';

const dir = mkdtempSync(join(tmpdir(), 'dutlab-gate-input-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const PORTS = `phyPorts:
  - { name: port16, ofport: 16, dpdkPort: 1, tgPort: tg0, dpdkDevargs: net_af_packet0 }
  - { name: port17, ofport: 17, dpdkPort: 2, tgPort: tg1, dpdkDevargs: net_af_packet1 }
vmPorts:
  - { name: port32, ofport: 32, kind: tap, guestIf: vEth_port32, mac: '00:4B:4E:49:30:00', cidr: 2.2.2.1/24 }
  - { name: port33, ofport: 33, kind: tap, guestIf: vEth_port33, mac: '00:4B:4E:49:30:01', cidr: 3.3.3.1/24 }
`;
const BUILDS = `ovsDpdk:
  builds:
    old: { dpdkVersion: 22.11.7, libDir: /b/lib, pmdDir: /b/pmds }
    new: { dpdkVersion: 22.11.11 }
`;

function testbed(name: string, extra = ''): string {
  const file = join(dir, `${name}.yaml`);
  writeFileSync(file, `${MINIMAL_TESTBED}${PORTS}${BUILDS}${extra}`);
  return file;
}
// A reports directory each: the cases run at once, and `latest` is a directory's own.
const gate = (args: string[]) => dutlabRun(['--profile', 'ovs-dpdk', ...args], mkdtempSync(join(dir, 'reports-')), { command: 'gate' });

describe.concurrent('dutlab gate refuses what cannot work, before it touches a lab', () => {
  it('names a build the testbed does not have, by the flag that named it', async () => {
    const r = await gate(['--testbed', testbed('a'), '--from', 'old', '--to', 'newest']);
    expect(r.exitCode).toBe(2);
    expect(r.summary.reason).toMatch(/a\.yaml: 1 problem.*ovsDpdk\.builds: --to newest: not one of its builds \(old, new\)/s);
  });

  it('refuses k of 0 naming gate.k, and a k that is not a whole number naming --k', async () => {
    const zero = await gate(['--testbed', testbed('b', 'gate: { k: 0 }\n'), '--from', 'old', '--to', 'new']);
    expect(zero.exitCode).toBe(2);
    expect(zero.summary.reason).toMatch(/gate\.k: k of at least 1/);
    const word = await gate(['--testbed', testbed('c'), '--from', 'old', '--to', 'new', '--k', 'two']);
    expect(word.exitCode).toBe(2);
    expect(word.summary.reason).toBe('--k two: a whole number of rounds');
  });

  it('refuses two builds that are one, and a downtime bound below the resolution, naming the fields', async () => {
    const same = await gate(['--testbed', testbed('d', '    again: { dpdkVersion: 22.11.11 }\n'), '--from', 'old', '--to', 'again']);
    expect(same.exitCode).toBe(2);
    expect(same.summary.reason).toMatch(/ovsDpdk\.builds\.again: the same build as new/);
    const fine = await gate(['--testbed', testbed('e', 'restart: { rate: 100, maxDowntimeMs: 5 }\n'), '--from', 'old', '--to', 'new']);
    expect(fine.exitCode).toBe(2);
    expect(fine.summary.reason).toMatch(/restart\.maxDowntimeMs: 5 ms is below the measurement's resolution \(one frame at 100 frames\/s: 10 ms\)/);
  });
});
