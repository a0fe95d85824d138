// The `dutlab` command.
import { addResultsCommands, baselineGate, readReportsOf, reportsOf, resultsOption } from './results.js';
import { openStore, findRun } from '../report/store.js';
import type { ResultsStore } from '../report/history.js';
import { addPoolCommands, parseWait, runTarget } from './pool.js';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { readFileSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { errorMessage } from '../errors.js';
import { formatPlan, planOf } from '../scenario/plan.js';
import { PROFILE_NAMES, PROFILES, profileByName } from '../profiles/index.js';
import { doctor, impliedProfile } from '../probes/doctor.js';
import { formatProbes, healthy } from '../probes/probe.js';
import { profileProblems } from '../profiles/profile.js';
import { describeSuites, shownFile, suiteDirs } from '../suite/catalog.js';
import { assertComparable, compareRuns, comparisonText, GATE_CASE_ID, type RunRecord } from '../report/compare.js';
import { trendHtml } from '../report/trend.js';
import { newestAnomalies } from '../report/anomalies.js';
import { loadTestbed, missingLocalFiles, testbedNotes } from '../testbed/load.js';
import type { HostRole } from '../testbed/schema.js';
import { DEFAULT_LAB_ID, labDown, labNames, labUp, type Datapath, type GuestKind } from '../vlab/lab.js';
import { addLabCommands } from './lab.js';
import { runSuites, writeRefusalReport } from './run.js';
import { guardSecrets } from './secrets.js';
import { refuseRepeatedFlags } from './flags.js';
import { latencyLines, throughputLines, throughputOf } from '../suite/throughput/result.js';

const log = (line: string) => process.stderr.write(`dutlab: ${line}\n`);
/** A path as the user can open it from here: relative inside the working directory, absolute outside. */
const shown = (path: string) => (relative(process.cwd(), path).startsWith('..') ? path : relative(process.cwd(), path));

export function buildCli(): Command {
  const program = new Command('dutlab')
    .description('End-to-end test harness for the DPDK vSwitch KNI Phy->VM->Phy lab')
    .version(JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')).version)
    .showHelpAfterError()
    // Usage errors are thrown (CommanderError), not exited on: main() gives them exit code 2 and a report.
    .exitOverride()
    .hook('preAction', refuseRepeatedFlags);
  const profile = () => new Option('--profile <name>', 'how to build the setup').choices(PROFILE_NAMES).makeOptionMandatory();
  const suitesDir = () =>
    new Option('--suites-dir <dir>', 'also take the suites (<name>.e2e.ts) of this directory (repeatable)')
      .argParser((v: string, prev: string[]) => [...prev, v])
      .default([]);

  program
    .command('run')
    .description('build the setup, send the stream, judge packets, counters, dmesg and interfaces; exit 0 pass, 1 DUT failed, 2 infrastructure failed')
    .option('--testbed <file>', 'the testbed YAML file')
    .option('--pool <file>', 'take a free testbed of --label from this pool (pool.yaml), clean and check it, run, give it back')
    .option('--label <label>', "which of the pool's testbeds may run this")
    .option('--wait <seconds>', 'with --pool: how long to wait for a testbed of the label to come free', parseWait, 0)
    .addOption(profile())
    .option(
      '--suite <name>',
      "a suite to run (repeatable; `dutlab suites` lists them); default: the profile's",
      (v: string, prev: string[]) => [...prev, v],
      [],
    )
    .addOption(suitesDir())
    .option('--reports <dir>', 'where reports go', undefined)
    .option('--hook-before-traffic <command>', 'a local command run just before the traffic (fault injection, debugging)')
    .option('--quiet', 'no per-testcase output')
    .option(
      '--baseline <run>',
      'compare with this run (a run directory, a run id in the results store, or last-pass: the newest passing run of the same testbed, profile and suites): a regression fails the run (exit 1)',
    )
    .option('--doctor', 'check the lab first (dutlab doctor): a lab that is not ready stops the run before any setup (exit 2)')
    .addOption(resultsOption())
    .action(
      async (o: {
        results?: string;
        testbed?: string;
        pool?: string;
        label?: string;
        wait: number;
        profile: string;
        suite: string[];
        suitesDir: string[];
        reports?: string;
        hookBeforeTraffic?: string;
        quiet?: boolean;
        baseline?: string;
        doctor?: boolean;
      }) => {
        const reports = reportsOf(o);
        let target: ReturnType<typeof runTarget>;
        let store: ResultsStore;
        let gate: Awaited<ReturnType<typeof baselineGate>> | null = null;
        try {
          target = runTarget(o);
          store = openStore(o.results ?? ('pool' in target ? target.pool.results : undefined), reports);
        } catch (err) {
          return refuseRun(errorMessage(err), o);
        }
        try {
          // A baseline that cannot be read stops the run before it touches the lab: exit 2, with this run's report.
          if (o.baseline) gate = await baselineGate(o.baseline, store, reports);
        } catch (err) {
          await store.close();
          return refuseRun(`the baseline cannot be read: ${errorMessage(err)}`, o);
        }
        const s = await runSuites({
          ...('pool' in target ? { testbed: target.pool.file, pool: target } : target),
          profile: o.profile,
          store,
          ...(o.suite.length > 0 ? { suites: o.suite } : {}),
          ...(o.suitesDir.length > 0 ? { suiteDirs: o.suitesDir } : {}),
          ...(o.reports ? { reportsDir: o.reports } : {}),
          ...(o.hookBeforeTraffic ? { beforeTraffic: o.hookBeforeTraffic } : {}),
          ...(o.quiet ? { quiet: true } : {}),
          ...(o.doctor ? { doctor: true } : {}),
          ...(gate ? { gate: gate.gate } : {}),
        }).finally(() => store.close());
        log(`${s.verdict.toUpperCase()} (exit ${s.exitCode}): ${s.reason}`);
        // The throughput suite's answer on the terminal too: NDR and PDR with their bounds.
        const searches = s.record.suites.flatMap(throughputOf);
        for (const line of [...throughputLines(searches), ...latencyLines(searches)]) log(line);
        const judged = s.cases.find((c) => c.id === GATE_CASE_ID);
        if (gate && judged) {
          process.stdout.write(s.comparison ?? '');
          const id = gate.baselineId() ?? o.baseline;
          if (judged.status === 'passed') log(`no regression against ${id}`);
          else if (judged.status === 'skipped') log((judged.message ?? '').replace(/^not compared(: )?/, 'NOT COMPARED$1'));
          else if (judged.kind === 'dut') log(`REGRESSION against ${id}: ${judged.message?.replace(/^regression: /, '')}`);
          else log(`NOT COMPARED with ${id}: ${judged.message}`);
        }
        if (s.notStored) log(s.notStored);
        log(`report: ${shown(s.summaryFile)}`);
        process.exitCode = s.exitCode;
      },
    );

  program
    .command('compare')
    .description(
      'a candidate run against a baseline: regressions case by case, in throughput and in latency, versions side by side; exit 1 on a regression, 2 on input it cannot read',
    )
    .argument(
      '<baseline>',
      "a run directory, a run id in the results store, or last-pass (the newest passing run of the candidate's testbed, profile and suites before it)",
    )
    .argument('<candidate>', 'a run directory, or a run id')
    .option('--reports <dir>', 'the reports directory whose history holds the run ids', undefined)
    .option(
      '--threshold <ratio>',
      "a throughput drop beyond this share of the baseline is a regression (default: the candidate testbed's throughput.regressionThreshold, 0.1)",
    )
    .option(
      '--latency-threshold <ratio>',
      "a rise of p99 latency at 50 % of each run's PDR beyond this share of the baseline's is a regression (default: the candidate testbed's throughput.latency.regressionThreshold, 0.5)",
    )
    .addOption(resultsOption())
    .action(async (baseline: string, candidate: string, o: { reports?: string; results?: string; threshold?: string; latencyThreshold?: string }) => {
      const reports = readReportsOf(o);
      const store = openStore(o.results, reports);
      let base: RunRecord;
      let cand: RunRecord;
      try {
        // The candidate first: `last-pass` is the last pass before it.
        cand = await findRun(candidate, store, reports);
        base = await findRun(baseline, store, reports, cand);
      } finally {
        await store.close();
      }
      // The candidate's testbed says how noisy its lab is (the virtual lab: 0.5); without it, the defaults (0.1, and 0.5 for latency).
      const own = () => {
        try {
          const t = loadTestbed(join(cand.dir ?? '', 'testbed.yaml')).throughput;
          return { throughput: t.regressionThreshold, latency: t.latency.regressionThreshold };
        } catch {
          return { throughput: 0.1, latency: 0.5 };
        }
      };
      // Read once, and only when an option leaves a threshold to it.
      const testbed = o.threshold === undefined || o.latencyThreshold === undefined ? own() : null;
      const threshold = o.threshold !== undefined ? Number(o.threshold) : testbed!.throughput;
      if (!(threshold >= 0 && threshold <= 0.9)) throw new Error(`--threshold ${o.threshold}: a ratio from 0 to 0.9 (above it almost any drop passes)`);
      const latencyThreshold = o.latencyThreshold !== undefined ? Number(o.latencyThreshold) : testbed!.latency;
      if (!(latencyThreshold > 0 && latencyThreshold <= 100))
        throw new Error(`--latency-threshold ${o.latencyThreshold}: a ratio above 0 (0.5: p99 half as high again as the baseline's), at most 100`);
      assertComparable(base, cand);
      const c = compareRuns(base, cand, { throughput: threshold, latency: latencyThreshold });
      process.stdout.write(comparisonText(base, cand, c));
      process.exitCode = c.regressions.length > 0 ? 1 : 0;
    });

  program
    .command('trend')
    .description('a self-contained HTML page (no network) with charts of NDR, PDR and verdicts per testbed and profile across the history')
    .option('--reports <dir>', 'the reports directory whose history.jsonl to draw', undefined)
    .option('--out <file>', 'where the page goes (default: <reports>/trend.html)')
    .option('--check', "exit 1 when a series' newest jumpavg group is a regression (a slow slide no single compare sees), naming where it began")
    .addOption(resultsOption())
    .action(async (o: { reports?: string; results?: string; out?: string; check?: boolean }) => {
      const reports = readReportsOf(o);
      const out = resolve(o.out ?? join(reports, 'trend.html'));
      const store = openStore(o.results, reports);
      const history = await store.history().finally(() => store.close());
      for (const line of history.skipped) log(line);
      writeFileSync(out, trendHtml(history.entries));
      log(`trend of ${history.entries.length} run(s): ${shown(out)}`);
      if (!o.check) return;
      const verdicts = newestAnomalies(history.entries);
      for (const v of verdicts) process.stdout.write(`${v.text}\n`);
      if (verdicts.length === 0) process.stdout.write('no throughput series in the history: nothing to check\n');
      process.exitCode = verdicts.some((v) => v.regression) ? 1 : 0;
    });

  program
    .command('suites')
    .description('list the suites (tests/e2e/<name>.e2e.ts), what each checks and what it requires of a lab; and the profiles')
    .addOption(suitesDir())
    .action(async (o: { suitesDir: string[] }) => {
      for (const x of await describeSuites(suiteDirs(o.suitesDir))) {
        const needs = x.requires.map((r) => r.feature).join(', ') || 'nothing';
        const by = PROFILES.filter((p) => p.defaultSuites.includes(x.name)).map((p) => p.name);
        process.stdout.write(
          `${x.name.padEnd(16)} ${x.title}\n${''.padEnd(16)} requires: ${needs}; default for: ${by.join(', ') || 'no profile'}; file: ${shownFile(x)}\n`,
        );
      }
      process.stdout.write('\nprofiles:\n');
      for (const p of PROFILES) process.stdout.write(`${p.name.padEnd(16)} ${p.title} (offers: ${p.features.join(', ')})\n`);
    });

  program
    .command('plan')
    .description('print the exact commands each host will run, in order, without connecting')
    .requiredOption('--testbed <file>', 'the testbed YAML file')
    .addOption(profile())
    .action((o: { testbed: string; profile: string }) => {
      const tb = loadTestbed(o.testbed);
      const p = profileByName(o.profile);
      const wrong = profileProblems(p, tb, o.testbed);
      if (wrong) throw wrong;
      // The plan is for reading on any machine: files only the lab's controller has are a warning here.
      for (const n of testbedNotes(tb)) log(`note: ${n}`);
      for (const m of missingLocalFiles(tb)) log(`warning: ${m} (\`dutlab run\` would stop on it)`);
      process.stdout.write(formatPlan(tb, p, planOf(tb, p)));
    });

  program
    .command('doctor')
    .description(
      'is this lab ready? every host reached as a run would, then each read-only check the testbed needs (hugepages, NICs, IOMMU, KVM, clocks, the TG); exit 0 when nothing fails, 2 when something does',
    )
    .requiredOption('--testbed <file>', 'the testbed YAML file')
    .addOption(new Option('--profile <name>', 'the profile the lab runs (default: the one the testbed is written for)').choices(PROFILE_NAMES))
    .option('--json', 'the checks as JSON')
    .addOption(
      new Option('--host <role>', 'only this host (repeatable): host, guest or tg')
        .choices(['host', 'guest', 'tg'])
        .argParser((v: string, prev: HostRole[] = []) => {
          if (!['host', 'guest', 'tg'].includes(v)) throw new InvalidArgumentError(`--host ${v}: one of host, guest, tg`);
          return [...prev, v as HostRole];
        }),
    )
    .action(async (o: { testbed: string; profile?: string; json?: boolean; host?: HostRole[] }) => {
      const tb = loadTestbed(o.testbed);
      const name = o.profile ?? impliedProfile(tb);
      const wrong = profileProblems(profileByName(name), tb, o.testbed);
      if (wrong) throw wrong;
      const results = await doctor(tb, name, o.host ? { roles: o.host } : {});
      process.stdout.write(
        o.json ? `${JSON.stringify({ testbed: tb.name, profile: name, healthy: healthy(results), checks: results }, null, 2)}\n` : formatProbes(results),
      );
      process.exitCode = healthy(results) ? 0 : 2;
    });

  program
    .command('e2e')
    .description('the main job: for each profile (virtual, then ovs-dpdk), a virtual lab up, its default suites, the lab down; a verdict line each')
    .option('--id <id>', 'lab id (the DPDK lab is <id>-dpdk)', DEFAULT_LAB_ID)
    .option('--reports <dir>', 'where reports go', undefined)
    .addOption(new Option('--profiles <names>', 'comma-separated: which profiles, in order').default('virtual,ovs-dpdk'))
    .addOption(
      new Option('--guest <kind>', "the ovs-dpdk profile's guest: netns (tap ports into a namespace) or vm (QEMU on vhost-user ports)")
        .choices(['netns', 'vm'])
        .default('netns'),
    )
    .action(async (o: { id: string; reports?: string; profiles: string; guest: GuestKind }) => {
      // A signal while a lab comes up or goes down is noted here, so that the lab still goes down (runSuites' handler: during a run).
      let interrupted: NodeJS.Signals | null = null;
      const onSignal = (sig: NodeJS.Signals) => {
        if (interrupted) process.exit(2);
        interrupted = sig;
      };
      const signals = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
      signals.forEach((sig) => process.on(sig, onSignal));
      const labs: Record<string, { datapath: Datapath; guest: GuestKind; id: string }> = {
        virtual: { datapath: 'netdev', guest: 'netns', id: o.id },
        'ovs-dpdk': { datapath: 'dpdk', guest: o.guest, id: `${o.id}-${o.guest === 'vm' ? 'vm' : 'dpdk'}` },
      };
      const lines: string[] = [];
      let code = 0;
      // Every profile's lab is checked before the first comes up: a bad name or an id too long for
      // the DPDK lab's must not be found after a whole profile ran.
      const profiles = o.profiles.split(',').filter(Boolean);
      for (const profile of profiles) {
        const at = labs[profile];
        if (!at) throw new Error(`e2e runs the virtual lab's profiles (${Object.keys(labs).join(', ')}), not ${JSON.stringify(profile)}`);
        try {
          labNames(at.id);
        } catch (err) {
          throw new Error(`--id ${o.id}: the ${profile} profile's lab would be ${at.id}: ${errorMessage(err)}`);
        }
      }
      try {
        for (const profile of profiles) {
          const at = labs[profile]!;
          if (interrupted) break;
          try {
            const lab = await labUp({ id: at.id, datapath: at.datapath, guest: at.guest, log });
            if (interrupted) throw new Error(`interrupted by ${interrupted} while the virtual lab came up`);
            const s = await runSuites({ testbed: lab.testbedFile, profile, ...(o.reports ? { reportsDir: o.reports } : {}) });
            log(`${s.verdict.toUpperCase()} (exit ${s.exitCode}): ${s.reason}`);
            log(`report: ${shown(s.summaryFile)}`);
            lines.push(`${profile}: ${s.verdict.toUpperCase()} (exit ${s.exitCode}): ${s.reason}; DPDK ${s.versions.dpdk ?? 'unknown'}`);
            code = Math.max(code, s.exitCode);
            if (s.verdict === 'aborted') break;
          } finally {
            await labDown({ id: at.id, log });
          }
        }
      } catch (err) {
        code = 2;
        throw err;
      } finally {
        signals.forEach((sig) => process.off(sig, onSignal));
        for (const l of lines) log(l);
        process.exitCode = code;
      }
      if (interrupted && code < 2) process.exitCode = 2;
    });

  addLabCommands(program);
  addPoolCommands(program);
  addResultsCommands(program);
  return program;
}

/** Runs the command line: exit 0, 1 or 2 as the README says; usage errors are 2, and leave a report where a run would have. */
export async function main(argv: string[]): Promise<void> {
  guardSecrets(argv);
  try {
    await buildCli().parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') {
        process.exitCode = 0;
        return;
      }
      process.exitCode = 2;
      const command = argv[2];
      if (command === 'run' || command === 'e2e') refuseRun(`usage: ${err.message.replace(/^error: /, '')}`, { reports: optionValue(argv, '--reports') });
      return;
    }
    log(errorMessage(err));
    process.exitCode = 2;
  }
}

/** A run refused before it touched the lab: exit 2, with this run's report all the same (no gate reads the last run's). */
function refuseRun(reason: string, o: { reports?: string | undefined; testbed?: string; profile?: string }): void {
  const s = writeRefusalReport(reason, o.reports, { ...(o.testbed ? { testbed: o.testbed } : {}), ...(o.profile ? { profile: o.profile } : {}) });
  log(`INFRA-ERROR (exit 2): ${s.reason}`);
  log(`report: ${shown(s.summaryFile)}`);
  process.exitCode = 2;
}

/** The value of an option in a command line commander could not parse. */
function optionValue(argv: string[], name: string): string | undefined {
  const i = argv.indexOf(name);
  if (i >= 0 && argv[i + 1] && !argv[i + 1]!.startsWith('-')) return argv[i + 1];
  return argv.find((a) => a.startsWith(`${name}=`))?.slice(name.length + 1);
}

const isMain = process.argv[1] && import.meta.url.endsWith(process.argv[1].replace(/^.*\/lib\//, '/lib/'));
if (isMain) void main(process.argv);
