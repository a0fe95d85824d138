// An outage of known length, the known answer the sequence-gap measurement
// (lib/verify/gaps.ts) is held to: the guest's forwarding of the stream
// blocked by one nftables rule for a given time, once the stream is flowing.
// The outage is a shell script run beside the run (a hook that returns at
// once): it waits for the stream to reach the guest, waits a little more so
// that the outage falls inside the stream, adds the rule, sleeps, removes it,
// and writes when each command began and ended (nanoseconds). An nft command
// takes effect somewhere between its start and its end, so the outage's
// length lies between (removal began - addition ended) and (removal ended -
// addition began): the bounds a measurement is judged within, widened by its
// own resolution.
import { readFileSync } from 'node:fs';
import { shq } from '../transport/quote.js';

export interface Outage {
  /** The guest's network namespace, and its ingress interface (where the stream arrives). */
  netns: string;
  ingressIf: string;
  /** How long forwarding is blocked. */
  ms: number;
  /** Frames that must have reached the guest before the outage (the stream is flowing), and how long after it begins. */
  afterFrames: number;
  delayMs: number;
  /** Where the script writes its times. */
  timesFile: string;
}

/** Forwarding blocked by the rule for `ms`, each nft command timed; the times and nft's exit codes written to `into` (a redirection). */
function blocked(ns: (c: string) => string, ms: number, into: string): string {
  return [
    `a0=$(date +%s%N)`,
    ns(`nft ${shq('add table ip dutlab_outage; add chain ip dutlab_outage forwarding { type filter hook forward priority 0; policy drop; }')}`),
    `ra=$?; a1=$(date +%s%N)`,
    `sleep ${(ms / 1000).toFixed(3)}`,
    `d0=$(date +%s%N)`,
    ns('nft delete table ip dutlab_outage'),
    `rd=$?; d1=$(date +%s%N)`,
    `echo "$a0 $a1 $d0 $d1 $ra $rd" ${into}`,
  ].join('; ');
}

/** The script, as a hook runs it: detached, its output nowhere, so that the hook returns at once. */
export function outageHook(o: Outage): string {
  const ns = (c: string) => `ip netns exec ${shq(o.netns)} ${c}`;
  const rx = ns(`cat /sys/class/net/${shq(o.ingressIf)}/statistics/rx_packets`);
  const script = [
    `start=$(${rx})`,
    // Bounded: a stream that never comes leaves no outage (and no rule) behind after a minute.
    `for i in $(seq 600); do [ $(( $(${rx}) - start )) -ge ${o.afterFrames} ] && break; sleep 0.1; done`,
    `sleep ${(o.delayMs / 1000).toFixed(3)}`,
    blocked(ns, o.ms, `> ${shq(o.timesFile)}`),
  ].join('; ');
  return `setsid sh -c ${shq(script)} > /dev/null 2>&1 < /dev/null &`;
}

/** The outage's length as its script saw it: at least and at most, in ms; null until it has ended; an error where nft refused the rule. */
export function outageBounds(timesFile: string): { minMs: number; maxMs: number } | null {
  let text: string;
  try {
    text = readFileSync(timesFile, 'utf8');
  } catch {
    return null;
  }
  const t = text.trim().split(/\s+/).map(Number);
  if (t.length !== 6 || t.some((x) => !Number.isFinite(x))) return null;
  const [a0, a1, d0, d1, added, deleted] = t as [number, number, number, number, number, number];
  if (added !== 0 || deleted !== 0)
    throw new Error(`the outage did not happen as asked: nft exited ${added} adding the rule and ${deleted} removing it (${timesFile})`);
  return { minMs: (d0 - a1) / 1e6, maxMs: (d1 - a0) / 1e6 };
}

/**
 * Several outages of one length at offsets from the stream's start (a soak's known answer): the script waits for the
 * stream's first frames to reach the guest, then blocks forwarding at each offset (seconds after that) for `ms`.
 * Each outage's times go on a line of `timesFile`, as outageHook writes its one.
 */
export function outagesHook(o: Omit<Outage, 'afterFrames' | 'delayMs'> & { atS: number[] }): string {
  if (o.atS.some((x, i) => !(x >= 0) || (i > 0 && x <= o.atS[i - 1]! + o.ms / 1000)))
    throw new Error(`outages at ${o.atS.join(', ')} s: rising, each after the last has ended`);
  const ns = (c: string) => `ip netns exec ${shq(o.netns)} ${c}`;
  const rx = ns(`cat /sys/class/net/${shq(o.ingressIf)}/statistics/rx_packets`);
  const one = (at: number) =>
    [
      `now=$(date +%s%N); wait=$(( t0 + ${Math.round(at * 1e9)} - now )); [ "$wait" -gt 0 ] && sleep $(awk "BEGIN { print $wait / 1e9 }")`,
      blocked(ns, o.ms, `>> ${shq(o.timesFile)}`),
    ].join('; ');
  const script = [
    `start=$(${rx})`,
    `for i in $(seq 600); do [ $(( $(${rx}) - start )) -ge 1 ] && break; sleep 0.05; done`,
    `t0=$(date +%s%N)`,
    `echo "$t0" > ${shq(`${o.timesFile}.start`)}`,
    ...o.atS.map(one),
  ].join('; ');
  return `setsid sh -c ${shq(script)} > /dev/null 2>&1 < /dev/null &`;
}
