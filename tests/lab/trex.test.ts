// The TRex driver against a real TRex: the server built from trex-core's
// sources (../shared/trex), started by `lab up --tg trex` in the TG's
// namespace in software mode on the TG's two veths, the guest a DUT of known
// capacity (5000 frames/s, its bucket sized from TRex's own burst). The PVP
// suite and a throughput search run through it unchanged, on the netdev lab
// and on the DPDK lab; the frames leave with the suite's MACs, the captures
// are full, the ports are left as found; and the generator's faults (a port
// another user holds, what a killed run left, TRex not listening, TRex
// killed mid-search) are the generator's, never the DUT's.
import { spawn } from 'node:child_process';
import { readFileSync, readdirSync, rmSync, writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseDocument } from 'yaml';
import { loadRun } from '../../lib/store/file.js';
import { throughputOf } from '../../lib/results/throughput.js';
import { meanFrame } from '../../lib/testbed/frame-mix.js';
import { pvpMeasured } from '../../lib/results/pvp.js';
import { readPcap } from '../../lib/traffic/pcap.js';
import { flowAt, type FlowFields } from '../../lib/testbed/flows.js';
import { loadTestbed } from '../../lib/testbed/load.js';
import { topologyOf } from '../../lib/testbed/topology.js';
import { PCAP_KEEP_MACS, trexUser } from '../../lib/traffic/trex/streams.js';
import { TrexPorts, TrexRpc } from '../../lib/traffic/trex/rpc.js';
import { TrexProtocolServer } from '../helpers/trex-server.js';
import { addWire } from '../helpers/trex-wire.js';
import type { TrialResult } from '../../lib/traffic/tg.js';
import { labDown, labLeftovers, labStatus, labUp, type LabState } from '../../lib/vlab/lab.js';
import { isAlive } from '../../lib/vlab/procs.js';
import { waitUntil } from '../../lib/wait.js';
import { dutlabRun } from '../helpers/cli.js';
import { labTrex, trexCaptures, trexPorts } from '../helpers/lab-trex.js';
import { PROBE } from '../suites/latency-probe.values.js';

const ROOT = new URL('../..', import.meta.url).pathname;
const CAPACITY = 5000;
let lab: LabState;
let testbed: string;
const reports = mkdtempSync(join(tmpdir(), 'dutlab-trex-'));

/** The lab's testbed with quick searches (and the server's port, where a test moves it). */
function quick(testbedFile: string, into: string, o: { serverPort?: number; noLatency?: boolean } = {}): string {
  const doc = parseDocument(readFileSync(testbedFile, 'utf8'));
  const goal = { relativeWidth: 0.2, initialTrialS: 0.5, finalTrialS: 1, durationSumS: 2 };
  doc.setIn(['throughput', 'ndr'], goal);
  doc.setIn(['throughput', 'pdr'], goal);
  doc.setIn(['throughput', 'maxSearchS'], 60);
  // A TRex that does not listen is found at the call's bound: a short one here.
  if (o.serverPort)
    doc.setIn(['tg', 'trex'], {
      ...(doc.getIn(['tg', 'trex']) as { toJSON(): object }).toJSON(),
      server: { address: '127.0.0.1', port: o.serverPort },
      callTimeoutMs: 3000,
    });
  if (o.noLatency) doc.setIn(['throughput', 'latency', 'loads'], []);
  writeFileSync(into, doc.toString());
  return into;
}

/** The same calls, in order, as a run makes them and as it is refused: each answer or refusal (its code and TRex's words). */
async function script(rpc: TrexRpc): Promise<Array<{ call: string; answer: unknown } | { call: string; error: string }>> {
  const out: Array<{ call: string; answer: unknown } | { call: string; error: string }> = [];
  const ask = async (call: string, params: Record<string, unknown> = {}) => {
    try {
      const answer = await rpc.call(call, params);
      out.push({ call, answer });
      return answer;
    } catch (e) {
      out.push({
        call,
        error: String((e as Error).message).replace(/^.*? refused /, ''),
      });
      return null;
    }
  };
  await ask('get_version');
  await ask('get_port_status', { port_id: 0, block: false });
  const h = (await ask('acquire', { port_id: 0, user: 'twin-a', session_id: 1, force: false })) as string;
  await ask('acquire', { port_id: 0, user: 'twin-b', session_id: 2, force: false });
  await ask('acquire', { port_id: 0, user: 'twin-a', session_id: 3, force: false });
  await ask('acquire', { port_id: 5, user: 'twin-a', session_id: 1, force: false });
  await ask('no_such_method');
  await ask('get_port_stats', { port_id: 0 });
  await ask('service', { handler: h, port_id: 0, enabled: true });
  await ask('get_port_status', { port_id: 0, block: false });
  const c = (await ask('capture', { command: 'start', limit: 10, mode: 'fixed', tx: [0], rx: [], filter: '' })) as { capture_id: number };
  await ask('service', { handler: h, port_id: 0, enabled: false });
  await ask('capture', { command: 'remove', capture_id: c.capture_id });
  await ask('capture', { command: 'remove', capture_id: c.capture_id });
  await ask('service', { handler: h, port_id: 0, enabled: false });
  await ask('set_port_attr', { handler: h, port_id: 0, attr: { promiscuous: { enabled: false } } });
  await ask('service', { handler: 'not-mine', port_id: 0, enabled: true });
  await ask('release', { handler: h, port_id: 0 });
  return out;
}

/** An answer's shape: each field's path and type. */
function shapeOf(v: unknown, at = ''): string[] {
  if (Array.isArray(v)) return [`${at}: array`, ...(v.length > 0 ? shapeOf(v[0], `${at}[]`) : [])];
  if (v !== null && typeof v === 'object') return Object.entries(v).flatMap(([k, x]) => shapeOf(x, `${at}.${k}`));
  return [`${at}: ${typeof v}`];
}
const missingFrom = (sub: string[], of: string[]) => sub.filter((x) => !of.includes(x));

const transcript = (runId: string, suite: string) => readFileSync(join(reports, runId, suite, 'transcripts', 'trex.log'), 'utf8');
const macsOf = async (file: string) => {
  const macs = new Set<string>();
  let n = 0;
  await readPcap(file, (d) => {
    if (d.readUInt16BE(12) !== 0x0800) return;
    n++;
    macs.add(`${d.subarray(6, 12).toString('hex')}>${d.subarray(0, 6).toString('hex')}`);
  });
  return { n, macs: [...macs] };
};

const key = (f: FlowFields) => `${f.srcIp}:${f.srcPort}>${f.dstIp}:${f.dstPort}`;

/** The ports as a run must leave them: nobody's, not in service mode, not promiscuous; no capture on the server. */
async function expectPortsAsFound(): Promise<void> {
  for (const p of await trexPorts(lab)) expect(p).toMatchObject({ owner: '', service: false, promiscuous: false, state: 'IDLE' });
  expect(await trexCaptures(lab)).toEqual([]);
}

beforeAll(async () => {
  lab = await labUp({ id: 'trex', tg: 'trex', capacity: CAPACITY });
  testbed = quick(lab.testbedFile, join(lab.stateDir, 'quick.yaml'));
}, 150_000);

afterAll(async () => {
  await labDown({ id: 'trex' });
  expect(await labLeftovers('trex', lab.processes)).toEqual([]);
  rmSync(reports, { recursive: true, force: true });
});

describe('the TRex driver against a real TRex (netdev lab)', () => {
  it("runs the PVP suite through TRex both ways: the frames leave with the suite's MACs, the captures are full, the ports are left as found", async () => {
    // Both ways: the reverse stream pushed from the receive port, both ports captured each way, each direction judged.
    const both = join(lab.stateDir, 'both.yaml');
    const doc = parseDocument(readFileSync(testbed, 'utf8'));
    doc.setIn(['traffic', 'direction'], 'both');
    writeFileSync(both, doc.toString());
    const r = await dutlabRun(['--testbed', both, '--profile', 'virtual', '--suite', 'pvp'], reports);
    expect(r.exitCode, r.stderr).toBe(0);
    for (const id of ['check.packets', 'check.counters']) expect(r.summary.cases.find((c) => c.id === id)?.status, id).toBe('passed');
    const pvp = loadRun(r.summary.runId, reports).run.suites.map(pvpMeasured).find(Boolean)!;
    expect(pvp.packetsReverse).toMatchObject({ ok: true, lost: 0 });
    expect(pvp.packetsReverse!.received).toBe(pvp.packets!.received);
    expect(pvp.tgSentReverse).toBe(pvp.tgSent);
    expect(r.summary.versions.tg).toBe('TRex v3.08 (STL)');
    const dir = join(reports, r.summary.runId, 'pvp');
    // What the suite built (tx.pcap), what TRex sent (its TX capture) and what reached the guest carry the same MACs.
    const built = await macsOf(join(dir, 'tx.pcap'));
    const sent = await macsOf(join(dir, 'tx-capture.pcap'));
    const arrived = await macsOf(join(dir, 'guest-vEth_port32.pcap'));
    expect(built.macs).toHaveLength(1);
    expect(sent.macs).toEqual(built.macs);
    expect(arrived.macs).toEqual(built.macs);
    // The captures whole: service mode made TRex copy what it sent; the receive port took every frame that came back.
    expect(sent.n).toBe(built.n);
    expect((await macsOf(join(dir, 'rx.pcap'))).n).toBe(built.n);
    const log = transcript(r.summary.runId, 'pvp');
    expect(log).toMatch(/"method":"get_version"/);
    expect(log).toMatch(new RegExp(`"method":"push_remote","params":\\{[^}]*"count":${(PCAP_KEEP_MACS | 1) >>> 0}`));
    expect(log).toMatch(/"method":"push_remote","params":\{[^}]*"port_id":1,/);
    expect(log).toMatch(/"method":"service","params":\{[^}]*"enabled":true/);
    expect(log).toMatch(/"method":"set_port_attr","params":\{[^}]*"port_id":1,"attr":\{"promiscuous":\{"enabled":true\}\}/);
    expect(log).toMatch(/"method":"get_port_status","params":\{[^}]*"block":false/);
    expect(log).not.toMatch(/"method":"get_port_status","params":\{(?![^}]*"block":false)[^}]*\}/);
    expect(log).not.toMatch(/"force":true/);
    expect(log.indexOf('"method":"remove_all_streams"')).toBeLessThan(log.lastIndexOf('"method":"release"'));
    await expectPortsAsFound();
    expect(readdirSync(join(lab.stateDir, 'trex', 'pcaps'))).toEqual([]);
  }, 120_000);

  it("finds the DUT of known capacity with a throughput search through TRex at IMIX, within the search's width", async () => {
    // The capacity is in frames a second whatever their size (an nftables packet limit): IMIX finds it too.
    const file = join(lab.stateDir, 'imix.yaml');
    const doc = parseDocument(readFileSync(testbed, 'utf8'));
    doc.setIn(['throughput', 'frameSizes'], ['imix']);
    writeFileSync(file, doc.toString());
    const r = await dutlabRun(['--testbed', file, '--profile', 'virtual', '--suite', 'throughput'], reports);
    expect(r.exitCode, r.stderr).toBe(0);
    const search = loadRun(r.summary.runId, reports)
      .run.suites.filter((x) => x.suite === 'throughput')
      .flatMap(throughputOf)[0]!;
    expect(search.frame).toBe('imix');
    const ndr = search.goals.find((g) => g.goal === 'NDR')!;
    // The bucket lets through its burst on top of the rate (lib/vlab/capacity.ts): a few % above, in a 1 s trial.
    expect(ndr.lowerBound).toBeGreaterThan(CAPACITY * 0.8);
    expect(ndr.lowerBound).toBeLessThan(CAPACITY * 1.1);
    // L1 bits at IMIX's mean size (353.83 B + 20 B of preamble and gap).
    expect(ndr.lowerBps!.l1).toBeCloseTo(ndr.lowerBound! * (meanFrame('imix') + 20) * 8, 0);
    expect(r.stderr).toMatch(/^dutlab: NDR \(loss 0\) at IMIX: /m);
    // A stream per size, each at its share of a trial's rate (7:4:1), the frames as the suite built them.
    const log = transcript(r.summary.runId, 'throughput');
    expect(log).toMatch(/"method":"add_stream","params":\{.*?"flags":3,/);
    const trial = log.match(/"method":"add_stream","params":\{[^\n]*"stream_id":(1|11|21),[^\n]*/g)!.slice(0, 3);
    const pps = trial.map((l) => Number(/"rate":\{"type":"pps","value":([\d.]+)/.exec(l)![1]));
    expect(pps.map((p) => Math.round((p / pps[2]!) * 100) / 100)).toEqual([7, 4, 1]);
    await expectPortsAsFound();
  }, 180_000);

  it("measures a latency stream as TRex publishes it: once folded, lost as sent - received, TRex's average named as TRex's", async () => {
    const r = await dutlabRun(['--testbed', testbed, '--profile', 'virtual', '--suites-dir', join(ROOT, 'tests/suites'), '--suite', 'latency-probe'], reports);
    expect(r.exitCode, r.stderr).toBe(0);
    const progress = JSON.parse(readFileSync(join(reports, r.summary.runId, 'latency-probe', 'progress.json'), 'utf8')) as { measured: TrialResult };
    const t = progress.measured;
    const l = t.latency!;
    expect(t.sent).toBeGreaterThan(PROBE.rate * PROBE.durationS * 0.9);
    expect(t.sent).toBeLessThanOrEqual(PROBE.rate * PROBE.durationS * 1.06);
    expect(l.sent).toBeGreaterThan(PROBE.latency.rate * PROBE.durationS * 0.9);
    expect(l.lost).toBe(l.sent - l.received);
    expect(l.avgIs).toBe('trex-filtered');
    expect(l.invalid).toBeUndefined();
    expect(l.minUs).toBeGreaterThan(0);
    expect(l.minUs).toBeLessThanOrEqual(l.maxUs);
    expect(l.hdrh).toBeTruthy();
    // Read until two reads a fold apart agreed: at least two reads of the pg_id.
    expect(transcript(r.summary.runId, 'latency-probe').match(/"method":"get_pgid_stats","params":\{"pgids":\[\d+\]/g)!.length).toBeGreaterThanOrEqual(2);
  }, 120_000);

  it('stops before any step changes the DUT host when another user holds a TRex port: exit 2 naming them, nothing taken by force', async () => {
    const rpc = await labTrex(lab);
    const alice = new TrexPorts(rpc, 'alice', 1);
    await alice.acquire({ receive: 1 });
    try {
      const r = await dutlabRun(['--testbed', testbed, '--profile', 'virtual', '--suite', 'pvp'], reports);
      expect(r.exitCode, r.stderr).toBe(2);
      expect(r.summary.cases.find((c) => c.id === 'lab.preflight')).toMatchObject({
        status: 'failed',
        kind: 'infra',
        message: expect.stringContaining("TRex port 1 (the receive port) is held by 'alice': dutlab never takes a port by force"),
      });
      // The setup never began.
      expect(r.summary.cases.filter((c) => c.group === 'setup' && c.status === 'passed').map((c) => c.id)).toEqual(['lab.lock']);
      expect((await trexPorts(lab))[1]!.owner).toBe('alice');
    } finally {
      await alice.release();
      rpc.close();
    }
  }, 120_000);

  it("takes back what a killed run of this controller left (its ports, streams and capture) only under the lab's lease, naming each", async () => {
    // A run killed outright: its ports still held by this controller's TRex user, a capture and a stream left behind.
    const rpc = await labTrex(lab);
    const dead = new TrexPorts(rpc, trexUser(), 99999);
    await dead.acquire({ transmit: 0, receive: 1 });
    const left = await rpc.call<{ capture_id: number }>('capture', { command: 'start', limit: 100, mode: 'fixed', tx: [0], rx: [1], filter: '' });
    rpc.close();
    const r = await dutlabRun(['--testbed', testbed, '--profile', 'virtual', '--suite', 'pvp'], reports);
    expect(r.exitCode, r.stderr).toBe(0);
    const notes = r.summary.notes.join('\n');
    expect(notes).toMatch(
      new RegExp(
        `TRex port 0 \\(the transmit port\\) was still held by '${trexUser()}', this controller's TRex user: taken back \\(this run holds the lab's lease`,
      ),
    );
    expect(notes).toContain(`TRex capture ${left.capture_id} on this lab's ports, left by that run: removed`);
    await expectPortsAsFound();
  }, 120_000);

  it("answers OK to a pcap it cannot read and sends nothing (what the driver's nothing-sent check guards against)", async () => {
    const rpc = await labTrex(lab);
    const ports = new TrexPorts(rpc, 'dutlab-test', 2);
    await ports.acquire({ transmit: 0 });
    try {
      const sent = async () => (await rpc.call<{ opackets: number }>('get_port_stats', { port_id: 0 })).opackets;
      const before = await sent();
      const push = { handler: ports.handler(0), port_id: 0, pcap_filename: join(lab.stateDir, 'trex', 'no-such.pcap'), ipg_usec: 100 };
      await expect(
        rpc.call('push_remote', { ...push, min_ipg_usec: 0, speedup: 1, count: 1, duration: -1, is_dual: false, slave_handler: '' }),
      ).resolves.toEqual({});
      await new Promise((res) => setTimeout(res, 500));
      expect(await sent()).toBe(before);
      await rpc.call('stop_traffic', { handler: ports.handler(0), port_id: 0 });
      await rpc.call('remove_all_streams', { handler: ports.handler(0), port_id: 0 });
    } finally {
      await ports.release();
      rpc.close();
    }
  }, 60_000);

  it('a TRex that does not listen is an infrastructure error found before any step changes the DUT host', async () => {
    const r = await dutlabRun(
      ['--testbed', quick(lab.testbedFile, join(lab.stateDir, 'deaf.yaml'), { serverPort: 4599 }), '--profile', 'virtual', '--suite', 'pvp'],
      reports,
    );
    expect(r.exitCode, r.stderr).toBe(2);
    expect(r.summary.cases.find((c) => c.id === 'lab.preflight')).toMatchObject({
      status: 'failed',
      kind: 'infra',
      message: expect.stringMatching(/TRex on the TG \(127\.0\.0\.1:4599 there\)/),
    });
  }, 60_000);

  it("the protocol stand-in answers as the real TRex does: the same calls, the same answers' shape, the same refusals in the same words", async () => {
    const standIn = await new TrexProtocolServer().start();
    addWire(standIn, { dutMac: '02:00:00:00:00:09', returnMac: '02:00:00:00:00:0a' });
    const fake = new TrexRpc({ endpoint: `tcp://127.0.0.1:${standIn.tcpPort}`, name: 'TRex', callTimeoutMs: 5000 });
    const real = await labTrex(lab);
    await fake.connect();
    try {
      const [a, b] = [await script(real), await script(fake)];
      expect(b.map((x) => x.call)).toEqual(a.map((x) => x.call));
      a.forEach((x, i) => {
        const y = b[i]!;
        if ('error' in x) expect(y, x.call).toEqual(x);
        // Every field the stand-in gives, the real one gives, of the same type (the real one gives more: rates, xstats).
        else expect(missingFrom(shapeOf((y as { answer: unknown }).answer), shapeOf(x.answer)), x.call).toEqual([]);
      });
    } finally {
      real.close();
      fake.close();
      standIn.close();
    }
  }, 60_000);

  it('sends a 100,000-flow profile as one field-engine stream each way: every flow on the wire, in the order the pcap would send them', async () => {
    const N = 100_000;
    const doc = parseDocument(readFileSync(testbed, 'utf8'));
    doc.setIn(['traffic', 'rules'], 'port');
    doc.setIn(['traffic', 'direction'], 'both');
    doc.setIn(['traffic', 'count'], N);
    doc.setIn(['traffic', 'flows'], doc.createNode({ count: N, srcIps: 100, srcPorts: 1000 }, { flow: true }));
    // A load tcpdump keeps up with: no calibration at TRex's top rate, a ceiling of 20 kframes/s, a 5 s warm-up (20 kframes/s).
    doc.setIn(['throughput', 'calibrate'], 'none');
    doc.setIn(['throughput', 'maxRate'], 20_000);
    doc.setIn(['throughput', 'warmUp', 'durationS'], 5);
    doc.setIn(['throughput', 'latency', 'loads'], []);
    const file = join(lab.stateDir, 'flows.yaml');
    writeFileSync(file, doc.toString());
    const tb = loadTestbed(file);
    // What left TRex, seen on the DUT host's ingress port: a known answer that is not TRex's own word.
    const pcap = join(lab.stateDir, 'flows-ingress.pcap');
    const dump = spawn(
      'ip',
      // What comes in only: the reverse stream's return leaves by the same port.
      ['netns', 'exec', lab.namespaces.host, 'tcpdump', '-i', topologyOf(tb).phyIngress.name, '-Q', 'in', '-s', '64', '-B', '32768', '-U', '-w', pcap, 'udp'],
      {
        stdio: ['ignore', 'ignore', 'pipe'],
      },
    );
    let said = '';
    dump.stderr!.on('data', (d: Buffer) => (said += d.toString()));
    try {
      await waitUntil('tcpdump to listen', () => said.includes('listening on'), { timeoutMs: 10_000, intervalMs: 50 });
      const r = await dutlabRun(['--testbed', file, '--profile', 'virtual', '--suite', 'throughput'], reports);
      expect(r.exitCode, r.stderr).toBe(0);
      // One stream per trial and direction, carrying a program: a variable per field that varies, the fastest one's
      // wrap stepping the next (forward: the source port, then the source address; reverse: their mirror images).
      const adds = transcript(r.summary.runId, 'throughput').match(/"method":"add_stream","params":\{[^\n]*/g)!;
      const forward = adds.filter((a) => a.includes('"port_id":0'));
      const reverse = adds.filter((a) => a.includes('"port_id":1'));
      expect(forward.length).toBeGreaterThan(3);
      expect(reverse).toHaveLength(forward.length);
      for (const a of forward) expect(a).toMatch(/"stream_id":1,.*"type":"flow_var","name":"srcPort",.*"next_var":"srcIp".*"type":"fix_checksum_ipv4"/);
      for (const a of reverse) expect(a).toMatch(/"stream_id":1,.*"type":"flow_var","name":"dstPort",.*"next_var":"dstIp".*"type":"fix_checksum_ipv4"/);
      // Each trial counted each way: the reverse stream's return on the transmit port (made promiscuous, and put back).
      const search = loadRun(r.summary.runId, reports).run.suites.flatMap(throughputOf)[0]!;
      expect(search.trials.every((t) => t.directions && t.directions.reverse.sent > 0 && t.directions.reverse.received > 0)).toBe(true);
    } finally {
      dump.kill('SIGINT');
      await new Promise((res) => dump.once('exit', res));
    }
    const base = { srcIp: tb.traffic.srcIp, dstIp: tb.traffic.dstIp, srcPort: tb.traffic.srcPort, dstPort: tb.traffic.dstPort };
    const index = new Map(Array.from({ length: N }, (_, i) => [key(flowAt(base, tb.traffic.flows, i)), i]));
    const seen = new Set<number>();
    let frames = 0;
    let stranger = 0;
    let inOrder = 0;
    let prev = -1;
    await readPcap(pcap, (d) => {
      const i = index.get(key({ srcIp: d.readUInt32BE(26), dstIp: d.readUInt32BE(30), srcPort: d.readUInt16BE(34), dstPort: d.readUInt16BE(36) }));
      frames++;
      if (i === undefined) return void stranger++;
      seen.add(i);
      if (i === (prev + 1) % N) inOrder++;
      prev = i;
    });
    rmSync(pcap, { force: true });
    // Every flow, nothing outside the ranges, and frame after frame the next flow of lib/testbed/flows.ts's order (a trial starts again at flow 0).
    expect(stranger).toBe(0);
    expect(seen.size).toBe(N);
    expect(inOrder / frames).toBeGreaterThan(0.99);
    await expectPortsAsFound();
  }, 240_000);

  // Last on this lab: it kills the lab's TRex.
  it('TRex killed mid-search: exit 2 naming the generator, the report written, nothing of the run left on the lab', async () => {
    const running = dutlabRun(['--testbed', testbed, '--profile', 'virtual', '--suite', 'throughput'], reports);
    const searching = () => {
      const latest = join(reports, 'latest', 'throughput', 'transcripts', 'trex.log');
      try {
        return (readFileSync(latest, 'utf8').match(/"method":"start_traffic"/g)?.length ?? 0) >= 3;
      } catch {
        return false;
      }
    };
    await waitUntil('the search to be under way', searching, { timeoutMs: 90_000, intervalMs: 100 });
    process.kill(lab.trex!.server.pid, 'SIGKILL');
    const r = await running;
    expect(r.exitCode, r.stderr).toBe(2);
    expect(r.summary.verdict).not.toBe('fail');
    const failed = r.summary.cases.filter((c) => c.status === 'failed');
    expect(failed.length).toBeGreaterThan(0);
    for (const c of failed) expect(c, c.id).toMatchObject({ kind: 'infra', message: expect.stringMatching(/TRex on the TG/) });
    expect(readdirSync(join(lab.stateDir, 'trex', 'pcaps'))).toEqual([]);
    expect(isAlive(lab.trex!.server)).toBe(false);
    // The lab names its dead TRex with what it said last.
    const st = await labStatus('trex');
    expect(st.trex).toMatchObject({ version: 'v3.08', alive: false, logTail: expect.stringMatching(/\S/) });
  }, 180_000);
});

describe('the TRex driver against a real TRex (DPDK lab)', () => {
  it('runs the PVP suite and a throughput search through TRex on the DPDK datapath', async () => {
    const dpdk = await labUp({ id: 'trex-dpdk', datapath: 'dpdk', tg: 'trex' });
    try {
      const tb = quick(dpdk.testbedFile, join(dpdk.stateDir, 'quick.yaml'), { noLatency: true });
      const pvp = await dutlabRun(['--testbed', tb, '--profile', 'ovs-dpdk', '--suite', 'pvp'], reports);
      expect(pvp.exitCode, pvp.stderr).toBe(0);
      expect(pvp.summary.packets).toMatchObject({ lost: 0, mismatched: 0 });
      const search = await dutlabRun(['--testbed', tb, '--profile', 'ovs-dpdk', '--suite', 'throughput'], reports);
      expect(search.exitCode, search.stderr).toBe(0);
      const ndr = loadRun(search.summary.runId, reports)
        .run.suites.flatMap(throughputOf)[0]!
        .goals.find((g) => g.goal === 'NDR')!;
      expect(ndr.lowerBound).toBeGreaterThan(0);
    } finally {
      await labDown({ id: 'trex-dpdk' });
    }
    expect(await labLeftovers('trex-dpdk', dpdk.processes)).toEqual([]);
  }, 240_000);
});
