// The virtual profile builds the guide's setup on the virtual lab, reads every
// state back through the parsers, and a 1,000-packet stream crosses it.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { virtual } from '../../lib/profiles/virtual.profile.js';
import * as read from '../../lib/scenario/readback.js';
import { Session } from '../../lib/scenario/session.js';
import { expectedPorts, expectedVeths, sysctlExpected } from '../../lib/profiles/expected.js';
import { loadTestbed } from '../../lib/testbed/load.js';
import { flowsOf } from '../../lib/testbed/rules.js';
import { topologyOf } from '../../lib/testbed/topology.js';
import type { Testbed } from '../../lib/testbed/schema.js';
import { readPcap, writeStreamPcap } from '../../lib/traffic/pcap.js';
import { streamFromTestbed } from '../../lib/traffic/stream.js';
import { LinuxTrafficGenerator } from '../../lib/traffic/tg-linux.js';
import { verifyCapture } from '../../lib/verify/packets.js';
import {
  checkDefaultRoute,
  checkFlowsInstalled,
  checkGuestIfaces,
  checkGuestLinks,
  checkOvsShow,
  checkStaticArp,
  checkSysctl,
} from '../../lib/verify/state.js';
import { labDown, labUp } from '../../lib/vlab/lab.js';
import { pcapFrames } from '../../lib/traffic/pcap.js';

const ID = 'scn';
let tb: Testbed;
let session: Session;
const dir = mkdtempSync(join(tmpdir(), 'dutlab-scn-'));

beforeAll(async () => {
  const lab = await labUp({ id: ID });
  tb = loadTestbed(lab.testbedFile);
  session = new Session(tb, virtual);
}, 120_000);

afterAll(async () => {
  await session?.teardown();
  await session?.close();
  await labDown({ id: ID });
  rmSync(dir, { recursive: true, force: true });
});

describe('virtual profile on the virtual lab', () => {
  it('builds the setup, step by step in the guide order', async () => {
    for (const step of virtual.steps) await session.runStep(step);
  });

  it('reads back the bridge and its ports', async () => {
    const show = await read.ovsShow(session);
    expect(checkOvsShow(show, 'br0', 'netdev', expectedPorts(tb, virtual))).toEqual([]);
    expect(show.bridges[0]!.ports.map((p) => p.name).sort()).toEqual(['br0', 'port16', 'port17', 'port32', 'port33']);
  });

  it('reads back the two flows', async () => {
    const flows = await read.flows(session);
    expect(checkFlowsInstalled(flows, flowsOf(tb))).toEqual([]);
    expect(flows.map((f) => `${f.match} ${f.actions}`)).toEqual([
      'ip,in_port=16,nw_src=1.1.1.1,nw_dst=6.6.6.2 output:32',
      'ip,in_port=33,nw_src=1.1.1.1,nw_dst=6.6.6.2 output:17',
    ]);
  });

  it('reads back the guest interfaces, sysctl, route and ARP entry', async () => {
    const vEths = expectedVeths(tb);
    expect(checkGuestIfaces(await read.guestIfconfig(session), vEths)).toEqual([]);
    expect(checkGuestLinks(await read.guestAddresses(session), vEths)).toEqual([]);
    expect(checkSysctl(await read.guestSysctl(session), sysctlExpected(topologyOf(tb)))).toEqual([]);
    expect(checkDefaultRoute(await read.guestRoutes(session), '3.3.3.2', 'vEth_port33')).toEqual([]);
    expect(checkStaticArp(await read.guestNeighbours(session), '3.3.3.2', 'DE:AD:BE:EF:CA:FE', 'vEth_port33')).toEqual([]);
  });

  it('sends a 1,000-packet stream through the guest and verifies every packet, 0 lost', async () => {
    await session.connect('tg');
    const tg = new LinuxTrafficGenerator(session.shell('tg'), tb, 'itest');
    const stream = streamFromTestbed(tb, 77, { count: 1000, rate: 2000 });
    const tx = join(dir, 'tx.pcap');
    const rx = join(dir, 'rx.pcap');
    writeStreamPcap(tx, stream);
    await tg.prepare();
    // The one capturing call; the readings around the TG's own are the caller's (here: in order, nothing else).
    const order: string[] = [];
    const note = (what: string) => async () => void order.push(what);
    const r = await tg.sendAndCapture({
      pcap: tx,
      packets: stream.count,
      rate: stream.rate,
      into: { rx, tx: join(dir, 'tx-capture.pcap') },
      around: { before: { first: note('before.first'), last: note('before.last') }, after: { first: note('after.first'), last: note('after.last') } },
    });
    await tg.cleanup();
    expect(order).toEqual(['before.first', 'before.last', 'after.first', 'after.last']);
    const { sent, counters } = r;
    const { before, after } = counters;
    expect(sent).toMatchObject({ packetsSent: 1000, failed: 0 });
    const v = await verifyCapture(pcapFrames(rx), { stream, dstMac: tb.gateway.mac, srcMac: topologyOf(tb).vmEgress.mac, lossTolerance: 0, maxProblems: 5 });
    expect(v).toMatchObject({ ok: true, sent: 1000, received: 1000, lost: 0, duplicated: 0, reordered: 0, mismatched: 0 });
    expect(after.ports.tg0!.txPackets - before.ports.tg0!.txPackets).toBe(1000);
    expect(after.ports.tg1!.rxPackets - before.ports.tg1!.rxPackets).toBe(1000);
    expect(await readPcap(join(dir, 'tx-capture.pcap'), () => undefined)).toEqual({ packets: 1000 });
  }, 60_000);

  it('teardown leaves the guest and the switch as it found them', async () => {
    expect(await session.teardown()).toEqual([]);
    expect((await read.ovsShow(session)).bridges).toEqual([]);
    expect((await read.guestRoutes(session)).filter((r) => r.dst === 'default')).toEqual([]);
    expect((await read.guestNeighbours(session)).filter((n) => n.ip === '3.3.3.2')).toEqual([]);
    const ifs = await read.guestIfconfig(session);
    expect(ifs.find((i) => i.name === 'vEth_port32')!.inet).toBeUndefined();
  });
});
