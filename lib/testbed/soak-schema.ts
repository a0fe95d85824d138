// The testbed's soak section (lib/testbed/schema.ts holds the rest): a steady
// stream for minutes or hours, sampled every interval: loss from the stream's
// sequence numbers, and the memory and file descriptors of the daemons that
// could leak (docs/soak.md).
import { z } from 'zod';
import { absPath, word } from './words.js';

export const Soak = z
  .strictObject({
    // The steady stream, frames/s (absent: traffic.rate), for durationS seconds, sampled every intervalS.
    rate: z.number().int().positive('a load above 0 frames/s').max(1_000_000, "at most 1,000,000 frames/s: the generator's ceiling").optional(),
    durationS: z
      .number()
      .positive()
      .max(7 * 24 * 3600)
      .default(60),
    // Or the load as a share of the NDR the lab last measured: the last passing throughput run of this testbed and
    // profile in the results store, its NDR at traffic.frameSize (lib/run/soak-load.ts).
    ndrShare: z.number().positive('a load above 0').max(1, 'at most 1: a soak above the NDR loses frames by design').optional(),
    intervalS: z.number().min(0.2).max(60).default(1),
    // Loss events (runs of frames that did not come back) that pass; 0: none.
    maxLossEvents: z.number().int().nonnegative().default(0),
    // A watched process's resident memory may grow by at most this much an hour (the fitted slope's lower 95 % bound,
    // after settleS: a step at start-up is not growth).
    maxGrowthMbPerHour: z.number().positive().default(50),
    settleS: z.number().nonnegative().default(5),
    // The stream's one-way latency (its captures leaving and coming back on the generator, one clock) in windows of
    // windowS seconds (a soak shorter than one: one window): p50, p99 and the maximum of each; a window whose p99 is
    // above maxP99Us fails (absent: none judged).
    windowS: z.number().min(0.2).max(3600).default(10),
    maxP99Us: z.number().positive().max(60_000_000).optional(),
    // Processes watched beside ovs-vswitchd (and QEMU, where the run starts one): a name and the pidfile on the DUT host.
    watch: z
      .array(z.strictObject({ name: word(), pidfile: absPath() }))
      .max(8)
      .default([]),
  })
  .refine((s) => s.rate === undefined || s.ndrShare === undefined, { path: ['ndrShare'], message: 'one of soak.rate and soak.ndrShare, not both' })
  .refine((s) => s.durationS >= s.intervalS, { path: ['durationS'], message: 'a soak at least as long as its sampling interval (soak.intervalS)' })
  .refine((s) => s.settleS < s.durationS, { path: ['settleS'], message: 'the settling time must leave some of the soak to fit (below soak.durationS)' });
