// One suite's hold on the lab for a run: the testbed and its topology, the
// profile, the connections, the lab's lease, the profile's setup as stages,
// the stage engine (a stage whose prerequisite failed is skipped, one the lab
// cannot offer is blocked), the fixtures undone in reverse order, aborts, and
// the suite's result. What a suite checks lives in its own folder
// (lib/suite/<name>/).
import { existsSync, mkdirSync, readFileSync, renameSync, watch, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { requirementRow, unmet, type LabCapabilities, type Requirement } from '../capabilities.js';
import { errorMessage, failureKind, type FailureKind, PreflightError } from '../errors.js';
import { probeDutHost } from '../probes/doctor.js';
import { profileByName, type Profile } from '../profiles/index.js';
import { profileFor, type StepDef } from '../profiles/profile.js';
import { awaitExitingLabHolders } from '../profiles/steps/hugepages.js';
import type { CaseOutcome, CaseStatus, Measured, MatrixRow, SuiteResult, Table } from '../results/run.js';
import type { Testbed } from '../testbed/schema.js';
import { pvpPath, type PvpPath } from '../testbed/path.js';
import type { Topology } from '../testbed/topology.js';
import { shq } from '../transport/quote.js';
import { LocalShell } from '../transport/local.js';
import { Transcript } from '../transport/transcript.js';
import { trafficGenerator, type TrafficGenerator } from '../traffic/drivers.js';
import { holdLabLease, LEASE_STAGE_ID, leaseLostCase, tearDownHolding } from './lab-lease.js';
import type { HeldLease, Lease } from './lease.js';
import * as read from './readback.js';

/** The stage that reads the lab's versions and checks it before any step (its id frozen since the first release). */
export const PREFLIGHT_STAGE_ID = 'lab.preflight';
import { Session } from './session.js';
import { Teardown } from './teardown.js';

/** What `dutlab run` hands every suite (through vitest's provide/inject). */
export interface SuiteConfig {
  /** The testbed as the run loaded and checked it, once, from its copy in the run directory: a suite never reads the file. */
  testbed: Testbed;
  /** What loading it noted (keys under their old names, ...). */
  testbedNotes: string[];
  /** The file the user named, for the record. */
  testbedFile: string;
  profile: string;
  runId: string;
  /** The run directory; each suite writes its files in `<runDir>/<suite>/`. */
  runDir: string;
  /** A local command run just before the traffic: fault injection, debugging. */
  beforeTraffic?: string;
  /** The lease `run --pool` took on this lab: the suites hold it, and do not give it back. */
  lease?: HeldLease;
}

/** What a suite says of itself: `dutlab suites` lists it, and the lab must offer what it requires. */
export interface SuiteMeta {
  name: string;
  title: string;
  requires: readonly Requirement[];
}

/** A testcase of a suite: a setup step or a check. */
export interface Stage {
  /** Frozen once released: dashboards and the fault tests read it. */
  id: string;
  title: string;
  /** setup, traffic, checks: JUnit's classname is dutlab.<suite>.<group>. */
  group: 'setup' | 'traffic' | 'checks';
  /** Stages that must have passed; otherwise this one is skipped with the reason. */
  needs: string[];
  /** What the lab must offer; otherwise this one is blocked with the reason. */
  requires?: readonly Requirement[];
  run(): Promise<void>;
}

/** The file through which `dutlab run` tells the suites it was interrupted: it holds the signal's name. */
export const ABORT_FILE = 'abort';

/** Tells the suites of a run directory that a signal interrupted it (written whole, then renamed into place). */
export function writeAbortFile(runDir: string, signal: string): void {
  writeFileSync(join(runDir, `.${ABORT_FILE}`), signal);
  renameSync(join(runDir, `.${ABORT_FILE}`), join(runDir, ABORT_FILE));
}

/** Calls back once the abort file appears in the run directory; returns the function that stops watching. */
export function watchAbortFile(runDir: string, onAbort: (signal: string) => void): () => void {
  const file = join(runDir, ABORT_FILE);
  const check = () => {
    const signal = existsSync(file) ? readFileSync(file, 'utf8').trim() : '';
    if (!signal) return;
    watcher.close();
    onAbort(signal);
  };
  const watcher = watch(runDir, check);
  check();
  return () => watcher.close();
}

export class LabRun {
  readonly tb: Testbed;
  /** The stream's path through the DUT and the guest, hop by hop: what the checks and the tables walk. */
  readonly path: PvpPath;
  readonly profile: Profile;
  readonly session: Session;
  readonly data: SuiteResult;
  /** Where this suite's files go: transcripts, captures, logs. */
  readonly dir: string;
  readonly transcript: Transcript;
  /** The fixtures, undone last first at the end of the suite. */
  readonly teardown = new Teardown();
  /** The local hook while it runs (fault injection): an interrupted run stops it. */
  private hook: LocalShell | null = null;

  /** The testbed's ports by role (the path's). */
  get topology(): Topology {
    return this.path.topology;
  }

  constructor(
    readonly config: SuiteConfig,
    readonly meta: SuiteMeta,
  ) {
    this.tb = config.testbed;
    this.path = pvpPath(this.tb);
    // `dutlab run` checked the testbed against the profile before any suite started.
    this.profile = profileFor(profileByName(config.profile), this.tb);
    this.dir = join(config.runDir, meta.name);
    mkdirSync(this.dir, { recursive: true });
    this.transcript = new Transcript(join(this.dir, 'transcripts'));
    this.session = new Session(this.tb, this.profile, {
      transcript: this.transcript,
      warn: (m) => this.note(m),
      topology: this.topology,
      fixtures: this.teardown,
    });
    this.data = {
      suite: meta.name,
      title: meta.title,
      runId: config.runId,
      testbed: config.testbedFile,
      testbedName: this.tb.name,
      profile: this.profile.name,
      startedAt: new Date().toISOString(),
      versions: {},
      cases: [],
      tables: [],
      teardownProblems: [],
      notes: [...config.testbedNotes],
    };
    // No fixture yet: each registers its undo as it is set up (connections, lease, setup).
    const blocked = unmet([...meta.requires, ...this.profile.requires], this.capabilities());
    if (blocked) this.data.blocked = blocked;
  }

  /** What this lab offers: the profile's features, and the versions read so far. */
  capabilities(): LabCapabilities {
    return { features: new Set(this.profile.features), versions: this.data.versions };
  }

  note(line: string): void {
    this.data.notes.push(line);
  }

  /** What the suite measured, in its own shape (replacing what it said before): the record keeps it for the report. */
  measured(m: Measured): void {
    this.data.measured = m;
    this.save();
  }

  /** A table for summary.md, replacing the suite's table of the same title. */
  table(t: Table): void {
    this.data.tables = [...this.data.tables.filter((x) => x.title !== t.title), t];
    this.save();
  }

  // ---- the setup as stages ---------------------------------------------------

  /** Taking the lab's lease, the preflight, then the profile's steps in order, each needing the one before. */
  setupStages(): Stage[] {
    const steps = this.profile.steps;
    const ids = [PREFLIGHT_STAGE_ID, ...steps.map((s) => s.id)];
    return [
      { id: LEASE_STAGE_ID, title: 'Take the lab lock on the DUT host', group: 'setup', needs: [], run: () => this.takeLease() },
      {
        id: PREFLIGHT_STAGE_ID,
        title: "Read the lab's versions (Open vSwitch, DPDK, kernel) and check it has what the profile requires",
        group: 'setup',
        needs: [LEASE_STAGE_ID],
        run: () => this.preflight(),
      },
      ...steps.map(
        (step: StepDef, i): Stage => ({
          id: step.id,
          title: step.title,
          group: 'setup',
          needs: [ids[i]!],
          ...(step.requires ? { requires: step.requires } : {}),
          run: () => this.runStep(step),
        }),
      ),
    ];
  }

  /** The id of the setup's last stage: what a check of the built setup needs. */
  get setupDone(): string {
    const steps = this.profile.steps;
    return steps.length > 0 ? steps[steps.length - 1]!.id : LEASE_STAGE_ID;
  }

  private tg: TrafficGenerator | null = null;

  /**
   * The run's traffic generator: one driver (the testbed's `tg.type`) on the
   * TG's connection, made on first use; the teardown cleans it up, before
   * anything else it undoes.
   */
  async trafficGenerator(): Promise<TrafficGenerator> {
    if (this.tg) return this.tg;
    const hooks = { note: (l: string) => this.note(l), version: (tg: string) => (this.data.versions = { ...this.data.versions, tg }) };
    const tg = trafficGenerator(await this.session.connect('tg'), this.tb, this.config.runId, this.transcript, hooks);
    this.tg = tg;
    this.teardown.defer('traffic generator', () => tg.cleanup());
    return tg;
  }

  private lease: Lease | null = null;

  /** The lab's lease (lab-lease.ts): taken here, or (`run --pool`) adopted from the run; from then on every command is fenced by it. */
  private async takeLease(): Promise<void> {
    const pooled = this.config.lease;
    const holder = { session: this.session, tb: this.tb, runId: this.config.runId, teardown: this.teardown, note: (l: string) => this.note(l) };
    this.lease = await holdLabLease({ ...holder, ...(pooled ? { pooled } : {}) });
  }

  /**
   * What the lab runs, read before any step changes it: the profile's version
   * requirements (KNI before DPDK 23.11, ...) are judged on it, and the stages
   * that follow are blocked, not failed, on a lab that cannot meet them. Hugepages a daemon of this lab is still giving back are awaited.
   */
  private async preflight(): Promise<void> {
    const v = await read.versions(this.session, ['host']);
    this.data.versions = { ...this.data.versions, ...v };
    const blocked = unmet(this.profile.requires, this.capabilities());
    if (blocked) {
      this.note(`the ${this.profile.name} profile cannot run on this lab: ${blocked}`);
      return;
    }
    await awaitExitingLabHolders(this.session.shell('host'), this.tb, this.profile, (waited) => this.note(`preflight: ${waited}`));
    // A generator that cannot serve the run (not listening, another API, its ports held) stops it before any step changes the lab.
    if (this.tb.tg.type === 'trex') await (await this.trafficGenerator()).reach?.();
    // The DUT host's hardware as the profile needs it (dutlab doctor's probes): a lab that cannot work stops here, before any step.
    const found = await probeDutHost(this.session.shell('host'), { tb: this.tb, profile: this.profile });
    for (const f of found.filter((x) => x.status === 'warn')) this.note(`preflight: [host] ${f.id}: ${f.evidence} (fix: ${f.fix})`);
    const failed = found.filter((x) => x.status === 'fail');
    if (failed.length > 0) throw new PreflightError(`the lab is not ready: ${failed.map((f) => `[host] ${f.id}: ${f.evidence} (fix: ${f.fix})`).join('; ')}`);
  }

  private setupBegun = false;

  /**
   * A step of the setup. The first one begins the setup: from then on the
   * setup's undo is a fixture of the run, and so is the evidence read before
   * it (versions, the logs of what the run started); a step that fails
   * half-way is undone too.
   */
  private async runStep(step: StepDef): Promise<void> {
    if (!this.setupBegun) {
      this.setupBegun = true;
      this.teardown.defer('setup', () => this.session.teardown());
      this.teardown.defer('logs', () => this.collectEvidence());
    }
    await this.session.runStep(step);
  }

  // ---- the stage engine ------------------------------------------------------

  /** Why a stage cannot run, or null: the whole suite blocked, a requirement unmet, or the first stage it needs that did not pass. */
  reasonNotToRun(stage: Stage): { status: 'skipped' | 'blocked'; reason: string } | null {
    if (this.data.aborted) return { status: 'skipped', reason: `skipped: the run was ${this.data.aborted}` };
    if (this.data.blocked) return { status: 'blocked', reason: this.data.blocked };
    const blocked = unmet(stage.requires ?? [], this.capabilities());
    if (blocked) return { status: 'blocked', reason: blocked };
    // The profile's own requirements, once the preflight has read the versions they bound.
    const preflight = this.data.cases.find((s) => s.id === PREFLIGHT_STAGE_ID);
    const profileBlocked = preflight?.status === 'passed' ? unmet(this.profile.requires, this.capabilities()) : null;
    if (profileBlocked) return { status: 'blocked', reason: profileBlocked };
    for (const need of stage.needs) {
      const rec = this.data.cases.find((s) => s.id === need);
      if (!rec) return { status: 'skipped', reason: `skipped: "${need}" did not run` };
      if (rec.status === 'blocked') return { status: 'blocked', reason: `${rec.message} (needed by way of "${rec.name}")` };
      if (rec.status === 'failed') return { status: 'skipped', reason: `skipped: "${rec.name}" failed` };
      if (rec.status === 'skipped') return { status: 'skipped', reason: `skipped: "${rec.name}" was skipped` };
    }
    return null;
  }

  /** Runs a stage, recording its outcome. Returns why it did not run, or throws the stage's error. */
  async runStage(stage: Stage): Promise<{ status: 'skipped' | 'blocked'; reason: string } | null> {
    const started = Date.now();
    const not = this.reasonNotToRun(stage);
    if (not) {
      this.record(stage, not.status, Date.now() - started, undefined, not.reason);
      return not;
    }
    try {
      this.lease?.confirmNext(); // the stage's first command on the lab asks the DUT host whether the lab is still this run's
      await stage.run();
      this.record(stage, 'passed', Date.now() - started);
      return null;
    } catch (err) {
      this.record(stage, 'failed', Date.now() - started, failureKind(err), errorMessage(err));
      throw err;
    }
  }

  private record(stage: Stage, status: CaseStatus, durationMs: number, kind?: FailureKind, message?: string): void {
    const outcome: CaseOutcome = {
      id: stage.id,
      name: stage.title,
      suite: this.meta.name,
      group: stage.group,
      status,
      ...(kind ? { kind } : {}),
      ...(message ? { message } : {}),
      durationMs,
    };
    this.data.cases.push(outcome);
    this.save();
  }

  /** The suite's result so far, for a person (or a test) watching the run: the CLI reads it from the reporter. */
  save(): void {
    writeFileSync(join(this.dir, 'progress.json'), JSON.stringify(this.data, null, 2));
  }

  // ---- the end -----------------------------------------------------------------

  /**
   * The testbed run's local hook (`--hook-before-traffic`: fault injection,
   * debugging), for a suite to call just before its traffic. Noted in the
   * transcript; an interrupted run kills it.
   */
  async runHookBeforeTraffic(): Promise<void> {
    const line = this.config.beforeTraffic;
    if (!line) return;
    this.transcript.note('local', `hook before-traffic: ${line}`);
    this.hook = new LocalShell('local', this.transcript);
    try {
      await this.hook.run(line, { timeoutMs: 60_000 });
    } finally {
      this.hook = null;
    }
  }

  /**
   * A signal: stop what runs (the local hook at once; commands in flight
   * are waited for, briefly), start nothing new but the teardown, and tear
   * down. The stages still to come are skipped with the reason.
   */
  async abort(signal: string): Promise<void> {
    if (this.data.aborted) return this.finish();
    this.data.aborted = `interrupted by ${signal}`;
    this.note(`the run was ${this.data.aborted}: the teardown ran, and the stages still to come were skipped`);
    this.save();
    this.hook?.killAll();
    await this.session.stop(this.data.aborted);
    await this.finish();
  }

  private finishing: Promise<void> | null = null;

  /** Always runs, once, whoever calls it first (the suite's afterAll or an abort): every fixture undone, last first. */
  finish(): Promise<void> {
    this.finishing ??= this.doFinish();
    return this.finishing;
  }

  /** The capability matrix of the run, judged on what the lab offered and the versions it read. */
  matrix(stages: readonly Stage[]): MatrixRow[] {
    const caps = this.capabilities();
    const row = (req: Requirement, neededBy: string): MatrixRow => ({ ...requirementRow(req, caps), neededBy });
    return [
      ...this.meta.requires.map((r) => row(r, `suite ${this.meta.name}`)),
      ...this.profile.requires.map((r) => row(r, `profile ${this.profile.name}`)),
      ...stages.flatMap((s) => (s.requires ?? []).map((r) => row(r, `${s.group === 'setup' ? 'step' : 'case'} ${s.id}`))),
    ];
  }

  private async doFinish(): Promise<void> {
    try {
      // A lab this run lost is its new holder's: nothing of it is undone from then on, only the connections closed.
      this.data.teardownProblems.push(...(await tearDownHolding(this.teardown, this.lease, (l) => this.note(l))));
      if (this.lease?.lost) this.data.cases.push(leaseLostCase(this.meta.name, this.lease.lost));
    } finally {
      this.data.finishedAt = new Date().toISOString();
      this.save();
    }
  }

  /** Versions and logs for the report, read before the setup is undone. */
  private async collectEvidence(): Promise<string[]> {
    // The host's were read by the preflight, if it ran: the guest's kernel is what is left to read.
    const preflown = this.data.cases.some((s) => s.id === PREFLIGHT_STAGE_ID && s.status === 'passed');
    const roles = preflown ? (['guest'] as const) : (['host', 'guest'] as const);
    this.data.versions = { ...this.data.versions, ...(await read.versions(this.session, roles).catch(() => ({}))) };
    const problems = await this.session.collectLogs(join(this.dir, 'logs'));
    if (this.session.vmConsoleLog) this.note(`the VM's serial console: ${this.meta.name}/logs/${this.session.vmConsoleLog}`);
    await this.collectOvsLogs();
    return problems;
  }

  private async collectOvsLogs(): Promise<void> {
    if (!this.session.connected('host')) return;
    for (const name of ['ovs-vswitchd.log', 'ovsdb-server.log']) {
      const remote = `${this.tb.paths.ovsLogDir}/${name}`;
      const exists = await this.session
        .shell('host')
        .run(`test -f ${shq(remote)}`, { okExitCodes: [0, 1] })
        .catch(() => null);
      if (exists?.exitCode === 0)
        await this.session
          .shell('host')
          .get(remote, join(this.dir, 'logs', `host-${name}`))
          .catch(() => undefined);
    }
  }
}
