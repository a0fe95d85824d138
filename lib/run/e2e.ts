// The main job (`dutlab e2e`): for each profile of the virtual lab, in order,
// its lab up, its default suites run, its lab down, whatever happened; a
// verdict line each at the end. The lab goes down after a signal too.
import { errorMessage } from '../errors.js';
import { EXIT_CODES } from '../report/verdict.js';
import { labDown, labNames, labUp, type Datapath, type GuestKind } from '../vlab/lab.js';
import { runSuites } from './lifecycle.js';
import { onSignals } from './signals.js';

export interface MainJobOptions {
  id: string;
  reports?: string;
  /** Which profiles, in order: virtual, ovs-dpdk. */
  profiles: string[];
  /** The ovs-dpdk profile's guest. */
  guest: GuestKind;
  log: (line: string) => void;
  /** A path as the user opens it. */
  shown: (path: string) => string;
}

/** The lab each profile runs on: the netdev lab for virtual, the DPDK lab (with a namespace or a VM guest) for ovs-dpdk. */
function labsOf(o: MainJobOptions): Record<string, { datapath: Datapath; guest: GuestKind; id: string }> {
  return {
    virtual: { datapath: 'netdev', guest: 'netns', id: o.id },
    'ovs-dpdk': { datapath: 'dpdk', guest: o.guest, id: `${o.id}-${o.guest === 'vm' ? 'vm' : 'dpdk'}` },
  };
}

/** Every profile's lab checked before the first comes up: a bad name or an id too long for the DPDK lab's must not be found after a whole profile ran. */
function checkLabs(o: MainJobOptions, labs: ReturnType<typeof labsOf>): void {
  for (const profile of o.profiles) {
    const at = labs[profile];
    if (!at) throw new Error(`e2e runs the virtual lab's profiles (${Object.keys(labs).join(', ')}), not ${JSON.stringify(profile)}`);
    try {
      labNames(at.id);
    } catch (err) {
      throw new Error(`--id ${o.id}: the ${profile} profile's lab would be ${at.id}: ${errorMessage(err)}`);
    }
  }
}

/** Runs the main job; its exit code (the worst of the profiles', 2 when interrupted). */
export async function mainJob(o: MainJobOptions): Promise<number> {
  // A signal while a lab comes up or goes down is noted here, so that the lab still goes down (the run's listener: during a run).
  let interrupted: NodeJS.Signals | null = null;
  const labs = labsOf(o);
  checkLabs(o, labs);
  const stopListening = onSignals({
    first: (sig) => {
      interrupted = sig;
    },
  });
  const lines: string[] = [];
  let code: number = EXIT_CODES.pass;
  try {
    for (const profile of o.profiles) {
      const at = labs[profile]!;
      if (interrupted) break;
      try {
        const lab = await labUp({ id: at.id, datapath: at.datapath, guest: at.guest, log: o.log });
        if (interrupted) throw new Error(`interrupted by ${interrupted} while the virtual lab came up`);
        const s = await runSuites({ testbed: lab.testbedFile, profile, ...(o.reports ? { reportsDir: o.reports } : {}) });
        o.log(`${s.verdict.toUpperCase()} (exit ${s.exitCode}): ${s.reason}`);
        o.log(`report: ${o.shown(s.summaryFile)}`);
        lines.push(`${profile}: ${s.verdict.toUpperCase()} (exit ${s.exitCode}): ${s.reason}; DPDK ${s.versions.dpdk ?? 'unknown'}`);
        code = Math.max(code, s.exitCode);
        if (s.verdict === 'aborted') break;
      } finally {
        await labDown({ id: at.id, log: o.log });
      }
    }
  } finally {
    stopListening();
    for (const l of lines) o.log(l);
  }
  return interrupted ? Math.max(code, EXIT_CODES.aborted) : code;
}
