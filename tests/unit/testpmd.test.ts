// The VM guest forwarding with DPDK's testpmd (vm.forwarding: testpmd): the
// testbed's refusals, the profile's steps in place of the kernel router's,
// testpmd's command line (each port's peer by its PCI rank), its counters
// from DPDK's telemetry (real output of dpdk-telemetry.py in the VM lab's
// guest) as the guest's links, and the packet check's MAC-forwarding mode.
import { readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { parseDocument } from 'yaml';
import { parseEthdevStats, parseTestpmdPorts, testpmdLinks } from '../../lib/parsers/testpmd.js';
import { ovsDpdk } from '../../lib/profiles/ovs-dpdk.profile.js';
import { profileFor } from '../../lib/profiles/profile.js';
import { testpmdCommand } from '../../lib/profiles/steps/guest-testpmd.js';
import { planOf } from '../../lib/scenario/plan.js';
import { parseTestbed } from '../../lib/testbed/load.js';
import { topologyOf } from '../../lib/testbed/topology.js';
import { unmetBy } from '../../lib/capabilities.js';
import { checkGuestBoot } from '../../lib/verify/state.js';
import { verifyCapture } from '../../lib/verify/packets.js';
import { pcapFrames } from '../../lib/traffic/pcap.js';
import { buildFrame, forwardFrame } from '../../lib/traffic/stream.js';
import { VM_TEMPLATE } from '../../lib/vlab/lab.js';
import { output, testbedProblems } from '../helpers/fixtures.js';
import { EGRESS_MAC, GATEWAY_MAC, TempDir, fixChecksum, pcapBytes, spec } from '../helpers/pcaps.js';

const tmp = new TempDir();
afterAll(() => tmp.remove());

const TEMPLATE = readFileSync(VM_TEMPLATE, 'utf8');
/** The VM lab's testbed with these vm settings. */
const withVm = (vm: Record<string, unknown>) => {
  const doc = parseDocument(TEMPLATE);
  for (const [k, v] of Object.entries(vm)) doc.setIn(['vm', k], v);
  return doc.toString();
};
const testpmd = parseTestbed(withVm({ forwarding: 'testpmd', cpus: 2 }), 'vm.yaml');

describe('vm.forwarding: testpmd in the testbed', () => {
  it('is the kernel by default; testpmd needs a second vCPU and its pages inside the guest’s memory, naming the field', () => {
    expect(parseTestbed(TEMPLATE, 'vm.yaml').vm!.forwarding).toBe('kernel');
    expect(testpmd.vm!.testpmd).toEqual({ hugepages: 64, mbufs: 2048 });
    expect(testbedProblems(withVm({ forwarding: 'testpmd', cpus: 1 }), 'vm.yaml')).toContainEqual({
      path: 'vm.cpus',
      message: "1 vCPU: testpmd polls one of its own (vm.forwarding testpmd), the guest's sshd needs another",
    });
    expect(testbedProblems(withVm({ forwarding: 'testpmd', cpus: 2, testpmd: { hugepages: 512 } }), 'vm.yaml')).toContainEqual({
      path: 'vm.testpmd.hugepages',
      message: expect.stringMatching(/^512 pages of 2 MB: more than half the guest's \d+ MB/),
    });
    expect(testbedProblems(withVm({ forwarding: 'dpdk' }), 'vm.yaml')[0]!.path).toBe('vm.forwarding');
  });
});

describe('the profile of a testpmd guest', () => {
  const p = profileFor(ovsDpdk, testpmd);
  const ids = p.steps.map((s) => s.id);

  it('gives the guest’s NICs to DPDK and starts testpmd where the kernel router’s steps were; what judges a kernel router is blocked', () => {
    expect(ids.slice(ids.indexOf('guest.connect'))).toEqual([
      'guest.connect',
      'host.wait-vhost-user',
      'host.confirm-ports',
      'dmesg.baseline',
      'guest.testpmd-bind',
      'guest.testpmd',
      'guest.testpmd-check',
    ]);
    expect(ids).not.toContain('guest.route-arp');
    const lab = { features: new Set(p.features), versions: {} };
    expect(unmetBy({ feature: 'guest-router' }, lab)).toBe('blocked: this lab has no guest-router');
    expect(unmetBy({ feature: 'testpmd' }, lab)).toBeNull();
    expect(profileFor(ovsDpdk, parseTestbed(TEMPLATE, 'vm.yaml')).features).toContain('guest-router');
  });

  it('binds each NIC by its PCI address, ingress first, and gives the pages back at undo', () => {
    const bind = planOf(testpmd, ovsDpdk).find((s) => s.id === 'guest.testpmd-bind')!;
    const lines = bind.commands.map((c) => c.line);
    expect(lines[0]).toBe('modprobe uio_pci_generic');
    const t = topologyOf(testpmd);
    expect(lines.filter((l) => l.includes('drivers_probe')).map((l) => /\/sys\/class\/net\/(\S+)\/device/.exec(l)![1])).toEqual([
      t.vmIngress.guestIf,
      t.vmEgress.guestIf,
    ]);
  });

  it('runs testpmd in mac mode, each port’s peer the next hop’s MAC by its rank in PCI order', async () => {
    const line = testpmdCommand({ tb: testpmd, topology: topologyOf(testpmd), profile: p, value: () => '' });
    expect(line).toMatch(/dpdk-testpmd -l 0,1 -n 1 --file-prefix dutlab-testpmd -a "\$ing" -a "\$egr" -- --forward-mode=mac /);
    expect(line).toContain(`--eth-peer="$pe,${testpmd.gateway.mac}"`);
    expect(line).toContain('--total-num-mbufs=2048');
    // The shell's choice of ranks, run here on the ports file's two orders.
    for (const [ing, egr, pi, pe] of [
      ['0000:00:03.0', '0000:00:04.0', '0', '1'],
      ['0000:00:04.0', '0000:00:03.0', '1', '0'],
    ]) {
      const { LocalShell } = await import('../../lib/transport/local.js');
      const rank = line.slice(0, line.indexOf('dpdk-testpmd')).replace(`$(cat /run/dutlab-testpmd/ports)`, `vEth_port32 ${ing} vEth_port33 ${egr}`);
      expect((await new LocalShell().run(`${rank} echo "$pi $pe"`)).stdout).toBe(`${pi} ${pe}`);
    }
  });
});

describe("testpmd's counters, from DPDK's telemetry (dpdk-telemetry.py in the VM lab's guest)", () => {
  it('are the guest’s links: port n is the NIC of rank n in PCI order', () => {
    const ports = parseTestpmdPorts('vEth_port32 0000:00:04.0\nvEth_port33 0000:00:03.0\n');
    expect(ports).toEqual([
      { iface: 'vEth_port32', pci: '0000:00:04.0', port: 1 },
      { iface: 'vEth_port33', pci: '0000:00:03.0', port: 0 },
    ]);
    const stats = parseEthdevStats(`Connecting to /var/run/dpdk/dutlab-testpmd/dpdk_telemetry.v2\n${output('dpdk-telemetry-ethdev-stats-testpmd.txt')}`);
    expect(stats.map((s) => [s!.ipackets, s!.opackets])).toEqual([
      [1000, 0],
      [0, 1000],
    ]);
    const links = testpmdLinks(parseTestpmdPorts('vEth_port32 0000:00:03.0\nvEth_port33 0000:00:04.0'), stats);
    expect(links.map((l) => [l.name, l.stats!.rxPackets, l.stats!.txPackets])).toEqual([
      ['vEth_port32', 1000, 0],
      ['vEth_port33', 0, 1000],
    ]);
  });

  it('name what they lack: a port testpmd does not know, a line that is not its answer', () => {
    expect(() => testpmdLinks(parseTestpmdPorts('vEth_port32 0000:00:03.0'), parseEthdevStats('{"/ethdev/stats": null}'))).toThrow(
      /the counters of port 0 \(vEth_port32\)/,
    );
    expect(() => parseEthdevStats('{"/ethdev/stats": {"ipackets": 1}}')).toThrow(/a number "opackets"/);
    expect(() => parseTestpmdPorts('vEth_port32 03.0')).toThrow(/a line "<NIC> <PCI address>" per NIC/);
  });

  it('on a guest’s boot check: its NICs on uio_pci_generic once given to DPDK', () => {
    expect(checkGuestBoot([], [{ iface: 'vEth_port32', driver: 'uio_pci_generic' }], 'uio_pci_generic')).toEqual([]);
    expect(checkGuestBoot([], [{ iface: 'vEth_port32', driver: 'virtio_net' }], 'uio_pci_generic')).toEqual([
      'guest vEth_port32: driver virtio_net, expected uio_pci_generic',
    ]);
  });
});

describe('the packet check of a MAC-forwarding guest', () => {
  const s = spec({ count: 4 });
  const exp = { stream: s, dstMac: GATEWAY_MAC, srcMac: EGRESS_MAC, lossTolerance: 0, maxProblems: 10, macForwarding: true };
  const macForwarded = (i: number) => forwardFrame(buildFrame(s, i), GATEWAY_MAC, EGRESS_MAC, false);

  it('passes frames whose MACs are the next hops’ and whose TTL is as sent', async () => {
    const v = await verifyCapture(pcapFrames(tmp.file('macfwd.pcap', pcapBytes([0, 1, 2, 3].map(macForwarded)))), exp);
    expect(v).toMatchObject({ ok: true, received: 4, mismatched: 0 });
  });

  it('names a frame routed on the way (TTL one less) and one that never crossed the guest', async () => {
    const routed = forwardFrame(buildFrame(s, 1), GATEWAY_MAC, EGRESS_MAC);
    const straight = buildFrame(s, 2);
    fixChecksum(straight);
    const v = await verifyCapture(pcapFrames(tmp.file('macfwd-bad.pcap', pcapBytes([macForwarded(0), routed, straight, macForwarded(3)]))), exp);
    expect(v.problems).toEqual([
      `seq 1: TTL ${s.ttl - 1}, expected ${s.ttl}: it crossed a router (the guest's MAC forwarder leaves TTL as sent: did its kernel route it?)`,
      expect.stringMatching(/^seq 2: came back exactly as sent .*: it did not cross the guest's MAC forwarder \(testpmd\)/),
    ]);
  });
});
