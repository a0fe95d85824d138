// The restart under a steady stream: the stream from the TG through the
// guest, ovs-vswitchd restarted once it flows (lib/profiles/steps/restart.ts:
// as ovs-ctl restart does, to the same build or another), and the stream's
// return judged by its sequence numbers: how long the path stopped
// forwarding (RFC 6201's frame-loss reset time, the longest gap), against
// restart.maxDowntimeMs.
import { join } from 'node:path';
import { CheckFailure } from '../../errors.js';
import { restartSequence } from '../../profiles/steps/restart.js';
import { selectedBuild } from '../../profiles/steps/build.js';
import { downtimeLine, type RestartMeasured } from '../../results/upgrade.js';
import type { LabRun, Stage } from '../../scenario/lab-run.js';
import * as read from '../../scenario/readback.js';
import { writeStreamPcap } from '../../traffic/pcap.js';
import { streamFromTestbed, streamSeed, type StreamSpec } from '../../traffic/stream.js';
import { checkSentAll, steadyStream } from '../steady-stream.js';
import { waitUntil } from '../../wait.js';

export const RESTART_STAGE_ID = 'restart.under-stream';
export const DOWNTIME_CHECK_ID = 'check.downtime';

/** The stream's rate: restart.rate, else traffic.rate. */
export const restartRate = (r: LabRun): number => r.tb.restart.rate ?? r.tb.traffic.rate;

export class RestartTest {
  private readonly stream: StreamSpec;
  private readonly result: RestartMeasured;
  /** The controller's clock when the stream was about to start: the phases are placed from it. */
  private streamStart = 0;

  constructor(private readonly run: LabRun) {
    const r = run.tb.restart;
    const rate = restartRate(run);
    this.stream = streamFromTestbed(run.tb, streamSeed(run.config.runId), { rate, count: Math.round(rate * r.streamS) });
    this.result = {
      kind: 'restart',
      from: selectedBuild(run.tb)?.name ?? null,
      to: r.to ?? selectedBuild(run.tb)?.name ?? null,
      stop: r.stop,
      flowRestoreWait: r.flowRestoreWait,
      rate,
      frames: this.stream.count,
      phases: [],
      maxDowntimeMs: r.maxDowntimeMs,
    };
  }

  private record(part: Partial<RestartMeasured>): void {
    Object.assign(this.result, part);
    this.run.measured(this.result);
  }

  stages(): Stage[] {
    const m = this.result;
    const how = `${m.stop === 'kill' ? 'SIGKILL' : 'ovs-appctl exit'}, ${m.flowRestoreWait ? 'with' : 'without'} flow-restore-wait`;
    const builds = m.from === m.to ? `build ${m.from ?? '(ovsDpdk.vswitchd)'} again` : `build ${m.from} to build ${m.to}`;
    return [
      {
        id: 'restart.prepare',
        title: 'Prepare the traffic generator and the steady stream',
        group: 'traffic',
        needs: [this.run.setupDone],
        run: () => this.prepare(),
      },
      {
        id: RESTART_STAGE_ID,
        title: `Restart ovs-vswitchd (${builds}; ${how}) under ${m.rate} frames/s`,
        group: 'traffic',
        needs: ['restart.prepare'],
        run: () => this.restartUnderStream(),
      },
      {
        id: DOWNTIME_CHECK_ID,
        title: `Downtime: the path forwards again, and stopped for at most ${m.maxDowntimeMs} ms`,
        group: 'checks',
        needs: [RESTART_STAGE_ID],
        run: () => this.checkDowntime(),
      },
    ];
  }

  private async prepare(): Promise<void> {
    await (await this.run.trafficGenerator()).prepare();
    writeStreamPcap(join(this.run.dir, 'tx.pcap'), this.stream);
  }

  /** The stream, with the restart begun once it flows; the restart's error (a build that is not what it claims, a daemon that did not come back) is the stage's. */
  private async restartUnderStream(): Promise<void> {
    const { sent, verdict: v } = await steadyStream(this.run, this.stream, (clock) => {
      this.streamStart = clock.startedAt;
      return this.restartWhenFlowing();
    });
    this.record({ sent: sent.packetsSent, received: v.received, ...(v.gaps ? { gaps: v.gaps } : {}), ...(v.gaps?.toEnd ? { notRecovered: true } : {}) });
    this.run.table(this.phasesTable());
    checkSentAll(sent, this.stream, 'the downtime cannot be read');
  }

  /** Waits until the switch's ingress port has counted startAfterS of the stream, then restarts, step by step, timed. */
  private async restartWhenFlowing(): Promise<void> {
    const s = this.run.session;
    const ingress = this.run.topology.phyIngress;
    const want = Math.round(this.stream.rate * this.run.tb.restart.startAfterS);
    const counted = async () => {
      const ports = await read.ports(s);
      return (ports.get(String(ingress.ofport)) ?? ports.get(ingress.name))?.rxPackets ?? 0;
    };
    const start = await counted();
    await waitUntil(`${want} frames of the stream on ${ingress.name}`, async () => (await counted()) - start >= want, {
      timeoutMs: (this.run.tb.restart.streamS - 1) * 1000,
      intervalMs: 100,
    });
    const to = this.result.to;
    for (const step of restartSequence(this.run.profile) ?? []) {
      // The new build from its start step on: what it starts, reads back and undoes.
      if (step.id === 'host.start-vswitchd-dpdk' && to !== null && to !== this.result.from) s.useBuild(to);
      const t0 = Date.now();
      try {
        await s.runStep(step);
      } finally {
        this.result.phases.push({ step: step.id, startMs: t0 - this.streamStart, ms: Date.now() - t0 });
        this.run.measured(this.result);
      }
    }
  }

  private phasesTable() {
    return {
      title: 'Restart under the stream',
      columns: ['step', 'began (ms into the stream)', 'took (ms)'],
      rows: this.result.phases.map((p) => [p.step, String(p.startMs), String(p.ms)]),
      notes: [
        `from build ${this.result.from ?? '(ovsDpdk.vswitchd)'} to build ${this.result.to ?? '(ovsDpdk.vswitchd)'}; ${this.result.stop}; flow-restore-wait ${this.result.flowRestoreWait}`,
        `downtime: ${downtimeLine(this.result)}`,
        "when each step began is the controller's clock from the moment the generator was told to start: the stream's own first frame may follow it by the generator's start-up",
      ],
    };
  }

  private async checkDowntime(): Promise<void> {
    const m = this.result;
    const g = m.gaps;
    if (!g) throw new Error('the return capture was not read');
    const problems: string[] = [];
    if (m.notRecovered)
      problems.push(
        `the path did not forward again before the stream ended (${g.lost} of ${m.frames} frames lost; the restart began ${m.phases[0]?.startMs ?? '?'} ms into the ${this.run.tb.restart.streamS} s stream)`,
      );
    else if (g.resetTimeMs > m.maxDowntimeMs) problems.push(`${downtimeLine(m)}: above restart.maxDowntimeMs ${m.maxDowntimeMs} ms`);
    CheckFailure.ifAny('downtime', problems, m);
    this.run.note(`restart downtime: ${downtimeLine(m)}`);
  }
}
