// What the linux TG's tcpreplay says of a load it sent: how many frames, in
// how long (its "Actual" and "Successful packets" lines), and a trial's result
// from its loads and what came back.
import { ParseError } from '../errors.js';
import { directionCount, type Trial, type TrialResult } from './tg.js';

/** What tcpreplay did of a load. */
export interface Load {
  offered: number;
  sent: number;
  seconds: number;
}

/** What tcpreplay says it sent, and in how long, of `offered` frames. */
export function loadOf(text: string, offered: number): Load {
  const actual = /Actual: (\d+) packets \(\d+ bytes\) sent in ([\d.]+) seconds/.exec(text);
  const ok = /Successful packets:\s+(\d+)/.exec(text);
  if (!actual || !ok) throw new ParseError('tcpreplay', '"Actual: N packets (B bytes) sent in T seconds" and "Successful packets: N"', text);
  return { offered, sent: Number(ok[1]), seconds: Number(actual[2]) };
}

/** A trial's loads: the forward stream's, and the reverse stream's where the trials go both ways. */
export interface Loads {
  forward: Load;
  reverse?: Load;
}

/** A trial's result from its loads and what came back on each port: both directions summed, each kept where there are two. */
export function trialResultOf(trial: Trial, loads: Loads, received: number, reverseReceived: number): TrialResult {
  const all = loads.reverse ? [loads.forward, loads.reverse] : [loads.forward];
  const rateOf = (l: Load) => (l.seconds > 0 ? l.sent / l.seconds : 0);
  const achievedRate = Math.min(...all.map(rateOf));
  const sent = all.reduce((a, l) => a + l.sent, 0);
  const got = received + (loads.reverse ? reverseReceived : 0);
  return {
    offered: all.reduce((a, l) => a + l.offered, 0),
    sent,
    received: got,
    lossRatio: sent > 0 ? Math.max(0, sent - got) / sent : trial.rate > 0 ? 1 : 0,
    generatorShort: all.some((l) => l.sent < l.offered) || achievedRate < trial.rate * 0.97,
    achievedRate,
    ...(loads.reverse
      ? { directions: { forward: directionCount(loads.forward.sent, received), reverse: directionCount(loads.reverse.sent, reverseReceived) } }
      : {}),
  };
}
