// The virtual DUT and its generator on CPUs of their own (lab up --pin): the
// switch (ovs-vswitchd, every thread; the guest's forwarding runs in the
// softirqs of the CPU that hands it frames, the switch's) on CPU 0, the
// generator and its captures (the testbed's tg.cpus, taskset -c) on the rest.
// npm run bench:throughput -- --pinning measures what that buys.
import { cpus } from 'node:os';
import type { LocalShell } from '../transport/local.js';

export interface Pinning {
  /** taskset CPU lists. */
  switch: string;
  generator: string;
}

/**
 * How the lab's tcpreplay paces its frames (the testbed's tg.timer): by
 * nanosleep, not tcpreplay's default gettimeofday loop, which spins a CPU per
 * stream. The lab's generator shares its two CPUs with the switch: a spinning
 * one takes the switch's CPU and, in a VM with a CPU quota (this box), spends
 * it, and the hypervisor then stops both for 100 ms at a time (steal time).
 */
export const LAB_TG_TIMER = 'nano';

/** The split of this box's CPUs, or why it cannot be made. */
export function pinningFor(cpuCount = cpus().length): Pinning {
  if (cpuCount < 2) throw new Error(`--pin: this box has ${cpuCount} CPU; the switch and the generator need one each`);
  return { switch: '0', generator: cpuCount === 2 ? '1' : `1-${cpuCount - 1}` };
}

/** Pins every thread of the switch's process (threads it makes later inherit its CPUs). */
export async function pinSwitch(sh: LocalShell, pid: number, p: Pinning): Promise<void> {
  if (!Number.isInteger(pid) || pid < 1) throw new Error(`pin: ${pid} is not a pid`);
  await sh.run(`taskset -a -p -c ${p.switch} ${pid} >/dev/null`);
}
