// One run per lab: a lock directory on the DUT host. A run refreshes it while
// it lives; a lock nobody refreshed for ttlSeconds belongs to a dead run and
// expires. The lock names its owner precisely (controller host name, boot id,
// pid and that process's start time, since a pid alone can be reused), so
// that a run from the same controller can tell at once that the owner is dead
// (killed, or forced out by a second Ctrl-C) and take over without waiting.
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { LockError } from '../errors.js';
import { shq } from '../transport/quote.js';
import { startTimeOf } from '../transport/local.js';
import type { Shell } from '../transport/shell.js';

export interface LockOwner {
  runId: string;
  host: string;
  bootId: string;
  pid: number;
  startTime: string;
}

/** This controller process, as a lock owner. */
export function thisController(runId: string): LockOwner {
  return { runId, host: hostname(), bootId: readBootId(), pid: process.pid, startTime: startTimeOf(process.pid) ?? '?' };
}

function readBootId(): string {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  } catch {
    return '?';
  }
}

/** The owner file's one line: `RUN_ID ISO-TIME host=H boot=B pid=P start=S`. */
export function formatOwner(o: LockOwner): string {
  return `${o.runId} ${new Date().toISOString()} host=${o.host} boot=${o.bootId} pid=${o.pid} start=${o.startTime}`;
}

export function parseOwner(line: string): LockOwner | null {
  const m = /^(\S+) \S+ host=(\S+) boot=(\S+) pid=(\d+) start=(\S+)\s*$/.exec(line.trim());
  return m ? { runId: m[1]!, host: m[2]!, bootId: m[3]!, pid: Number(m[4]), startTime: m[5]! } : null;
}

/** The owner ran on this controller, since its last boot, and that process is gone. */
export function ownerIsDeadHere(o: LockOwner, me: LockOwner): boolean {
  return o.host === me.host && o.bootId === me.bootId && o.bootId !== '?' && startTimeOf(o.pid) !== o.startTime;
}

export class LabLock {
  private timer: NodeJS.Timeout | null = null;
  private readonly me: LockOwner;

  constructor(
    private readonly shell: Shell,
    private readonly path: string,
    private readonly ttlSeconds: number,
    runId: string,
  ) {
    this.me = thisController(runId);
  }

  /** Takes the lock, or throws LockError naming who holds it. Returns a note when a dead run's lock was taken over. */
  async acquire(): Promise<string | null> {
    const lock = shq(this.path);
    const owner = `${lock}/owner`;
    const me = shq(formatOwner(this.me));
    const take = `mkdir ${lock} 2>/dev/null && echo ${me} > ${owner}`;
    const script = [
      `if ${take}; then echo acquired; exit 0; fi`,
      `age=$(( $(date +%s) - $(stat -c %Y ${owner} 2>/dev/null || echo 0) ))`,
      `if [ "$age" -gt ${this.ttlSeconds} ]; then echo "stale: $(cat ${owner} 2>/dev/null), not refreshed for $age s"; rm -rf ${lock}; ${take} && exit 0; fi`,
      `echo "held: $(cat ${owner} 2>/dev/null || echo 'an unknown run')"; echo "age: $age"; exit 3`,
    ].join('\n');
    let r = await this.shell.run(script, { okExitCodes: [0, 3] });
    let note: string | null = null;
    if (r.exitCode === 3) {
      const held = /^held: (.*)$/m.exec(r.stdout)?.[1] ?? '';
      const age = /^age: (\d+)/m.exec(r.stdout)?.[1] ?? '?';
      const holder = parseOwner(held);
      if (!holder || !ownerIsDeadHere(holder, this.me)) {
        throw new LockError(
          `the lab is in use: lock ${this.path} held by ${held}, refreshed ${age} s ago; it expires ${this.ttlSeconds} s after its run stops refreshing it`,
        );
      }
      // Its owner is provably dead (same controller, same boot, that process gone): no need to wait for the TTL.
      r = await this.shell.run(`if [ "$(cat ${owner} 2>/dev/null)" = ${shq(held)} ]; then rm -rf ${lock}; fi; ${take}`, { okExitCodes: [0, 1] });
      if (r.exitCode !== 0) throw new LockError(`the lab is in use: another run took lock ${this.path} while this one took over from dead run ${holder.runId}`);
      note = `took over the lock of run ${holder.runId}, whose process (pid ${holder.pid} on this controller) is gone; the setup's clean steps undo what it left`;
    }
    this.timer = setInterval(() => void this.refresh(), Math.max(1000, (this.ttlSeconds * 1000) / 3));
    this.timer.unref();
    const stale = /^stale: (.*)$/m.exec(r.stdout);
    return stale ? `took over an expired lock (${stale[1]})` : note;
  }

  private async refresh(): Promise<void> {
    await this.shell.run(`touch ${shq(`${this.path}/owner`)}`, { okExitCodes: [0, 1] }).catch(() => undefined);
  }

  async release(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    const owner = shq(`${this.path}/owner`);
    await this.shell.run(`if [ "$(cut -d' ' -f1 ${owner} 2>/dev/null)" = ${shq(this.me.runId)} ]; then rm -rf ${shq(this.path)}; fi`, { okExitCodes: [0, 1] });
  }
}
