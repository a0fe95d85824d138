// One run per lab: a lock directory on the DUT host. A run refreshes it while
// it lives; a lock nobody refreshed for ttlSeconds belongs to a dead run and expires.
import { LockError } from '../errors.js';
import { shq } from '../transport/quote.js';
import type { Shell } from '../transport/shell.js';

export class LabLock {
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly shell: Shell,
    private readonly path: string,
    private readonly ttlSeconds: number,
    private readonly owner: string,
  ) {}

  /** Takes the lock, or throws LockError naming who holds it. Returns a note when a stale lock was taken over. */
  async acquire(): Promise<string | null> {
    const lock = shq(this.path);
    const owner = `${lock}/owner`;
    const me = shq(`${this.owner} ${new Date().toISOString()}`);
    const script = [
      `if mkdir ${lock} 2>/dev/null; then echo ${me} > ${owner}; echo acquired; exit 0; fi`,
      `age=$(( $(date +%s) - $(stat -c %Y ${owner} 2>/dev/null || echo 0) ))`,
      `if [ "$age" -gt ${this.ttlSeconds} ]; then echo "stale: $(cat ${owner} 2>/dev/null), not refreshed for $age s"; rm -rf ${lock}; mkdir ${lock} && echo ${me} > ${owner} && exit 0; fi`,
      `echo "held by $(cat ${owner} 2>/dev/null || echo 'an unknown run'), refreshed $age s ago"; exit 3`,
    ].join('\n');
    const r = await this.shell.run(script, { okExitCodes: [0, 3] });
    if (r.exitCode === 3) throw new LockError(`the lab is in use: lock ${this.path} ${r.stdout.trim()}; it expires ${this.ttlSeconds} s after its run stops refreshing it`);
    this.timer = setInterval(() => void this.refresh(), Math.max(1000, (this.ttlSeconds * 1000) / 3));
    this.timer.unref();
    const stale = /^stale: (.*)$/m.exec(r.stdout);
    return stale ? `took over an expired lock (${stale[1]})` : null;
  }

  private async refresh(): Promise<void> {
    await this.shell.run(`touch ${shq(`${this.path}/owner`)}`, { okExitCodes: [0, 1] }).catch(() => undefined);
  }

  async release(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    const owner = shq(`${this.path}/owner`);
    await this.shell.run(`if [ "$(cut -d' ' -f1 ${owner} 2>/dev/null)" = ${shq(this.owner)} ]; then rm -rf ${shq(this.path)}; fi`, { okExitCodes: [0, 1] });
  }
}
