import { describe, expect, it } from 'vitest';
import { ParseError } from '../../lib/errors.js';
import { ivshmemState, kernelTrouble, parseDmesg, since } from '../../lib/parsers/dmesg.js';
import { parseHugepageUse } from '../../lib/parsers/hugepages.js';
import { parseIvshmCmdline } from '../../lib/parsers/ivshm.js';
import { netmaskToPrefix, parseIfconfig, parseIpJson, parseNeighbours, parseRoutes, parseSysctl, prefixToNetmask } from '../../lib/parsers/net.js';
import { parseDumpFlows, parseDumpPorts, parseOvsVsctlShow } from '../../lib/parsers/ovs.js';
import { output } from '../helpers/fixtures.js';

describe('ovs-vsctl show', () => {
  it("reads the guide's output: quoted names, dpdkphy options, dpdkkni ports", () => {
    const show = parseOvsVsctlShow(output('ovs-vsctl-show-guide-dpdk-br0.txt'));
    expect(show.uuid).toBe('00000000-0000-0000-0000-000000000000');
    const br = show.bridges[0]!;
    expect(br.name).toBe('br0');
    expect(br.ports.map((p) => p.name)).toEqual(['br0', 'port16', 'port17', 'port32', 'port33']);
    expect(br.ports[1]!.interfaces[0]).toEqual({ name: 'port16', type: 'dpdkphy', options: { port: '1' } });
    expect(br.ports[3]!.interfaces[0]).toEqual({ name: 'port32', type: 'dpdkkni', options: {} });
  });

  it('reads OVS 3.1 output: unquoted names, datapath_type, system ports', () => {
    const br = parseOvsVsctlShow(output('ovs-vsctl-show-netdev-br0-four-system-ports.txt')).bridges[0]!;
    expect(br.datapathType).toBe('netdev');
    expect(br.ports.map((p) => [p.name, p.interfaces[0]!.type])).toEqual([
      ['br0', 'internal'],
      ['port16', ''],
      ['port32', ''],
      ['port33', ''],
      ['port17', ''],
    ]);
  });

  it('reads several bridges and interface errors', () => {
    const show = parseOvsVsctlShow(output('ovs-vsctl-show-two-bridges-one-error.txt'));
    expect(show.bridges.map((b) => b.name)).toEqual(['br1', 'br0']);
    const nosuch = show.bridges[1]!.ports.find((p) => p.name === 'nosuch0')!.interfaces[0]!;
    expect(nosuch.error).toBe('could not open network device nosuch0 (No such device)');
  });

  it('refuses output without the database UUID', () => {
    expect(() => parseOvsVsctlShow(output('ovs-vsctl-show-garbage-no-uuid.txt'))).toThrow(ParseError);
    expect(() => parseOvsVsctlShow('')).toThrow(/expected a database UUID/);
  });
});

describe('ovs-ofctl dump-flows and dump-ports', () => {
  it('reads the two flows with their counters', () => {
    const flows = parseDumpFlows(output('dump-flows-two-flows-after-100.txt'));
    expect(flows).toHaveLength(2);
    expect(flows[0]).toMatchObject({
      nPackets: 100,
      nBytes: 6000,
      table: 0,
      actions: 'output:32',
      fields: { in_port: '16', nw_src: '1.1.1.1', nw_dst: '6.6.6.2' },
    });
    expect(flows[1]!.fields.in_port).toBe('33');
  });

  it('reads the default NORMAL flow', () => {
    expect(parseDumpFlows(output('dump-flows-default-normal-flow.txt'))).toEqual([expect.objectContaining({ actions: 'NORMAL', match: 'priority=0' })]);
  });

  it('gives an empty table for a header alone, and an error for a cut-off line', () => {
    expect(parseDumpFlows('NXST_FLOW reply (xid=0x4):\n')).toEqual([]);
    expect(() => parseDumpFlows(output('dump-flows-truncated-mid-line.txt'))).toThrow(/expected a flow line/);
    expect(() => parseDumpFlows('')).toThrow(ParseError);
  });

  it('reads port counters by OpenFlow port, LOCAL included', () => {
    const ports = parseDumpPorts(output('dump-ports-five-ports-after-100.txt'));
    expect([...ports.keys()].sort()).toEqual(['16', '17', '32', '33', 'LOCAL']);
    expect(ports.get('16')).toMatchObject({ rxPackets: 100, rxBytes: 6000, txPackets: 0 });
    expect(ports.get('17')).toMatchObject({ txPackets: 100, txBytes: 6000 });
    expect(parseDumpPorts(output('dump-ports-two-ports-fresh.txt')).get('1')).toMatchObject({ rxPackets: 0 });
  });

  it('refuses a dump-ports output cut off before the ports its header announces', () => {
    expect(() => parseDumpPorts(output('dump-ports-truncated-mid-output.txt'))).toThrow(ParseError);
    expect(() => parseDumpPorts('ovs-ofctl: br0 is not a bridge or a socket')).toThrow(/OFPST_PORT reply/);
  });
});

describe('ifconfig and ip -j', () => {
  it('reads the net-tools 2.x format', () => {
    const ifs = parseIfconfig(output('ifconfig-a-guest-configured-new-format.txt'));
    expect(ifs.map((i) => i.name)).toEqual(['lo', 'vEth_port32', 'vEth_port33']);
    expect(ifs[1]).toMatchObject({
      flags: ['UP', 'BROADCAST', 'RUNNING', 'MULTICAST'],
      mtu: 1500,
      mac: '00:4b:4e:49:30:00',
      inet: { address: '2.2.2.1', netmask: '255.255.255.0' },
    });
  });

  it('reads the net-tools 1.60 format, a down interface included', () => {
    const ifs = parseIfconfig(output('ifconfig-a-guest-egress-down-old-format.txt'));
    expect(ifs[1]).toMatchObject({
      name: 'vEth_port32',
      flags: ['UP', 'BROADCAST', 'RUNNING', 'MULTICAST'],
      mac: '00:4b:4e:49:30:00',
      inet: { address: '2.2.2.1', netmask: '255.255.255.0' },
      rx: { packets: 1000, bytes: 60000 },
    });
    expect(ifs[2]!.flags).toEqual(['BROADCAST', 'MULTICAST']);
    expect(ifs[2]!.tx).toEqual({ packets: 1000, bytes: 60000 });
  });

  it('reads an interface with no address', () => {
    const ingress = parseIfconfig(output('ifconfig-a-guest-ingress-down-no-address.txt')).find((i) => i.name === 'vEth_port32')!;
    expect(ingress.inet).toBeUndefined();
    expect(ingress.flags).not.toContain('UP');
  });

  it('refuses garbage', () => {
    expect(() => parseIfconfig('')).toThrow(ParseError);
    expect(() => parseIfconfig('ifconfig: command not found')).toThrow(/interface header/);
  });

  it('reads ip -j addr and ip -s -j link', () => {
    const a = parseIpJson(output('ip-j-addr-guest-configured.json'));
    expect(a.find((x) => x.name === 'vEth_port32')).toMatchObject({
      name: 'vEth_port32',
      mac: '00:4b:4e:49:30:00',
      addrs: [{ family: 'inet', local: '2.2.2.1', prefixlen: 24 }],
    });
    const l = parseIpJson(output('ip-j-s-link-guest-egress-up.json'));
    expect(l.find((x) => x.name === 'vEth_port33')!.stats).toEqual(expect.objectContaining({ rxPackets: expect.any(Number), txPackets: expect.any(Number) }));
    expect(() => parseIpJson('Device "x" does not exist.')).toThrow(/JSON array/);
  });

  it('converts netmasks', () => {
    expect(netmaskToPrefix('255.255.255.0')).toBe(24);
    expect(prefixToNetmask(24)).toBe('255.255.255.0');
    expect(prefixToNetmask(30)).toBe('255.255.255.252');
  });
});

describe('routes, neighbours, sysctl', () => {
  it('reads the default route from ip route, ip -j route and route -n alike', () => {
    const want = { dst: 'default', gateway: '3.3.3.2', dev: 'vEth_port33' };
    expect(parseRoutes(output('ip-route-default-via-gateway.txt'))[0]).toEqual(want);
    expect(parseRoutes(output('ip-j-route-default-via-gateway.json'))[0]).toEqual(want);
    expect(parseRoutes(output('route-n-default-via-gateway.txt'))[0]).toEqual(want);
    expect(parseRoutes(output('route-n-default-via-gateway.txt'))[1]).toEqual({ dst: '3.3.3.0/24', dev: 'vEth_port33' });
    expect(() => parseRoutes('RTNETLINK answers: Operation not permitted')).toThrow(ParseError);
  });

  it('reads the static ARP entry from arp -n, ip neigh and ip -j neigh alike', () => {
    const want = { ip: '3.3.3.2', mac: 'de:ad:be:ef:ca:fe', dev: 'vEth_port33', permanent: true };
    expect(parseNeighbours(output('arp-n-static-gateway.txt'))).toEqual([want]);
    expect(parseNeighbours(output('ip-neigh-static-gateway.txt'))).toEqual([want]);
    expect(parseNeighbours(output('ip-j-neigh-static-gateway.json'))).toEqual([want]);
    expect(parseNeighbours('3.3.3.2 dev vEth_port33 lladdr 00:11:22:33:44:55 REACHABLE')[0]!.permanent).toBe(false);
    expect(() => parseNeighbours('Address HWtype\ngarbage')).toThrow(ParseError);
  });

  it('reads sysctl', () => {
    expect(parseSysctl(output('sysctl-forwarding-on-rp-filter-off.txt'))).toEqual({
      'net.ipv4.ip_forward': '1',
      'net.ipv4.conf.all.rp_filter': '0',
      'net.ipv4.conf.vEth_port32.rp_filter': '0',
    });
    expect(() => parseSysctl('sysctl: cannot stat /proc/sys/net/ipv4/conf/vEth_port32/rp_filter: No such file')).toThrow(ParseError);
  });
});

describe('dmesg', () => {
  it('reads timestamps, and what the KNI module said about IVSHMEM', () => {
    const lines = parseDmesg(output('dmesg-kni-ivshmem-found.txt'));
    expect(lines[1]).toEqual({ time: 2734.408833, text: 'KNI: ######## DPDK kni module loading ########' });
    expect(ivshmemState(lines)).toBe('found');
    expect(ivshmemState(parseDmesg(output('dmesg-kni-ivshmem-not-found.txt')))).toBe('not-found');
    expect(ivshmemState(parseDmesg(output('dmesg-kni-no-ivshmem-message.txt')))).toBe('absent');
  });

  it('reads a log without timestamps and finds the Oops, BUG and call trace', () => {
    const lines = parseDmesg(output('dmesg-no-timestamps-oops.txt'));
    expect(lines[0]!.time).toBeUndefined();
    expect(kernelTrouble(lines).map((l) => l.text.split(':')[0])).toEqual(['BUG', 'Oops', 'Call Trace']);
  });

  it('keeps only what was logged after a baseline', () => {
    const lines = parseDmesg(output('dmesg-kni-ivshmem-found.txt'));
    expect(since(lines, 2734.409226).map((l) => l.time)).toEqual([2734.409239, 2734.40924]);
  });
});

describe('ovs-ivshm-mngr output', () => {
  it('captures the QEMU -device argument and its regions', () => {
    const dev = parseIvshmCmdline(output('ivshm-mngr-vm_1.txt'), 'vm_1');
    expect(dev.argument).toBe(
      '-device ivshmem,size=64M,shm=fd:/dev/hugepages/rtemap_0:0x0:0x200000:/dev/hugepages/rtemap_1:0xa00000:0x3200000:/dev/hugepages/rtemap_2:0x0:0x200000:/dev/zero:0x0:0x9fc000:/var/run/.dpdk_ivshmem_metadata_vm_1:0x0:0x4000',
    );
    expect(dev.size).toBe('64M');
    expect(dev.regions).toHaveLength(5);
    expect(dev.regions[4]).toEqual({ path: '/var/run/.dpdk_ivshmem_metadata_vm_1', offset: '0x0', length: '0x4000' });
  });

  it('refuses output for another metadata name, or without the line', () => {
    expect(() => parseIvshmCmdline(output('ivshm-mngr-vm_1.txt'), 'vm_2')).toThrow(/vm_2/);
    expect(() => parseIvshmCmdline('EAL: Error - exiting with code: 1')).toThrow(ParseError);
    expect(() => parseIvshmCmdline("APP: QEMU cmdline for metadata 'vm_1': -device ivshmem,size=64M,shm=fd:/dev/zero:0x0")).toThrow(/triples/);
  });
});

describe('output cut off, empty where something must be, or of the wrong shape: a ParseError naming what was expected', () => {
  const parseError = (f: () => unknown, expected: RegExp) => {
    let err: unknown;
    try {
      f();
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ParseError);
    expect((err as ParseError).expected).toMatch(expected);
  };

  it('ovs-vsctl show cut after a Port line, or in the middle of a quoted name', () => {
    parseError(() => parseOvsVsctlShow(output('ovs-vsctl-show-cut-after-a-port-line.txt')), /an Interface line under Port port32/);
    parseError(() => parseOvsVsctlShow(output('ovs-vsctl-show-guide-cut-mid-quote.txt')), /whole lines/);
    parseError(() => parseOvsVsctlShow(''), /a database UUID/);
  });

  it('ifconfig -a cut in the middle of an interface block, in both net-tools formats', () => {
    parseError(() => parseIfconfig(output('ifconfig-a-guest-cut-mid-block-new-format.txt')), /vEth_port32 to end with its "TX errors" line/);
    parseError(() => parseIfconfig(output('ifconfig-a-guest-cut-mid-block-old-format.txt')), /to end with its "RX bytes:" line/);
    parseError(() => parseIfconfig(''), /at least one interface block/);
  });

  it("an empty routing table where one is required (a guest reached over its management NIC has that NIC's route)", () => {
    parseError(() => parseRoutes('', { required: true }), /at least the route/);
    parseError(() => parseRoutes('[]', { required: true }), /at least the route/);
    // A namespace reached through loopback may have none.
    expect(parseRoutes('')).toEqual([]);
  });

  it('n_packets= or n_bytes= without a number', () => {
    const line = output('dump-flows-two-flows-after-100.txt');
    parseError(() => parseDumpFlows(line.replace('n_packets=100', 'n_packets=')), /a number after n_packets=/);
    parseError(() => parseDumpFlows(line.replace('n_bytes=6000', 'n_bytes=x')), /a number after n_bytes=/);
  });

  it('ip -j output of the wrong shape: [null], no ifname, counters without numbers, addresses without prefix', () => {
    parseError(() => parseIpJson('[null]'), /a JSON array of objects/);
    parseError(() => parseIpJson('{"ifname": "x"}'), /a JSON array/);
    parseError(() => parseIpJson('[{"flags": []}]'), /a string "ifname"/);
    parseError(
      () => parseIpJson('[{"ifname": "vEth_port32", "stats64": {"rx": {"packets": 1}}}]'),
      /"rx" counters with numeric packets and bytes for vEth_port32/,
    );
    parseError(() => parseIpJson('[{"ifname": "vEth_port32", "stats64": null}]'), /"rx" counters/);
    parseError(() => parseIpJson('[{"ifname": "vEth_port32", "addr_info": [{"local": "2.2.2.1"}]}]'), /addresses with "local" and "prefixlen" on vEth_port32/);
    parseError(() => parseRoutes('[null]'), /a JSON array of objects/);
    parseError(() => parseNeighbours('[{"dst": "3.3.3.2"}]'), /a string "dev"/);
  });
});

describe('the hugepage reading', () => {
  it('reads the free count and each holder, and refuses a reading cut short', () => {
    const text = 'free 12\nholder 4242 131072 /usr/lib/openvswitch-switch-dpdk/ovs-vswitchd-dpdk unix:/run/db.sock --pidfile=/tmp/v.pid\nend\n';
    expect(parseHugepageUse(text)).toEqual({
      free: 12,
      holders: [{ pid: 4242, kb: 131072, cmdline: '/usr/lib/openvswitch-switch-dpdk/ovs-vswitchd-dpdk unix:/run/db.sock --pidfile=/tmp/v.pid' }],
    });
    expect(parseHugepageUse('free none\nend\n')).toEqual({ free: null, holders: [] });
    // Cut at any line boundary: refused, never fewer holders.
    const lines = text.split('\n');
    for (let k = 0; k < lines.length - 2; k++) expect(() => parseHugepageUse(lines.slice(0, k + 1).join('\n')), `cut after line ${k + 1}`).toThrow(ParseError);
    expect(() => parseHugepageUse('free 3\nholder x 1 y\nend')).toThrow(/holder PID KB CMDLINE/);
  });
});
