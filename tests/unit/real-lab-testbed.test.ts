// What a real lab's testbed says (issue 39): DPDK's memory per NUMA node, the
// guest's vCPUs pinned and its memory preallocated, the search's ceiling the
// ports' line rate, kni_client's sources where the tree has them. Each field
// read as it means, and each bad value refused naming the field.
import { describe, expect, it } from 'vitest';
import { CommandError, PreflightError } from '../../lib/errors.js';
import type { StepRuntime } from '../../lib/profiles/profile.js';
import { hostCleanPreviousBridge, hostStopPreviousVswitchd } from '../../lib/profiles/steps/index.js';
import { FOREIGN_BRIDGE_EXIT } from '../../lib/profiles/steps/shared.js';
import { ovsDpdk } from '../../lib/profiles/ovs-dpdk.profile.js';
import { planOf, formatPlan } from '../../lib/scenario/plan.js';
import { parseTestbed, loadTestbed, testbedNotes } from '../../lib/testbed/load.js';
import { kniClientDirOf, lineRate, searchCeiling, socketMemPerNode } from '../../lib/testbed/sizing.js';
import { fixturePath, MINIMAL_TESTBED as MINIMAL, testbedProblems } from '../helpers/fixtures.js';

const problemsOf = (text: string) => testbedProblems(text, 'lab.yaml');
const VM = 'vm: { kernel: /k, initrd: /i, disk: /d, pidfile: /p, consoleLog: /c, cpus: 2';

describe("DPDK's socket memory per NUMA node", () => {
  it('reads a list as one value per node, node 0 first, and one number as node 0 alone', () => {
    expect(socketMemPerNode(parseTestbed(`${MINIMAL}ovsDpdk: { socketMemMb: [0, 2048], socketLimitMb: [0, 2048] }\n`))).toEqual([0, 2048]);
    expect(socketMemPerNode(parseTestbed(`${MINIMAL}ovsDpdk: { socketMemMb: 1024, socketLimitMb: 1024 }\n`))).toEqual([1024]);
  });

  it('notes one number on a real lab (NICs named): it is node 0 alone', () => {
    const tb = parseTestbed(`${MINIMAL}ovsDpdk: { socketMemMb: 1024, socketLimitMb: 1024, pciDevices: ["0000:af:00.0"] }\n`, 'lab.yaml');
    expect(testbedNotes(tb)).toEqual([expect.stringMatching(/^lab\.yaml: ovsDpdk\.socketMemMb 1024 is node 0's memory alone; .*\[0, 1024\] for node 1/)]);
    expect(testbedNotes(parseTestbed(`${MINIMAL}ovsDpdk: { socketMemMb: [1024], socketLimitMb: [1024], pciDevices: ["0000:af:00.0"] }\n`))).toEqual([]);
  });

  it.each([
    ['every node at 0', 'ovsDpdk: { socketMemMb: [0, 0] }', 'ovsDpdk.socketMemMb', 'every node at 0 MB gives DPDK no memory'],
    ['more nodes than a host has', 'ovsDpdk: { socketMemMb: [1, 1, 1, 1, 1, 1, 1, 1, 1] }', 'ovsDpdk.socketMemMb', 'at most 8 NUMA nodes'],
    ['a negative size', 'ovsDpdk: { socketMemMb: [-1, 1024] }', 'ovsDpdk.socketMemMb.0', 'expected'],
    [
      "a limit below a node's memory",
      'ovsDpdk: { socketMemMb: [0, 2048], socketLimitMb: [0, 1024] }',
      'ovsDpdk.socketLimitMb',
      '0,1024 MB is below ovsDpdk.socketMemMb 0,2048 on node 1',
    ],
  ])('refuses %s, naming the field', (_what, yaml, path, message) => {
    const p = problemsOf(`${MINIMAL}${yaml}\n`);
    expect(p.find((x) => x.path === path)?.message ?? JSON.stringify(p)).toContain(message);
  });
});

describe("the guest's vCPUs pinned, its memory preallocated", () => {
  it('preallocates by default, and takes pin: none or a CPU per vCPU apart from the switch', () => {
    const tb = parseTestbed(`${MINIMAL}${VM}, pin: { vcpus: [4, 5], emulator: "6" } }\n`);
    expect(tb.vm).toMatchObject({ prealloc: true, pin: { vcpus: [4, 5], emulator: '6' } });
    expect(parseTestbed(`${MINIMAL}${VM}, pin: none, prealloc: false }\n`).vm).toMatchObject({ prealloc: false, pin: 'none' });
    // Under TCG (the virtual lab) nothing is asked.
    expect(parseTestbed(`${MINIMAL}${VM}, accel: tcg }\n`).vm?.pin).toBeUndefined();
  });

  it.each([
    ['a KVM guest that says nothing', '', 'vm.pin', "missing: a KVM guest's vCPUs float over the switch's cores unless pinned"],
    ['a CPU short', ', pin: { vcpus: [4], emulator: "6" }', 'vm.pin.vcpus', '1 CPU(s) for vm.cpus 2 vCPU(s): one host CPU per vCPU'],
    ['a vCPU on a PMD core', ', pin: { vcpus: [1, 4], emulator: "6" }', 'vm.pin.vcpus', 'CPU 1 is a PMD core (ovsDpdk.pmdCpuMask 0x2)'],
    ["a vCPU on OVS's main thread", ', pin: { vcpus: [0, 4], emulator: "6" }', 'vm.pin.vcpus', "CPU 0 runs OVS's main thread (ovsDpdk.lcoreMask 0x1)"],
    ['the emulator on a PMD core', ', pin: { vcpus: [4, 5], emulator: "1-2" }', 'vm.pin.emulator', 'CPU 1 is a PMD core'],
    ['two vCPUs on one CPU', ', pin: { vcpus: [4, 4], emulator: "6" }', 'vm.pin', 'host CPU 4 is used twice'],
    ['an emulator list taskset cannot take', ', pin: { vcpus: [4, 5], emulator: "6;reboot" }', 'vm.pin.emulator', 'a CPU list as taskset -c takes it'],
  ])('refuses %s, naming the field', (_what, pin, path, message) => {
    const p = problemsOf(`${MINIMAL}${VM}${pin} }\n`);
    expect(p.find((x) => x.path === path)?.message ?? JSON.stringify(p)).toContain(message);
  });
});

describe("the search's ceiling", () => {
  it("is the ports' line rate at each frame size, or maxRate, the lower of the two, or the linux TG's own", () => {
    expect(lineRate(10, 64)).toBe(14_880_952);
    expect(lineRate(10, 1518)).toBe(812_743);
    const line = parseTestbed(`${MINIMAL}throughput: { linkSpeedGbps: 10, frameSizes: [64, 1518] }\n`);
    expect([searchCeiling(line, 64), searchCeiling(line, 1518)]).toEqual([14_880_952, 812_743]);
    const both = parseTestbed(`${MINIMAL}throughput: { linkSpeedGbps: 10, maxRate: 5000000 }\n`);
    expect([searchCeiling(both, 64), searchCeiling(both, 1518)]).toEqual([5_000_000, 812_743]);
    expect(searchCeiling(parseTestbed(MINIMAL), 64)).toBe(1_000_000);
  });

  it('is required of a TRex testbed (a real generator reaches line rate), naming the field', () => {
    const trex = `${MINIMAL}tg: { type: trex, trex: { ports: { transmit: 0, receive: 1 } } }\n`;
    expect(problemsOf(trex)).toEqual([
      { path: 'throughput.linkSpeedGbps', message: expect.stringContaining("missing: with TRex the search goes up to the ports' line rate") },
    ]);
    expect(() => parseTestbed(`${trex}throughput: { maxRate: 14000000 }\n`)).not.toThrow();
    expect(problemsOf(`${MINIMAL}throughput: { linkSpeedGbps: 0 }\n`)[0]?.path).toBe('throughput.linkSpeedGbps');
    expect(problemsOf(`${MINIMAL}throughput: { linkSpeedGbps: 1, minRate: 2000000 }\n`)[0]).toEqual({
      path: 'throughput.minRate',
      message: "2000000 frames/s is above the search's ceiling 1488095 (throughput.linkSpeedGbps's line rate): no load to search",
    });
  });
});

describe("kni_client's sources", () => {
  it('are where the dpdk-ovs tree has them unless the testbed says, and a path the testbed names is checked as one', () => {
    expect(kniClientDirOf(parseTestbed(MINIMAL))).toBe('/root/openvswitch/guest/kni/kni_client');
    expect(kniClientDirOf(parseTestbed(`${MINIMAL}paths: { kniClientDir: /srv/kni_client }\n`))).toBe('/srv/kni_client');
    expect(problemsOf(`${MINIMAL}paths: { kniClientDir: "kni_client; rm -rf /" }\n`)[0]?.path).toBe('paths.kniClientDir');
  });
});

describe('dutlab plan of the real-lab fixture (a two-socket host)', () => {
  const real = loadTestbed(fixturePath('testbeds/real-ovs-dpdk.yaml'));
  const text = formatPlan(real, ovsDpdk, planOf(real, ovsDpdk));
  it("shows DPDK's memory per node, the guest pinned and preallocated, and dutlab's own bridge", () => {
    expect(text).toContain('other_config:dpdk-socket-mem=0,2048 other_config:dpdk-socket-limit=0,2048');
    expect(text).toMatch(/taskset -c 24 qemu-system-x86_64 -name dutlab-guest,debug-threads=on /);
    expect(text).toContain('hugetlbsize=1048576K,prealloc=on');
    expect(text).toContain('for pair in 0:22 1:23;');
    expect(text).toContain('add-br dutlab-br0');
    expect(text).not.toMatch(/\bbr0\b(?<!dutlab-br0)/);
  });
});

describe("a bridge of the testbed's name that is not the lab's", () => {
  const real = loadTestbed(fixturePath('testbeds/real-ovs-dpdk.yaml'));
  const runtime = { tb: real } as unknown as StepRuntime;
  it("is left by the clean steps (exit 4) and reported as the lab's, never the DUT's, with the fix", async () => {
    const foreign = new CommandError('host', 'del', FOREIGN_BRIDGE_EXIT, null, '', 'bridge dutlab-br0 holds ports the testbed does not name: eno1 ');
    for (const step of [hostStopPreviousVswitchd, hostCleanPreviousBridge]) {
      const e = await step.explain!(runtime, foreign);
      expect(e).toBeInstanceOf(PreflightError);
      expect((e as PreflightError).kind).toBe('infra');
      expect((e as PreflightError).message).toBe(
        "bridge dutlab-br0 holds ports the testbed does not name: eno1: left as it is; give the testbed a bridge of dutlab's own (bridge: dutlab-br0), or, if it is yours to lose, remove it yourself (ovs-vsctl del-br dutlab-br0)",
      );
      // Any other failure of the step is left as it was.
      const other = new CommandError('host', 'del', 1, null, '', 'database connection failed');
      expect(await step.explain!(runtime, other)).toBe(other);
    }
  });
});
