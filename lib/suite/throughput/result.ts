// The throughput suite's tables for summary.md, made from what it measured
// (the throughput kind: lib/results/throughput.ts; the terminal's lines of it
// are lib/report/lines.ts's). Pure.
import { mbps, mfps, usText } from '../../report/lines.js';
import { type FrameKey, frameText } from '../../testbed/frame-mix.js';
import type { Table } from '../../results/run.js';
import type { LatencyResult } from '../../results/latency.js';
import { directionsAt, loadName, type ThroughputResult, type WarmUpRecord } from '../../results/throughput.js';

/** NDR and PDR per frame size, for summary.md. */
export function throughputTable(results: ThroughputResult[]): Table {
  return {
    title: 'Throughput (NDR and PDR, MLRsearch)',
    columns: ['frame', 'goal', 'lower bound Mfps', 'upper bound Mfps', 'width', 'L2 Mb/s', 'L1 Mb/s', 'conditional Mfps', 'trials', 'note'],
    rows: results.flatMap((r) =>
      r.goals.map((g) => [
        frameText(r.frame),
        `${g.goal} (loss ${g.lossRatio})`,
        g.lowerBound !== null ? mfps(g.lowerBound) : 'none',
        g.upperBound !== null ? mfps(g.upperBound) : g.limitedByGenerator ? `limited by the generator (${mfps(r.maxRate)})` : '-',
        g.relativeWidth !== null ? `${(g.relativeWidth * 100).toFixed(1)} %` : '-',
        g.lowerBps ? mbps(g.lowerBps.l2) : '-',
        g.lowerBps ? mbps(g.lowerBps.l1) : '-',
        g.conditionalThroughput !== null ? mfps(g.conditionalThroughput) : '-',
        String(r.trials.length),
        [g.limitedByGenerator ? `${g.goal} >= ${mfps(g.lowerBound ?? 0)} Mfps, limited by the generator` : '', g.stoppedBy ?? ''].filter(Boolean).join('; '),
      ]),
    ),
    notes: results.flatMap((r) => [...(r.warmUp ? [warmUpNote(r.frame, r.warmUp)] : []), ...directionNotes(r)]),
  };
}

/** Both ways: the bounds are each direction's rate, and each direction's frames at each goal's lower bound. */
function directionNotes(r: ThroughputResult): string[] {
  if (r.direction !== 'both') return [];
  const goals = r.goals.flatMap((g) => {
    const d = g.lowerBound !== null ? directionsAt(r, g.lowerBound) : null;
    if (!d) return [];
    const way = (x: { sent: number; received: number; lost: number }) => `${x.received}/${x.sent} returned, ${x.lost} lost`;
    return [`at the ${g.goal}'s lower bound forward ${way(d.forward)}, reverse ${way(d.reverse)}`];
  });
  return [
    `${frameText(r.frame)}: both directions, each at the rate shown (the aggregate is twice it; the conditional throughput counts both directions' frames)${goals.length ? `; ${goals.join('; ')}` : ''}`,
  ];
}

/** What the warm-ups found at a frame size, in one line. */
function warmUpNote(frame: FrameKey, w: WarmUpRecord): string {
  if (w.durationS === 0) return `${frameText(frame)}: no warm-up (throughput.warmUp.durationS 0)`;
  if (w.notOffered) return `${frameText(frame)}: ${w.warmUps} warm-up(s) of ${w.durationS} s; megaflows and upcalls not offered by this datapath`;
  const flows =
    w.megaflows === null
      ? 'megaflows not read'
      : `${w.megaflows} megaflows after it${w.expectedMegaflows !== null ? ` (the rules imply ${w.expectedMegaflows})` : ''}`;
  return `${frameText(frame)}: ${w.warmUps} warm-up(s) of ${w.durationS} s, ${flows}; ${w.trialsOverAllowed} measured trial(s) with more than ${w.allowedUpcalls} upcalls${w.lookups ? `; ${lookupShares(w.lookups)}` : ''}`;
}

/** Which stage of the datapath served the measured trials' packets, as shares: "EMC 0 %, SMC 0 %, megaflow 12 %, simple match 88 %, upcalls 0". */
export function lookupShares(l: NonNullable<WarmUpRecord['lookups']>): string {
  const pct = (n: number) => (l.packets > 0 ? `${((n / l.packets) * 100).toFixed(0)} %` : 'not measured');
  return `lookups in the measured trials: EMC ${pct(l.emc)}, SMC ${pct(l.smc)}, megaflow ${pct(l.megaflow)}, simple match ${pct(l.simpleMatch)}, upcalls ${l.upcalls}`;
}

// ---- latency: summary.md's tables -------------------------------------------

function figures(l: LatencyResult): string[] {
  if (l.invalid) return [String(l.received), `${l.lost}/${l.reordered}/${l.duplicated}`, ...Array<string>(8).fill('-')];
  return [
    String(l.received),
    `${l.lost}/${l.reordered}/${l.duplicated}`,
    usText(l.minUs),
    usText(l.avgUs),
    usText(l.p50Us),
    usText(l.p90Us),
    usText(l.p99Us),
    usText(l.p999Us),
    usText(l.maxUs),
    usText(l.jitterUs),
  ];
}

const FIGURES = ['n', 'lost/reord/dup', 'min', 'mean', 'p50', 'p90', 'p99', 'p99.9', 'max', 'jitter'];
/** TRex's `average` is a low-pass filter of its 0.5 s periods' means: the column says so rather than call it a mean. */
const TREX_AVG = "TRex's filtered avg";
const figuresOf = (ls: LatencyResult[]) => (ls.some((l) => l.avgIs === 'trex-filtered') ? FIGURES.map((f) => (f === 'mean' ? TREX_AVG : f)) : FIGURES);
const invalidNote = (l: LatencyResult) => (l.invalid ? `NOT VALID: ${l.invalid}` : '');

/** The latency table (and the per-hop one where there are hops), for summary.md. */
export function latencyTables(results: readonly ThroughputResult[]): Table[] {
  const measured = results.filter((r) => r.latency);
  if (measured.length === 0) return [];
  const rows: string[][] = [];
  for (const r of measured) {
    const gen = r.calibration?.latency;
    if (gen) rows.push([frameText(r.frame), 'the generator alone (guest bypassed)', '-', '-', ...figures(gen), invalidNote(gen)]);
    for (const at of r.latency!.loads) {
      const load = at.rate > 0 ? `${(at.rate / 1e6).toFixed(4)}` : '0';
      const loss = at.rate > 0 ? `${(at.lossRatio * 100).toFixed(2)} %${at.generatorShort ? ' (generator short)' : ''}` : '-';
      rows.push([frameText(r.frame), loadName(at.load), load, loss, ...figures(at.latency), invalidNote(at.latency)]);
    }
  }
  const all = measured.flatMap((r) => [...(r.calibration?.latency ? [r.calibration.latency] : []), ...r.latency!.loads.map((l) => l.latency)]);
  const tables: Table[] = [
    {
      title: 'Latency (one-way, µs)',
      columns: ['frame', 'load', 'load Mfps', 'load loss', ...figuresOf(all), 'note'],
      rows,
      notes: [
        `The latency stream: ${measured[0]!.latency!.rate} frames/s for ${measured[0]!.latency!.durationS} s at each load, timed where it leaves and arrives at the generator (one clock); percentiles from its HDR histogram (summary.json has it, base64).`,
        ...(figuresOf(all) === FIGURES
          ? []
          : [`${TREX_AVG}: TRex's own \`average\`, a low-pass filter of the means of its 0.5 s periods, not the mean of the samples.`]),
      ],
    },
  ];
  const hops = measured.flatMap((r) => r.latency!.loads.filter((l) => l.hops).map((l) => ({ r, l })));
  const hopsNot = measured.map((r) => r.latency!.hopsNot).find(Boolean);
  if (hops.length || hopsNot) {
    tables.push({
      title: 'Latency per hop, the stream alone (µs)',
      columns: ['frame', 'from', 'to', ...FIGURES],
      rows: hops.flatMap(({ r, l }) => l.hops!.map((h) => [frameText(r.frame), h.from, h.to, ...figures(h.latency)])),
      notes: [
        ...hops.map(({ r, l }) => {
          const sum = l.hops!.reduce((s, h) => s + h.latency.avgUs, 0);
          return `${frameText(r.frame)}: the hops' means add up to ${usText(sum)} µs; end to end the mean is ${usText(l.latency.avgUs)} µs`;
        }),
        ...(hopsNot ? [`no figures per hop: ${hopsNot}`] : []),
      ],
    });
  }
  return tables;
}

/** The coverage events shown in summary.md (all are in summary.json): the busiest during the trial. */
const COVERAGE_SHOWN = 8;

/** Each frame size's telemetry trial: every figure with its unit, or "not offered" and why. */
export function telemetryTables(results: ThroughputResult[]): Table[] {
  return results
    .filter((r) => r.telemetry)
    .map((r) => {
      const t = r.telemetry!;
      const coverage = t.metrics.filter((m) => m.id === 'coverage.per_s').sort((a, b) => (b.value ?? 0) - (a.value ?? 0));
      const shown = [...t.metrics.filter((m) => m.id !== 'coverage.per_s'), ...coverage.slice(0, COVERAGE_SHOWN)];
      const notOffered = [...new Set(shown.filter((m) => m.value === null).map((m) => m.notOffered))];
      return {
        title: `Datapath telemetry at ${frameText(r.frame)}: a ${t.durationS} s trial at the ${t.goal} (${Math.round(t.rate)} frames/s)`,
        columns: ['figure', 'of', 'value', 'unit'],
        rows: shown.map((m) => [m.label, m.scope, m.value === null ? 'not offered' : String(m.value), m.unit]),
        notes: [
          `Deltas over the trial (sent ${t.sent}, came back ${t.received}) of OVS's own counters, read before and after it; never cleared. pmd-perf-metrics ${t.perfMetrics ? 'on for this trial alone' : 'could not be turned on'}. The raw readings: ${t.files.length ? `${t.files[0]!.split('/').slice(0, -1).join('/')}/` : 'none'}.`,
          ...(coverage.length > COVERAGE_SHOWN
            ? [`The ${COVERAGE_SHOWN} busiest of ${coverage.length} coverage events that moved (all in summary.json).`]
            : []),
          ...notOffered.map((why) => `not offered: ${why}`),
        ],
      };
    });
}
