// The pool file, and a pool's state as its DUT hosts keep it: `pool status`,
// the quarantine and its release, a pool with nothing free. The DUT hosts
// are local shells here (real sh and flock, each lab's lease in a directory
// of its own); tests/lab/pool.test.ts runs the pool on three virtual labs.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseDocument } from 'yaml';
import { PoolError, PoolFileError } from '../../lib/errors.js';
import { formatStatus, poolStatus, quarantine, releaseLab, type HostConnector } from '../../lib/pool/lab-state.js';
import { loadPool, withLabel } from '../../lib/pool/pool.js';
import { takeFromPool } from '../../lib/pool/take.js';
import { Lease, thisController } from '../../lib/scenario/lease.js';
import { loadTestbed } from '../../lib/testbed/load.js';
import { LocalShell } from '../../lib/transport/local.js';
import { fixturePath } from '../helpers/fixtures.js';
import { readFileSync } from 'node:fs';

const dir = mkdtempSync(join(tmpdir(), 'dutlab-pool-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A testbed file like the virtual lab's, its lease in this test's directory. */
function testbed(name: string): string {
  const doc = parseDocument(readFileSync(fixturePath('testbeds/virtual.yaml'), 'utf8'));
  doc.set('name', name);
  doc.setIn(['lock', 'path'], join(dir, `${name}.lock`));
  doc.setIn(['lock', 'ttlSeconds'], 30);
  const file = join(dir, `${name}.yaml`);
  writeFileSync(file, doc.toString());
  return file;
}

function poolFile(text: string): string {
  const file = join(dir, `pool-${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(file, text);
  return file;
}

/** The DUT hosts: this box, but for one that does not answer. */
const local: HostConnector = async (tb) => {
  if (tb.name === 'lab-gone') throw new Error('cannot connect to root@192.0.2.1:22: connect ETIMEDOUT');
  return new LocalShell('host');
};

describe('the pool file', () => {
  it('lists testbeds with their labels, their files relative to the pool file', () => {
    testbed('lab-a');
    const p = loadPool(poolFile('testbeds:\n  - name: lab-a\n    testbed: lab-a.yaml\n    labels: [virtual, nightly]\n'));
    expect(p.testbeds).toEqual([{ name: 'lab-a', testbed: join(dir, 'lab-a.yaml'), labels: ['virtual', 'nightly'] }]);
    expect(withLabel(p, 'nightly').map((t) => t.name)).toEqual(['lab-a']);
    expect(() => withLabel(p, 'x710')).toThrow(/no testbed is labelled "x710" \(labels: nightly, virtual\)/);
  });

  it('refuses a bad pool file naming each problem and where', () => {
    const file = poolFile(
      'testbeds:\n  - name: a\n    testbed: a.yaml\n    labels: [ok]\n    owner: me\n  - name: a\n    testbed: b.yaml\n    labels: []\n  - name: "b c"\n    testbed: c.yaml\n    labels: ["x;y"]\n',
    );
    const err = (() => {
      try {
        loadPool(file);
      } catch (e) {
        return e as PoolFileError;
      }
    })();
    expect(err).toBeInstanceOf(PoolFileError);
    expect(err!.problems.map((p) => p.path)).toEqual(['testbeds.0.owner', 'testbeds.1.labels', 'testbeds.2.name', 'testbeds.2.labels.0']);
    expect(err!.message).toMatch(/testbeds\.0\.owner: unknown key/);
    expect(() =>
      loadPool(poolFile('testbeds:\n  - name: a\n    testbed: a.yaml\n    labels: [x]\n  - name: a\n    testbed: b.yaml\n    labels: [x]\n')),
    ).toThrow(/testbeds\.1\.name: "a" is already the name of testbeds\.0/);
    expect(() => loadPool(poolFile('testbeds: [\n'))).toThrow(/line \d+: not valid YAML/);
  });
});

describe("a pool's state, on its DUT hosts", () => {
  const names = ['lab-free', 'lab-held', 'lab-sick', 'lab-gone'];
  for (const n of names) testbed(n);
  const file = poolFile(
    `testbeds:\n${names.map((n) => `  - name: ${n}\n    testbed: ${n}.yaml\n    labels: [virtual${n === 'lab-free' ? ', spare' : ''}]\n`).join('')}`,
  );
  const tbOf = (n: string) => loadTestbed(join(dir, `${n}.yaml`));

  it('`pool status` shows each testbed free, held (by which run, renewed when, expiring when) or quarantined (since when, by whom, why), or why it could not be read', async () => {
    const shell = new LocalShell('host');
    const held = new Lease(shell, tbOf('lab-held').lock.path, 30, thisController('nightly-42'));
    await held.take();
    await quarantine(shell, tbOf('lab-sick'), 'run 7 on ctl-b', 'cleanup failed: host.clean-previous-bridge: ovs-vsctl: database connection failed');
    try {
      const text = formatStatus(await poolStatus(loadPool(file), local));
      const lines = text.split('\n');
      expect(lines[0]).toMatch(/^lab-free {2}\[virtual, spare\] {2}free \(generation 0\)$/);
      expect(lines[1]).toMatch(/^lab-held {2}\[virtual\] {2}held by run nightly-42 \(\S+, pid \d+, generation 1\), renewed [01] s ago, expires in (29|30) s$/);
      expect(lines[2]).toMatch(/^lab-sick {2}\[virtual\] {2}free \(generation 0\)$/);
      expect(lines[3]).toMatch(
        /^ {10}QUARANTINED since \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ by run_7_on_ctl-b: cleanup failed: host\.clean-previous-bridge: ovs-vsctl: database connection failed$/,
      );
      expect(lines[4]).toBe('lab-gone  [virtual]  UNKNOWN: cannot connect to root@192.0.2.1:22: connect ETIMEDOUT');
    } finally {
      await held.release();
    }
  });

  it('waits for a testbed of the label, then stops (exit 2) naming why each one could not be had: held, quarantined, unreachable', async () => {
    const shell = new LocalShell('host');
    const held = new Lease(shell, tbOf('lab-held').lock.path, 30, thisController('nightly-43'));
    await held.take();
    const free = new Lease(shell, tbOf('lab-free').lock.path, 30, thisController('nightly-44'));
    await free.take();
    const started = Date.now();
    try {
      const err = await takeFromPool(loadPool(file), {
        label: 'virtual',
        profile: 'virtual',
        waitS: 1,
        runId: 'r-wait',
        dir,
        connect: local,
        pollMs: 300,
      }).catch((e: unknown) => e as Error);
      expect(err).toBeInstanceOf(PoolError);
      expect(Date.now() - started).toBeGreaterThanOrEqual(1000);
      const msg = (err as Error).message;
      expect(msg).toMatch(/^no testbed labelled "virtual" came free within 1 s \(--wait\): /);
      expect(msg).toMatch(/lab-free: the lab is in use: lock \S+ held by nightly-44 /);
      expect(msg).toMatch(/lab-held: the lab is in use: lock \S+ held by nightly-43 /);
      expect(msg).toMatch(/lab-sick: the lab is quarantined: since=\d+ by=run_7_on_ctl-b reason=cleanup failed: /);
      expect(msg).toMatch(/lab-gone: its DUT host cannot be reached: cannot connect to root@192\.0\.2\.1:22/);
    } finally {
      await held.release();
      await free.release();
    }
  });

  it('`pool release` lifts the quarantine, and with --lease breaks the lease of a hung holder', async () => {
    const shell = new LocalShell('host');
    expect(await releaseLab(shell, tbOf('lab-sick'), 'admin@ctl', false)).toEqual(['quarantine lifted']);
    const hung = new Lease(shell, tbOf('lab-sick').lock.path, 30, thisController('hung-run'));
    await hung.take();
    expect(await releaseLab(shell, tbOf('lab-sick'), 'admin@ctl', true)).toEqual([
      expect.stringMatching(
        /^lease of run hung-run \(\S+, pid \d+, generation 1\) broken: the lab can be taken again in (29|30) s, once that run's last renewal has run out/,
      ),
    ]);
    // Broken already: nothing more to break.
    expect(await releaseLab(shell, tbOf('lab-sick'), 'admin@ctl', true)).toEqual([]);
    const status = formatStatus(await poolStatus(loadPool(file), local));
    expect(status).toMatch(
      /^lab-sick {2}\[virtual\] {2}BROKEN by \S+ \(generation 2\): takeable in (29|30) s, once its former holder's last renewal has run out$/m,
    );
    expect(status).not.toMatch(/QUARANTINED/);
    await expect(new Lease(shell, tbOf('lab-sick').lock.path, 30, thisController('eager')).take()).rejects.toThrow(
      /^the lab's lease was broken by \S+ \(`dutlab pool release --lease`\): it can be taken in (29|30) s/,
    );
    hung.detach();
  });
});
