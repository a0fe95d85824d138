// The testbed's traffic section (lib/testbed/schema.ts holds the rest): the
// stream the PVP suite sends and judges, its frame sizes (one, IMIX, or a
// weighted list), its flows (distinct 5-tuples, each field taking a range of
// consecutive values from the stream's own) and the OpenFlow rules the lab
// installs for it.
import { z } from 'zod';
import { ipInt } from './flows.js';
import { ipv4, mac, port } from './words.js';

/** The field's IMIX, as CSIT, NFVbench and TRex's imix.py use it: 64, 570 and 1518-byte frames at 7:4:1. */
export const IMIX = [
  { size: 64, weight: 7 },
  { size: 570, weight: 4 },
  { size: 1518, weight: 1 },
] as const;

const frameBytes = z.number().int().min(64, 'a frame on the wire is at least 64 bytes').max(1518, 'at most 1518 bytes (no jumbo frames)');

/**
 * One frame size, `imix` (the field's 7:4:1 of 64/570/1518: read as that
 * list), or a weighted list: [{ size: 64, weight: 7 }, ...], sent in rounds of
 * the weights' sum, each size its weight's number of times.
 */
export const FrameSizes = z.preprocess(
  (v) => (v === 'imix' ? IMIX.map((x) => ({ ...x })) : v),
  z.union([
    frameBytes,
    z
      .array(
        z.strictObject({
          size: frameBytes,
          weight: z.number().int('a whole number of frames in each round').positive('a weight above 0: a size sent 0 times is not in the mix'),
        }),
      )
      .min(1),
  ]),
);

/**
 * The most flows each generator holds (docs/traffic.md): the linux generator
 * loops a pcap with a frame per flow at least (100,000 frames: about 10 MB at
 * 64 B, built in well under a second); TRex's field engine makes them from
 * one frame, so a million flows (ovs_perf's largest sweep) is one stream.
 */
export const MAX_FLOWS = { linux: 100_000, trex: 1_000_000 } as const;
const MOST_FLOWS = Math.max(...Object.values(MAX_FLOWS));

/**
 * Distinct 5-tuples: each field takes this many consecutive values from the
 * stream's own (srcIps: 100 from srcIp 1.1.1.1 is 1.1.1.1 .. 1.1.1.100); the
 * flows are every combination, so `count` is their product. A frame's flow is
 * its sequence number modulo the count: the flows' frames interleave.
 */
const Flows = z
  .strictObject({
    count: z.number().int().min(1).max(MOST_FLOWS, `at most ${MOST_FLOWS} flows (with tg.type trex; ${MAX_FLOWS.linux} with linux)`),
    srcIps: z.number().int().min(1).default(1),
    dstIps: z.number().int().min(1).default(1),
    srcPorts: z.number().int().min(1).max(65536).default(1),
    dstPorts: z.number().int().min(1).max(65536).default(1),
  })
  .refine((f) => f.srcIps * f.dstIps * f.srcPorts * f.dstPorts === f.count, {
    message: 'count must be srcIps x dstIps x srcPorts x dstPorts: every combination of the ranges is one flow',
    path: ['count'],
  });

/**
 * The OpenFlow rules the lab installs for the stream, as ovs_perf chooses
 * them: `guide` (the guide's: in_port with nw_src and nw_dst, one address
 * pair), `port` (in_port only: any address the stream's flows take), `flow`
 * (one rule per 5-tuple and direction: the classifier un-wildcards every
 * field, one megaflow per flow), `normal` (in_port with the NORMAL action:
 * the switch forwards by its MAC table, the testbed's four MACs added to it
 * as static entries so that nothing floods while it would learn).
 */
export const FLOW_RULES = ['guide', 'port', 'flow', 'normal'] as const;

/** The stream's directions: the guide's one way, or both (each its own stream; lib/testbed/flows.ts reverseOf). */
export const DIRECTIONS = ['one-way', 'both'] as const;

export const Traffic = z.strictObject({
  srcIp: ipv4().default('1.1.1.1'),
  dstIp: ipv4().default('6.6.6.2'),
  srcMac: mac().default('02:00:00:00:00:01'),
  // Default: the MAC of the first KNI vport, so the guest accepts the frames.
  dstMac: mac().optional(),
  srcPort: port().default(1024),
  dstPort: port().default(1024),
  ttl: z.number().int().min(2).max(255).default(64),
  tos: z.number().int().min(0).max(255).default(0),
  frameSize: FrameSizes.default(64),
  count: z.number().int().positive().max(10_000_000).default(1000),
  rate: z.number().int().positive().max(1_000_000).default(1000),
  flows: Flows.optional(),
  rules: z.enum(FLOW_RULES).default('guide'),
  // one-way: the guide's (TG transmit port -> guest -> TG receive port); both: also the reverse stream, from the
  // receive port back to the transmit port (its own frames and sequence numbers, counted and judged apart).
  direction: z.enum(DIRECTIONS).default('one-way'),
});

/** What the traffic section's values say against each other and the generator: the things its schema alone cannot see. */
export function trafficProblems(t: z.infer<typeof Traffic>, tgType: string): Array<{ path: string; message: string }> {
  const f = t.flows;
  if (!f || f.count === 1) return [];
  const problems: Array<{ path: string; message: string }> = [];
  if (t.rules === 'guide' && (f.srcIps > 1 || f.dstIps > 1))
    problems.push({
      path: 'traffic.rules',
      message: `guide rules match nw_src=${t.srcIp},nw_dst=${t.dstIp} only: the flows' other addresses would be dropped (rules: port matches in_port only)`,
    });
  if (t.count < f.count) problems.push({ path: 'traffic.count', message: `${t.count} frames cannot carry ${f.count} flows: at least one frame each` });
  for (const [field, base, n] of [
    ['srcPorts', t.srcPort, f.srcPorts],
    ['dstPorts', t.dstPort, f.dstPorts],
  ] as const)
    if (base + n - 1 > 65535) problems.push({ path: `traffic.flows.${field}`, message: `${n} ports from ${base} run past 65535` });
  for (const [field, base, n] of [
    ['srcIps', t.srcIp, f.srcIps],
    ['dstIps', t.dstIp, f.dstIps],
  ] as const)
    if (ipInt(base) + n - 1 > 0xffffffff) problems.push({ path: `traffic.flows.${field}`, message: `${n} addresses from ${base} run past 255.255.255.255` });
  const most = MAX_FLOWS[tgType as keyof typeof MAX_FLOWS];
  if (most !== undefined && f.count > most)
    problems.push({
      path: 'traffic.flows.count',
      message: `the ${tgType} generator holds at most ${most} flows (${tgType === 'linux' ? 'a pcap with a frame per flow' : 'its field engine'}); ${f.count} asked`,
    });
  return problems;
}
