import { switchPortNames } from '../../testbed/topology.js';
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

/**
 * What a run records of a daemon it started: its pid and start time (field 22
 * of /proc/PID/stat), in the lab's work dir. Only a daemon so recorded is
 * the harness's own to stop; anything else a pidfile names is another's.
 */
export const startedRecord = (workDir: string, name: string): string => `${workDir}/${name}.started`;

/** Writes the record of the daemon the pidfile names (run right after it started). */
export function recordStarted(pidfile: string, record: string): Cmd {
  return { line: `p=$(cat ${shq(pidfile)}) && echo "$p $(sed 's/^.*) //' /proc/$p/stat | cut -d' ' -f20)" > ${shq(record)}` };
}

/** Exit code of a stop refused because the pidfile names a live process the harness did not start. */
export const FOREIGN_EXIT = 3;

/**
 * Stops the daemon a pidfile names only if this harness started it (the
 * record's pid and start time): then kill -9 and the pidfile and record go.
 * A live process it did not start is left running with its pidfile, named
 * (exit 3); a pidfile naming no live process is stale and goes.
 */
export function stopOwnByPidfile(pidfile: string, record: string): Cmd {
  const [f, r] = [shq(pidfile), shq(record)];
  return {
    line:
      `p=$(cat ${f} 2>/dev/null); if [ -n "$p" ] && [ -e /proc/$p/stat ]; then ` +
      `st=$(sed 's/^.*) //' /proc/$p/stat | cut -d' ' -f20); ` +
      `if [ "$(cat ${r} 2>/dev/null)" = "$p $st" ]; then kill -9 "$p"; rm -f ${f} ${r}; ` +
      `else echo "foreign pid $p: $(tr '\\0' ' ' < /proc/$p/cmdline | cut -c1-200)"; exit ${FOREIGN_EXIT}; fi; ` +
      `else rm -f ${f} ${r}; fi`,
    okExitCodes: [0, 1],
  };
}

/** Exit code of a bridge left alone because it holds ports the testbed does not name. */
export const FOREIGN_BRIDGE_EXIT = 4;

/**
 * Deletes the testbed's bridge a previous run left, and only that: a bridge of
 * that name holding ports the testbed does not name (a management bridge
 * called br0) is someone else's, left as it is and named (exit 4). The
 * preflight refuses it first; `run --pool` cleans before it checks.
 */
export function delOwnBridge(c: StepContext): Cmd {
  const vsctl = t(c, 'ovs-vsctl');
  const br = shq(c.tb.bridge);
  const named = switchPortNames(c.tb)
    .map((name) => `-e ${shq(name)}`)
    .join(' ');
  return host(
    c,
    `${vsctl} br-exists ${br}; e=$?; if [ $e = 0 ]; then others=$(${vsctl} list-ports ${br} | grep -vxF ${named} | tr '\\n' ' '); ` +
      `if [ -n "$others" ]; then echo "bridge ${c.tb.bridge} holds ports the testbed does not name: $others"; exit ${FOREIGN_BRIDGE_EXIT}; fi; ` +
      `${vsctl} --no-wait del-br ${br}; elif [ $e != 2 ]; then exit $e; fi`,
  );
}

/** What to do about a bridge of the testbed's name that is not the lab's. */
export const foreignBridgeFix = (bridge: string): string =>
  `give the testbed a bridge of dutlab's own (bridge: dutlab-br0), or, if it is yours to lose, remove it yourself (ovs-vsctl del-br ${bridge})`;
