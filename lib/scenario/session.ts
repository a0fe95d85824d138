// One run's hold on the lab: its connections, the processes it started, the
// values it captured, and what must be undone. Teardown always runs and
// leaves the lab as the run found it, pytest-fixture style.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { AbortedError, CommandError, ConnectionError, errorMessage, LeaseLostError, VmError } from '../errors.js';
import { parseDmesg } from '../parsers/dmesg.js';
import type { HostRole, Testbed } from '../testbed/schema.js';
import { topologyOf, type Topology } from '../testbed/topology.js';
import { shq } from '../transport/quote.js';
import type { BackgroundProcess, CommandOptions, CommandResult, Shell, StartOptions } from '../transport/shell.js';
import { SshShell } from '../transport/ssh.js';
import type { Transcript } from '../transport/transcript.js';
import { VM_PROCESS, type Cmd, type Profile, type StepContext, type StepDef, type StepRuntime } from '../profiles/profile.js';
import { orOnTimeout, waitUntil } from '../wait.js';
import { Teardown } from './teardown.js';
import { VmWatch, type StartedVm } from './vm-watch.js';

export type Connector = (role: HostRole, session: Session, signal?: AbortSignal) => Promise<Shell>;

export interface SessionOptions {
  transcript?: Transcript;
  connect?: Connector;
  log?: (line: string) => void;
  warn?: (line: string) => void;
  /** The testbed's ports by role, where the run has them already. */
  topology?: Topology;
  /** The run's fixtures: the session's connections become one at the first connection made (else the caller closes them). */
  fixtures?: Teardown;
}

interface Started extends StartedVm {
  name: string;
  pidfile?: string;
}

/** Connects by SSH as the testbed says; the guest through the host when it has `jump: host`. */
export const sshConnector =
  (transcript?: Transcript, warn?: (line: string) => void): Connector =>
  async (role, session, signal) => {
    const spec = session.tb.hosts[role];
    const jump = 'jump' in spec && spec.jump === 'host' ? session.sshShell('host') : undefined;
    return SshShell.connect(role, spec, { transcript, jump, workDir: session.tb.paths.workDir, warn, ...(signal ? { signal } : {}) });
  };

export class Session implements StepRuntime {
  readonly values = new Map<string, string>();
  readonly dmesgBaseline = new Map<HostRole, number | undefined>();
  /** The file name collectLogs gave the VM's serial console, if the run started a VM. */
  vmConsoleLog: string | undefined;
  private readonly shells = new Map<HostRole, Shell>();
  private readonly started: Started[] = [];
  /** The steps' undo commands, and the processes the run started: undone in that order, each last first. */
  private readonly stepUndos = new Teardown();
  private readonly processes = new Teardown();
  private readonly connector: Connector;
  private readonly fixtures: Teardown | undefined;
  readonly note: (line: string) => void;
  readonly topology: Topology;
  private current: Testbed;

  /** The testbed, with the build the lab runs now (useBuild). */
  get tb(): Testbed {
    return this.current;
  }

  constructor(
    tb: Testbed,
    readonly profile: Profile,
    options: SessionOptions = {},
  ) {
    this.current = tb;
    this.connector = options.connect ?? sshConnector(options.transcript, options.warn);
    this.topology = options.topology ?? topologyOf(tb);
    this.fixtures = options.fixtures;
    this.note = options.warn ?? (() => undefined);
  }

  /** The build the lab runs from here on (a restart to another, `dutlab gate`'s upgrade step): the steps run after this, and their undo, are its. */
  useBuild(name: string): void {
    if (!(name in this.current.ovsDpdk.builds)) throw new Error(`build ${name} is not one of ovsDpdk.builds`);
    this.current = { ...this.current, ovsDpdk: { ...this.current.ovsDpdk, build: name } };
  }

  context(): StepContext {
    return {
      tb: this.tb,
      topology: this.topology,
      profile: this.profile,
      value: (name) => {
        const v = this.values.get(name);
        if (v === undefined) throw new Error(`${name} has not been captured yet`);
        return v;
      },
    };
  }

  async connect(role: HostRole): Promise<Shell> {
    const existing = this.shells.get(role);
    if (existing) return existing;
    if (this.stopping && !this.tearingDown) throw new AbortedError(this.stopping);
    const inner = role === 'guest' && this.vm() ? await this.connectWatchingVm(role) : await this.connector(role, this);
    // Through the guest's connection, a lost connection or a timeout is first checked against the VM: a QEMU that died says so.
    const shell = new GatedShell(inner, this.gate, role === 'guest' ? (e) => this.vmWatch.explainGuestError(e) : undefined);
    if (this.shells.size === 0) this.fixtures?.defer('connections', () => this.close());
    this.shells.set(role, shell);
    for (const hook of this.connectHooks) await hook(role, shell);
    return shell;
  }

  private readonly connectHooks: Array<(role: HostRole, shell: Shell) => Promise<void>> = [];

  /** Runs `hook` on every host connected now and on each one connected later (the lab lease's sweep of a dead run's leftovers). */
  async onEveryConnection(hook: (role: HostRole, shell: Shell) => Promise<void>): Promise<void> {
    this.connectHooks.push(hook);
    for (const [role, shell] of this.shells) await hook(role, shell);
  }

  /** The VM this run started, if any. */
  private vm(): Started | undefined {
    return this.started.find((s) => s.name === VM_PROCESS);
  }

  private readonly vmWatch = new VmWatch({
    vm: () => this.vm(),
    shell: (role) => this.shell(role),
    connected: (role) => this.connected(role),
  });

  /**
   * Connects to the guest while its QEMU boots: a QEMU that dies is reported
   * within a second or two, with how it ended and its console's tail, not
   * after the connect timeout; a guest that never answers is reported with
   * the console's tail too.
   */
  private async connectWatchingVm(role: HostRole): Promise<Shell> {
    await this.waitConsoleReady();
    const abort = new AbortController();
    const pending = this.connector(role, this, abort.signal);
    let watching = true;
    const watch = (async (): Promise<never> => {
      for (;;) {
        await sleep(1000);
        if (!watching) return new Promise<never>(() => undefined);
        const gone = await this.vmGone();
        if (gone) throw new VmError(`the guest did not come up: ${gone}`);
      }
    })();
    try {
      return await Promise.race([pending, watch]);
    } catch (e) {
      abort.abort();
      pending.then(
        (s) => s.close(),
        () => undefined,
      );
      if (e instanceof VmError) throw e;
      throw new VmError(`the guest did not answer SSH (QEMU is running): ${errorMessage(e)}; ${await this.consoleTail()}`, { cause: e });
    } finally {
      watching = false;
      watch.catch(() => undefined);
    }
  }

  /**
   * Where the testbed names the line the guest prints once its sshd listens
   * (vm.readyLine), waits for it on the console (bounded by the guest's
   * connect timeout) while watching QEMU, before the first SSH attempt.
   */
  private async waitConsoleReady(): Promise<void> {
    const vm = this.vm();
    const line = this.tb.vm?.readyLine;
    if (!vm?.console || !line) return;
    const probe = `grep -qF -- ${shq(line)} ${shq(vm.console)}`;
    const said = async () => {
      if ((await this.shell(vm.role).run(probe, { okExitCodes: [0, 1, 2] })).exitCode === 0) return true;
      const gone = await this.vmGone();
      if (gone) throw new VmError(`the guest did not come up: ${gone}`);
      return false;
    };
    const timeoutMs = this.tb.hosts.guest.connectTimeoutMs;
    await waitUntil(`the guest's console to say ${JSON.stringify(line)}`, said, { timeoutMs, intervalMs: 250 }).catch(
      orOnTimeout(async () => {
        throw new VmError(
          `the guest did not come up: its console did not say ${JSON.stringify(line)} within ${timeoutMs / 1000} s (QEMU is running); ${await this.consoleTail()}`,
        );
      }),
    );
  }

  /** How the run's QEMU ended, with its console's tail; null while it runs (or when the run started none). */
  vmGone(): Promise<string | null> {
    return this.vmWatch.gone();
  }

  private consoleTail(): Promise<string> {
    return this.vmWatch.consoleTail();
  }

  /**
   * The run was interrupted: no new command starts except the teardown's.
   * Waits (bounded) for the commands in flight, so that none of them lands
   * after the teardown has undone what it set up.
   */
  async stop(reason: string, waitMs = 15_000): Promise<void> {
    this.stopping ??= reason;
    const inflight = [...this.gate.inflight];
    if (inflight.length === 0) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([Promise.allSettled(inflight), new Promise((r) => (timer = setTimeout(r, waitMs)))]);
    clearTimeout(timer);
  }

  private stopping: string | null = null;
  private tearingDown = false;
  private readonly gate: Gate = {
    inflight: new Set(),
    refuse: () => (this.stopping && !this.tearingDown ? new AbortedError(this.stopping) : null),
  };

  /** From now on every command on the lab first asks `fence` (the lease: is the lab still this run's?), the teardown's too. */
  fenceWith(fence: () => Promise<void>): void {
    this.gate.fence = fence;
  }

  /** A role's shell without the gate: the lease's own commands, which the fence must not wait for. */
  ungated(role: HostRole): Shell {
    const s = this.shell(role);
    return s instanceof GatedShell ? s.inner : s;
  }

  /** The SSH connection under a role's shell (the jump to the guest). */
  sshShell(role: HostRole): SshShell {
    const inner = this.ungated(role);
    if (!(inner instanceof SshShell)) throw new ConnectionError(role, 'not an SSH connection: cannot jump through it');
    return inner;
  }

  shell(role: HostRole): Shell {
    const s = this.shells.get(role);
    if (!s) throw new ConnectionError(role, 'not connected (an earlier step that connects it did not run)');
    return s;
  }

  /** Runs a step's commands in order, then its read-back. */
  async runStep(step: StepDef): Promise<void> {
    const ctx = this.context();
    // Registered as the step begins to change the lab: a step that failed half-way is undone too (its undo is idempotent).
    if (step.undo) {
      const cmds = step.undo(ctx);
      this.stepUndos.defer(step.id, () => this.undoStep(step.host, step.id, cmds, step.undone && (() => step.undone!(this))));
    }
    const outputs: string[] = [];
    try {
      for (const c of step.commands(ctx)) {
        const shell = await this.connect(step.host);
        outputs.push(c.background ? await this.startBackground(step.host, shell, c) : (await this.runCmd(shell, c)).stdout);
      }
    } catch (err) {
      // The step may know what the lab said of it; if asking fails, the failure itself is the answer.
      throw step.explain ? await step.explain(this, err).catch(() => err) : err;
    }
    await step.after?.(this, outputs);
  }

  runCmd(shell: Shell, c: Cmd): Promise<CommandResult> {
    return shell.run(c.line, {
      ...(c.cwd ? { cwd: c.cwd } : {}),
      ...(c.env ? { env: c.env } : {}),
      ...(c.okExitCodes ? { okExitCodes: c.okExitCodes } : {}),
      ...(c.timeoutMs ? { timeoutMs: c.timeoutMs } : {}),
    });
  }

  private async startBackground(role: HostRole, shell: Shell, c: Cmd): Promise<string> {
    const bg = c.background!;
    const proc = await shell.start(c.line, {
      ...(c.cwd ? { cwd: c.cwd } : {}),
      ...(c.env ? { env: c.env } : {}),
      ...(bg.reportExit ? { reportExit: true } : {}),
      logFile: `${this.tb.paths.workDir}/${bg.name}.log`,
    });
    const started: Started = { role, name: bg.name, proc, ...(bg.pidfile ? { pidfile: bg.pidfile } : {}), ...(bg.console ? { console: bg.console } : {}) };
    this.started.push(started);
    this.processes.defer(bg.name, () => this.stopStarted(started));
    // The next run's clean step kills it by this pidfile.
    if (bg.pidfile) await shell.run(`echo ${proc.pid} > ${shq(bg.pidfile)}`);
    if (bg.ready) await this.waitReady(role, shell, bg.name, bg.ready, proc);
    return '';
  }

  private async waitReady(role: HostRole, shell: Shell, name: string, probe: string, proc: BackgroundProcess): Promise<void> {
    const ready = async () => {
      if ((await shell.run(probe, { okExitCodes: [0, 1, 2] })).exitCode === 0) return true;
      if (!(await proc.isAlive())) throw new CommandError(role, name, null, null, `${name} exited while starting; its log ends:\n${await proc.logTail(10)}`);
      return false;
    };
    await waitUntil(`${name} to be ready (${probe})`, ready, { timeoutMs: 30_000, intervalMs: 200 }).catch(
      orOnTimeout(async () => {
        throw new CommandError(role, name, null, null, `${name} did not become ready (${probe}) within 30 s; its log ends:\n${await proc.logTail(10)}`);
      }),
    );
  }

  /** Where each kernel log stands now, so that later checks read only what the run caused. */
  async takeDmesgBaseline(): Promise<void> {
    for (const role of ['host', 'guest'] as const) {
      const out = (await this.shell(role).run('dmesg | tail -n 1', { okExitCodes: [0, 1] })).stdout;
      this.dmesgBaseline.set(role, parseDmesg(out).at(-1)?.time);
    }
  }

  connected(role: HostRole): boolean {
    const s = this.shells.get(role);
    const inner = s instanceof GatedShell ? s.inner : s;
    return inner !== undefined && (!(inner instanceof SshShell) || inner.isConnected);
  }

  /** Copies the logs of the processes the run started into the run directory. */
  async collectLogs(dir: string): Promise<string[]> {
    mkdirSync(dir, { recursive: true });
    const problems: string[] = [];
    for (const s of this.started) {
      if (!this.connected(s.role)) continue;
      await this.shell(s.role)
        .get(s.proc.logFile, join(dir, `${s.role}-${s.name}.log`))
        .catch((e: unknown) => problems.push(`log of ${s.name}: ${errorMessage(e)}`));
      if (s.console)
        await this.shell(s.role)
          .get(s.console, join(dir, `${s.role}-${s.name}-console.log`))
          .catch((e: unknown) => problems.push(`console log of ${s.name}: ${errorMessage(e)}`));
      // The VM's console: a file of its own (-serial file:), or QEMU's output (the guide's -nographic).
      if (s.name === VM_PROCESS) this.vmConsoleLog = `${s.role}-${s.name}${s.console ? '-console' : ''}.log`;
    }
    return problems;
  }

  /** Undoes what the run did: every step's undo, last first, then every process it started, last first. Never throws: returns what it could not undo. */
  async teardown(): Promise<string[]> {
    this.tearingDown = true;
    const problems = [...(await this.stepUndos.run()), ...(await this.processes.run())];
    this.started.length = 0;
    return problems;
  }

  private async undoStep(role: HostRole, title: string, cmds: Cmd[], undone?: () => Promise<string>): Promise<string[]> {
    if (!this.connected(role)) return [`${title}: not undone, ${role} is not connected`];
    const problems: string[] = [];
    for (const c of cmds) await this.runCmd(this.shell(role), c).catch((e: unknown) => problems.push(`${title}: ${errorMessage(e)}`));
    if (undone)
      await undone()
        .then((line) => this.note(`teardown: ${line}`))
        .catch((e: unknown) => problems.push(`${title}: ${errorMessage(e)}`));
    return problems;
  }

  private async stopStarted(s: Started): Promise<string[]> {
    if (!this.connected(s.role)) return [`${s.name} (pid ${s.proc.pid} on ${s.role}) not stopped: ${s.role} is not connected`];
    await s.proc.stop('SIGTERM', 3000);
    // Its log was copied into the run directory by collectLogs; the lab keeps no file of the run.
    await this.shell(s.role).run(['rm', '-f', ...[s.proc.logFile, s.pidfile, s.console].filter((f) => f !== undefined).map(shq)].join(' '));
    return [];
  }

  async close(): Promise<void> {
    for (const role of ['guest', 'tg', 'host'] as const)
      await this.shells
        .get(role)
        ?.close()
        .catch(() => undefined);
    this.shells.clear();
  }
}

interface Gate {
  inflight: Set<Promise<unknown>>;
  /** The error to refuse a new command with, or null. */
  refuse(): Error | null;
  /** Throws when the lab is no longer the run's (lease.ts); asked before every command. */
  fence?: () => Promise<void>;
}

/** A shell that refuses new commands once the run is interrupted (but for the teardown's), and knows what is in flight. */
class GatedShell implements Shell {
  constructor(
    readonly inner: Shell,
    private readonly gate: Gate,
    /** Turns an error into a better-explained one (the guest's connection lost because its VM died). */
    private readonly explain?: (e: unknown) => Promise<unknown>,
  ) {}

  get host(): string {
    return this.inner.host;
  }

  private track<T>(work: () => Promise<T>): Promise<T> {
    const refused = this.gate.refuse();
    if (refused) return Promise.reject(refused);
    const explain = this.explain;
    const fence = this.gate.fence;
    const fenced = fence ? () => fence().then(work) : work;
    const p = explain
      ? fenced().catch(async (e: unknown) => {
          throw e instanceof LeaseLostError ? e : await explain(e);
        })
      : fenced();
    this.gate.inflight.add(p);
    const done = () => this.gate.inflight.delete(p);
    p.then(done, done);
    return p;
  }

  run(command: string, options?: CommandOptions): Promise<CommandResult> {
    return this.track(() => this.inner.run(command, options));
  }

  start(command: string, options?: StartOptions): Promise<BackgroundProcess> {
    return this.track(() => this.inner.start(command, options));
  }

  put(localPath: string, remotePath: string): Promise<void> {
    return this.track(() => this.inner.put(localPath, remotePath));
  }

  get(remotePath: string, localPath: string): Promise<void> {
    return this.track(() => this.inner.get(remotePath, localPath));
  }

  forwardOut(address: string, port: number): Promise<Duplex> {
    const inner = this.inner;
    if (!inner.forwardOut) return Promise.reject(new ConnectionError(this.host, 'not an SSH connection: cannot forward through it'));
    return this.track(() => inner.forwardOut!(address, port));
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}
