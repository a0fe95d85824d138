// The traffic-generator drivers by the testbed's `tg.type` (tg.ts says what a driver is).
import type { Testbed } from '../testbed/schema.js';
import type { Shell } from '../transport/shell.js';
import type { CapturingTrafficGenerator, MeasuringTrafficGenerator } from './tg.js';
import { LinuxTrafficGenerator } from './tg-linux.js';

/** The drivers by the testbed's `tg.type`. */
const DRIVERS = {
  linux: (shell: Shell, tb: Testbed, runId: string) => new LinuxTrafficGenerator(shell, tb, runId),
} satisfies Record<Testbed['tg']['type'], (shell: Shell, tb: Testbed, runId: string) => CapturingTrafficGenerator & MeasuringTrafficGenerator>;

/** A traffic generator, both faces: what the engine hands a suite (LabRun.trafficGenerator()). */
export type TrafficGenerator = CapturingTrafficGenerator & MeasuringTrafficGenerator;

/** The traffic generator the testbed names (`tg.type`), on the TG's shell. */
export function trafficGenerator(shell: Shell, tb: Testbed, runId: string): TrafficGenerator {
  return DRIVERS[tb.tg.type](shell, tb, runId);
}
