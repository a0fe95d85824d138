// `dutlab run --pool pool.yaml --label L`: a free testbed of that label, its
// lease taken, cleaned (the profile's own clean steps) and checked (dutlab
// doctor's probes) before any setup, as FD.io CSIT reserves, cleans and
// calibrates. A testbed that fails its cleaning or its check is quarantined
// with the reason, on its DUT host where every controller sees it, and the
// run moves on to the next. None free: waits, up to --wait, then exit 2
// naming each testbed's state.
import { hostname } from 'node:os';
import { join } from 'node:path';
import { AbortedError, errorMessage, LeaseLostError, LockError, PoolError } from '../errors.js';
import { doctor } from '../probes/doctor.js';
import { guestBeforeRun } from '../probes/hosts.js';
import { profileByName } from '../profiles/index.js';
import { profileFor, profileProblems } from '../profiles/profile.js';
import { Lease, thisController } from '../scenario/lease.js';
import { Session, sshConnector } from '../scenario/session.js';
import { loadTestbed } from '../testbed/load.js';
import type { Testbed } from '../testbed/schema.js';
import type { Shell } from '../transport/shell.js';
import { Transcript } from '../transport/transcript.js';
import { quarantine, sshHost, type HostConnector } from './lab-state.js';
import { withLabel, type Pool, type PoolTestbed } from './pool.js';
import { waitUntil, WaitAbortedError, WaitTimeoutError } from '../wait.js';

export interface PoolTakeOptions {
  label: string;
  profile: string;
  /** How long to wait for a testbed of the label to come free, in seconds. */
  waitS: number;
  runId: string;
  /** The run directory: the pool's transcripts go in <dir>/pool. */
  dir: string;
  connect?: HostConnector;
  /** How often a busy pool is asked again. */
  pollMs?: number;
  /** The run was interrupted while it waited. */
  signal?: AbortSignal;
}

/** A testbed of the pool, its lease this run's, cleaned and checked. */
export interface Taken {
  entry: PoolTestbed;
  tb: Testbed;
  lease: Lease;
  /** What the taking had to say: waits, takeovers, testbeds quarantined on the way. */
  notes: string[];
  /** Gives the lease back (at the end of the run); a note when it was no longer this run's. */
  giveBack(): Promise<string | null>;
}

export async function takeFromPool(pool: Pool, o: PoolTakeOptions): Promise<Taken> {
  const candidates = withLabel(pool, o.label);
  const transcript = new Transcript(join(o.dir, 'pool', 'transcripts'));
  const connect = o.connect ?? sshHost(transcript);
  const shells = new Map<string, Shell>();
  const notes: string[] = [];
  const started = Date.now();
  const state = new Map<string, string>();
  let taken: Taken | null = null;
  // One round: each testbed of the label tried in turn; this round's word on each is what the run passed over, or
  // (all of them) why it gave up.
  const round = async (): Promise<Taken | null> => {
    state.clear();
    for (const entry of candidates) {
      if (o.signal?.aborted) return null;
      const t0 = Date.now();
      const got = await tryOne(entry, { ...o, transcript, connect, shells, notes });
      if (typeof got === 'string') {
        state.set(entry.name, got);
        continue;
      }
      const waited = Math.round((t0 - started) / 1000);
      notes.unshift(
        `pool ${pool.file}: took testbed ${entry.name} (label ${o.label})${waited > 0 ? ` after waiting ${waited} s` : ''}; cleaned and checked (dutlab doctor) in ${((Date.now() - t0) / 1000).toFixed(1)} s`,
        ...[...state].filter(([n]) => n !== entry.name).map(([n, w]) => `pool: passed over ${n}: ${w}`),
      );
      return got;
    }
    return null;
  };
  try {
    taken = await waitUntil(`a testbed labelled "${o.label}"`, round, {
      timeoutMs: o.waitS * 1000,
      intervalMs: o.pollMs ?? 2000,
      ...(o.signal ? { signal: o.signal } : {}),
    });
    return taken;
  } catch (e) {
    if (e instanceof WaitAbortedError || o.signal?.aborted) throw new AbortedError(`interrupted while it waited for a testbed labelled "${o.label}"`);
    if (e instanceof WaitTimeoutError)
      throw new PoolError(`no testbed labelled "${o.label}" came free within ${o.waitS} s (--wait): ${[...state].map(([n, w]) => `${n}: ${w}`).join('; ')}`);
    throw e;
  } finally {
    for (const [name, shell] of shells) if (name !== taken?.entry.name) await shell.close().catch(() => undefined);
  }
}

interface Ctx extends PoolTakeOptions {
  transcript: Transcript;
  connect: HostConnector;
  shells: Map<string, Shell>;
  notes: string[];
}

/** One testbed: taken, or why not (held, quarantined, unreachable, or quarantined now by this run). */
async function tryOne(entry: PoolTestbed, c: Ctx): Promise<Taken | string> {
  let tb: Testbed;
  try {
    tb = loadTestbed(entry.testbed);
    const wrong = profileProblems(profileByName(c.profile), tb, entry.testbed);
    if (wrong) throw wrong;
  } catch (e) {
    return `its testbed cannot be used: ${errorMessage(e).replace(/\n\s*/g, ' ')}`;
  }
  let shell = c.shells.get(entry.name);
  try {
    shell ??= await c.connect(tb);
    c.shells.set(entry.name, shell);
  } catch (e) {
    return `its DUT host cannot be reached: ${errorMessage(e)}`;
  }
  const lease = new Lease(shell, tb.lock.path, tb.lock.ttlSeconds, thisController(c.runId));
  try {
    const note = await lease.take();
    if (note) c.notes.push(`${entry.name}: ${note}`);
  } catch (e) {
    if (e instanceof LockError) return e.message;
    c.shells.delete(entry.name);
    await shell.close().catch(() => undefined);
    return `its lease could not be read: ${errorMessage(e)}`;
  }
  const problem = await cleanAndCheck(tb, c, lease, shell);
  if (problem === null) {
    const held = shell;
    return {
      entry,
      tb,
      lease,
      notes: c.notes,
      giveBack: async () => {
        try {
          return await lease.release();
        } finally {
          await held.close().catch(() => undefined);
        }
      },
    };
  }
  if (!lease.lost) await quarantine(shell, tb, `run ${c.runId} on ${hostname()}`, problem);
  await lease.release().catch(() => undefined);
  const said = lease.lost ? problem : `quarantined by this run: ${problem}`;
  c.notes.push(`${entry.name}: ${said}; moved on to the next testbed`);
  return said;
}

/** A shell lent to dutlab doctor: its close() leaves the connection to its owner. */
const lent = (s: Shell): Shell => ({
  host: s.host,
  run: (c, o) => s.run(c, o),
  start: (c, o) => s.start(c, o),
  put: (a, b) => s.put(a, b),
  get: (a, b) => s.get(a, b),
  close: async () => undefined,
});

/**
 * The profile's clean steps on the hosts a run reaches before its setup,
 * then dutlab doctor: what failed, or null. One connection per host for
 * both (the DUT host's is the lease's): a login costs most of a second
 * where root's rc files are slow.
 */
async function cleanAndCheck(tb: Testbed, c: Ctx, lease: Lease, leaseShell: Shell): Promise<string | null> {
  const profile = profileFor(profileByName(c.profile), tb);
  const ssh = sshConnector(c.transcript);
  const session = new Session(tb, profile, {
    transcript: c.transcript,
    connect: (role, s, signal) => (role === 'host' ? Promise.resolve(leaseShell) : ssh(role, s, signal)),
  });
  session.fenceWith(() => lease.fence());
  const later = guestBeforeRun({ tb, profile });
  try {
    for (const step of profile.steps.filter((s) => s.cleans && !(s.host === 'guest' && later))) {
      try {
        await session.runStep(step);
      } catch (e) {
        if (e instanceof LeaseLostError) return `lost its lease while cleaning: ${e.message}`;
        return `cleanup failed: ${step.id} (${step.title}): ${errorMessage(e)}`;
      }
    }
    const found = await doctor(tb, c.profile, { transcript: c.transcript, connect: async (role) => lent(await session.connect(role)) });
    const failing = found.filter((f) => f.status === 'fail');
    return failing.length === 0 ? null : `dutlab doctor: ${failing.map((f) => `[${f.host}] ${f.id}: ${f.evidence} (fix: ${f.fix})`).join('; ')}`;
  } finally {
    // The DUT host's connection stays: the lease is renewed and given back on it.
    for (const role of ['guest', 'tg'] as const)
      if (session.connected(role))
        await session
          .shell(role)
          .close()
          .catch(() => undefined);
  }
}
