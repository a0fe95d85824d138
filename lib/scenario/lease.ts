// One run per lab: a lease on the DUT host (lease-script.ts has its files).
// Taken atomically; recording a lease id, a generation that only grows (the
// fencing token), the owner (controller host name and boot id, pid and that
// process's start time, since a pid alone can be reused; the CI job's URL),
// when it was taken, its heartbeat and its expiry on the DUT host's clock.
// Renewed every third of its time to live while the run lives. A run
// refuses every command on the lab (the session's gate asks fence()) once it
// cannot show that the lease is still its own: taken over, broken, or
// expired while it was paused (SIGSTOP, a controller VM migrated): it
// stops as an infrastructure error, without touching the lab it lost.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { performance } from 'node:perf_hooks';
import { errorMessage, LeaseLostError, LockError } from '../errors.js';
import { startTimeOf } from '../transport/local.js';
import type { Shell } from '../transport/shell.js';
import { beatScript, HELD, LEASE_EXITS, isBrokenLease, QUARANTINED, releaseScript, takeScript } from './lease-script.js';

export interface LeaseOwner {
  runId: string;
  host: string;
  bootId: string;
  pid: number;
  startTime: string;
  /** The CI job that started the run, where the environment names one. */
  ciJob?: string;
}

/** A lease as its holder knows it: what `run --pool` hands its suites. */
export interface HeldLease {
  path: string;
  id: string;
  generation: number;
}

/** The CI job's URL: GitLab, GitHub Actions, Jenkins (in that order), or nothing. */
export function ciJobUrl(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const gh = env.GITHUB_SERVER_URL && env.GITHUB_REPOSITORY && env.GITHUB_RUN_ID;
  const url = env.CI_JOB_URL ?? (gh ? `${env.GITHUB_SERVER_URL}/${env.GITHUB_REPOSITORY}/actions/runs/${env.GITHUB_RUN_ID}` : env.BUILD_URL);
  return url ? encodeURI(decodeSafely(url)).replace(/['"`$\\]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`) : undefined;
}

const decodeSafely = (s: string) => {
  try {
    return decodeURI(s);
  } catch {
    return s;
  }
};

/** This controller process, as a lease owner. */
export function thisController(runId: string): LeaseOwner {
  const ci = ciJobUrl();
  return { runId, host: hostname(), bootId: readBootId(), pid: process.pid, startTime: startTimeOf(process.pid) ?? '?', ...(ci ? { ciJob: ci } : {}) };
}

function readBootId(): string {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  } catch {
    return '?';
  }
}

/** A token of the owner line: no space, nothing a shell or sed would read (host names, run ids, URLs already encoded). */
const token = (s: string) => s.replace(/[^A-Za-z0-9._~:/?#@!&+,;=%-]/g, '_') || '?';

/** The owner line's fixed part: `RUN_ID ISO-TIME host=H boot=B pid=P start=S [ci=URL]`; the DUT host adds the lease's fields. */
export function formatOwner(o: LeaseOwner): string {
  return `${token(o.runId)} ${new Date().toISOString()} host=${token(o.host)} boot=${token(o.bootId)} pid=${o.pid} start=${token(o.startTime)}${o.ciJob ? ` ci=${token(o.ciJob)}` : ''}`;
}

export interface OwnerLine extends LeaseOwner {
  leaseId?: string;
  generation?: number;
  taken?: number;
  beat?: number;
  expires?: number;
}

/** An owner line, this version's or the lock's of earlier versions (its fixed part only); null when it is neither. */
export function parseOwner(line: string): OwnerLine | null {
  const m = /^(\S+) \S+ host=(\S+) boot=(\S+) pid=(\d+) start=(\S+)((?: \w+=\S+)*)\s*$/.exec(line.trim());
  if (!m) return null;
  const kv = Object.fromEntries([...m[6]!.matchAll(/ (\w+)=(\S+)/g)].map((x) => [x[1]!, x[2]!]));
  const num = (k: string) => (kv[k] !== undefined && /^\d+$/.test(kv[k]) ? { [k]: Number(kv[k]) } : {});
  return {
    runId: m[1]!,
    host: m[2]!,
    bootId: m[3]!,
    pid: Number(m[4]),
    startTime: m[5]!,
    ...(kv.ci ? { ciJob: kv.ci } : {}),
    ...(kv.lease ? { leaseId: kv.lease } : {}),
    ...(kv.gen ? { generation: Number(kv.gen) } : {}),
    ...num('taken'),
    ...num('beat'),
    ...num('expires'),
  };
}

/** Who holds a lease, for a person: run, controller, process, CI job. */
export function describeOwner(line: string): string {
  const o = parseOwner(line);
  if (!o) return line;
  return `run ${o.runId} (${o.host}, pid ${o.pid}${o.ciJob ? `, ${o.ciJob}` : ''}${o.generation !== undefined ? `, generation ${o.generation}` : ''})`;
}

/** The owner ran on this controller, since its last boot, and that process is gone. */
export function ownerIsDeadHere(o: LeaseOwner, me: LeaseOwner): boolean {
  return o.host === me.host && o.bootId === me.bootId && o.bootId !== '?' && startTimeOf(o.pid) !== o.startTime;
}

export const newLeaseId = () => randomBytes(8).toString('hex');

const field = (out: string, name: string) => new RegExp(`^${name}: (.*)$`, 'm').exec(out)?.[1];

export class Lease {
  private timer: NodeJS.Timeout | null = null;
  /** Until when (on the controller's monotonic clock) the lease is provably this run's without asking the DUT host again. */
  private validUntil = 0;
  private beating: Promise<void> | null = null;
  private heldAs: HeldLease | null = null;
  /** Why the lease is no longer this run's; every command on the lab is refused with it. */
  lost: LeaseLostError | null = null;

  constructor(
    private readonly shell: Shell,
    readonly path: string,
    readonly ttlSeconds: number,
    private readonly me: LeaseOwner,
    /** The controller's monotonic clock in ms (a test's stands still, or jumps as a paused process would see it). */
    private readonly clock: () => number = () => performance.now(),
  ) {}

  get held(): HeldLease | null {
    return this.heldAs;
  }

  /**
   * Takes the lease, or throws LockError naming who holds it (or why the lab
   * is quarantined). Returns a note when it took over an expired lease, or
   * one whose run is provably dead (this controller, this boot, its process
   * gone: no need to wait for the expiry).
   */
  async take(): Promise<string | null> {
    const id = newLeaseId();
    const owner = formatOwner(this.me);
    const opts = { path: this.path, owner, leaseId: id, ttlSeconds: this.ttlSeconds };
    let sent = this.clock();
    let r = await this.shell.run(takeScript(opts), { okExitCodes: LEASE_EXITS });
    if (r.exitCode === QUARANTINED)
      throw new LockError(`the lab is quarantined: ${field(r.stdout, 'quarantined')} (lease ${this.path}; \`dutlab pool release\` lifts it)`);
    if (r.exitCode === HELD) {
      const held = field(r.stdout, 'held') ?? '';
      const holder = parseOwner(held);
      if (isBrokenLease(held))
        throw new LockError(
          `the lab's lease was broken by ${holder?.host ?? 'an operator'} (\`dutlab pool release --lease\`): it can be taken in ${field(r.stdout, 'left') ?? '?'} s, once its former holder's last renewal has run out (that run stops first; lock ${this.path})`,
        );
      if (!holder || !ownerIsDeadHere(holder, this.me)) {
        throw new LockError(
          `the lab is in use: lock ${this.path} held by ${held}; it expires in ${field(r.stdout, 'left') ?? '?'} s unless its run renews it (every ${Math.round(this.ttlSeconds / 3)} s)`,
        );
      }
      sent = this.clock();
      r = await this.shell.run(takeScript({ ...opts, fromOwner: held }), { okExitCodes: LEASE_EXITS });
      if (r.exitCode !== 0) throw new LockError(`the lab is in use: another run took lock ${this.path} while this one took over from dead run ${holder.runId}`);
    }
    if (r.exitCode !== 0) throw new LockError(`lock ${this.path}: ${r.stdout.trim() || `exit ${r.exitCode}`}`);
    const generation = Number(/^taken (\d+)/m.exec(r.stdout)?.[1]);
    this.hold({ path: this.path, id, generation }, sent);
    const previous = field(r.stdout, 'previous');
    if (!previous) return null;
    const ago = Number(field(r.stdout, 'expired'));
    const prev = parseOwner(previous);
    if (ago < 0 && prev)
      return `took over the lock of run ${prev.runId}, whose process (pid ${prev.pid} on this controller) is gone; the setup's clean steps undo what it left (lease generation ${generation})`;
    return `took over an expired lock (${previous}, expired ${ago} s ago): lease generation ${generation}`;
  }

  /** Takes the lease, or adopts the one the run took for its suites (`run --pool`). */
  async acquire(pooled?: HeldLease): Promise<string | null> {
    if (!pooled) return this.take();
    await this.adopt(pooled);
    return null;
  }

  /** Holds a lease taken by this controller already (`run --pool`): confirmed on the DUT host, then renewed like one's own. */
  async adopt(held: HeldLease): Promise<void> {
    this.heldAs = held;
    await this.beat();
    if (this.lost) throw this.lost;
    this.startBeating();
  }

  private hold(held: HeldLease, sent: number): void {
    this.heldAs = held;
    this.validUntil = sent + (this.ttlSeconds - 1) * 1000;
    this.startBeating();
  }

  private startBeating(): void {
    this.timer = setInterval(() => void this.beat(), Math.max(1000, (this.ttlSeconds * 1000) / 3));
    this.timer.unref();
  }

  /**
   * The next command on the lab asks the DUT host first (one renewal under the
   * lease's mutex), however valid the last renewal still is: called before each
   * stage and each teardown fixture, so that a lease broken or removed by hand
   * is found before the next stage, and before anything is undone.
   */
  confirmNext(): void {
    this.validUntil = 0;
  }

  /** Before each command on the lab: throws LeaseLostError unless the lease is provably still this run's. */
  async fence(): Promise<void> {
    if (this.lost) throw this.lost;
    if (this.clock() < this.validUntil) return;
    // Asked at most twice: a renewal under way when the controller was paused times out as it wakes (its
    // timer fires before its socket is read), which says nothing of the lease; a fresh one does.
    for (let ask = 0; ask < 2 && !this.lost && this.clock() >= this.validUntil; ask++) await this.beat();
    if (this.lost) throw this.lost;
    if (this.clock() >= this.validUntil) throw new LeaseLostError(`the lab's lease could not be renewed on the DUT host: ${this.failure}`);
  }

  private failure = 'no answer';

  /** One renewal at a time; a renewal that finds the lease gone marks it lost for good. */
  private beat(): Promise<void> {
    this.beating ??= this.renew().finally(() => {
      this.beating = null;
    });
    return this.beating;
  }

  private async renew(): Promise<void> {
    const h = this.heldAs;
    if (!h || this.lost) return;
    const sent = this.clock();
    try {
      const r = await this.shell.run(beatScript(h.path, h.id, h.generation, this.ttlSeconds), { okExitCodes: LEASE_EXITS, timeoutMs: 15_000 });
      if (r.exitCode === 0) {
        this.validUntil = sent + (this.ttlSeconds - 1) * 1000;
        return;
      }
      if (r.exitCode === HELD) return this.lose(r.stdout);
      this.failure = r.stdout.trim() || `exit ${r.exitCode}`;
    } catch (e) {
      this.failure = errorMessage(e);
    }
  }

  private lose(out: string): void {
    const h = this.heldAs!;
    const now = field(out, 'lost');
    const expired = field(out, 'expired');
    const why =
      expired !== undefined
        ? `it expired ${expired} s before this run could renew it (the run was paused, or the DUT host unreachable, longer than ${this.ttlSeconds} s)`
        : isBrokenLease(now)
          ? `it was broken by ${parseOwner(now ?? '')?.host ?? 'an operator'} (\`dutlab pool release --lease\`)`
          : now && !now.startsWith('nobody')
            ? `it is now held by ${describeOwner(now)}`
            : 'nobody holds it (its lease directory was removed on the DUT host)';
    this.lost = new LeaseLostError(
      `the lab's lease (generation ${h.generation}) is no longer this run's: ${why}. This run stops here and leaves the lab to its holder, untouched`,
    );
    this.stopBeating();
  }

  private stopBeating(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /**
   * Gives the lease back if it is still this run's; returns a note when it was
   * not. Then the run did not hold the lab for part of its time, found only
   * now: `lost` says so, and the run is the infrastructure's failure.
   */
  async release(): Promise<string | null> {
    this.stopBeating();
    const h = this.heldAs;
    this.heldAs = null;
    if (!h) return null;
    const r = await this.shell.run(releaseScript(h.path, h.id, h.generation), { okExitCodes: LEASE_EXITS });
    const other = field(r.stdout, 'not-held');
    if (other === undefined) return null;
    const who = other === 'nobody' ? 'nobody holds it' : isBrokenLease(other) ? 'it was broken' : `it is held by ${describeOwner(other)}`;
    this.lost ??= new LeaseLostError(
      `the lab's lease (generation ${h.generation}) was found at its give-back to be no longer this run's (${who}): the lab was not this run's alone for part of the run`,
    );
    return `the lease was not given back: ${who}`;
  }

  /** Stops renewing without giving the lease back (the pool's lease, handed to the suites, ends with the run). */
  detach(): void {
    this.stopBeating();
  }
}
