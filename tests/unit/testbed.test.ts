import { describe, expect, it } from 'vitest';
import { loadTestbed, parseTestbed, testbedNotes } from '../../lib/testbed/load.js';
import { flowsOf } from '../../lib/testbed/rules.js';
import { topologyOf } from '../../lib/testbed/topology.js';
import { fixturePath, MINIMAL_TESTBED as MINIMAL, testbedProblems } from '../helpers/fixtures.js';

const problemsOf = (text: string) => testbedProblems(text, 'bad.yaml');

describe('testbed file', () => {
  it("fills in the guide's values for everything a file leaves out", () => {
    const tb = parseTestbed(MINIMAL);
    expect(tb.bridge).toBe('br0');
    expect(tb.phyPorts.map((p) => [p.name, p.ofport, p.dpdkPort])).toEqual([
      ['port16', 16, 1],
      ['port17', 17, 2],
    ]);
    expect(tb.vmPorts.map((k) => [k.name, k.guestIf, k.mac, k.cidr])).toEqual([
      ['port32', 'vEth_port32', '00:4B:4E:49:30:00', '2.2.2.1/24'],
      ['port33', 'vEth_port33', '00:4B:4E:49:30:01', '3.3.3.1/24'],
    ]);
    expect(tb.gateway).toEqual({ ip: '3.3.3.2', mac: 'DE:AD:BE:EF:CA:FE' });
    expect(tb.dpdk.ovsDpdk).toMatchObject({ coreMask: '0x0F', memChannels: 4, portMask: '0x03', kniPorts: 2, stats: 5, config: '(0,0,2),(1,0,3)' });
    expect(tb.dpdk.vswitchd.coreMask).toBe('0x100');
    expect(tb.dpdk.qemu).toMatchObject({ coreMask: '0x30', memory: '8192M', smp: 2, name: 'client 1' });
    expect(tb.traffic).toMatchObject({ srcIp: '1.1.1.1', dstIp: '6.6.6.2' });
    expect(tb.hosts.host.port).toBe(22);
    expect(tb.hosts.host.sudo).toBe(false);
  });

  it("derives the guide's two flows from the ports and the stream", () => {
    expect(flowsOf(parseTestbed(MINIMAL))).toEqual([
      { dlType: '0x0800', nwSrc: '1.1.1.1', nwDst: '6.6.6.2', idleTimeout: 0, inPort: 16, output: 32 },
      { dlType: '0x0800', nwSrc: '1.1.1.1', nwDst: '6.6.6.2', idleTimeout: 0, inPort: 33, output: 17 },
    ]);
  });

  it('loads the shipped testbeds', () => {
    expect(loadTestbed(fixturePath('testbeds/legacy-kni.yaml')).name).toBe('pvp-kni-lab');
    expect(loadTestbed(fixturePath('testbeds/virtual.yaml')).hosts.guest.jump).toBe('host');
  });

  it('names a missing field by its path', () => {
    const p = problemsOf(MINIMAL.replace('  tg: { address: 10.0.0.2,', '  tg: {'));
    expect(p).toContainEqual({ path: 'hosts.tg.address', message: expect.stringContaining('missing required field') });
  });

  it('names a field of the wrong type and what it got', () => {
    const p = problemsOf(MINIMAL.replace('port: 2222', 'port: "two"'));
    expect(p).toContainEqual({ path: 'hosts.guest.port', message: expect.stringMatching(/expected number, got string "two"/) });
  });

  it('names an unknown key (a typo)', () => {
    const p = problemsOf(`${MINIMAL}bridgee: br0\n`);
    expect(p).toContainEqual({ path: 'bridgee', message: expect.stringContaining('unknown key') });
  });

  it.each([
    ['a malformed MAC', 'gateway: { ip: 3.3.3.2, mac: "DE:AD:BE:EF:CA" }', 'gateway.mac', /MAC address/],
    ['a malformed IPv4 address', 'gateway: { ip: 3.3.3.256, mac: "DE:AD:BE:EF:CA:FE" }', 'gateway.ip', /IPv4 address/],
    ['a malformed CIDR', 'traffic: { srcIp: 1.1.1 }', 'traffic.srcIp', /IPv4 address/],
    ['a malformed hex core mask', 'dpdk: { vswitchd: { coreMask: "256" } }', 'dpdk.vswitchd.coreMask', /hex core mask/],
  ])('names %s', (_what, line, path, message) => {
    expect(problemsOf(`${MINIMAL}${line}\n`)).toContainEqual({ path, message: expect.stringMatching(message) });
  });

  it('names a malformed CIDR on a VM port', () => {
    const vm = `vmPorts:
  - { name: port32, ofport: 32, guestIf: vEth_port32, mac: "00:4B:4E:49:30:00", cidr: 2.2.2.1/33 }
  - { name: port33, ofport: 33, guestIf: vEth_port33, mac: "00:4B:4E:49:30:01", cidr: 3.3.3.1/24 }
`;
    expect(problemsOf(MINIMAL + vm)).toContainEqual({ path: 'vmPorts.0.cidr', message: expect.stringContaining('prefix length') });
  });

  it('loads a file that still says kniPorts, as vmPorts of kind kni, with a note to rename it; its problems name kniPorts', () => {
    const ports = (key: string, cidr: string) => `${key}:
  - { name: port32, ofport: 32, guestIf: vEth_port32, mac: "00:4B:4E:49:30:00", cidr: ${cidr} }
  - { name: port33, ofport: 33, guestIf: vEth_port33, mac: "00:4B:4E:49:30:01", cidr: 3.3.3.1/24 }
`;
    const tb = parseTestbed(MINIMAL + ports('kniPorts', '2.2.2.1/24'), 'old.yaml');
    expect(tb.vmPorts.map((p) => [p.name, p.kind])).toEqual([
      ['port32', 'kni'],
      ['port33', 'kni'],
    ]);
    expect(testbedNotes(tb)).toEqual([
      'old.yaml: kniPorts is now called vmPorts, each port with a kind (kni, veth, tap or vhost-user; kni if left out): rename it',
    ]);
    expect(testbedNotes(parseTestbed(MINIMAL))).toEqual([]);
    expect(problemsOf(MINIMAL + ports('kniPorts', '2.2.2.1/33'))).toContainEqual({
      path: 'kniPorts.0.cidr',
      message: expect.stringContaining('prefix length'),
    });
    expect(problemsOf(MINIMAL + ports('kniPorts', '2.2.2.1/24') + ports('vmPorts', '2.2.2.1/24'))).toEqual([
      { path: 'kniPorts', message: expect.stringMatching(/both kniPorts and vmPorts/) },
    ]);
  });

  it("has the ports by role, in the path's order: TG tx, phy ingress, VM ingress; VM egress, phy egress, TG rx", () => {
    const t = topologyOf(parseTestbed(MINIMAL));
    expect([t.tgTx, t.phyIngress.name, t.vmIngress.name, t.vmIngress.guestIf, t.vmEgress.guestIf, t.vmEgress.name, t.phyEgress.name, t.tgRx]).toEqual([
      'tg0',
      'port16',
      'port32',
      'vEth_port32',
      'vEth_port33',
      'port33',
      'port17',
      'tg1',
    ]);
    expect(t.gateway).toEqual({ ip: '3.3.3.2', mac: 'DE:AD:BE:EF:CA:FE' });
  });

  it('refuses an inline password and says where the secret belongs', () => {
    const p = problemsOf(MINIMAL.replace('auth: { agent: true }', 'auth: { password: hunter2 }'));
    expect(p).toEqual([{ path: 'hosts.tg.auth.password', message: expect.stringContaining('passwordEnv') }]);
    expect(JSON.stringify(p)).not.toContain('hunter2');
  });

  it('refuses an inline private key', () => {
    const p = problemsOf(MINIMAL.replace('auth: { agent: true }', 'auth: { privateKeyFile: "-----BEGIN OPENSSH PRIVATE KEY-----\\nabc" }'));
    expect(p[0]).toMatchObject({ path: 'hosts.tg.auth.privateKeyFile', message: expect.stringContaining('inline secret') });
  });

  it('lists every problem of a file, not only the first', () => {
    const p = problemsOf(`${MINIMAL}bridgee: x\ngateway: { ip: 1.2.3, mac: zz }\n`);
    expect(p.map((x) => x.path)).toEqual(expect.arrayContaining(['bridgee', 'gateway.ip', 'gateway.mac']));
  });

  it('explains the accepted forms of auth and hostKey', () => {
    const p = problemsOf(MINIMAL.replace('auth: { agent: true }', 'auth: { kerberos: true }'));
    expect(p).toContainEqual({ path: 'hosts.tg.auth', message: expect.stringContaining('passwordEnv') });
  });

  it('catches values that disagree: a flow on an unknown ofport, a gateway off the egress subnet', () => {
    const p = problemsOf(`${MINIMAL}flows: [{ inPort: 16, nwSrc: 1.1.1.1, nwDst: 6.6.6.2, output: 99 }]\ngateway: { ip: 4.4.4.4, mac: "DE:AD:BE:EF:CA:FE" }\n`);
    expect(p).toContainEqual({ path: 'flows.0.output', message: expect.stringContaining('ofport 99') });
    expect(p).toContainEqual({ path: 'gateway.ip', message: expect.stringContaining('3.3.3.1/24') });
  });

  it('reports YAML syntax errors with their line', () => {
    const p = problemsOf('name: [unclosed\n');
    expect(p[0]!.path).toMatch(/^line \d+/);
  });

  it('reports an unreadable file by its name', () => {
    expect(() => loadTestbed('/nonexistent/testbed.yaml')).toThrow(/\/nonexistent\/testbed.yaml.*cannot read/s);
  });

  it('takes a TRex TG with its server, its ports by role and a pcap directory, and refuses one that cannot work, by field', () => {
    const tb = parseTestbed(`${MINIMAL}tg:\n  type: trex\n  trex:\n    ports: { transmit: 0, receive: 1 }\nthroughput: { linkSpeedGbps: 10 }\n`);
    expect(tb.tg).toEqual({
      type: 'trex',
      trex: { server: { address: '127.0.0.1', port: 4501 }, ports: { transmit: 0, receive: 1 }, pcapDir: '/tmp/dutlab-trex', callTimeoutMs: 10_000 },
      steal: { maxMs: 10, tries: 3 },
    });
    expect(problemsOf(`${MINIMAL}tg:\n  type: trex\n`)).toEqual([
      { path: 'tg.trex', message: 'tg.type trex needs tg.trex (the server, its ports, the pcap directory)' },
    ]);
    const bad = problemsOf(
      `${MINIMAL}tg:\n  type: trex\n  trex:\n    server: { address: 'trex; reboot' }\n    ports: { transmit: 1, receive: 1 }\n    pcapDir: /tmp/x/../y\n`,
    );
    expect(bad.map((p) => p.path).sort()).toEqual(['tg.trex.pcapDir', 'tg.trex.ports', 'tg.trex.server.address']);
    expect(bad.find((p) => p.path === 'tg.trex.ports')!.message).toBe('the transmit and receive ports are two ports');
  });

  it("takes tcpreplay's pacing and the steal bound of a linux TG, and refuses a pacing TRex has no use for", () => {
    const tb = parseTestbed(`${MINIMAL}tg: { timer: nano, steal: { maxMs: 50 } }\n`);
    expect(tb.tg).toMatchObject({ type: 'linux', timer: 'nano', steal: { maxMs: 50, tries: 3 } });
    expect(problemsOf(`${MINIMAL}tg: { timer: select }\n`).map((p) => p.path)).toEqual(['tg.timer']);
    expect(problemsOf(`${MINIMAL}tg: { steal: { tries: 0 } }\n`).map((p) => p.path)).toEqual(['tg.steal.tries']);
    expect(problemsOf(`${MINIMAL}tg:\n  type: trex\n  timer: nano\n  trex:\n    ports: { transmit: 0, receive: 1 }\n`)).toEqual([
      { path: 'tg.timer', message: "tcpreplay's pacing, for tg.type linux; TRex paces its own streams" },
    ]);
  });

  it('takes a fixed load for the telemetry trial alone, and refuses one with the telemetry trial turned off', () => {
    expect(parseTestbed(`${MINIMAL}throughput: { fixedLoad: 20000 }\n`).throughput).toMatchObject({ fixedLoad: 20000, telemetry: true });
    expect(problemsOf(`${MINIMAL}throughput: { fixedLoad: 20000, telemetry: false }\n`)).toEqual([
      { path: 'throughput.fixedLoad', message: 'a fixed load measures only the telemetry trial: it needs throughput.telemetry true' },
    ]);
    expect(problemsOf(`${MINIMAL}throughput: { fixedLoad: 0 }\n`).map((p) => p.path)).toEqual(['throughput.fixedLoad']);
  });
});
