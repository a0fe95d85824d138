import { shq } from '../../transport/quote.js';
import type { Cmd, Profile, StepContext } from '../profile.js';

export const t = (c: StepContext, tool: Parameters<Profile['tool']>[0]) => c.profile.tool(tool);
export const host = (c: StepContext, line: string, extra: Partial<Cmd> = {}): Cmd => ({ line, ...c.profile.hostContext(c.tb), ...extra });

/** The guide's `pkill -9 ovs`, done by pidfile: kill only a process that is what the pidfile says. */
export function killByPidfile(pidfile: string, comm: string): Cmd {
  return {
    line: `p=$(cat ${shq(pidfile)} 2>/dev/null) && [ "$(cat /proc/$p/comm 2>/dev/null)" = ${shq(comm)} ] && kill -9 "$p"; rm -f ${shq(pidfile)}`,
    okExitCodes: [0, 1],
  };
}

/** Stops the process a pidfile names if it is what it should be (TERM, then KILL after 5 s), and removes the pidfile. */
export function stopByPidfile(pidfile: string, comm: string): Cmd {
  const f = shq(pidfile);
  return {
    line:
      `p=$(cat ${f} 2>/dev/null); if [ -n "$p" ] && [ "$(cat /proc/$p/comm 2>/dev/null)" = ${shq(comm)} ]; then kill "$p"; i=0; ` +
      `while kill -0 "$p" 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i+1)); done; kill -9 "$p" 2>/dev/null; fi; rm -f ${f}`,
    okExitCodes: [0, 1],
    timeoutMs: 15_000,
  };
}
