// The TRex driver on the virtual lab: the PVP suite and a throughput search
// run through TRex's stateless API (tg.type: trex) against a server that
// speaks it in the TG's namespace and sends and captures on the TG's real
// ports (tests/helpers/trex-lab-server.ts), with real OVS and guest counters.
// The PVP suite's checks are the same as with the linux driver; the search
// finds a guest shaped to a known rate.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseDocument } from 'yaml';
import { loadRun } from '../../lib/report/history.js';
import { throughputOf } from '../../lib/suite/throughput/result.js';
import { loadTestbed } from '../../lib/testbed/load.js';
import { topologyOf } from '../../lib/testbed/topology.js';
import { labDown, labUp, type LabState } from '../../lib/vlab/lab.js';
import { waitUntil } from '../../lib/wait.js';
import type { TrialResult } from '../../lib/traffic/tg.js';
import { dutlabRun } from '../helpers/cli.js';
import { PROBE } from '../suites/latency-probe.values.js';
import { guestForwardRule, labOf } from '../helpers/faults.js';

const ROOT = new URL('../..', import.meta.url).pathname;
const ID = 'trex';
let lab: LabState;
let testbed: string;
const reports = mkdtempSync(join(tmpdir(), 'dutlab-trex-'));

/** The lab's testbed with a TRex TG (ports 0 and 1 the TG's two ports), and quick searches. */
function withTrex(testbedFile: string, pcapDir: string, port: number): string {
  const doc = parseDocument(readFileSync(testbedFile, 'utf8'));
  doc.setIn(['tg'], { type: 'trex', trex: { server: { address: '127.0.0.1', port }, ports: { transmit: 0, receive: 1 }, pcapDir } });
  const goal = { relativeWidth: 0.2, initialTrialS: 0.5, finalTrialS: 1, durationSumS: 2 };
  doc.setIn(['throughput', 'ndr'], goal);
  doc.setIn(['throughput', 'pdr'], goal);
  doc.setIn(['throughput', 'maxSearchS'], 60);
  return doc.toString();
}

const servers: ChildProcess[] = [];

/** A server on the TG, as TRex would run: in its namespace, on its loopback, on its two ports. */
async function startServer(port: number, extra: string[] = []): Promise<void> {
  const t = topologyOf(loadTestbed(testbed));
  const args = [
    '--listen',
    String(port),
    '--port',
    `0=${t.tgTx}`,
    '--port',
    `1=${t.tgRx}`,
    '--work',
    join(lab.stateDir, `trex-server-${port}`),
    '--parent',
    String(process.pid),
    ...extra,
  ];
  const server = spawn(
    'ip',
    ['netns', 'exec', lab.namespaces.tg, process.execPath, '--import', 'tsx', join(ROOT, 'tests/helpers/trex-lab-server.ts'), ...args],
    {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  servers.push(server);
  let said = '';
  server.stdout!.on('data', (d: Buffer) => (said += d.toString()));
  server.stderr!.on('data', (d: Buffer) => (said += d.toString()));
  const listening = () => said.includes(`listening on tcp://127.0.0.1:${port}`) || (server.exitCode !== null && Promise.reject(new Error(said)));
  await waitUntil(`the TRex protocol server to listen on ${port}`, listening, { timeoutMs: 30_000, intervalMs: 100 });
}

beforeAll(async () => {
  lab = await labUp({ id: ID });
  testbed = join(lab.stateDir, 'trex.yaml');
  writeFileSync(testbed, withTrex(lab.testbedFile, join(lab.stateDir, 'trex-pcaps'), 4501));
  await startServer(4501);
}, 150_000);

afterAll(async () => {
  for (const server of servers) {
    if (server.exitCode !== null) continue;
    const gone = new Promise((r) => server.once('close', r));
    server.kill('SIGTERM');
    await gone;
  }
  await labDown({ id: ID });
  rmSync(reports, { recursive: true, force: true });
});

describe('the TRex driver on the virtual lab', () => {
  it("runs the PVP suite through TRex's API: its checks unchanged, every call in the transcript, the ports given back", async () => {
    const r = await dutlabRun(['--testbed', testbed, '--profile', 'virtual', '--suite', 'pvp'], reports);
    expect(r.exitCode, r.stderr).toBe(0);
    const cases = r.summary.cases;
    for (const id of ['check.packets', 'check.counters']) expect(cases.find((c) => c.id === id)?.status, id).toBe('passed');
    const log = readFileSync(join(reports, r.summary.runId, 'pvp', 'transcripts', 'trex.log'), 'utf8');
    for (const method of ['api_sync_v2', 'acquire', 'capture', 'push_remote', 'get_port_stats', 'release'])
      expect(log, method).toMatch(new RegExp(`"method":"${method}"`));
    expect(log).not.toMatch(/"force":true/);
    // The captures are TRex's, written here as the run's pcaps; nothing of the run is left on the TG.
    expect(existsSync(join(reports, r.summary.runId, 'pvp', 'rx.pcap'))).toBe(true);
    expect((await execa('ls', ['-A', join(lab.stateDir, 'trex-pcaps')], { reject: false })).stdout).toBe('');
  }, 180_000);

  it('finds a guest shaped to a known rate with a throughput search through TRex', async () => {
    const limitFps = 5000;
    const limit = guestForwardRule(`limit rate over ${limitFps}/second burst 50 packets drop`)(labOf(ID));
    try {
      const r = await dutlabRun(['--testbed', testbed, '--profile', 'virtual', '--suite', 'throughput', '--hook-before-traffic', limit], reports);
      expect(r.exitCode, r.stderr).toBe(0);
      const ndr = loadRun(r.summary.runId, reports)
        .run.suites.filter((x) => x.suite === 'throughput')
        .flatMap(throughputOf)[0]!
        .goals.find((g) => g.goal === 'NDR')!;
      expect(ndr.lowerBound).toBeGreaterThan(limitFps * 0.75);
      expect(ndr.lowerBound).toBeLessThan(limitFps * 1.1);
    } finally {
      await execa('ip', ['netns', 'exec', labOf(ID).ns('guest'), 'nft', 'delete', 'table', 'ip', 'dutlab_fault'], { reject: false });
    }
  }, 180_000);

  it('stops with exit 2 naming the user who holds a TRex port: it never takes one by force', async () => {
    await startServer(4502, ['--owner', '1=alice']);
    const held = join(lab.stateDir, 'trex-held.yaml');
    writeFileSync(held, withTrex(lab.testbedFile, join(lab.stateDir, 'trex-pcaps'), 4502));
    const r = await dutlabRun(['--testbed', held, '--profile', 'virtual', '--suite', 'pvp'], reports);
    expect(r.exitCode, r.stderr).toBe(2);
    expect(r.summary.cases.find((c) => c.id === 'traffic.prepare')).toMatchObject({
      status: 'failed',
      kind: 'infra',
      message: expect.stringContaining("TRex port 1 (the receive port) is held by 'alice': dutlab never takes a port by force"),
    });
  }, 120_000);

  it("measures a latency stream's one-way latency through TRex's flow statistics when a suite asks for it", async () => {
    const r = await dutlabRun(['--testbed', testbed, '--profile', 'virtual', '--suites-dir', join(ROOT, 'tests/suites'), '--suite', 'latency-probe'], reports);
    expect(r.exitCode, r.stderr).toBe(0);
    const progress = JSON.parse(readFileSync(join(reports, r.summary.runId, 'latency-probe', 'progress.json'), 'utf8')) as { measured: TrialResult };
    const t = progress.measured;
    const l = t.latency!;
    const asked = PROBE.latency.rate * PROBE.durationS;
    // The latency stream is counted apart from the load: the load is what was asked of it.
    expect(t.sent).toBeGreaterThan(PROBE.rate * PROBE.durationS * 0.9);
    expect(t.sent).toBeLessThanOrEqual(PROBE.rate * PROBE.durationS * 1.06);
    expect(l.streamId).toBe(7);
    expect(l.sent).toBeGreaterThan(asked * 0.9);
    expect(l.received).toBe(l.sent);
    expect([l.lost, l.duplicated]).toEqual([0, 0]);
    expect(l.minUs).toBeGreaterThan(0);
    expect(l.minUs).toBeLessThanOrEqual(l.avgUs);
    expect(l.avgUs).toBeLessThanOrEqual(l.maxUs);
    expect(l.p50Us!).toBeLessThanOrEqual(l.p99Us!);
    expect(l.histogram.reduce((n, b) => n + b.count, 0)).toBe(l.received);
    const log = readFileSync(join(reports, r.summary.runId, 'latency-probe', 'transcripts', 'trex.log'), 'utf8');
    expect(log).toMatch(/"flow_stats":\{"enabled":true,"rule_type":"latency","stream_id":7\}/);
    expect(log).toMatch(/"method":"get_pgid_stats","params":\{"pgids":\[7\]/);
  }, 120_000);
});
