// A pool of three virtual labs, under load, from two controllers: the
// second is `dutlab run` in a UTS namespace of its own (`unshare --uts`, its
// own host name), so each controller's identity is its own and neither can
// prove the other's runs dead: only the lease's expiry frees a lab between
// them. The runs use the light suite tests/suites/pool-hold.e2e.ts (the
// setup, a hold, a read of the lab; no traffic: three labs forwarding at once
// on two cores lose packets, and what is proved here is who holds which lab
// when). The labs' leases expire after 9 s (three renewals of 3 s).
import { existsSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa, type ResultPromise } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseDocument } from 'yaml';
import type { Summary } from '../../lib/report/summary.js';
import { labDown, labLeftovers, labUp, type LabState } from '../../lib/vlab/lab.js';
import { pipelineCommands } from '../helpers/pipelines.js';
import { startPostgres, withClient } from '../helpers/postgres.js';
import { waitUntil } from '../../lib/wait.js';

const ROOT = new URL('../..', import.meta.url).pathname;
const TTL = 9;
const dir = mkdtempSync(join(tmpdir(), 'dutlab-pool-lab-'));
const labs = new Map<string, LabState>();
const POOL = join(dir, 'pool.yaml');
// pool-b before pool-a: a run of label `pair` tries pool-b first.
const TESTBEDS = [
  { name: 'pool-b', id: 'plb', labels: ['virtual', 'pair', 'b-only'] },
  { name: 'pool-a', id: 'pla', labels: ['virtual', 'pair'] },
  { name: 'pool-c', id: 'plc', labels: ['virtual', 'c-only'] },
  // Labs of their own for the faults that wait on a lease's expiry, so that those waits run side by side.
  { name: 'pool-d', id: 'pld', labels: ['d-only'] },
  { name: 'pool-e', id: 'ple', labels: ['e-only'] },
];
const SECOND_CONTROLLER = 'dutlab-ctl-b';

beforeAll(async () => {
  for (const t of TESTBEDS) {
    const lab = await labUp({ id: t.id });
    labs.set(t.name, lab);
    const doc = parseDocument(readFileSync(lab.testbedFile, 'utf8'));
    doc.setIn(['lock', 'ttlSeconds'], TTL);
    writeFileSync(join(dir, `${t.name}.yaml`), doc.toString());
  }
  writeFileSync(POOL, `testbeds:\n${TESTBEDS.map((t) => `  - name: ${t.name}\n    testbed: ${t.name}.yaml\n    labels: [${t.labels.join(', ')}]\n`).join('')}`);
}, 120_000);

afterAll(async () => {
  for (const lab of labs.values()) {
    await labDown({ id: lab.id });
    expect(await labLeftovers(lab.id, lab.processes)).toEqual([]);
  }
  rmSync(dir, { recursive: true, force: true });
});

interface Run {
  child: ResultPromise;
  reports: string;
  controller: string;
}

let runs = 0;

/** `dutlab run --pool` as a CI job starts it (a process group of its own), from this controller or the second. */
function startRun(controller: 'first' | 'second', label: string, extra: string[] = []): Run {
  const reports = join(dir, `run${runs++}`);
  const args = ['bin/dutlab.js', 'run', '--quiet', '--reports', reports, '--pool', POOL, '--label', label, '--profile', 'virtual'];
  args.push('--suites-dir', 'tests/suites', '--suite', 'pool-hold', ...extra);
  const argv = controller === 'first' ? ['node', ...args] : ['unshare', '--uts', 'sh', '-c', 'hostname "$0" && exec "$@"', SECOND_CONTROLLER, 'node', ...args];
  const child = execa(argv[0]!, argv.slice(1), { cwd: ROOT, reject: false, detached: true, timeout: 200_000 });
  return { child, reports, controller: controller === 'first' ? hostname() : SECOND_CONTROLLER };
}

const summaryOf = (r: Run): Summary => JSON.parse(readFileSync(join(r.reports, 'latest', 'summary.json'), 'utf8')) as Summary;
const notesOf = (r: Run) => summaryOf(r).notes.join('\n');

/** The testbed and lease generation a run says it held. */
function heldBy(r: Run): { testbed: string; generation: number } {
  const notes = notesOf(r);
  return {
    testbed: /^pool \S+: took testbed (\S+)/m.exec(notes)![1]!,
    generation: Number(/^holding the lab's lease \S+, generation (\d+) \(taken by the pool\)$/m.exec(notes)![1]),
  };
}

/** When a run's suite did something on its lab: every entry of its transcripts (a command, once it ended; a connection). */
function labTimes(r: Run): number[] {
  const dirOf = join(r.reports, 'latest', 'pool-hold', 'transcripts');
  return ['host', 'guest'].flatMap((h) =>
    existsSync(join(dirOf, `${h}.log`)) ? [...readFileSync(join(dirOf, `${h}.log`), 'utf8').matchAll(/^### (\S+) /gm)].map((m) => Date.parse(m[1]!)) : [],
  );
}

/** A lab's lease history: when (the DUT host's clock: this box's), what, which generation, the rest of the line. */
function history(name: string): { t: number; event: string; gen: number; rest: string }[] {
  const file = join(labs.get(name)!.stateDir, 'lock.state', 'history');
  return readFileSync(file, 'utf8')
    .trim()
    .split('\n')
    .map((l) => /^(\d+(?:\.\d+)?) (\w+)(?: gen=(\d+))?(.*)$/.exec(l)!)
    .map((m) => ({ t: Number(m[1]) * 1000, event: m[2]!, gen: Number(m[3] ?? -1), rest: m[4]! }));
}

const fileAppears = (file: string) => waitUntil(`${file} to appear`, () => existsSync(file), { timeoutMs: 90_000, intervalMs: 50 });

describe('a pool of three labs', () => {
  it('six runs from two controllers at once: every run completes, and no lab is ever held or used by two of them at once (the leases’ history, the runs’ own record)', async () => {
    const started = Array.from({ length: 6 }, (_, i) =>
      startRun(i % 2 === 0 ? 'first' : 'second', 'virtual', ['--wait', '180', '--hook-before-traffic', 'sleep 1']),
    );
    const results = await Promise.all(started.map((r) => r.child));
    results.forEach((res, i) => expect(res.exitCode, `run ${i}: ${res.stderr}`).toBe(0));
    // Each lab's history: takes and releases alternate, a generation each, one more each time.
    const byLab = new Map<string, Run[]>();
    for (const r of started) byLab.set(heldBy(r).testbed, [...(byLab.get(heldBy(r).testbed) ?? []), r]);
    expect([...byLab.keys()].sort()).toEqual(['pool-a', 'pool-b', 'pool-c']);
    for (const [name, onLab] of byLab) {
      const events = history(name).filter((e) => e.event === 'take' || e.event === 'release');
      expect(events.map((e) => e.event)).toEqual(onLab.flatMap(() => ['take', 'release']));
      for (let i = 0; i < events.length; i += 2) {
        expect(events[i + 1]!.gen).toBe(events[i]!.gen);
        if (i > 0) expect(events[i]!.gen).toBe(events[i - 2]!.gen + 1);
      }
      // Each run's every command on the lab lies within its own lease's take and release; so no two runs' overlap.
      for (const r of onLab) {
        const { generation } = heldBy(r);
        const take = events.find((e) => e.event === 'take' && e.gen === generation)!;
        const release = events.find((e) => e.event === 'release' && e.gen === generation)!;
        expect(take.rest).toContain(`host=${r.controller} `);
        const times = labTimes(r);
        expect(times.length).toBeGreaterThan(10);
        expect(Math.min(...times)).toBeGreaterThanOrEqual(take.t);
        expect(Math.max(...times)).toBeLessThanOrEqual(release.t);
      }
    }
    // Both controllers took labs.
    expect(new Set(started.map((r) => r.controller)).size).toBe(2);
  }, 240_000);
});

describe.concurrent('a pool of labs, when things go wrong (each on a lab of its own, at once)', () => {
  it('a holder killed outright: its lease is taken over by the other controller once it expires, and that run passes', async () => {
    // Killed: kill -9 of its process group while it holds pool-c.
    const holding = join(dir, 'killed.holding');
    const killed = startRun('first', 'c-only', ['--hook-before-traffic', `touch ${holding} && sleep 60`]);
    await fileAppears(holding);
    process.kill(-killed.child.pid!, 'SIGKILL');
    await killed.child;
    expect(existsSync(join(labs.get('pool-c')!.stateDir, 'lock'))).toBe(true);
    const t0 = Date.now();
    const next = startRun('second', 'c-only', ['--wait', '60']);
    const done = await next.child;
    expect(done.exitCode, String(done.stderr)).toBe(0);
    expect(notesOf(next)).toMatch(/^pool-c: took over an expired lock \(\S+ \S+ host=\S+ .*, expired \d+ s ago\): lease generation \d+$/m);
    // Not before the expiry (the takeover above says how long ago it ran out): another controller cannot prove the holder
    // dead. Whether it had to wait depends on how long the kill came after the holder's last renewal, so either is right.
    expect(notesOf(next)).toMatch(/^pool \S+: took testbed pool-c \(label c-only\)(?: after waiting \d+ s)?; /m);
    expect(Date.now() - t0).toBeGreaterThan(2000);
    expect(history('pool-c').at(-2)).toMatchObject({
      event: 'takeover',
      rest: expect.stringMatching(new RegExp(`host=${SECOND_CONTROLLER} .* from: \\S+ \\S+ host=${hostname()} `)),
    });
  }, 180_000);

  it('a holder paused past its expiry stops as an infrastructure error without touching the lab it lost; the run that took the lab passes', async () => {
    // Paused (SIGSTOP) while it holds pool-d, past its expiry; the other controller takes the lab; then SIGCONT.
    const paused = join(dir, 'paused.holding');
    const a = startRun('first', 'd-only', ['--hook-before-traffic', `touch ${paused} && sleep 2`]);
    await fileAppears(paused);
    process.kill(-a.child.pid!, 'SIGSTOP');
    const bHolding = join(dir, 'taker.holding');
    const b = startRun('second', 'd-only', ['--wait', '60', '--hook-before-traffic', `touch ${bHolding} && sleep 4`]);
    await fileAppears(bHolding);
    const resumedAt = Date.now();
    process.kill(-a.child.pid!, 'SIGCONT');
    const [ra, rb] = await Promise.all([a.child, b.child]);
    expect(rb.exitCode, String(rb.stderr)).toBe(0);
    expect(ra.exitCode).toBe(2);
    const sa = summaryOf(a);
    const taker = summaryOf(b);
    expect(sa.verdict).toBe('infra-error');
    const failed = sa.cases.find((c) => c.status === 'failed')!;
    expect(failed).toMatchObject({ id: 'pool.hold', kind: 'infra' });
    expect(failed.message).toMatch(
      new RegExp(
        `^the lab's lease \\(generation \\d+\\) is no longer this run's: it is now held by run ${taker.runId} \\(${SECOND_CONTROLLER}, pid \\d+, generation \\d+\\)\\. This run stops here`,
      ),
    );
    expect(notesOf(a)).toMatch(/^not undone \(logs, setup, lab lock\): the lab's lease/m);
    // Nothing on the lab after it woke but its lease's own reads.
    const after = ['host', 'guest'].flatMap((h) => {
      const f = join(a.reports, 'latest', 'pool-hold', 'transcripts', `${h}.log`);
      return [...readFileSync(f, 'utf8').matchAll(/^### (\S+) (.*)$/gm)].filter((m) => Date.parse(m[1]!) > resumedAt).map((m) => `${h}: ${m[2]}`);
    });
    expect(after.filter((l) => !/^host: L=\S+\/lock; S=/.test(l))).toEqual([]);
  }, 180_000);

  it('a lease broken while its run holds the lab, another run asking for the lab at once: the broken run stops (exit 2, lab.lease) before the other takes the lab; their commands never interleave', async () => {
    // The holder's hook holds it on its lab until the lease is broken (bounded: 60 s), so that the break lands mid-run.
    const brokenHolding = join(dir, 'broken.holding');
    const brokenFlag = join(dir, 'broken.flag');
    const hold = `touch ${brokenHolding}; i=0; while [ ! -e ${brokenFlag} ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i+1)); done; sleep 1`;
    const old = startRun('first', 'e-only', ['--hook-before-traffic', hold]);
    await fileAppears(brokenHolding);
    const broke = await execa('node', ['bin/dutlab.js', 'pool', 'release', POOL, 'pool-e', '--lease'], { cwd: ROOT });
    writeFileSync(brokenFlag, '');
    expect(broke.stdout).toMatch(/^pool-e: lease of run \S+ \(.*\) broken: the lab can be taken again in \d+ s, once that run's last renewal has run out/);
    const next2 = startRun('second', 'e-only', ['--wait', '60']);
    const [ro, rt] = await Promise.all([old.child, next2.child]);
    expect(rt.exitCode, String(rt.stderr)).toBe(0);
    expect(ro.exitCode, String(ro.stderr)).toBe(2);
    const so = summaryOf(old);
    expect(so.cases.find((c) => c.status === 'failed')).toMatchObject({
      kind: 'infra',
      message: expect.stringMatching(/no longer this run's: it was broken by /),
    });
    expect(so.cases.find((c) => c.id === 'lab.lease')).toMatchObject({ status: 'failed', kind: 'infra' });
    const takerGen = heldBy(next2).generation;
    const takeover = history('pool-e').find((e) => e.gen === takerGen && (e.event === 'take' || e.event === 'takeover'))!;
    expect(takeover.rest).toMatch(/from: broken-lease /);
    const oldTimes = labTimes(old);
    expect(oldTimes.length).toBeGreaterThan(10);
    expect(Math.max(...oldTimes)).toBeLessThan(takeover.t);
    expect(Math.min(...labTimes(next2))).toBeGreaterThanOrEqual(takeover.t);
  }, 180_000);

  it('a testbed whose cleanup is broken is quarantined with the reason and skipped; `pool status` says why; `pool release` lifts it', async () => {
    const sock = join(labs.get('pool-b')!.stateDir, 'ovs', 'db.sock');
    renameSync(sock, `${sock}.away`);
    try {
      const r = startRun('first', 'pair');
      const res = await r.child;
      expect(res.exitCode, String(res.stderr)).toBe(0);
      expect(heldBy(r).testbed).toBe('pool-a');
      expect(notesOf(r)).toMatch(
        /^pool-b: quarantined by this run: cleanup failed: host\.clean-previous-bridge \(Remove the bridge a previous run left \(only one that holds no port the testbed does not name\)\): \[host\] `ovs-vsctl br-exists br0; [^`]*` exited 1: ovs-vsctl: \S+db\.sock: database connection failed .*; moved on to the next testbed$/m,
      );
      const status = await execa('node', ['bin/dutlab.js', 'pool', 'status', POOL], { cwd: ROOT, reject: false });
      expect(status.exitCode).toBe(0);
      expect(status.stdout).toMatch(
        new RegExp(
          `^pool-b  \\[virtual, pair, b-only\\]  free \\(generation \\d+\\)\\n {8}QUARANTINED since \\S+ by run_${summaryOf(r).runId}_on_\\S+: cleanup failed: host\\.clean-previous-bridge`,
          'm',
        ),
      );
      // Skipped, not cleaned again: a run that only pool-b could serve stops at once, naming why.
      const only = startRun('first', 'b-only');
      expect((await only.child).exitCode).toBe(2);
      expect(summaryOf(only).reason).toMatch(
        /^no testbed labelled "b-only" came free within 0 s \(--wait\): pool-b: the lab is quarantined: since=\d+ by=run_\S+ reason=cleanup failed: /,
      );
    } finally {
      renameSync(`${sock}.away`, sock);
    }
    const release = await execa('node', ['bin/dutlab.js', 'pool', 'release', POOL, 'pool-b'], { cwd: ROOT });
    expect(release.stdout).toBe('pool-b: quarantine lifted');
    const status = await execa('node', ['bin/dutlab.js', 'pool', 'status', POOL], { cwd: ROOT });
    expect(status.stdout).toMatch(/^pool-b {2}\[virtual, pair, b-only\] {2}free \(generation \d+\)$/m);
    expect(status.stdout).not.toMatch(/QUARANTINED/);
  }, 180_000);
});

describe('the CI pipelines of ci/, against this pool', () => {
  it('runs every command of the GitLab pipeline, the GitHub workflow and the Jenkinsfile in a checkout, as each CI would: a first nightly (no baseline yet), then each judged against the last pass, all stored in PostgreSQL, the trend page of the store', async () => {
    const commands = pipelineCommands();
    const db = await startPostgres();
    const checkout = join(dir, 'checkout');
    try {
      await execa('git', ['clone', '-q', ROOT, checkout]);
      // Each CI's own variables beside the pool's: the CI job's URL lands in the lease's owner line.
      const common = { DUTLAB_POOL: POOL, DUTLAB_LABEL: 'virtual', DUTLAB_PROFILE: 'virtual', DUTLAB_RESULTS: db.url, DUTLAB_WAIT: '60' };
      const envs = {
        gitlab: { ...common, CI_JOB_URL: 'https://gitlab.example/lab/-/jobs/881' },
        github: { ...common, GITHUB_SERVER_URL: 'https://github.example', GITHUB_REPOSITORY: 'lab/dutlab', GITHUB_RUN_ID: '42' },
        jenkins: { ...common, BUILD_URL: 'https://jenkins.example/job/dutlab/7/' },
      };
      const ran: Array<{ ci: string; command: string; exitCode: number | undefined; said: string }> = [];
      for (const [ci, list] of Object.entries(commands) as Array<[keyof typeof envs, string[]]>)
        for (const command of list) {
          // The install is the same line in all three: run once, in the checkout, as a CI would.
          if (command.startsWith('npm ci') && ran.some((r) => r.command === command)) continue;
          const r = await execa('bash', ['-c', command], { cwd: checkout, env: envs[ci], reject: false, timeout: 180_000 });
          ran.push({ ci, command, exitCode: r.exitCode, said: r.stderr });
          expect(r.exitCode, `${ci}: ${command}: ${r.stderr}`).toBe(0);
        }
      const nightlies = ran.filter((r) => r.command === 'bash ci/nightly.sh');
      expect(nightlies.map((r) => r.ci)).toEqual(['gitlab', 'github', 'jenkins']);
      expect(nightlies[0]!.said).toMatch(/^dutlab: NOT COMPARED: last-pass: no passing run of testbed \S+, profile virtual, suites pvp before /m);
      expect(nightlies[1]!.said).toMatch(/^dutlab: no regression against \S+/m);
      expect(nightlies[2]!.said).toMatch(/^dutlab: no regression against \S+/m);
      expect(existsSync(join(checkout, 'reports', 'trend.html'))).toBe(true);
      expect(existsSync(join(checkout, 'reports', 'junit.xml'))).toBe(true);
      const rows = await withClient(db.url, async (c) => (await c.query('SELECT verdict, profile FROM runs ORDER BY started_at')).rows);
      expect(rows).toEqual([0, 1, 2].map(() => ({ verdict: 'pass', profile: 'virtual' })));
      const histories = TESTBEDS.map((t) => join(labs.get(t.name)!.stateDir, 'lock.state', 'history')).filter((f) => existsSync(f));
      const owners = histories.map((f) => readFileSync(f, 'utf8')).join('\n');
      for (const job of ['https://gitlab.example/lab/-/jobs/881', 'https://github.example/lab/dutlab/actions/runs/42', 'https://jenkins.example/job/dutlab/7/'])
        expect(owners).toContain(` ci=${job}`);
    } finally {
      await db.destroy();
    }
  }, 300_000);
});
