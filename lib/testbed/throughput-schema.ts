// The testbed's throughput section (lib/testbed/schema.ts holds the rest):
// the NDR/PDR search's goals and caps, the gate's thresholds, and the
// latency measured after each search.
import { z } from 'zod';
import { FrameSizes } from './traffic-schema.js';

/** The longest back-to-back burst a testbed may ask for (throughput.backToBack.maxBurst). */
export const MAX_BURST = 100_000;

/** One goal of the throughput search (lib/throughput/search.ts). */
const goal = (lossRatio: number) =>
  z
    .strictObject({
      lossRatio: z.number().min(0).max(1).default(lossRatio),
      exceedRatio: z.number().min(0).max(1).default(0.5),
      relativeWidth: z.number().positive().max(1).default(0.05),
      initialTrialS: z.number().positive().default(1),
      finalTrialS: z.number().positive().default(2),
      durationSumS: z.number().positive().default(6),
    })
    .prefault({});

/**
 * One-way latency after each search (CSIT's: a latency stream alone, then on
 * top of 10, 50 and 90 % of the search's PDR). `loads: []` measures none.
 */
const Latency = z
  .strictObject({
    // Loads as shares of the PDR's lower bound at the frame size; 0 is the latency stream alone.
    loads: z
      .array(z.number().min(0).max(1))
      .max(8)
      .default([0, 0.1, 0.5, 0.9])
      .refine((l) => new Set(l).size === l.length, 'each load once'),
    // The latency stream's frames per second, and how long each load runs.
    rate: z.number().int().min(10).max(100_000).default(1000),
    durationS: z.number().positive().max(60).default(2),
    // compare: p99 at 50 % of each run's PDR beyond this share above the baseline's is a regression (docs/gate.md).
    regressionThreshold: z.number().positive("a ratio above 0 (0.5: p99 half as high again as the baseline's)").max(100, 'at most 100').default(0.5),
  })
  .prefault({});

/**
 * The throughput suite: an RFC 2544 NDR/PDR search after MLRsearch. The
 * defaults are a nightly's; CSIT's release settings are relativeWidth 0.005,
 * finalTrialS 1, durationSumS 21.
 */
export const Throughput = z
  .strictObject({
    // Frame sizes on the wire, FCS included (64: 60 bytes in the pcap), a search each: a size, `imix` (64, 570 and
    // 1518 bytes at 7:4:1) or a weighted list ([{ size: 64, weight: 3 }, { size: 1518, weight: 1 }]), as traffic.frameSize.
    frameSizes: z.array(FrameSizes).min(1).default([64]),
    minRate: z.number().int().positive().default(1000),
    // The search's ceiling in frames/s: maxRate, or the line rate of the ports' link speed at each frame size
    // (linkSpeedGbps: 10 is 14.88 Mframes/s at 64 B), the lower of the two where both are given. A TRex testbed
    // names one; the linux TG (tcpreplay) is offered at most 1 Mframes/s (lib/testbed/sizing.ts).
    maxRate: z.number().int().positive().max(200_000_000).optional(),
    linkSpeedGbps: z.number().positive().max(800, 'at most 800 Gb/s').optional(),
    ndr: goal(0),
    pdr: goal(0.005),
    // Caps on each search (per frame size): a nightly's time is bounded whatever the DUT does.
    maxSearchS: z.number().positive().default(120),
    maxTrials: z.number().int().positive().default(100),
    // How the generator's own limit is measured: a temporary flow from the ingress to the egress
    // phy port, bypassing the guest (the virtual lab; a real lab's cabling may say otherwise), or not at all.
    calibrate: z.enum(['bypass-flow', 'none']).default('bypass-flow'),
    // A warm-up trial before the search's first and whenever the datapath's flows may have expired since the last trial
    // (OVS's max-idle): every flow sent at least once, its loss not judged, so that a measured trial pays for no flow
    // setup. durationS 0: none.
    warmUp: z
      .strictObject({
        durationS: z.number().nonnegative().max(60).default(1),
        // Upcalls a measured trial may cause (pmd-stats-show deltas): a trial with more is named as one that paid for flow setup.
        allowedUpcalls: z.number().int().nonnegative().default(10),
      })
      .prefault({}),
    // A telemetry trial after each search (CSIT's): one more trial at the PDR's lower bound, as long as the search's
    // final trials, read around with OVS's PMD, queue, upcall and coverage counters and its threads' CPU time
    // (lib/suite/throughput/telemetry.ts). false: none.
    telemetry: z.boolean().default(true),
    // A fixed load (frames/s, each way when both) instead of a search: at each frame size only the telemetry trial, at
    // this load, after a warm-up, as long as the PDR's final trials; its loss judged against the PDR's loss ratio. A quick
    // look at where a lab spends its cycles, or a known answer (the lab tier's), without a search's spread: no NDR, no
    // PDR and no latency are measured. Needs telemetry on.
    fixedLoad: z.number().int().positive().max(200_000_000).optional(),
    // compare: how far each telemetry figure may move before it is named beside the verdict (a share of the
    // baseline's value for counts and rates, points for percentages: lib/report/telemetry-diff.ts); a figure not
    // listed is never named. The defaults stand above the spread of healthy runs that `npm run bench:telemetry`
    // measured on the virtual DPDK lab of a shared 2-core box (cycles per packet 31 %, packets per batch 41 %, the
    // PMD thread's wait 12.5 points; docs/gate.md): a lab with cores of its own is steadier and should set its own.
    telemetryThresholds: z
      .strictObject({
        'pmd.cycles_per_packet.processing': z.number().positive().default(0.35),
        'pmd.cycles_per_packet.total': z.number().positive().default(0.35),
        'pmd.busy_share': z.number().positive().max(100).default(15),
        'pmd.hits.simple_match': z.number().positive().max(100).default(10),
        'pmd.hits.emc': z.number().positive().max(100).default(10),
        'pmd.hits.smc': z.number().positive().max(100).default(10),
        'pmd.hits.megaflow': z.number().positive().max(100).default(10),
        'pmd.upcalls_per_s': z.number().positive().default(1),
        'pmd.lost_upcalls_per_s': z.number().positive().default(1),
        'pmd.packets_per_batch': z.number().positive().default(0.5),
        'thread.cpu': z.number().positive().max(100).default(20),
        'thread.wait': z.number().positive().max(100).default(15),
        'process.rss': z.number().positive().default(0.25),
        'revalidator.dump_ms': z.number().positive().default(1),
      })
      .prefault({}),
    // RFC 2544's frame loss rate around the throughput: after each search, a trial at each of these shares of its NDR
    // (0.5: half; 2: twice), each durationS long, its loss ratio kept. Absent: none.
    lossCurve: z
      .strictObject({
        loads: z
          .array(z.number().positive().max(10))
          .min(1)
          .max(16)
          .refine((l) => l.every((x, i) => i === 0 || x > l[i - 1]!), 'rising, each once'),
        durationS: z.number().positive().max(60).default(2),
        // The latency stream (throughput.latency.rate) on top of each load: its p50 and p99 beside the loss ratio.
        latency: z.boolean().default(true),
      })
      .optional(),
    // RFC 2544's back-to-back frames (26.4, with RFC 9004's corrections): after each search, the longest burst at the
    // generator's utmost rate the DUT forwards without loss, found by halving between 1 and maxBurst frames (to one
    // frame), `repeats` times (RFC 9004 asks 50 for a report; fewer for a look); the implied buffer time and the one
    // corrected for the frames the DUT forwarded during the burst at its measured throughput (the search's NDR).
    // The linux generator sends the bursts (tcpreplay --topspeed from memory). Absent: none.
    backToBack: z
      .strictObject({
        repeats: z.number().int().min(1).max(100).default(50),
        maxBurst: z
          .number()
          .int()
          .min(2)
          .max(MAX_BURST, `at most ${MAX_BURST} frames: a longer burst is more than the generator sends back to back from its preloaded pcap in one go`)
          .default(10_000),
      })
      .optional(),
    // RFC 2544's system recovery (26.5): after each search, the load at \`overload\` x the NDR for overloadS, then at
    // \`recover\` x the NDR for recoverS, one sequence-numbered stream replayed as timed; the time from the reduction to
    // the last frame lost (RFC 2544's), and to the first frame whose one-way latency is back within settledWithinMs of
    // the recovered load's (the DUT's queue drained). Absent: none.
    recovery: z
      .strictObject({
        overload: z.number().gt(1, 'above 1: an overload is more than the NDR').max(10).default(1.5),
        overloadS: z.number().positive().max(600).default(60),
        recover: z.number().positive().lt(1, 'below 1: the load the DUT recovers at is less than the NDR').default(0.5),
        recoverS: z.number().positive().max(600).default(10),
        settledWithinMs: z.number().positive().max(1000).default(1),
      })
      .optional(),
    // Frames in the trial pcap, looped to make a trial's load (at least one per flow of traffic.flows).
    trialFrames: z.number().int().positive().max(100_000).default(1000),
    // compare: a drop beyond this share of the baseline (and beyond the runs' own spread) is a regression.
    regressionThreshold: z.number().min(0).max(0.9, 'a threshold above 0.9 lets almost any drop pass: the gate would never fail').default(0.1),
    latency: Latency,
  })
  .refine((t) => t.fixedLoad === undefined || t.telemetry, {
    path: ['fixedLoad'],
    message: 'a fixed load measures only the telemetry trial: it needs throughput.telemetry true',
  });
