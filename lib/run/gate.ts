// `dutlab gate --from A --to B`: an upgrade gated on one lab, as one run.
// The functional suites on A; the upgrade step (ovs-vswitchd restarted from
// A to B under a steady stream: its downtime); the functional suites on B;
// then the throughput search alternated A, B, A, B ... k times each (FD.io
// CSIT's per-patch way: the lab's drift falls on both groups alike), the two
// groups compared (lib/report/alternation.ts). Each part is the suites run as
// `dutlab run` runs them (their own setup and teardown, in a directory of the
// gate's run); their cases, renamed by part, and the gate's own comparison
// make one JUnit, one summary, one entry of the history and the store.
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { errorMessage, TestbedError } from '../errors.js';
import { profileByName } from '../profiles/index.js';
import { profileProblems } from '../profiles/profile.js';
import { functionalCase, throughputCase, type GroupComparison } from '../report/alternation.js';
import { verdictOf, EXIT_CODES } from '../report/verdict.js';
import { restartOf, downtimeLine, type GateMeasured, type RestartMeasured } from '../results/upgrade.js';
import type { CaseOutcome, RunResult, SuiteResult, Table } from '../results/run.js';
import { throughputOf } from '../results/throughput.js';
import { writeAbortFile, type SuiteConfig } from '../scenario/lab-run.js';
import { FileStore } from '../store/file.js';
import { keepRun, NOT_STORED } from '../store/open.js';
import type { ResultsStore } from '../store/store.js';
import { resolveSuites, suiteDirs, type SuiteFile } from '../suite/catalog.js';
import { loadRunTestbed, withBuild } from '../testbed/load.js';
import type { Testbed } from '../testbed/schema.js';
import { emptyRun, newRunDir, writeReports, type RunOutcome } from './lifecycle.js';
import { registerTestbedSecrets } from './secrets.js';
import { onSignals } from './signals.js';
import { runSuiteFiles } from './vitest-host.js';

export interface GateOptions {
  testbed: string;
  profile: string;
  /** The builds (ovsDpdk.builds): the one in service, and the upgrade. */
  from: string;
  to: string;
  /** The functional suites run on each (default: the profile's). */
  suites?: string[];
  suiteDirs?: string[];
  /** Rounds of the alternation (default: the testbed's gate.k). */
  k?: number;
  reportsDir?: string;
  store?: ResultsStore;
  quiet?: boolean;
}

/** One part of the gate: suites on a build, in a directory of its own. */
interface Part {
  name: string;
  build: string;
  suites: SuiteFile[];
  /** The upgrade step: restarted to this build. */
  restartTo?: string;
  /** A round of the alternation: which group. */
  group?: 'A' | 'B';
}

/** What the gate found beside the run's outcome: the groups compared, the downtime, the part that ran last. */
export interface GateOutcomeDetails {
  groups: GroupComparison[];
  downtime: string | null;
  lastPart: string | null;
}

/** The parts in order: A's suites, the upgrade, B's suites, then A and B alternated k times. */
function partsOf(o: GateOptions, functional: SuiteFile[], restart: SuiteFile[], throughput: SuiteFile[], k: number): Part[] {
  const rounds = Array.from({ length: k }, (_, i): Part[] => [
    { name: `round${i + 1}-A`, build: o.from, suites: throughput, group: 'A' },
    { name: `round${i + 1}-B`, build: o.to, suites: throughput, group: 'B' },
  ]).flat();
  return [
    { name: 'A', build: o.from, suites: functional },
    { name: 'upgrade', build: o.from, suites: restart, restartTo: o.to },
    { name: 'B', build: o.to, suites: functional },
    ...rounds,
  ];
}

/** The gate's testbed checks beyond the run's: both builds there, k at least 1. */
function gateTestbed(o: GateOptions, tb: Testbed): { a: Testbed; b: Testbed; k: number } {
  const named = (flag: string, build: string) => {
    try {
      return withBuild(tb, build, o.testbed);
    } catch (err) {
      throw err instanceof TestbedError
        ? new TestbedError(o.testbed, [
            { path: 'ovsDpdk.builds', message: `${flag} ${build}: not one of its builds (${Object.keys(tb.ovsDpdk.builds).join(', ') || 'none'})` },
          ])
        : err;
    }
  };
  const k = o.k ?? tb.gate.k;
  if (!Number.isInteger(k) || k < 1)
    throw new TestbedError(o.testbed, [{ path: 'gate.k', message: `--k ${k}: at least 1 round, each build measured once at least` }]);
  return { a: named('--from', o.from), b: named('--to', o.to), k };
}

/** A part's suite results and cases, renamed by the part: `A/pvp`, `round1-B:check.packets`. */
function renamed(part: Part, results: SuiteResult[]): { suites: SuiteResult[]; cases: CaseOutcome[] } {
  const label = `${part.name} (${part.restartTo ? `${part.build} -> ${part.restartTo}` : part.build})`;
  const suites = results.map((s) => ({
    ...s,
    suite: `${part.name}/${s.suite}`,
    title: `${label}: ${s.title}`,
    cases: s.cases.map((c) => ({ ...c, id: `${part.name}:${c.id}`, name: `[${label}] ${c.name}`, suite: `${part.name}/${c.suite ?? s.suite}` })),
  }));
  return { suites, cases: suites.flatMap((s) => s.cases) };
}

/** The gate's table in summary.md: each frame size's groups, the downtime, the sensitivity. */
function gateTable(o: GateOptions, k: number, groups: GroupComparison[], downtime: string | null): Table {
  const pct = (x: number) => `${(x * 100).toFixed(1)} %`;
  return {
    title: `Gate: ${o.from} -> ${o.to}`,
    columns: ['frame', 'NDR on A (frames/s, each round)', 'NDR on B', 'change of the means', 'smallest drop caught', 'verdict'],
    rows: groups.map((g) => [
      String(g.frame),
      g.a.map((x) => String(Math.round(x))).join(', '),
      g.b.map((x) => String(Math.round(x))).join(', '),
      `${g.change >= 0 ? '+' : ''}${pct(g.change)}`,
      `${pct(g.sensitivity)} (${g.sensitivityBy === 'spread' ? "the groups' spread" : 'the threshold'})`,
      g.regression ? 'REGRESSION' : 'no regression',
    ]),
    notes: [
      `the throughput search alternated A, B ${k} time${k === 1 ? '' : 's'} each on this lab; the NDR is each search's lower bound`,
      `the upgrade under a steady stream: ${downtime ?? 'not measured'}`,
    ],
  };
}

/** The downtime against the last passing gate of the same testbed, profile and parts (the store's last pass), in a line; null where there is none. */
async function previousDowntime(store: ResultsStore, base: RunResult, suites: SuiteResult[], now: RestartMeasured): Promise<string | null> {
  try {
    const key = { testbed: base.testbedName, profile: base.profile, suites: [...suites.map((s) => s.suite), 'gate'] };
    const id = await store.lastPass(key, base.startedAt);
    const prev = id ? await store.run(id) : null;
    const then = prev?.run.suites.map(restartOf).find((m) => m !== null);
    if (!then?.gaps || !now.gaps) return id ? null : 'the previous gate: none passed on this lab with these parts (the downtime is not compared)';
    const change =
      then.gaps.resetTimeMs === 0
        ? ''
        : ` (${now.gaps.resetTimeMs >= then.gaps.resetTimeMs ? '+' : ''}${(((now.gaps.resetTimeMs - then.gaps.resetTimeMs) / then.gaps.resetTimeMs) * 100).toFixed(0)} %)`;
    return `the previous passing gate ${id} (${then.from} -> ${then.to}): frame-loss reset time ${then.gaps.resetTimeMs} ms; this one ${now.gaps.resetTimeMs} ms${change}`;
  } catch (err) {
    return `the previous gate could not be read: ${errorMessage(err)}`;
  }
}

/** The gate as one run: its parts, its judgement, its reports, the run stored. */
export async function runGate(o: GateOptions): Promise<RunOutcome & { details?: GateOutcomeDetails }> {
  const { reports, runId, runDir } = newRunDir(o.reportsDir);
  const base = emptyRun(runId, resolve(o.testbed), o.profile);
  let tb: Testbed;
  let notes: string[];
  let parts: Part[];
  try {
    ({ tb, notes } = loadRunTestbed(o.testbed, join(runDir, 'testbed.yaml')));
    registerTestbedSecrets(tb);
    base.testbedName = tb.name;
    const { a, b, k } = gateTestbed(o, tb);
    const profile = profileByName(o.profile);
    for (const t of [a, b]) {
      const wrong = profileProblems(profile, t, o.testbed);
      if (wrong) throw wrong;
    }
    const dirs = suiteDirs(o.suiteDirs);
    parts = partsOf(
      o,
      resolveSuites(o.suites?.length ? o.suites : profile.defaultSuites, dirs),
      resolveSuites(['restart'], dirs),
      resolveSuites(['throughput'], dirs),
      k,
    );
    base.notes.push(
      `gate: ${o.from} -> ${o.to}; ${k} round${k === 1 ? '' : 's'} of the alternation${o.from === o.to ? '; A against itself: a false-alarm check' : ''}`,
    );
  } catch (err) {
    const reason = err instanceof TestbedError ? err.message : errorMessage(err);
    const out = writeReports(reports, runDir, base, [], { verdict: 'infra-error', exitCode: EXIT_CODES['infra-error'], reason });
    await keepRun(o.store ?? new FileStore(reports), runDir, out.stored);
    return out;
  }
  return judgeParts(o, { reports, runId, runDir, base, tb, notes, parts });
}

interface GateRun {
  reports: string;
  runId: string;
  runDir: string;
  base: RunResult;
  tb: Testbed;
  notes: string[];
  parts: Part[];
}

/** Runs the parts in order (a signal stops the one running, and the rest are not started), then judges them. */
async function judgeParts(o: GateOptions, g: GateRun): Promise<RunOutcome & { details: GateOutcomeDetails }> {
  let current: string | null = null;
  let lastPart: string | null = null;
  let signal: NodeJS.Signals | null = null;
  const ran: Array<{ part: Part; suites: SuiteResult[]; cases: CaseOutcome[] }> = [];
  const stop = onSignals({
    first: (sig) => {
      signal = sig;
      process.stderr.write(`dutlab: ${sig}: tearing down the gate's part ${current ?? '(none)'} (${sig} again to exit at once)\n`);
      if (current) writeAbortFile(current, sig);
    },
    // A second signal: the reports of the parts that ended, at once; the run is marked not stored.
    last: (sig) => {
      const aborted = `interrupted by ${sig}, and exited at a second ${sig} during its part ${lastPart ?? '(none)'}`;
      const cases = ran.flatMap((r) => r.cases);
      writeReports(g.reports, g.runDir, { ...g.base, suites: ran.flatMap((r) => r.suites), aborted }, cases, verdictOf(cases, [], aborted));
      writeFileSync(join(g.runDir, NOT_STORED), `exited at a second ${sig} before it was stored\n`);
    },
  });
  const errors: string[] = [];
  let restartRate: number | undefined;
  try {
    for (const part of g.parts) {
      if (signal) break;
      const tb = partTestbed(g.tb, part, restartRate);
      current = join(g.runDir, part.name);
      const config: SuiteConfig = { testbed: tb, testbedNotes: g.notes, testbedFile: resolve(o.testbed), profile: o.profile, runId: g.runId, runDir: current };
      // Said before it runs: a gate interrupted in this part says so, and which build the lab ran.
      lastPart = `${part.name} on build ${part.restartTo ? `${part.build}, restarted to ${part.restartTo}` : part.build}`;
      const r = await runSuiteFiles(part.suites, config, o.quiet ? { quiet: true } : {});
      errors.push(...r.errors.map((e) => `${part.name}: ${e}`));
      ran.push({ part, ...renamed(part, r.results) });
      // The upgrade's stream at half the NDR A measured, where its suites measured one (the testbed's rate otherwise).
      const ndr = r.results.flatMap(throughputOf)[0]?.goals.find((x) => x.goal === 'NDR')?.lowerBound;
      if (part.name === 'A' && ndr) restartRate = Math.max(100, Math.round(ndr / 2));
      // A part the lab failed (not ready, a build that is not what it claims): the parts after it would meet the same lab.
      const v = verdictOf(ran.at(-1)!.cases, r.errors);
      if (v.verdict === 'infra-error') {
        errors.push(`the gate stopped after its part ${part.name}, the lab's error: ${v.reason}`);
        break;
      }
    }
  } finally {
    stop();
  }
  return finish(o, g, ran, errors, lastPart, signal);
}

/** The testbed a part runs on: its build; the upgrade's, restarting to the other at the rate the gate chose. */
function partTestbed(tb: Testbed, part: Part, restartRate: number | undefined): Testbed {
  const t = { ...tb, ovsDpdk: { ...tb.ovsDpdk, build: part.build } };
  if (!part.restartTo) return t;
  return { ...t, restart: { ...t.restart, to: part.restartTo, ...(tb.restart.rate === undefined && restartRate ? { rate: restartRate } : {}) } };
}

async function finish(
  o: GateOptions,
  g: GateRun,
  ran: Array<{ part: Part; suites: SuiteResult[]; cases: CaseOutcome[] }>,
  errors: string[],
  lastPart: string | null,
  sig: NodeJS.Signals | null,
): Promise<RunOutcome & { details: GateOutcomeDetails }> {
  const aborted = sig ? `interrupted by ${sig}; the last part to run: ${lastPart ?? 'none'}` : undefined;
  const cases = ran.flatMap((r) => r.cases);
  const of = (name: string) => ran.find((r) => r.part.name === name);
  const gateCases: CaseOutcome[] = [];
  let groups: GroupComparison[] = [];
  const restart =
    of('upgrade')
      ?.suites.map(restartOf)
      .find((m) => m !== null) ?? null;
  const downtime = restart ? downtimeLine(restart) : null;
  if (!aborted) {
    gateCases.push(functionalCase(of('A')?.cases ?? [], of('B')?.cases ?? []));
    const t = throughputCase(
      ran.flatMap((r) => (r.part.group ? [{ group: r.part.group, suites: r.suites }] : [])),
      g.tb.throughput.regressionThreshold,
    );
    groups = t.groups;
    gateCases.push(t.case);
  }
  const store = o.store ?? new FileStore(g.reports);
  const before = restart
    ? await previousDowntime(
        store,
        g.base,
        ran.flatMap((r) => r.suites),
        restart,
      )
    : null;
  const table = gateTable(o, ran.filter((r) => r.part.group === 'A').length, groups, downtime);
  if (before) table.notes!.push(before);
  const bSuite = of('B')?.suites[0];
  const gateSuite: SuiteResult = {
    ...(bSuite ?? { runId: g.runId, testbed: g.base.testbed, testbedName: g.base.testbedName, profile: o.profile, startedAt: g.base.startedAt, versions: {} }),
    suite: 'gate',
    title: `The upgrade ${o.from} -> ${o.to} judged: B against A`,
    cases: gateCases,
    tables: [table],
    teardownProblems: [],
    notes: [],
    measured: {
      kind: 'gate',
      from: o.from,
      to: o.to,
      k: ran.filter((r) => r.part.group === 'A').length,
      groups: groups.map((x) => ({
        frame: String(x.frame),
        a: x.a,
        b: x.b,
        change: x.change,
        sensitivity: x.sensitivity,
        sensitivityBy: x.sensitivityBy,
        regression: x.regression,
      })),
    } as GateMeasured,
  };
  const suites = [...ran.flatMap((r) => r.suites), gateSuite];
  const run: RunResult = {
    ...g.base,
    ...(suites[0] ? { startedAt: suites[0].startedAt } : {}),
    finishedAt: new Date().toISOString(),
    // The candidate's versions: what the lab runs after the upgrade.
    versions: bSuite?.versions ?? {},
    suites,
    notes: [
      ...g.base.notes,
      ...ran.flatMap((r) => r.suites.flatMap((s) => s.notes.map((n) => `${s.suite}: ${n}`))),
      ...(lastPart ? [`the last part to run: ${lastPart}`] : []),
    ],
    teardownProblems: ran.flatMap((r) => r.suites.flatMap((s) => s.teardownProblems.map((n) => `${s.suite}: ${n}`))),
    ...(aborted ? { aborted } : {}),
  };
  const all = [...cases, ...gateCases];
  const out = writeReports(g.reports, g.runDir, run, all, verdictOf(all, errors, aborted));
  const notStored = await keepRun(store, g.runDir, out.stored);
  return { ...out, ...(notStored ? { notStored } : {}), details: { groups, downtime, lastPart } };
}
