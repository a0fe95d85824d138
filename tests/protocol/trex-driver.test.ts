// The TRex driver against the protocol stand-in with its wire (trex-server.ts,
// trex-wire.ts): what a real TRex does that the virtual lab's software TRex
// cannot show (a NIC's RX filter, hardware flow statistics' refusal in
// service mode), and what the driver must do about every point of it. Each
// case fails on a driver that sends frames with TRex's MACs, leaves the
// receive port filtering, captures outside service mode, reads latency
// before TRex folded it or takes er.drp for the loss.
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { failureKind } from '../../lib/errors.js';
import { loadTestbed } from '../../lib/testbed/load.js';
import type { Testbed } from '../../lib/testbed/schema.js';
import { readPcap, writeStreamPcap } from '../../lib/traffic/pcap.js';
import { streamFromTestbed } from '../../lib/traffic/stream.js';
import { streamDstMac } from '../../lib/testbed/topology.js';
import { TrexTrafficGenerator } from '../../lib/traffic/trex/driver.js';
import { MAX_LATENCY_PPS, trexUser } from '../../lib/traffic/trex/streams.js';
import { LocalShell } from '../../lib/transport/local.js';
import { fixturePath } from '../helpers/fixtures.js';
import { TrexProtocolServer, type TrexServerOptions } from '../helpers/trex-server.js';
import { addWire, type WireOptions } from '../helpers/trex-wire.js';

const dir = mkdtempSync(join(tmpdir(), 'dutlab-trex-driver-'));
const closers: Array<() => Promise<void> | void> = [];
afterAll(async () => {
  for (const c of closers.reverse()) await c();
  rmSync(dir, { recursive: true, force: true });
});

const base = loadTestbed(fixturePath('testbeds/virtual.yaml'));
const GATEWAY = base.gateway.mac.toLowerCase();

/** The TG's shell as the driver sees one: commands run here, and its forward reaches the stand-in directly. */
class TgShell extends LocalShell {
  forwardOut(address: string, port: number) {
    return Promise.resolve(connect(port, address));
  }
}

interface Bench {
  tg: TrexTrafficGenerator;
  server: TrexProtocolServer;
  wire: ReturnType<typeof addWire>;
  notes: string[];
  versions: string[];
  tb: Testbed;
  pcap: string;
  captures: { rx: string; tx: string };
}

let n = 0;
async function bench(o: { server?: TrexServerOptions; wire?: Partial<WireOptions> } = {}): Promise<Bench> {
  const server = await new TrexProtocolServer(o.server ?? {}).start();
  const at = join(dir, `b${++n}`);
  const tb: Testbed = {
    ...base,
    tg: {
      ...base.tg,
      type: 'trex',
      trex: { server: { address: '127.0.0.1', port: server.tcpPort }, ports: { transmit: 0, receive: 1 }, pcapDir: join(at, 'pcaps'), callTimeoutMs: 2000 },
    },
  };
  const wire = addWire(server, { dutMac: streamDstMac(tb), returnMac: GATEWAY, ...o.wire });
  const notes: string[] = [];
  const versions: string[] = [];
  const tg = new TrexTrafficGenerator(new TgShell('tg'), tb, `run-${n}`, undefined, { note: (l) => notes.push(l), version: (v) => versions.push(v) });
  closers.push(
    () => server.close(),
    () => tg.cleanup(),
  );
  const pcap = join(at, 'stream.pcap');
  mkdirSync(at, { recursive: true });
  writeStreamPcap(pcap, streamFromTestbed(tb, 42, { count: 50 }));
  return { tg, server, wire, notes, versions, tb, pcap, captures: { rx: join(at, 'rx.pcap'), tx: join(at, 'tx.pcap') } };
}

const countIn = async (file: string) => (await readPcap(file, () => undefined)).packets;
const sent = (b: Bench) => b.server.received.map((r) => r.method);

describe('the TRex driver against what a real TRex does', () => {
  it("sends the suite's frames with their own MACs (stream flags 3, push_remote's count bits 31 and 30)", async () => {
    const b = await bench();
    await b.tg.prepare();
    const r = await b.tg.sendAndCapture({ pcap: b.pcap, packets: 50, rate: 10_000, into: b.captures });
    expect(r.sent.packetsSent).toBe(50);
    expect(b.wire.seen.delivered).toBe(50);
    expect([...b.wire.seen.sentMacs]).toEqual([
      `${b.tb.traffic.srcMac.replaceAll(':', '').toLowerCase()}>${streamDstMac(b.tb).replaceAll(':', '').toLowerCase()}`,
    ]);
    await b.tg.prepareTrials(b.pcap, 50);
    const t = await b.tg.measure({ rate: 1000, durationS: 1, frame: 64 });
    expect(t.received).toBe(t.sent);
  });

  it('makes the receive port promiscuous for the run (a NIC takes only frames to its own MAC) and puts it back as found', async () => {
    const b = await bench({ wire: { rxFilter: true } });
    await b.tg.prepare();
    await b.tg.sendAndCapture({ pcap: b.pcap, packets: 50, rate: 10_000, into: b.captures });
    expect(await countIn(b.captures.rx)).toBe(50);
    await b.tg.cleanup();
    expect(b.server.modes.get(1)!.promiscuous).toBe(false);
    // Found promiscuous: left so, and said.
    const c = await bench({ wire: { rxFilter: true }, server: { promiscuous: [1] } });
    await c.tg.prepare();
    await c.tg.cleanup();
    expect(c.server.modes.get(1)!.promiscuous).toBe(true);
    expect(c.notes.join('\n')).toContain('TRex port 1 (the receive port) was promiscuous already: it stays so after the run');
  });

  it('captures in service mode only, turns it off (the capture removed first) before any measuring, and never leaves it on', async () => {
    const b = await bench({ wire: { hwFlowStats: true } });
    await b.tg.prepare();
    await b.tg.sendAndCapture({ pcap: b.pcap, packets: 50, rate: 10_000, into: b.captures });
    // What TRex sent is in the TX capture: it was in service mode.
    expect(await countIn(b.captures.tx)).toBe(50);
    expect([...b.server.modes.values()].map((m) => m.service)).toEqual([false, false]);
    const calls = sent(b);
    expect(calls.lastIndexOf('service')).toBeGreaterThan(calls.lastIndexOf('capture'));
    // Latency with flow statistics, refused by a NIC's TRex while a port is in service mode, now runs.
    await b.tg.prepareTrials(b.pcap, 50);
    const t = await b.tg.measure({ rate: 1000, durationS: 1, frame: 64, latency: { streamId: 7, rate: 100 } });
    expect(t.latency!.sent).toBe(100);
  });

  it("counts what service mode itself sends (TRex answering ARP) as TRex's own frames, not the stream's", async () => {
    const b = await bench({ wire: { arpRequests: 2 } });
    await b.tg.prepare();
    const r = await b.tg.sendAndCapture({ pcap: b.pcap, packets: 50, rate: 10_000, into: b.captures });
    expect(r.sent.packetsSent).toBe(50);
    expect(r.sent.raw).toBe("TRex port 0: opackets grew by 52, 2 of them TRex's own (service mode: not the stream's)");
    // Both in the TX capture, where the suite's counter check finds them as foreign frames.
    const arps: number[] = [];
    await readPcap(b.captures.tx, (d) => void (d.readUInt16BE(12) === 0x0806 && arps.push(1)));
    expect(arps).toHaveLength(2);
  });

  it('names ports another user left in service mode, and turns it off', async () => {
    const b = await bench({ server: { service: [0] } });
    await b.tg.prepare();
    expect(b.notes.join('\n')).toContain('TRex port 0 (the transmit port) was left in service mode by an earlier user: turned off');
    expect(b.server.modes.get(0)!.service).toBe(false);
  });

  it("reads latency once TRex folded it, lost as sent - received (er.drp counts gaps only), TRex's average named as TRex's", async () => {
    const b = await bench({ wire: { tailLoss: 3 } });
    await b.tg.prepareTrials(b.pcap, 50);
    const t = await b.tg.measure({ rate: 1000, durationS: 1, frame: 64, latency: { streamId: 7, rate: 100 } });
    const l = t.latency!;
    expect(l).toMatchObject({ streamId: 7, sent: 100, received: 97, lost: 3, minUs: 10, maxUs: 40, avgIs: 'trex-filtered' });
    expect(l.invalid).toBeUndefined();
    // The pg_id is the run's own, not the suite's 7: pg_ids are the server's, shared by its users.
    const pgids = b.server.received.filter((r) => r.method === 'get_pgid_stats').map((r) => (r.params.pgids as number[])[0]);
    expect(pgids.length).toBeGreaterThanOrEqual(2);
    expect(pgids[0]).not.toBe(7);
  });

  it('says "not measured" of a latency period TRex never folded, never a figure', async () => {
    const b = await bench({ wire: { neverFolds: true } });
    await b.tg.prepareTrials(b.pcap, 50);
    const l = (await b.tg.measure({ rate: 1000, durationS: 1, frame: 64, latency: { streamId: 7, rate: 100 } })).latency!;
    expect(l.invalid).toMatch(/^not measured: TRex folded no latency period of the stream \(total_max 0\)/);
  });

  it("refuses a latency stream faster than TRex's RX core handles", async () => {
    const b = await bench();
    await b.tg.prepareTrials(b.pcap, 50);
    const err = await b.tg.measure({ rate: 1000, durationS: 1, frame: 64, latency: { streamId: 7, rate: MAX_LATENCY_PPS + 1 } }).catch((e: unknown) => e);
    expect(failureKind(err)).toBe('infra');
    expect(String(err)).toContain(`TRex's RX core handles about ${MAX_LATENCY_PPS}`);
  });

  it("flags a trial where TRex erred or ran out of CPU as the generator's", async () => {
    const b = await bench({ wire: { oerrorsPerStream: 5, cpu: 99 } });
    await b.tg.prepareTrials(b.pcap, 50);
    const t = await b.tg.measure({ rate: 1000, durationS: 1, frame: 64 });
    expect(t.generatorShort).toBe(true);
    expect(t.generatorNote).toBe("the generator fell behind or erred: TRex port 0's oerrors grew by 5, TRex's CPU at 99 %");
  });

  it("a pcap TRex cannot read (answered OK, nothing sent) is the generator's failure, never a DUT that lost it all", async () => {
    const b = await bench();
    await b.tg.prepare();
    // The pcap goes where the driver puts it, and is gone before TRex reads it.
    const shell = (b.tg as unknown as { shell: LocalShell }).shell;
    shell.put = async () => undefined;
    const err = await b.tg.sendAndCapture({ pcap: b.pcap, packets: 50, rate: 10_000, into: b.captures }).catch((e: unknown) => e);
    expect(failureKind(err)).toBe('infra');
    expect(String(err)).toMatch(/sent nothing of \S+ \(push_remote answered OK; TRex could not read the pcap/);
    // Its capture removed, service mode off, whatever happened.
    expect(b.wire.captures.size).toBe(0);
    expect([...b.server.modes.values()].map((m) => m.service)).toEqual([false, false]);
  });

  it("asks get_port_status with block: false, records TRex's version, removes its streams before it gives the ports back", async () => {
    const b = await bench();
    await b.tg.prepareTrials(b.pcap, 50);
    await b.tg.measure({ rate: 1000, durationS: 1, frame: 64 });
    await b.tg.cleanup();
    const status = b.server.received.filter((r) => r.method === 'get_port_status');
    expect(status.length).toBeGreaterThan(0);
    for (const s of status) expect(s.params.block).toBe(false);
    expect(b.versions).toEqual(['TRex v3.08 (STL)']);
    const calls = sent(b);
    expect(calls.lastIndexOf('remove_all_streams')).toBeLessThan(calls.indexOf('release'));
    expect(b.server.ownerOf(0)).toBeUndefined();
    // One TRex user per controller, whatever the run.
    expect(b.server.received.find((r) => r.method === 'acquire')!.params.user).toBe(trexUser());
  });

  it("never takes back a port held by another user; its own controller's user only with the lease's proof", async () => {
    const b = await bench({ server: { owners: { 1: 'alice' } } });
    const err = await b.tg.prepare().catch((e: unknown) => e);
    expect(String(err)).toContain("TRex port 1 (the receive port) is held by 'alice': dutlab never takes a port by force");
    expect(b.server.received.some((r) => r.method === 'acquire' && r.params.force === true)).toBe(false);
    const c = await bench({ server: { owners: { 0: trexUser() } } });
    await c.tg.prepare();
    expect(c.notes[0]).toMatch(/^TRex port 0 \(the transmit port\) was still held by '[^']+', this controller's TRex user: taken back/);
  });
});
