// Many flows: the testbed's traffic profile (a flow count over ranges of the
// 5-tuple, IMIX, the rules the lab installs) refused where it cannot work,
// the stream's frames spread over every flow, interleaved, and the return
// capture judged flow by flow: a flow that did not come back is named by its
// 5-tuple, never averaged away among the others.
import { afterAll, describe, expect, it } from 'vitest';
import { parseTestbed } from '../../lib/testbed/load.js';
import { flowsOf, staticMacsOf } from '../../lib/testbed/rules.js';
import { reverseGatewayOf, topologyOf } from '../../lib/testbed/topology.js';
import { captureOf, directionsOf } from '../../lib/suite/pvp/direction.js';
import { virtual } from '../../lib/profiles/virtual.profile.js';
import { hostFlows } from '../../lib/profiles/steps/switch.js';
import { buildFrame, flowFields, flowText, isStreamFrame, reverseRunId, reverseStreamFromTestbed, streamFromTestbed } from '../../lib/traffic/stream.js';
import { coveringPrefix, reverseOf } from '../../lib/testbed/flows.js';
import { parseNeighbours, parseRoutes } from '../../lib/parsers/net.js';
import { guestRouteArp } from '../../lib/profiles/steps/guest-router.js';
import { execa } from 'execa';
import { verifyCapture } from '../../lib/verify/packets.js';
import { pcapFrames } from '../../lib/traffic/pcap.js';
import { flowProgram } from '../../lib/traffic/trex/streams.js';
import { countDatapathFlows, parsePmdStatsShow } from '../../lib/parsers/ovs-dpdk.js';
import { parseDumpFlows, parseFdbShow } from '../../lib/parsers/ovs.js';
import { checkFlowsInstalled, checkReverseRoute, checkStaticMacs, describeFlow } from '../../lib/verify/state.js';
import { expectedMegaflows, needsWarmUp } from '../../lib/suite/throughput/warm-up.js';
import { MINIMAL_TESTBED as MINIMAL, output, testbedProblems } from '../helpers/fixtures.js';
import { EGRESS_MAC, GATEWAY_MAC, TempDir, fixChecksum, pcapBytes, routed, spec } from '../helpers/pcaps.js';

const tmp = new TempDir();
afterAll(() => tmp.remove());

const problemsOf = (text: string) => testbedProblems(text, 'bad.yaml');
const withTraffic = (traffic: string, more = '') => `${MINIMAL}traffic:\n${traffic}\n${more}`;

describe('the traffic profile in the testbed', () => {
  it('reads imix as the field’s 64/570/1518 at 7:4:1, and takes a weighted list', () => {
    expect(parseTestbed(withTraffic('  frameSize: imix')).traffic.frameSize).toEqual([
      { size: 64, weight: 7 },
      { size: 570, weight: 4 },
      { size: 1518, weight: 1 },
    ]);
    expect(streamFromTestbed(parseTestbed(withTraffic('  frameSize: imix')), 1).sizes).toHaveLength(12);
  });

  it('refuses an IMIX weight of zero or below, a flow count its ranges disagree with, and more flows than frames, naming the field', () => {
    expect(problemsOf(withTraffic('  frameSize: [{ size: 64, weight: 0 }]'))).toEqual([
      { path: 'traffic.frameSize.0.weight', message: 'a weight above 0: a size sent 0 times is not in the mix' },
    ]);
    expect(problemsOf(withTraffic('  frameSize: [{ size: 64, weight: -2 }, { size: 1518, weight: 1 }]'))).toEqual([
      { path: 'traffic.frameSize.0.weight', message: 'a weight above 0: a size sent 0 times is not in the mix' },
    ]);
    expect(problemsOf(withTraffic('  frameSize: imx'))[0]).toEqual({
      path: 'traffic.frameSize',
      message: 'expected a frame size from 64 to 1518, imix, or a list of {size, weight}',
    });
    expect(problemsOf(withTraffic('  rules: port\n  flows: { count: 1000, srcIps: 10, srcPorts: 10 }'))).toEqual([
      { path: 'traffic.flows.count', message: 'count must be srcIps x dstIps x srcPorts x dstPorts: every combination of the ranges is one flow' },
    ]);
    expect(problemsOf(withTraffic('  count: 50\n  rules: port\n  flows: { count: 100, srcPorts: 100 }'))).toEqual([
      { path: 'traffic.count', message: '50 frames cannot carry 100 flows: at least one frame each' },
    ]);
    expect(problemsOf(withTraffic('  srcPort: 65500\n  flows: { count: 100, srcPorts: 100 }'))).toEqual([
      { path: 'traffic.flows.srcPorts', message: '100 ports from 65500 run past 65535' },
    ]);
  });

  it("refuses the guide's rules for flows of more than one address pair, and more flows than the generator holds", () => {
    expect(problemsOf(withTraffic('  flows: { count: 10, srcIps: 10 }'))).toEqual([
      {
        path: 'traffic.rules',
        message: "guide rules match nw_src=1.1.1.1,nw_dst=6.6.6.2 only: the flows' other addresses would be dropped (rules: port matches in_port only)",
      },
    ]);
    // Ports alone vary: the guide's rules pass every flow.
    expect(parseTestbed(withTraffic('  flows: { count: 10, srcPorts: 10 }')).traffic.flows?.count).toBe(10);
    const trex = 'tg:\n  type: trex\n  trex:\n    ports: { transmit: 0, receive: 1 }\nthroughput: { linkSpeedGbps: 10 }\n';
    expect(parseTestbed(withTraffic('  count: 200000\n  rules: port\n  flows: { count: 200000, srcIps: 4, srcPorts: 50000 }', trex)).traffic.flows?.count).toBe(
      200_000,
    );
    expect(problemsOf(withTraffic('  count: 200000\n  rules: port\n  flows: { count: 200000, srcIps: 4, srcPorts: 50000 }'))).toEqual([
      { path: 'traffic.flows.count', message: 'the linux generator holds at most 100000 flows (a pcap with a frame per flow); 200000 asked' },
    ]);
    expect(problemsOf(withTraffic('  count: 2000000\n  rules: port\n  flows: { count: 2000000, srcIps: 40, srcPorts: 50000 }', trex))[0]).toEqual({
      path: 'traffic.flows.count',
      message: 'at most 1000000 flows (with tg.type trex; 100000 with linux)',
    });
  });

  it('installs in_port rules for `rules: port` (any address), the guide’s address pair by default', () => {
    const port = flowsOf(parseTestbed(withTraffic('  rules: port\n  flows: { count: 10, srcIps: 10 }')));
    expect(port.map((f) => [f.inPort, f.nwSrc, f.nwDst, f.output])).toEqual([
      [16, undefined, undefined, 32],
      [33, undefined, undefined, 17],
    ]);
    expect(flowsOf(parseTestbed(MINIMAL)).map((f) => [f.nwSrc, f.nwDst])).toEqual([
      ['1.1.1.1', '6.6.6.2'],
      ['1.1.1.1', '6.6.6.2'],
    ]);
  });
});

describe('a stream of many flows', () => {
  const s = spec({ count: 2000, flows: { count: 1000, srcIps: 10, dstIps: 1, srcPorts: 100, dstPorts: 1 } });

  it('spreads its frames over every flow, interleaved: frame n is flow n mod the count, each a distinct 5-tuple', () => {
    const texts = Array.from({ length: 1000 }, (_, i) => flowText(flowFields(s, i)));
    expect(new Set(texts).size).toBe(1000);
    expect(texts[0]).toBe('1.1.1.1:1024 -> 6.6.6.2:1024 (UDP)');
    expect(texts[1]).toBe('1.1.1.1:1025 -> 6.6.6.2:1024 (UDP)');
    expect(texts[226]).toBe('1.1.1.3:1050 -> 6.6.6.2:1024 (UDP)');
    expect(texts[999]).toBe('1.1.1.10:1123 -> 6.6.6.2:1024 (UDP)');
    expect(flowText(flowFields(s, 1226))).toBe(texts[226]);
    const f = buildFrame(s, 226);
    expect([...f.subarray(26, 30)].join('.')).toBe('1.1.1.3');
    expect(f.readUInt16BE(34)).toBe(1050);
  });

  const exp = { stream: s, dstMac: GATEWAY_MAC, srcMac: EGRESS_MAC, lossTolerance: 0, maxProblems: 10 };
  const returned = (keep: (seq: number) => boolean) =>
    Array.from({ length: s.count }, (_, i) => i)
      .filter(keep)
      .map((i) => routed(s, i));
  const verdict = (frames: Buffer[], name: string, e = exp) => verifyCapture(pcapFrames(tmp.file(`${name}.pcap`, pcapBytes(frames))), e);

  it('passes when every flow came back whole', async () => {
    const v = await verdict(
      returned(() => true),
      'all-flows',
    );
    expect(v.ok).toBe(true);
    expect(v.flows).toMatchObject({ count: 1000, complete: 1000, missing: 0, sample: [] });
    expect(v.summary).toMatch(/^1000\/1000 flows whole, 2000\/2000 returned/);
  });

  it('names the flow that did not come back by its 5-tuple, even where the loss is within the tolerance', async () => {
    const v = await verdict(
      returned((i) => i % 1000 !== 226),
      'one-flow-dropped',
      { ...exp, lossTolerance: 0.01 },
    );
    expect(v.ok).toBe(false);
    expect(v.lost).toBe(2);
    expect(v.flows).toMatchObject({ count: 1000, complete: 999, missing: 1, sample: [{ flow: '1.1.1.3:1050 -> 6.6.6.2:1024 (UDP)', sent: 2, received: 0 }] });
    expect(v.problems[0]).toBe('1 of 1000 flows did not come back at all: 1.1.1.3:1050 -> 6.6.6.2:1024 (UDP)');
  });

  it('judges order within each flow: flows interleaved otherwise than sent pass, a flow whose own frames swapped is named', async () => {
    // Frames of different flows swapped (a switch or guest spreading flows over queues and cores does so): in order.
    const interleaved = returned(() => true);
    [interleaved[5], interleaved[6]] = [interleaved[6]!, interleaved[5]!];
    expect(await verdict(interleaved, 'flows-interleaved')).toMatchObject({ ok: true, reordered: 0 });
    // Flow 5's two frames (seq 5 and 1005) swapped: that flow was reordered.
    const swapped = returned(() => true);
    [swapped[5], swapped[1005]] = [swapped[1005]!, swapped[5]!];
    const v = await verdict(swapped, 'flow-reordered');
    expect(v).toMatchObject({ ok: false, reordered: 1 });
    expect(v.problems).toEqual([`seq 5 (flow ${flowText(flowFields(s, 5))}): arrived after seq 1005 of its flow (reordered)`]);
  });

  it("names a changed frame's flow, and expects its own addresses back", async () => {
    const frames = returned(() => true);
    frames[7]!.writeUInt32BE(0x0a000001, 26); // the source rewritten to 10.0.0.1, its header checksum made right
    fixChecksum(frames[7]!);
    const v = await verdict(frames, 'nat-one-flow');
    expect(v.ok).toBe(false);
    expect(v.problems).toContain(
      'seq 7 (flow 1.1.1.1:1031 -> 6.6.6.2:1024 (UDP)): addresses 10.0.0.1 -> 6.6.6.2, expected 1.1.1.1 -> 6.6.6.2: the packet was NATed',
    );
  });
});

describe("TRex's field engine (one stream of many flows)", () => {
  const base = { srcIp: 0x01010101, dstIp: 0x06060602, srcPort: 1024, dstPort: 1024 };

  it('varies each field that takes more than one value, the fastest first, each wrap stepping the next, as trex_stl_stream_vm.cpp orders them', () => {
    const p = flowProgram({ srcIps: 100, dstIps: 1, srcPorts: 1000, dstPorts: 2 }, base);
    expect(p.map((i) => [i.type, i.name ?? i.pkt_offset, i.next_var])).toEqual([
      ['flow_var', 'srcPort', 'dstPort'],
      ['flow_var', 'dstPort', 'srcIp'],
      ['flow_var', 'srcIp', undefined],
      ['write_flow_var', 'srcPort', undefined],
      ['write_flow_var', 'dstPort', undefined],
      ['write_flow_var', 'srcIp', undefined],
      ['fix_checksum_ipv4', 14, undefined],
    ]);
    expect(p[2]).toMatchObject({ size: 4, init_value: base.srcIp, min_value: base.srcIp, max_value: base.srcIp + 99, step: 1, op: 'inc' });
    expect(p[0]).toMatchObject({ size: 2, min_value: 1024, max_value: 2023 });
    // A variable another points to runs on one core (TRex refuses it otherwise); so does the first, so every core walks the same order.
    expect(p.filter((i) => i.type === 'flow_var').every((i) => i.split_to_cores === false)).toBe(true);
    // Written where the stream's frame carries each field.
    const f = buildFrame(spec({ count: 1 }), 0);
    expect(f.readUInt32BE(p[5]!.pkt_offset as number)).toBe(base.srcIp);
    expect(f.readUInt16BE(p[3]!.pkt_offset as number)).toBe(1024);
  });

  it('is empty for one flow: the frame as it is', () => {
    expect(flowProgram({ srcIps: 1, dstIps: 1, srcPorts: 1, dstPorts: 1 }, base)).toEqual([]);
  });
});

describe("the datapath's flows around the search's trials (OVS 3.1's userspace datapath, real outputs)", () => {
  it('counts the megaflows a dump holds, once each: 2 for the stream one way, whether the rules are in_port alone or the guide’s', () => {
    expect(countDatapathFlows(output('dpctl-dump-flows-netdev-port-rules-1000-flows.txt'))).toBe(2);
    expect(countDatapathFlows(output('dpctl-dump-flows-netdev-guide-rules-1000-flows.txt'))).toBe(2);
    expect(countDatapathFlows('flow-dump from the main thread:\n')).toBe(0);
    // The same flow in two PMD threads' dumps is one megaflow of the switch.
    const line = output('dpctl-dump-flows-netdev-port-rules-1000-flows.txt').split('\n')[1]!;
    expect(
      countDatapathFlows(`flow-dump from pmd on cpu core: 1\n${line}\nflow-dump from pmd on cpu core: 2\n${line.replace('packets:1999', 'packets:5')}\n`),
    ).toBe(1);
    expect(() => countDatapathFlows('flow-dump from the main thread:\nrecirc_id(0),in_port(2),eth_type(0x08')).toThrow(
      /a flow per line, each with its actions/,
    );
  });

  it('reads the upcalls of every thread from pmd-stats-show', () => {
    const s = parsePmdStatsShow(output('pmd-stats-show-netdev-main-thread-2-upcalls.txt'));
    expect(s).toMatchObject({ packetsReceived: 4000, upcalls: 2, failedUpcalls: 0 });
    expect(parsePmdStatsShow(output('pmd-stats-show-one-pmd-3-packets.txt'))).toMatchObject({ packetsReceived: 3, upcalls: 1 });
  });

  it('implies one megaflow per direction for each address pair the rules tell apart', () => {
    expect(expectedMegaflows(parseTestbed(MINIMAL))).toBe(2);
    expect(expectedMegaflows(parseTestbed(withTraffic('  rules: port\n  flows: { count: 100, srcIps: 10, srcPorts: 10 }')))).toBe(2);
    expect(expectedMegaflows(parseTestbed(withTraffic('  flows: { count: 100, srcPorts: 100 }')))).toBe(2);
  });

  it('warms up before the first trial and once the flows may have expired (past 80 % of max-idle), not between close trials', () => {
    expect(needsWarmUp(null, 1_000, 10_000)).toBe(true);
    expect(needsWarmUp(1_000, 8_000, 10_000)).toBe(false);
    expect(needsWarmUp(1_000, 9_001, 10_000)).toBe(true);
  });
});

describe('a rule per 5-tuple (traffic.rules: flow)', () => {
  const tb = parseTestbed(withTraffic('  count: 20000\n  rules: flow\n  flows: { count: 10000, srcIps: 100, srcPorts: 100 }'));

  it('is a rule each way for every flow and for the latency stream, the 5-tuple exact; a megaflow per flow and direction', () => {
    const rules = flowsOf(tb);
    expect(rules).toHaveLength(20_002);
    // The latency stream's pair last: its own destination port, the stream's next.
    expect(rules.slice(-2).map((f) => describeFlow(f))).toEqual([
      'in_port=16,nw_src=1.1.1.1,nw_dst=6.6.6.2,udp,tp_src=1024,tp_dst=1025 -> output:32',
      'in_port=33,nw_src=1.1.1.1,nw_dst=6.6.6.2,udp,tp_src=1024,tp_dst=1025 -> output:17',
    ]);
    expect(rules.slice(0, 2).map((f) => describeFlow(f))).toEqual([
      'in_port=16,nw_src=1.1.1.1,nw_dst=6.6.6.2,udp,tp_src=1024,tp_dst=1024 -> output:32',
      'in_port=33,nw_src=1.1.1.1,nw_dst=6.6.6.2,udp,tp_src=1024,tp_dst=1024 -> output:17',
    ]);
    expect(describeFlow(rules[2 * 9999]!)).toBe('in_port=16,nw_src=1.1.1.100,nw_dst=6.6.6.2,udp,tp_src=1123,tp_dst=1024 -> output:32');
    expect(expectedMegaflows(tb)).toBe(20_000);
  });

  it('checks a table of twenty thousand rules at once, naming the few missing and counting the rest', () => {
    const rules = flowsOf(tb);
    const entry = (f: (typeof rules)[number], i: number) =>
      `cookie=0x0, duration=1.0s, table=0, n_packets=${i}, n_bytes=0, idle_age=1, udp,in_port=${f.inPort},nw_src=${f.nwSrc},nw_dst=${f.nwDst},tp_src=${f.udp!.src},tp_dst=${f.udp!.dst} actions=output:${f.output}`;
    const table = parseDumpFlows(['NXST_FLOW reply (xid=0x4):', ...rules.map((f, i) => ` ${entry(f, i)}`)].join('\n'));
    const t0 = Date.now();
    expect(checkFlowsInstalled(table, rules)).toEqual([]);
    expect(Date.now() - t0).toBeLessThan(5_000);
    const missing = checkFlowsInstalled(
      table.filter((_, i) => i % 1000 !== 7),
      rules,
    );
    // Rule 7: flow 3 (source port 1027), its egress rule.
    expect(missing[0]).toBe('flow in_port=33,nw_src=1.1.1.1,nw_dst=6.6.6.2,udp,tp_src=1027,tp_dst=1024 -> output:17 is not installed');
    expect(missing).toHaveLength(11);
    expect(missing[10]).toBe('20 of the 20002 flows are not installed and 10 more');
  });
});

describe('the switch forwarding by its MAC table (traffic.rules: normal)', () => {
  const tb = parseTestbed(withTraffic('  rules: normal\n  flows: { count: 100, srcIps: 10, srcPorts: 10 }'));
  const ctx = { tb, topology: topologyOf(tb), profile: virtual, value: () => '' };

  it("is in_port to NORMAL each way, the path's four MACs static in the table first: one megaflow per direction whatever the flows", () => {
    expect(flowsOf(tb).map((f) => describeFlow(f))).toEqual(['in_port=16 -> NORMAL', 'in_port=33 -> NORMAL']);
    const lines = (hostFlows.commands(ctx) as Array<{ line: string }>).map((c) => c.line);
    expect(lines).toEqual([
      'ovs-ofctl del-flows br0',
      'ovs-ofctl add-flow br0 in_port=16,dl_type=0x0800,idle_timeout=0,action=NORMAL',
      'ovs-ofctl add-flow br0 in_port=33,dl_type=0x0800,idle_timeout=0,action=NORMAL',
      'ovs-appctl -t ovs-vswitchd fdb/add br0 port16 0 02:00:00:00:00:01',
      'ovs-appctl -t ovs-vswitchd fdb/add br0 port32 0 00:4b:4e:49:30:00',
      'ovs-appctl -t ovs-vswitchd fdb/add br0 port33 0 00:4b:4e:49:30:01',
      'ovs-appctl -t ovs-vswitchd fdb/add br0 port17 0 de:ad:be:ef:ca:fe',
      'ovs-appctl -t ovs-vswitchd fdb/show br0',
      'ovs-ofctl dump-flows br0',
    ]);
    expect(expectedMegaflows(tb)).toBe(2);
    // OVS 3.1 prints the NORMAL action as it is: the table read back holds both rules and nothing else.
    const table = parseDumpFlows(
      'NXST_FLOW reply (xid=0x4):\n cookie=0x0, duration=0.025s, table=0, n_packets=0, n_bytes=0, idle_age=0, ip,in_port=16 actions=NORMAL\n cookie=0x0, duration=0.012s, table=0, n_packets=0, n_bytes=0, idle_age=0, ip,in_port=33 actions=NORMAL\n',
    );
    expect(checkFlowsInstalled(table, flowsOf(tb))).toEqual([]);
    expect(checkFlowsInstalled(table.slice(1), flowsOf(tb))).toEqual(['flow in_port=16 -> NORMAL is not installed']);
  });

  it('reads the MAC table as OVS 3.1 prints it and names a MAC on the wrong port, a learned one, a missing one', () => {
    const macs = staticMacsOf(tb);
    const good = parseFdbShow(output('fdb-show-netdev-four-static.txt'));
    expect(good).toHaveLength(4);
    expect(checkStaticMacs(good, macs)).toEqual([]);
    // Real output: the stream's source MAC re-added on the egress phy port (fdb/add moves a static entry).
    expect(checkStaticMacs(parseFdbShow(output('fdb-show-netdev-source-mac-on-egress.txt')), macs)).toEqual([
      'MAC 02:00:00:00:00:01 is on port 17, expected port16 (port 16)',
    ]);
    const learned = good.map((e) => (e.mac === 'de:ad:be:ef:ca:fe' ? { ...e, static: false, age: '3' } : e));
    expect(checkStaticMacs(learned, macs)).toEqual(['MAC de:ad:be:ef:ca:fe is on port17 (port 17) but learned (age 3), not static: it can move and age out']);
    expect(checkStaticMacs(good.slice(1), macs)).toEqual([
      "MAC 02:00:00:00:00:01 is not in the switch's MAC table (expected static on port16, port 16): its frames are flooded",
    ]);
    expect(() => parseFdbShow(' port  VLAN  MAC                Age\n   16     0  02:00:00:00:00  static\n')).toThrow(/rows of port, VLAN, MAC and age/);
    expect(() => parseFdbShow('')).toThrow(/the header/);
    // Other rules keep the table as it is.
    expect(staticMacsOf(parseTestbed(withTraffic('  rules: port')))).toEqual([]);
  });
});

describe('traffic both ways (traffic.direction: both)', () => {
  const both = (traffic: string) => parseTestbed(withTraffic(`  direction: both\n${traffic}`));

  it('adds the reverse rules: phy egress to the guest egress vEth, guest ingress to phy ingress, each match the forward one reversed', () => {
    expect(flowsOf(both('  rules: port')).map((f) => describeFlow(f))).toEqual([
      'in_port=16 -> output:32',
      'in_port=33 -> output:17',
      'in_port=17 -> output:33',
      'in_port=32 -> output:16',
    ]);
    expect(flowsOf(both('  rules: guide')).map((f) => describeFlow(f))).toEqual([
      'in_port=16,nw_src=1.1.1.1,nw_dst=6.6.6.2 -> output:32',
      'in_port=33,nw_src=1.1.1.1,nw_dst=6.6.6.2 -> output:17',
      'in_port=17,nw_src=6.6.6.2,nw_dst=1.1.1.1 -> output:33',
      'in_port=32,nw_src=6.6.6.2,nw_dst=1.1.1.1 -> output:16',
    ]);
    expect(flowsOf(both('  rules: normal')).map((f) => describeFlow(f))).toHaveLength(4);
    expect(expectedMegaflows(both('  rules: port'))).toBe(4);
  });

  it('makes a rule per 5-tuple each way of each direction on the DUT host (awk) exactly as the read-back expects them', async () => {
    const tb = both('  count: 2000\n  rules: flow\n  flows: { count: 1000, srcIps: 10, srcPorts: 100 }');
    const rules = flowsOf(tb);
    expect(rules).toHaveLength(4 * 1000 + 2);
    expect(describeFlow(rules[4 * 226 + 2]!)).toBe('in_port=17,nw_src=6.6.6.2,nw_dst=1.1.1.3,udp,tp_src=1024,tp_dst=1050 -> output:33');
    // The step's awk program, run here: its lines as the switch would list them.
    const line = (hostFlows.commands({ tb, topology: topologyOf(tb), profile: virtual, value: () => '' }) as Array<{ line: string }>)[1]!.line;
    const awk = await execa('bash', ['-c', line.slice(0, line.indexOf(' | '))]);
    const table = parseDumpFlows(
      [
        'NXST_FLOW reply (xid=0x4):',
        ...awk.stdout
          .split('\n')
          .map((l) => ` cookie=0x0, duration=1s, table=0, n_packets=0, n_bytes=0, ${l.replace(',idle_timeout=0,actions=', ' actions=')}`),
      ].join('\n'),
    );
    expect(table).toHaveLength(4000);
    // Everything but the latency stream's pair, which the step adds apart.
    expect(checkFlowsInstalled(table, rules.slice(0, -2))).toEqual([]);
  });

  it('sends the reverse stream from the receive port: addresses and ports swapped, flow n the reverse of forward flow n, its own run id', () => {
    const tb = both('  count: 2000\n  rules: port\n  flows: { count: 1000, srcIps: 10, srcPorts: 100 }');
    const fwd = streamFromTestbed(tb, 7);
    const rev = reverseStreamFromTestbed(tb, 7);
    expect(rev).toMatchObject({ srcMac: 'DE:AD:BE:EF:CA:FE', dstMac: '00:4B:4E:49:30:01', srcIp: '6.6.6.2', dstIp: '1.1.1.1', runId: reverseRunId(7) });
    expect(reverseRunId(7)).not.toBe(7);
    for (const i of [0, 1, 226, 999]) expect(flowText(flowFields(rev, i))).toBe(flowText(reverseOf(flowFields(fwd, i))));
    expect(isStreamFrame(buildFrame(rev, 3), reverseRunId(7))).toBe(true);
    expect(isStreamFrame(buildFrame(rev, 3), 7)).toBe(false);
  });

  it("routes the reverse stream in the guest to the forward stream's sources, via the next address of its ingress subnet", () => {
    const tb = both('  count: 2000\n  rules: port\n  flows: { count: 1000, srcIps: 10, srcPorts: 100 }');
    expect(reverseGatewayOf(tb)).toEqual({ ip: '2.2.2.2', mac: '02:00:00:00:00:01', route: '1.1.1.0/28' });
    expect(coveringPrefix('1.1.1.1', 100)).toBe('1.1.1.0/25');
    expect(coveringPrefix('1.1.1.1', 1)).toBe('1.1.1.1/32');
    expect(coveringPrefix('10.0.0.255', 2)).toBe('10.0.0.0/23');
    const lines = (guestRouteArp.commands({ tb, topology: topologyOf(tb), profile: virtual, value: () => '' }) as Array<{ line: string }>).map((c) => c.line);
    expect(lines.slice(2)).toEqual(['route add -net 1.1.1.0/28 gw 2.2.2.2 vEth_port32', 'arp -s 2.2.2.2 02:00:00:00:00:01']);
    const want = reverseGatewayOf(tb);
    const routes = parseRoutes(
      'default via 3.3.3.2 dev vEth_port33\n1.1.1.0/28 via 2.2.2.2 dev vEth_port32\n2.2.2.0/24 dev vEth_port32 proto kernel scope link src 2.2.2.1\n',
    );
    const arp = parseNeighbours(
      'Address                  HWtype  HWaddress           Flags Mask            Iface\n2.2.2.2                  ether   02:00:00:00:00:01   CM                    vEth_port32\n',
    );
    expect(checkReverseRoute(routes, arp, want, 'vEth_port32')).toEqual([]);
    expect(checkReverseRoute(routes.slice(0, 1), arp, want, 'vEth_port32')).toEqual([
      "no route to 1.1.1.0/28 (the reverse stream's destinations; expected via 2.2.2.2 dev vEth_port32)",
    ]);
    expect(checkReverseRoute(routes, [], want, 'vEth_port32')).toEqual(['no ARP entry for the reverse next hop 2.2.2.2 on vEth_port32']);
  });

  it("refuses a reverse next hop off the guest's ingress subnet, sources inside it, and both ways on the guide's one-way lab", () => {
    expect(problemsOf(withTraffic('  direction: both', 'reverseGateway: { ip: 3.3.3.9, mac: "02:00:00:00:00:01" }\n'))).toEqual([
      { path: 'reverseGateway.ip', message: "the reverse stream's next hop 3.3.3.9 must be another address of the guest's ingress subnet 2.2.2.1/24" },
    ]);
    expect(problemsOf(withTraffic('  direction: both\n  srcIp: 2.2.2.7'))).toEqual([
      {
        path: 'traffic.srcIp',
        message: "the stream's sources (2.2.2.7/32) overlap the guest's ingress subnet 2.2.2.1/24: the guest could not route the reverse stream back",
      },
    ]);
  });
});

describe("the PVP suite's directions", () => {
  it('judges the reverse stream on the testbed as it sees it: the roles swapped, its own stream, files and captures', () => {
    const tb = parseTestbed(withTraffic('  direction: both\n  rules: port\n  count: 200\n  flows: { count: 100, srcIps: 10, srcPorts: 10 }'));
    const [forward, reverse, more] = directionsOf(tb, 7);
    expect(more).toBeUndefined();
    expect(directionsOf(parseTestbed(MINIMAL), 7).map((d) => d.name)).toEqual(['forward']);
    expect(reverse!.stream).toEqual(reverseStreamFromTestbed(tb, 7));
    expect(forward!.stream.runId).not.toBe(reverse!.stream.runId);
    // The reverse path: sent by the TG's receive port into phy egress, through the guest's egress then ingress vEth, back to the TG's transmit port.
    const counters = reverse!.path.hops.map((h) => h.counter);
    expect(counters[0]).toBe('TG tg1 tx');
    expect(counters.at(-1)).toBe('TG tg0 rx');
    expect(topologyOf(reverse!.tb)).toMatchObject({ tgTx: 'tg1', tgRx: 'tg0', gateway: { ip: '2.2.2.2', mac: '02:00:00:00:00:01' } });
    // Its captures: the other port of each and the other direction; the guest's links under their own names.
    const wires = reverse!.path.hops.flatMap((h) => (h.wire ? [captureOf(reverse!, h.wire)] : []));
    expect([...new Set(wires)]).toEqual(['tx-capture-reverse.pcap', 'guest-vEth_port33-reverse.pcap', 'guest-vEth_port32-reverse.pcap', 'rx-reverse.pcap']);
    expect([...new Set(forward!.path.hops.flatMap((h) => (h.wire ? [captureOf(forward!, h.wire)] : [])))]).toEqual([
      'tx-capture.pcap',
      'guest-vEth_port32.pcap',
      'guest-vEth_port33.pcap',
      'rx.pcap',
    ]);
  });
});
