// The lease's protocol on the DUT host (lib/scenario/lease-script.ts): real
// sh and flock(1), as on a lab's host, here on this box through local shells.
// The DUT host's clock is a `date` of the test's (a file holds its seconds):
// expiry is judged on it, never on the controller's, and a test can move it.
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CommandTimeoutError, LeaseLostError, LockError } from '../../lib/errors.js';
import { formatOwner, Lease, parseOwner, thisController } from '../../lib/scenario/lease.js';
import { quarantineScript, releaseLabScript, stateDirOf, statusScript } from '../../lib/scenario/lease-script.js';
import { LocalShell } from '../../lib/transport/local.js';
import type { CommandOptions, Shell } from '../../lib/transport/shell.js';

const dir = mkdtempSync(join(tmpdir(), 'dutlab-lease-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let labs = 0;

/** A DUT host: a shell whose `date +%s` reads the lab's clock file, and a lease path of its own. */
function dutHost(startAt = 1_900_000_000) {
  const d = join(dir, `lab${labs++}`);
  execFileSync('mkdir', ['-p', join(d, 'bin')]);
  const clockFile = join(d, 'clock');
  writeFileSync(clockFile, `${startAt}\n`);
  writeFileSync(join(d, 'bin', 'date'), `#!/bin/sh\nif [ "$1" = +%s ]; then cat ${clockFile}; else exec /bin/date "$@"; fi\n`);
  chmodSync(join(d, 'bin', 'date'), 0o755);
  const local = new LocalShell('host');
  const shell: Shell = {
    host: 'host',
    run: (c: string, o: CommandOptions = {}) => local.run(c, { ...o, env: { ...o.env, PATH: `${join(d, 'bin')}:${process.env.PATH}` } }),
    start: (c, o) => local.start(c, o),
    put: (a, b) => local.put(a, b),
    get: (a, b) => local.get(a, b),
    close: () => local.close(),
  };
  let dutNow = startAt;
  return {
    shell,
    path: join(d, 'lock'),
    /** The DUT host's clock moves on (the controller's does not). */
    advance(seconds: number) {
      dutNow += seconds;
      writeFileSync(clockFile, `${dutNow}\n`);
    },
    history: () => readFileSync(join(stateDirOf(join(d, 'lock')), 'history'), 'utf8'),
  };
}

/** A controller's monotonic clock a test moves (a process paused for a while sees it jump). */
function controllerClock() {
  let t = 1000;
  return { now: () => t, jump: (seconds: number) => (t += seconds * 1000) };
}

const TTL = 30;

describe('the lease on the DUT host', () => {
  it('is taken atomically: of two takers racing for a free lab, exactly one wins, six times over', async () => {
    for (let i = 0; i < 6; i++) {
      const lab = dutHost();
      const a = new Lease(lab.shell, lab.path, TTL, thisController(`run-a${i}`));
      const b = new Lease(lab.shell, lab.path, TTL, thisController(`run-b${i}`));
      const [ra, rb] = await Promise.allSettled([a.take(), b.take()]);
      const won = [ra, rb].filter((r) => r.status === 'fulfilled');
      expect(won).toHaveLength(1);
      const lost = [ra, rb].find((r) => r.status === 'rejected') as PromiseRejectedResult;
      expect(lost.reason).toBeInstanceOf(LockError);
      const winner = a.held ? `run-a${i}` : `run-b${i}`;
      expect(lost.reason.message).toMatch(new RegExp(`the lab is in use: lock \\S+ held by ${winner} .* gen=1 `));
      await (a.held ? a : b).release();
    }
  });

  it('is taken over atomically once expired on the DUT host: of two takers, one wins with generation + 1, naming the previous owner', async () => {
    for (let i = 0; i < 4; i++) {
      const lab = dutHost();
      const old = new Lease(lab.shell, lab.path, TTL, thisController(`old-${i}`), controllerClock().now);
      await old.take();
      old.detach();
      // The controller's clock has not moved: only the DUT host's says the lease expired.
      lab.advance(TTL + 1);
      const a = new Lease(lab.shell, lab.path, TTL, thisController(`run-a${i}`));
      const b = new Lease(lab.shell, lab.path, TTL, thisController(`run-b${i}`));
      const [ra, rb] = await Promise.allSettled([a.take(), b.take()]);
      const won = [ra, rb].filter((r) => r.status === 'fulfilled') as PromiseFulfilledResult<string | null>[];
      expect(won).toHaveLength(1);
      expect(won[0]!.value).toMatch(new RegExp(`^took over an expired lock \\(old-${i} .* gen=1 .*, expired 1 s ago\\): lease generation 2$`));
      expect((a.held ?? b.held)!.generation).toBe(2);
      expect(([ra, rb].find((r) => r.status === 'rejected') as PromiseRejectedResult).reason.message).toMatch(/held by run-[ab]\d+ .* gen=2 /);
      expect(lab.history()).toMatch(new RegExp(`takeover gen=2 lease=\\w+ by run-[ab]${i} .* from: old-${i} .* gen=1 `));
      await (a.held ? a : b).release();
    }
  });

  it('is not expired while its holder renews it, whatever the DUT host clock does between renewals', async () => {
    const lab = dutHost();
    const clock = controllerClock();
    const a = new Lease(lab.shell, lab.path, TTL, thisController('holder'), clock.now);
    await a.take();
    // Three times its time to live in all, renewed each time its validity as the controller knows it ran out.
    for (let i = 0; i < 3; i++) {
      lab.advance(TTL - 1);
      clock.jump(TTL - 1);
      await a.fence(); // past its local validity: renews on the DUT host first
    }
    const b = new Lease(lab.shell, lab.path, TTL, thisController('other'));
    await expect(b.take()).rejects.toThrow(/held by holder .* expires in 30 s/);
    expect(await a.release()).toBeNull();
  });

  it('fences a holder paused past its expiry: once taken over, its next command is refused naming the new holder; it cannot give back a lease no longer its own', async () => {
    const lab = dutHost();
    const clock = controllerClock();
    const a = new Lease(lab.shell, lab.path, TTL, thisController('paused-run'), clock.now);
    await a.take();
    await a.fence();
    // Paused (SIGSTOP) for twice the time to live: no renewal, and its clock jumps when it wakes.
    lab.advance(2 * TTL);
    const b = new Lease(lab.shell, lab.path, TTL, thisController('next-run'));
    expect(await b.take()).toMatch(/took over an expired lock \(paused-run .*\): lease generation 2/);
    clock.jump(2 * TTL);
    const refused = await a.fence().catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(LeaseLostError);
    expect((refused as Error).message).toMatch(
      /^the lab's lease \(generation 1\) is no longer this run's: it is now held by run next-run \(\S+, pid \d+, generation 2\)\. This run stops here/,
    );
    // Every later command too, without asking again.
    await expect(a.fence()).rejects.toBe(refused);
    expect(await a.release()).toMatch(/^the lease was not given back: it is held by run next-run/);
    expect(b.held).not.toBeNull();
    await b.fence();
    expect(await b.release()).toBeNull();
    expect(lab.history()).toMatch(/take gen=1 .*\n.*takeover gen=2 .*\n.*release gen=2 /);
  });

  it('fences a holder paused in the middle of a renewal: the renewal that timed out as it woke is asked again, and the answer names the new holder', async () => {
    const lab = dutHost();
    const clock = controllerClock();
    // The renewal under way at the pause: its timer fires before its answer is read, once.
    let pausedMidRenewal = false;
    const shell: Shell = {
      ...lab.shell,
      run: (c: string, o?: CommandOptions) => {
        if (pausedMidRenewal && / beat=\$now /.test(c)) {
          pausedMidRenewal = false;
          return Promise.reject(new CommandTimeoutError('host', c, 15_000));
        }
        return lab.shell.run(c, o);
      },
    };
    const a = new Lease(shell, lab.path, TTL, thisController('paused-mid-renewal'), clock.now);
    await a.take();
    lab.advance(2 * TTL);
    const b = new Lease(lab.shell, lab.path, TTL, thisController('taker'));
    await b.take();
    pausedMidRenewal = true;
    clock.jump(2 * TTL);
    await expect(a.fence()).rejects.toThrow(/^the lab's lease \(generation 1\) is no longer this run's: it is now held by run taker /);
    expect(pausedMidRenewal).toBe(false);
    await b.release();
  });

  it('says the DUT host did not answer when no renewal is answered, asked twice', async () => {
    const lab = dutHost();
    const clock = controllerClock();
    let asked = 0;
    const silent: Shell = {
      ...lab.shell,
      run: (c: string, o?: CommandOptions) => {
        if (/ beat=\$now /.test(c)) {
          asked++;
          return Promise.reject(new CommandTimeoutError('host', 'the renewal', 15_000));
        }
        return lab.shell.run(c, o);
      },
    };
    const a = new Lease(silent, lab.path, TTL, thisController('unanswered'), clock.now);
    await a.take();
    clock.jump(TTL);
    await expect(a.fence()).rejects.toThrow(/^the lab's lease could not be renewed on the DUT host: \[host\] `the renewal` did not finish within 15000 ms/);
    expect(asked).toBe(2);
    await a.release();
  });

  it('fences a holder that wakes after its expiry even when nobody took the lab: it expired, and anybody could have', async () => {
    const lab = dutHost();
    const clock = controllerClock();
    const a = new Lease(lab.shell, lab.path, TTL, thisController('late-run'), clock.now);
    await a.take();
    lab.advance(TTL + 5);
    clock.jump(TTL + 5);
    await expect(a.fence()).rejects.toThrow(/no longer this run's: it expired 5 s before this run could renew it/);
    expect(lab.history()).toMatch(/expired gen=1 .* came back 5 s late/);
    // Its own expired lease, still there, it does give back: the lab is free at once.
    expect(await a.release()).toBeNull();
    const b = new Lease(lab.shell, lab.path, TTL, thisController('next'));
    expect(await b.take()).toBeNull();
    expect(b.held!.generation).toBe(2);
    await b.release();
  });

  it("takes over at once, on the same controller, a lease whose run's process is provably gone; never one whose process lives", async () => {
    const lab = dutHost();
    const me = thisController('new-run');
    // A process that ran on this controller and is gone: its pid and a start time it no longer has.
    const pid = Number(execFileSync('sh', ['-c', 'sh -c "echo \\$\\$"'], { encoding: 'utf8' }).trim());
    const deadLine = `${formatOwner({ ...me, runId: 'killed-run', pid, startTime: '1' })} lease=0123456789abcdef gen=4 taken=1 beat=1 expires=4000000000`;
    execFileSync('mkdir', ['-p', lab.path]);
    writeFileSync(join(lab.path, 'owner'), `${deadLine}\n`);
    const a = new Lease(lab.shell, lab.path, TTL, me);
    expect(await a.take()).toMatch(/^took over the lock of run killed-run, whose process \(pid \d+ on this controller\) is gone; .* \(lease generation 5\)$/);
    await a.release();
    // A live owner (this very process) on the same controller: in use, not taken.
    const live = new Lease(lab.shell, lab.path, TTL, thisController('live-run'));
    await live.take();
    await expect(new Lease(lab.shell, lab.path, TTL, me).take()).rejects.toThrow(/the lab is in use: lock .* held by live-run/);
    await live.release();
  });

  it('keeps the generation growing across releases and a lost state directory: a fencing token never repeats', async () => {
    const lab = dutHost();
    const gens: number[] = [];
    for (let i = 0; i < 3; i++) {
      const l = new Lease(lab.shell, lab.path, TTL, thisController(`r${i}`));
      await l.take();
      gens.push(l.held!.generation);
      if (i < 2) await l.release();
    }
    rmSync(stateDirOf(lab.path), { recursive: true });
    lab.advance(TTL + 1);
    const after = new Lease(lab.shell, lab.path, TTL, thisController('after'));
    await after.take();
    expect([...gens, after.held!.generation]).toEqual([1, 2, 3, 4]);
    await after.release();
  });

  it('refuses a quarantined lab, naming why, by whom and since when; `release` lifts it; breaking the lease fences its holder', async () => {
    const lab = dutHost();
    await lab.shell.run(
      quarantineScript(
        lab.path,
        'ctl-b run 7',
        "cleanup failed: host.clean-previous-bridge: ovs-vsctl: unix:/x/db.sock: database connection failed\n(it's gone)",
      ),
    );
    const a = new Lease(lab.shell, lab.path, TTL, thisController('wants-it'));
    await expect(a.take()).rejects.toThrow(
      /^the lab is quarantined: since=1900000000 by=ctl-b_run_7 reason=cleanup failed: host\.clean-previous-bridge: ovs-vsctl: unix:\/x\/db\.sock: database connection failed \(it's gone\) \(lease /,
    );
    expect((await lab.shell.run(statusScript(lab.path))).stdout).toMatch(/^quarantine: since=1900000000 by=ctl-b_run_7 reason=cleanup failed/m);
    await lab.shell.run(releaseLabScript(lab.path, 'admin', false));
    const clock = controllerClock();
    const b = new Lease(lab.shell, lab.path, TTL, thisController('gets-it'), clock.now);
    await b.take();
    // Broken by hand (its holder hangs): the generation moves on, and the holder is fenced at its next renewal.
    expect((await lab.shell.run(releaseLabScript(lab.path, 'admin', true))).stdout).toMatch(/^broken: gets-it /m);
    clock.jump(TTL);
    await expect(b.fence()).rejects.toThrow(/it was broken/);
    expect(lab.history()).toMatch(
      /quarantine by ctl-b run 7: cleanup failed.*\n.*unquarantine by admin\n.*take gen=1 .*\n.*broken gen=2 by admin from: gets-it/,
    );
  });

  it("is not takeable once broken until its holder's last renewal has run out; its holder, confirming before a stage, finds the break at once", async () => {
    const lab = dutHost();
    const clock = controllerClock();
    const a = new Lease(lab.shell, lab.path, TTL, thisController('holder'), clock.now);
    await a.take();
    const broke = (await lab.shell.run(releaseLabScript(lab.path, 'admin', true))).stdout;
    expect(broke).toMatch(/^broken: holder /m);
    expect(broke).toMatch(/^untakeable: 30$/m);
    // Another run is refused, told when it can have the lab.
    await expect(new Lease(lab.shell, lab.path, TTL, thisController('eager')).take()).rejects.toThrow(
      /^the lab's lease was broken by admin \(`dutlab pool release --lease`\): it can be taken in 30 s, once its former holder's last renewal has run out/,
    );
    // Still within its validity, the holder would not ask; before its next stage it does, and stops.
    await a.fence();
    a.confirmNext();
    await expect(a.fence()).rejects.toThrow(/no longer this run's: it was broken by admin \(`dutlab pool release --lease`\)/);
    // Once the broken holder's last renewal has run out on the DUT host: takeable, the generation past the break's.
    lab.advance(TTL + 1);
    const b = new Lease(lab.shell, lab.path, TTL, thisController('next'));
    expect(await b.take()).toMatch(/^took over an expired lock \(broken-lease /);
    expect(b.held!.generation).toBe(3);
    await b.release();
    expect(lab.history()).toMatch(/take gen=1 .*\n.*broken gen=2 by admin from: holder .*\(untakeable for 30 s\)\n.*takeover gen=3 /);
  });

  it('a holder that does not confirm trips its own fence before the broken lease is takeable: its validity ends on its clock before the DUT host frees the lab', async () => {
    const lab = dutHost();
    const clock = controllerClock();
    const a = new Lease(lab.shell, lab.path, TTL, thisController('busy'), clock.now);
    await a.take();
    await lab.shell.run(releaseLabScript(lab.path, 'admin', true));
    // The controller's clock reaches the end of the validity (TTL - 1 s) while the DUT host's has not reached the expiry.
    clock.jump(TTL - 1);
    await expect(a.fence()).rejects.toThrow(/it was broken by admin/);
    await expect(new Lease(lab.shell, lab.path, TTL, thisController('eager')).take()).rejects.toThrow(/lease was broken by admin/);
  });

  it('a lease directory removed by hand: found at the next confirm; a give-back that finds the lease not its own marks the lease lost', async () => {
    const lab = dutHost();
    const a = new Lease(lab.shell, lab.path, TTL, thisController('removed'));
    await a.take();
    rmSync(lab.path, { recursive: true });
    a.confirmNext();
    await expect(a.fence()).rejects.toThrow(/no longer this run's: nobody holds it \(its lease directory was removed on the DUT host\)/);
    // Found only at the give-back: lost all the same (the run is the infrastructure's failure, never a pass).
    const b = new Lease(lab.shell, lab.path, TTL, thisController('quiet'));
    await b.take();
    rmSync(lab.path, { recursive: true });
    expect(b.lost).toBeNull();
    expect(await b.release()).toBe('the lease was not given back: nobody holds it');
    expect(b.lost).toBeInstanceOf(LeaseLostError);
    expect(b.lost!.message).toMatch(
      /was found at its give-back to be no longer this run's \(nobody holds it\): the lab was not this run's alone for part of the run/,
    );
  });

  it('reads owner lines of this version and of the lock before it', () => {
    const line = `${formatOwner({ runId: 'r1', host: 'ctl', bootId: 'b', pid: 7, startTime: '9', ciJob: 'https://ci.example/jobs/42' })} lease=abcdef012345 gen=3 taken=10 beat=20 expires=50`;
    expect(parseOwner(line)).toEqual({
      runId: 'r1',
      host: 'ctl',
      bootId: 'b',
      pid: 7,
      startTime: '9',
      ciJob: 'https://ci.example/jobs/42',
      leaseId: 'abcdef012345',
      generation: 3,
      taken: 10,
      beat: 20,
      expires: 50,
    });
    expect(parseOwner('old 2026-01-01T00:00:00Z host=h boot=b pid=1 start=2')).toMatchObject({ runId: 'old', pid: 1 });
    expect(parseOwner('other-run 2026-01-01T00:00:00Z')).toBeNull();
    // Whatever a CI job's URL holds, the owner line stays one token a shell cannot read anything into.
    expect(formatOwner({ runId: 'r', host: 'h', bootId: 'b', pid: 1, startTime: 's', ciJob: 'https://x/$(reboot)\'`" a' })).toMatch(
      / ci=https:\/\/x\/__reboot_____a$/,
    );
  });
});
