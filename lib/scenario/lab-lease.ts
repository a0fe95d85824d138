// A suite's hold on the lab: its lease taken (or, `run --pool`, adopted from
// the run that took it), every command on the lab fenced by it, the captures
// a dead run of this lab left stopped, the lease confirmed on the DUT host
// before each stage and each teardown fixture, and given back at the end. A
// lease found lost at any point, even at its give-back, makes the run the
// infrastructure's failure: a run that cannot show the lab was its own for
// the whole run never passes, and never undoes anything of a lab it lost.
import { errorMessage, type LeaseLostError } from '../errors.js';
import type { CaseOutcome } from '../results/run.js';
import type { Testbed } from '../testbed/schema.js';
import { captureRecordOf, stopLeftoverCaptures } from '../traffic/tcpdump.js';
import { Lease, thisController, type HeldLease } from './lease.js';
import type { Session } from './session.js';
import type { Teardown } from './teardown.js';

/** The case a run that lost its lab fails: its id is frozen once released. */
export const LEASE_CASE_ID = 'lab.lease';
/** The stage that takes the lab's lease (or holds on to a pool's): its id from when it was called the lock, frozen since the first release. */
export const LEASE_STAGE_ID = 'lab.lock';

export interface LeaseHolder {
  session: Session;
  tb: Testbed;
  runId: string;
  /** The lease `run --pool` took: held here, given back by the run. */
  pooled?: HeldLease;
  teardown: Teardown;
  note(line: string): void;
}

export async function holdLabLease(h: LeaseHolder): Promise<Lease> {
  await h.session.connect('host');
  const lease = new Lease(h.session.ungated('host'), h.tb.lock.path, h.tb.lock.ttlSeconds, thisController(h.runId));
  // A lease this run did not get (another run holds the lab) is not this run's to release.
  // The fixture keeps the name of its first release ("lab lock"): reports and the notes of runs not undone say it.
  const note = await h.teardown.use(
    'lab lock',
    () => lease.acquire(h.pooled),
    () => giveBack(h, lease),
  );
  h.session.fenceWith(() => lease.fence());
  if (note) h.note(note);
  h.note(`holding the lab's lease ${lease.path}, generation ${lease.held!.generation}${h.pooled ? ' (taken by the pool)' : ''}`);
  // Holding the lease: whatever a dead run of this lab left capturing is stopped, on each machine it captures on.
  await h.session.onEveryConnection(async (role, shell) => {
    if (role === 'host') return;
    try {
      const stopped = await stopLeftoverCaptures(shell, captureRecordOf(h.tb, role));
      for (const line of stopped) h.note(`[${role}] a capture left running by an earlier run of this lab (killed outright?): ${line}`);
    } catch (e) {
      h.note(`[${role}] could not look for captures an earlier run of this lab left running: ${errorMessage(e)}`);
    }
  });
  return lease;
}

async function giveBack(h: LeaseHolder, lease: Lease): Promise<string[]> {
  if (h.pooled) {
    lease.detach();
    return [];
  }
  if (!h.session.connected('host')) return [];
  const note = await lease.release();
  return note ? [note] : [];
}

/**
 * Undoes the suite's fixtures, the lease confirmed before each: from the
 * moment it is not this run's, nothing more is undone (only the connections
 * closed), and what was left is named. Returns the teardown's problems.
 */
export async function tearDownHolding(teardown: Teardown, lease: Lease | null, note: (line: string) => void): Promise<string[]> {
  const left: string[] = [];
  const problems = await teardown.run((f) => {
    if (f === 'connections' || !lease) return true;
    lease.confirmNext();
    if (lease.lost) left.push(f);
    return !lease.lost;
  });
  if (lease?.lost && left.length > 0) note(`not undone (${left.join(', ')}): ${lease.lost.message}`);
  return problems;
}

/** The failed case of a run that did not hold its lab for the whole run (found at any point, even at the give-back). */
export function leaseLostCase(suite: string, lost: LeaseLostError): CaseOutcome {
  return {
    id: LEASE_CASE_ID,
    name: "The lab was this run's alone, from its lease to its teardown",
    suite,
    group: 'teardown',
    status: 'failed',
    kind: 'infra',
    message: lost.message,
    durationMs: 0,
  };
}
