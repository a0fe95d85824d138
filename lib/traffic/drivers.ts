// The traffic-generator drivers by the testbed's `tg.type` (tg.ts says what a driver is).
import type { Testbed } from '../testbed/schema.js';
import type { Shell } from '../transport/shell.js';
import type { Transcript } from '../transport/transcript.js';
import type { CapturingTrafficGenerator, MeasuringTrafficGenerator } from './tg.js';
import { LinuxTrafficGenerator } from './tg-linux.js';
import { type TgHooks, TrexTrafficGenerator } from './trex/driver.js';

type Driver = (shell: Shell, tb: Testbed, runId: string, transcript?: Transcript, hooks?: TgHooks) => CapturingTrafficGenerator & MeasuringTrafficGenerator;

/** The drivers by the testbed's `tg.type`. */
const DRIVERS = {
  linux: (shell, tb, runId) => new LinuxTrafficGenerator(shell, tb, runId),
  trex: (shell, tb, runId, transcript, hooks) => new TrexTrafficGenerator(shell, tb, runId, transcript, hooks),
} satisfies Record<Testbed['tg']['type'], Driver>;

/** A traffic generator, both faces: what the engine hands a suite (LabRun.trafficGenerator()). */
export type TrafficGenerator = CapturingTrafficGenerator & MeasuringTrafficGenerator & { reach?(): Promise<void> };
export type { TgHooks };

/** The traffic generator the testbed names (`tg.type`), on the TG's shell. */
export function trafficGenerator(shell: Shell, tb: Testbed, runId: string, transcript?: Transcript, hooks?: TgHooks): TrafficGenerator {
  return DRIVERS[tb.tg.type](shell, tb, runId, transcript, hooks);
}
