// The ovs-dpdk profile without a lab: its plan, what it requires of the
// testbed, and the parsers and checks of its DPDK side on real outputs.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseInterfaceStates, parseOvsLog, parsePmdStatsShow } from '../../lib/parsers/ovs-dpdk.js';
import { ovsDpdk } from '../../lib/profiles/ovs-dpdk.profile.js';
import { profileProblems } from '../../lib/profiles/profile.js';
import { ealExtraArgs } from '../../lib/profiles/steps/ovs-dpdk.js';
import { hugepagesNeeded } from '../../lib/testbed/sizing.js';
import { commandText, planOf } from '../../lib/scenario/plan.js';
import { parseTestbed } from '../../lib/testbed/load.js';
import { checkDpdkInitialized, checkDpdkPorts, checkPmdStats, checkVswitchdLog, vhostPeerGoneLines } from '../../lib/verify/state.js';
import { output } from '../helpers/fixtures.js';

const file = (name: string) => new URL(`../../fixtures/testbeds/${name}`, import.meta.url).pathname;
const dpdkTb = parseTestbed(readFileSync(file('virtual-dpdk.yaml'), 'utf8'), 'virtual-dpdk.yaml');
const legacyTb = parseTestbed(readFileSync(file('legacy-kni.yaml'), 'utf8'), 'legacy-kni.yaml');

describe('the ovs-dpdk plan', () => {
  const plan = planOf(dpdkTb, ovsDpdk);
  const lines = (id: string) => plan.find((s) => s.id === id)!.commands.map(commandText);

  it('never lets DPDK probe the PCI bus unless the testbed names devices, and keeps its files under its own prefix', () => {
    expect(ealExtraArgs(dpdkTb)).toEqual(['--in-memory', '--no-pci', '--file-prefix=dutlab-vlab']);
    expect(lines('host.dpdk-config')[0]).toContain("'other_config:dpdk-extra=--in-memory --no-pci --file-prefix=dutlab-vlab'");
    const withPci = parseTestbed(
      readFileSync(file('virtual-dpdk.yaml'), 'utf8').replace('pmdMaxSleepUs: 10000', 'pmdMaxSleepUs: 10000\n  pciDevices: ["0000:01:00.0"]'),
    );
    expect(ealExtraArgs(withPci)).toEqual(['--in-memory', '-a', '0000:01:00.0', '--file-prefix=dutlab-vlab']);
  });

  it('runs the DPDK build of ovs-vswitchd by its path, with its own control socket, and stops it through it', () => {
    expect(lines('host.start-vswitchd-dpdk')[2]).toBe(
      '/usr/lib/openvswitch-switch-dpdk/ovs-vswitchd-dpdk unix:/run/dutlab-vlab/ovs/db.sock --pidfile=/run/dutlab-vlab/ovs/ovs-vswitchd.pid --unixctl=/run/dutlab-vlab/ovs/ovs-vswitchd.ctl --no-chdir --log-file=/run/dutlab-vlab/ovs/ovs-vswitchd.log &',
    );
    expect(plan.some((s) => s.commands.some((c) => /update-alternatives|\/usr\/sbin\/ovs-vswitchd /.test(c.line)))).toBe(false);
  });

  it('adds the phy ports as DPDK devices and the VM ports as tap PMD ports with one RX queue per TX queue, then moves the taps to the guest', () => {
    expect(lines('host.add-ports')).toEqual([
      'ovs-vsctl --no-wait add-port br0 port16 -- set Interface port16 type=dpdk options:dpdk-devargs=net_af_packet0,iface=port16 ofport_request=16',
      'ovs-vsctl --no-wait add-port br0 port17 -- set Interface port17 type=dpdk options:dpdk-devargs=net_af_packet1,iface=port17 ofport_request=17',
      'ovs-vsctl --no-wait add-port br0 port32 -- set Interface port32 type=dpdk options:dpdk-devargs=net_tap32,iface=vEth_port32 options:n_rxq=2 ofport_request=32',
      'ovs-vsctl --no-wait add-port br0 port33 -- set Interface port33 type=dpdk options:dpdk-devargs=net_tap33,iface=vEth_port33 options:n_rxq=2 ofport_request=33',
    ]);
    expect(lines('host.move-taps')).toEqual(['ip link set dev vEth_port32 netns dutlab-vlab-guest', 'ip link set dev vEth_port33 netns dutlab-vlab-guest']);
    expect(hugepagesNeeded(dpdkTb)).toBe(128);
  });

  it("refuses a testbed it cannot build, naming each field: the guide's has no DPDK devices and KNI ports", () => {
    expect(profileProblems(ovsDpdk, dpdkTb, 'x.yaml')).toBeNull();
    expect(profileProblems(ovsDpdk, legacyTb, 'legacy-kni.yaml')?.message).toBe(
      'legacy-kni.yaml: 4 problem(s) in the testbed file:\n' +
        "  - phyPorts.0.dpdkDevargs: the ovs-dpdk profile needs the port's DPDK device (profile ovs-dpdk)\n" +
        "  - phyPorts.1.dpdkDevargs: the ovs-dpdk profile needs the port's DPDK device (profile ovs-dpdk)\n" +
        '  - vmPorts.0.kind: the ovs-dpdk profile takes tap or vhost-user ports, not kni (profile ovs-dpdk)\n' +
        '  - vmPorts.1.kind: the ovs-dpdk profile takes tap or vhost-user ports, not kni (profile ovs-dpdk)',
    );
    const twoPmds = parseTestbed(readFileSync(file('virtual-dpdk.yaml'), 'utf8').replace('pmdCpuMask: "0x2"', 'pmdCpuMask: "0x6"'));
    expect(profileProblems(ovsDpdk, twoPmds, 'x.yaml')?.problems).toEqual([
      { path: 'ovsDpdk.pmdCpuMask', message: 'one PMD core with tap VM ports (their queues are sized for one), not 0x6 (profile ovs-dpdk)' },
    ]);
    // vhost-user VM ports take as many PMD cores as the lab gives them (a real lab's several isolated cores).
    const vmTwoPmds = parseTestbed(readFileSync(file('virtual-vm.yaml'), 'utf8').replace(/pmdCpuMask: "?0x\w+"?/, 'pmdCpuMask: "0x6"'));
    expect(vmTwoPmds.ovsDpdk.pmdCpuMask).toBe('0x6');
    expect(profileProblems(ovsDpdk, vmTwoPmds, 'x.yaml')).toBeNull();
  });
});

describe("the DPDK side's outputs", () => {
  it('reads the PMD threads and the main thread from pmd-stats-show, and refuses a cut output', () => {
    const text = output('pmd-stats-show-one-pmd-3-packets.txt');
    expect(parsePmdStatsShow(text)).toEqual({
      threads: [
        {
          name: 'pmd thread numa_id 0 core_id 1',
          cycles: { idle: 105761392, processing: 728548 },
          packetsReceived: 3,
          upcalls: 1,
          failedUpcalls: 0,
          simpleMatchHits: 2,
          emcHits: 0,
          smcHits: 0,
          megaflowHits: 0,
        },
        { name: 'main thread', packetsReceived: 0, upcalls: 0, failedUpcalls: 0, simpleMatchHits: 0, emcHits: 0, smcHits: 0, megaflowHits: 0 },
      ],
      packetsReceived: 3,
      upcalls: 1,
      failedUpcalls: 0,
      simpleMatchHits: 2,
      emcHits: 0,
      smcHits: 0,
      megaflowHits: 0,
    });
    expect(() => parsePmdStatsShow(text.slice(0, 80))).toThrow(/a "main thread:" block/);
  });

  it('reads the Interface table: a moved tap reports its link down, and only that is excused', () => {
    const states = parseInterfaceStates(output('list-interface-dpdk-tap-moved-to-guest.csv'));
    expect(states.find((s) => s.name === 'port32')).toEqual({ name: 'port32', type: 'dpdk', error: '', linkState: 'down' });
    const ports = [
      { name: 'port16', kernelSideElsewhere: false },
      { name: 'port17', kernelSideElsewhere: false },
      { name: 'port32', kernelSideElsewhere: true },
      { name: 'port33', kernelSideElsewhere: true },
    ];
    expect(checkDpdkPorts(states, ports)).toEqual([]);
    expect(
      checkDpdkPorts(
        states,
        ports.map((p) => ({ ...p, kernelSideElsewhere: false })),
      ),
    ).toEqual(['DPDK port port32 has link_state down, expected up']);
    const broken = parseInterfaceStates(
      'port16,dpdk,"could not add network device port16 to ofproto (Invalid argument)",\nbogus,dpdk,"Error attaching device \'net_x\', ""quoted""",\n',
    );
    expect(checkDpdkPorts(broken, [{ name: 'port16', kernelSideElsewhere: false }])).toEqual([
      'DPDK port port16 reports an error: could not add network device port16 to ofproto (Invalid argument)',
      'DPDK port port16 has link_state unset, expected up',
      "DPDK port bogus (not the testbed's) reports an error: Error attaching device 'net_x', \"quoted\"",
    ]);
  });

  it('judges DPDK initialised, the PMD counts both ways, and the log against its allowlist', () => {
    expect(checkDpdkInitialized('true', 'DPDK 22.11.11')).toEqual([]);
    expect(checkDpdkInitialized('false', '')).toEqual([
      'DPDK is not initialised in ovs-vswitchd (dpdk_initialized=false)',
      'ovs-vswitchd reports no DPDK version (dpdk_version=empty)',
    ]);
    expect(checkPmdStats(2000, 1000, 0)).toEqual([]);
    expect(checkPmdStats(2003, 1000, 3)).toEqual([]);
    expect(checkPmdStats(2004, 1000, 3)[0]).toMatch(/^the PMD threads received 2004 packets over the run, 4 more than/);
    expect(checkPmdStats(1500, 1000, 10)[0]).toMatch(/500 did not come back through it$/);
    const log = parseOvsLog(
      '2026-11-23T16:46:29.753Z|00057|dpdk|ERR|qdisc_create_multiq(): Could not add multiq qdisc (2): No such file or directory\n' +
        '2026-11-23T16:46:29.927Z|00072|netdev_dpdk|WARN|Rx checksum offload is not supported on port 1\n' +
        '2026-11-23T16:55:34.040Z|00110|dpdk|ERR|EAL: failed to parse device "net_bogus0"\n',
    );
    expect(log.map((l) => l.level)).toEqual(['ERR', 'WARN', 'ERR']);
    expect(checkVswitchdLog(log, dpdkTb.ovsDpdk.logAllowlist)).toEqual([
      '1 unexpected ERR/EMER line(s) in ovs-vswitchd\'s log, first: "2026-11-23T16:55:34.040Z|00110|dpdk|ERR|EAL: failed to parse device \\"net_bogus0\\""',
    ]);
    expect(checkVswitchdLog(log, [...dpdkTb.ovsDpdk.logAllowlist, 'failed to parse device'])).toEqual([]);
  });

  it("explains the vhost library's ERR lines about a dead VM's sockets by its death, and no other line", () => {
    // As ovs-vswitchd logged them when QEMU was killed with a vhost-user message it had not read.
    const log = parseOvsLog(
      '2026-11-30T12:25:15.482Z|00176|dpdk|WARN|VHOST_CONFIG: (/run/lab/vm/port33.sock) failed to connect: Connection refused\n' +
        '2026-11-30T12:25:15.482Z|00178|dpdk|ERR|VHOST_CONFIG: (/run/lab/vm/port32.sock) recvmsg failed on fd 179 (Connection reset by peer)\n' +
        '2026-11-30T12:25:15.482Z|00179|dpdk|ERR|VHOST_CONFIG: (/run/lab/vm/port32.sock) vhost read message failed\n' +
        '2026-11-30T12:25:15.483Z|00180|dpdk|ERR|VHOST_CONFIG: (/run/lab/vm/port32.sock) failed to alloc queue\n' +
        '2026-11-30T12:25:15.484Z|00181|dpdk|ERR|VHOST_CONFIG: (/run/other/port32.sock) recvmsg failed on fd 180 (Connection reset by peer)\n',
    );
    const sockets = ['/run/lab/vm/port32.sock', '/run/lab/vm/port33.sock'];
    const explained = vhostPeerGoneLines(log, sockets);
    expect(explained.map((l) => l.line.split('|')[1])).toEqual(['00178', '00179']);
    // Another error on the dead VM's socket, and a reset on a socket that is not the VM's, still fail the check.
    expect(checkVswitchdLog(log, [], explained)[0]).toMatch(/^2 unexpected ERR\/EMER line\(s\).*failed to alloc queue.*\/run\/other\/port32\.sock/);
    // While the VM lives (nothing explained), the reset is the switch's to answer for.
    expect(checkVswitchdLog(log, [])[0]).toMatch(/^4 unexpected ERR\/EMER line\(s\)/);
    expect(vhostPeerGoneLines(log, [])).toEqual([]);
  });
});
