// A pool testbed's state as its DUT host keeps it: the lease (who holds it,
// its heartbeat, when it expires) and the quarantine (since when, by whom,
// why). Read, quarantined and released through the lease's own scripts.
import { hostname, userInfo } from 'node:os';
import { errorMessage } from '../errors.js';
import { describeOwner, parseOwner, type OwnerLine } from '../scenario/lease.js';
import { isBrokenLease, quarantineScript, releaseLabScript, statusScript } from '../scenario/lease-script.js';
import { loadTestbed } from '../testbed/load.js';
import type { Testbed } from '../testbed/schema.js';
import type { Shell } from '../transport/shell.js';
import { sshConnect } from '../probes/doctor.js';
import type { Transcript } from '../transport/transcript.js';
import type { Pool, PoolTestbed } from './pool.js';

/** How a pool reaches a testbed's DUT host: over SSH as its testbed says (tests: a shell of their own). */
export type HostConnector = (tb: Testbed) => Promise<Shell>;

/** A pool answers in seconds, as dutlab doctor does: a DUT host that does not answer within its bound is unreachable for now. */
export const sshHost =
  (transcript?: Transcript): HostConnector =>
  (tb) =>
    sshConnect(transcript)('host', tb, new Map());

export interface Quarantine {
  since: number;
  by: string;
  reason: string;
}

export interface LeaseState {
  /** The DUT host's clock when it was read. */
  now: number;
  generation: number;
  lease: { line: string; owner: OwnerLine | null; expiresIn: number; beatAgo: number | null } | null;
  quarantine: Quarantine | null;
}

/** What statusScript printed, read. */
export function parseLeaseState(out: string, ttlSeconds: number): LeaseState {
  const f = (name: string) => new RegExp(`^${name}: (.*)$`, 'm').exec(out)?.[1];
  const now = Number(f('now'));
  const line = f('lease');
  const owner = line ? parseOwner(line) : null;
  const expires = owner?.expires ?? Number(f('mtime') ?? 0) + ttlSeconds;
  const q = /^since=(\d+) by=(\S+) reason=(.*)$/.exec(f('quarantine') ?? '');
  return {
    now,
    generation: Number(f('generation') ?? 0),
    lease: line ? { line, owner, expiresIn: expires - now, beatAgo: owner?.beat !== undefined ? now - owner.beat : null } : null,
    quarantine: q ? { since: Number(q[1]), by: q[2]!, reason: q[3]! } : null,
  };
}

export const readLeaseState = async (shell: Shell, tb: Testbed): Promise<LeaseState> =>
  parseLeaseState((await shell.run(statusScript(tb.lock.path))).stdout, tb.lock.ttlSeconds);

const iso = (epoch: number) => new Date(epoch * 1000).toISOString().replace(/\.000Z$/, 'Z');

/** The lease's words: free, or who holds it and until when. */
export function describeLease(s: LeaseState): string {
  if (!s.lease) return `free (generation ${s.generation})`;
  const l = s.lease;
  if (isBrokenLease(l.line))
    return l.expiresIn >= 0
      ? `BROKEN by ${l.owner?.host ?? '?'} (generation ${s.generation}): takeable in ${l.expiresIn} s, once its former holder's last renewal has run out`
      : `free (generation ${s.generation}; its lease was broken by ${l.owner?.host ?? '?'})`;
  const beat = l.beatAgo !== null ? `, renewed ${l.beatAgo} s ago` : '';
  const until = l.expiresIn >= 0 ? `expires in ${l.expiresIn} s` : `EXPIRED ${-l.expiresIn} s ago (the next run takes it over)`;
  return `held by ${describeOwner(l.line)}${beat}, ${until}`;
}

export const describeQuarantine = (q: Quarantine) => `QUARANTINED since ${iso(q.since)} by ${q.by}: ${q.reason}`;

/** One testbed's state, or why it could not be read. */
export interface TestbedStatus {
  entry: PoolTestbed;
  state?: LeaseState;
  problem?: string;
}

/** Every testbed's state, read from its DUT host (a few seconds each at most). */
export async function poolStatus(pool: Pool, connect: HostConnector = sshHost()): Promise<TestbedStatus[]> {
  return Promise.all(
    pool.testbeds.map(async (entry): Promise<TestbedStatus> => {
      let shell: Shell | null = null;
      try {
        const tb = loadTestbed(entry.testbed);
        shell = await connect(tb);
        return { entry, state: await readLeaseState(shell, tb) };
      } catch (e) {
        return { entry, problem: errorMessage(e).split('\n')[0]! };
      } finally {
        await shell?.close().catch(() => undefined);
      }
    }),
  );
}

/** `pool status`: a line per testbed (its labels, its lease), and its quarantine under it. */
export function formatStatus(rows: TestbedStatus[]): string {
  const width = Math.max(...rows.map((r) => r.entry.name.length));
  return rows
    .map((r) => {
      const head = `${r.entry.name.padEnd(width)}  [${r.entry.labels.join(', ')}]  `;
      if (!r.state) return `${head}UNKNOWN: ${r.problem}`;
      const q = r.state.quarantine ? `\n${''.padEnd(width)}  ${describeQuarantine(r.state.quarantine)}` : '';
      return `${head}${describeLease(r.state)}${q}`;
    })
    .join('\n');
}

/** Who does it, for the quarantine and the history: the user and this controller. */
export const operator = () => `${userInfo().username}@${hostname()}`;

/** Quarantines a testbed on its DUT host, naming why. */
export async function quarantine(shell: Shell, tb: Testbed, by: string, reason: string): Promise<void> {
  await shell.run(quarantineScript(tb.lock.path, by, reason));
}

/** Lifts a testbed's quarantine; `breakLease` also ends its lease (its holder is fenced out). Returns what it did. */
export async function releaseLab(shell: Shell, tb: Testbed, by: string, breakLease: boolean): Promise<string[]> {
  const out = (await shell.run(releaseLabScript(tb.lock.path, by, breakLease))).stdout;
  const did: string[] = [];
  if (/^unquarantined$/m.test(out)) did.push('quarantine lifted');
  const broken = /^broken: (.*)$/m.exec(out)?.[1];
  const left = /^untakeable: (\d+)$/m.exec(out)?.[1];
  if (broken)
    did.push(
      `lease of ${describeOwner(broken)} broken: the lab can be taken again in ${left ?? '?'} s, once that run's last renewal has run out (it stops before its next command on the lab; no other run starts before that)`,
    );
  return did;
}
