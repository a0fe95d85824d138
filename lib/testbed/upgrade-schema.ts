// The testbed's upgrade sections (lib/testbed/schema.ts holds the rest): the
// restart of ovs-vswitchd under a steady stream (`--suite restart`, and the
// upgrade step of `dutlab gate`) and the gate's alternation (docs/upgrade.md).
import { z } from 'zod';
import { word } from './words.js';

/**
 * ovs-vswitchd stopped and started again under a steady stream, as an
 * operator's `ovs-ctl restart` does: the OpenFlow rules saved as ovs-save
 * saves them, flow-restore-wait set, the daemon stopped, the same or another
 * build started, its ports back, the rules restored, flow-restore-wait
 * removed. Its downtime is read from the stream's sequence numbers.
 */
export const Restart = z
  .strictObject({
    // The build started after the stop (one of ovsDpdk.builds); absent: the build that ran, started again.
    to: word().optional(),
    // graceful: `ovs-appctl exit`, as ovs-ctl stops it; kill: SIGKILL, a crash.
    stop: z.enum(['graceful', 'kill']).default('graceful'),
    // OVS's other_config:flow-restore-wait while the rules are restored (ovs-ctl's default): false starts the new
    // daemon with an empty table, as a restart that forgets them does.
    flowRestoreWait: z.boolean().default(true),
    // The steady stream: frames/s (absent: traffic.rate; dutlab gate: half the NDR its first build measured, where it
    // measured one), for streamS seconds, the restart begun once the stream has flowed for startAfterS seconds.
    rate: z.number().int().min(100, 'at least 100 frames/s: a 10 ms resolution').max(1_000_000).optional(),
    streamS: z.number().min(4, 'at least 4 s: the stream must outlast the restart').max(600).default(20),
    startAfterS: z.number().min(0.5).max(60).default(2),
    // The longest downtime that passes (RFC 6201's frame-loss reset time), in ms; at least the stream's resolution.
    maxDowntimeMs: z.number().positive().max(600_000).default(10_000),
  })
  .refine((r) => r.startAfterS < r.streamS, { path: ['startAfterS'], message: 'the restart must begin inside the stream (below restart.streamS)' });

/** `dutlab gate`: the throughput search alternated between the two builds, k times each. */
export const Gate = z.strictObject({
  k: z.number().int().min(1, 'k of at least 1: each build measured once at least').max(20, 'at most 20 rounds').default(3),
});
