// A soak's load as a share of the NDR the lab last measured (soak.ndrShare):
// the last passing throughput run of the same testbed and profile in the
// results store, its NDR (lower bound) at the stream's frame size, times the
// share. Read before the run touches the lab: a store with no such run stops
// the run as the lab's (exit 2), saying what to run first.
import { throughputOf } from '../results/throughput.js';
import { frameKey, framesPhrase } from '../testbed/frame-mix.js';
import type { Testbed } from '../testbed/schema.js';
import type { ResultsStore } from '../store/store.js';

/** The linux generator's ceiling, as soak.rate's own (lib/testbed/soak-schema.ts). */
const MOST = 1_000_000;

/** The testbed with soak.rate set from the baseline's NDR, and the note that says where it came from; null where the soak states a rate. */
export async function soakLoadFromBaseline(tb: Testbed, profile: string, store: ResultsStore, before: string): Promise<{ tb: Testbed; note: string } | null> {
  const share = tb.soak.ndrShare;
  if (share === undefined) return null;
  const key = { testbed: tb.name, profile, suites: ['throughput'] };
  const what = `soak.ndrShare ${share}`;
  const id = await store.lastPass(key, before);
  if (!id)
    throw new Error(
      `${what}: no passing throughput run of testbed ${tb.name}, profile ${profile} in ${store.where} to take the NDR from (run --suite throughput first, or give soak.rate)`,
    );
  const rec = await store.run(id);
  const frame = frameKey(tb.traffic.frameSize);
  const search = rec?.run.suites.flatMap(throughputOf).find((t) => t.frame === frame);
  const ndr = search?.goals.find((g) => g.goal === 'NDR')?.lowerBound ?? null;
  if (ndr === null)
    throw new Error(`${what}: the last passing throughput run ${id} has no NDR at ${framesPhrase(frame)} (the soak's stream, traffic.frameSize)`);
  const rate = Math.max(1, Math.round(ndr * share));
  if (rate > MOST)
    throw new Error(`${what}: ${share} x the NDR of ${id} (${Math.round(ndr)} frames/s) is ${rate} frames/s, above the generator's ceiling of ${MOST}`);
  return {
    tb: { ...tb, soak: { ...tb.soak, rate } },
    note: `soak: ${share} x the NDR of run ${id} at ${framesPhrase(frame)} (${Math.round(ndr)} frames/s): ${rate} frames/s (soak.ndrShare)`,
  };
}
