// dutlab doctor on the modern lab (fixtures/testbeds/real-ovs-dpdk.yaml) as
// scripted SSH servers answer for it (tests/helpers/real-lab.ts): every check
// of the hardware a real DUT host has (IOMMU, the NICs on vfio-pci, NUMA,
// isolated cores, the governor, KVM, 1 GB pages, the guest's image) is ok on
// a healthy host, and each one broken alone is the only line that is not,
// with its fix. The TG is a TRex protocol server behind the TG's SSH.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { doctor } from '../../lib/probes/doctor.js';
import { healthy, type ProbeResult } from '../../lib/probes/probe.js';
import type { HostRole, Testbed } from '../../lib/testbed/schema.js';
import type { Shell } from '../../lib/transport/shell.js';
import { SshShell } from '../../lib/transport/ssh.js';
import { startScriptedRealLab, type HostFault, type ScriptedRealLab } from '../helpers/real-lab.js';

const dir = mkdtempSync(join(tmpdir(), 'dutlab-doctor-real-'));
let lab: ScriptedRealLab;
/** The hosts' connections, made once and kept across the doctor's runs (each probe's read still goes to the scripted host). */
const open = new Map<HostRole, SshShell>();
const keep = async (role: HostRole, tb: Testbed): Promise<Shell> => {
  if (!open.has(role)) open.set(role, await SshShell.connect(role, tb.hosts[role]));
  const s = open.get(role)!;
  return {
    host: s.host,
    run: (c, o) => s.run(c, o),
    start: (c, o) => s.start(c, o),
    put: (a, b) => s.put(a, b),
    get: (a, b) => s.get(a, b),
    forwardOut: (a, p) => s.forwardOut(a, p),
    close: async () => undefined,
  };
};
beforeAll(async () => {
  lab = await startScriptedRealLab(dir);
});
afterAll(async () => {
  for (const s of open.values()) await s.close();
  await lab.close();
  rmSync(dir, { recursive: true, force: true });
});

/** The doctor on the healthy scripted lab, every host. */
const check = (): Promise<ProbeResult[]> => doctor(lab.tb, 'ovs-dpdk', { connect: keep });

/** The doctor on a lab of its own (its TRex server as said). */
async function checkApart(opts: Parameters<typeof startScriptedRealLab>[1]): Promise<ProbeResult[]> {
  const other = await startScriptedRealLab(dir, opts);
  try {
    return await doctor(other.tb, 'ovs-dpdk');
  } finally {
    await other.close();
  }
}

const notOk = (results: ProbeResult[]) => results.filter((r) => r.status !== 'ok' && r.status !== 'n/a');

describe('dutlab doctor on a real OVS-DPDK lab (scripted)', () => {
  it('passes a healthy lab: every line ok, the guest n/a (the run starts the VM)', async () => {
    const results = await check();
    expect(notOk(results)).toEqual([]);
    expect(healthy(results)).toBe(true);
    const byId = Object.fromEntries(results.map((r) => [`${r.host}.${r.id}`, r]));
    for (const id of [
      'vswitchd-foreign',
      'devices',
      'hugepages',
      'hugepages-node',
      'iommu',
      'nic-driver',
      'iommu-group',
      'numa',
      'socket-mem-node',
      'pmd-siblings',
      'ssh-forwarding',
      'guest-port',
      'pmd-isolated',
      'cpu-governor',
      'kvm',
      'vm-image',
      'tools',
      'privileges',
      'clock',
    ])
      expect(byId[`host.${id}`]?.status, id).toBe('ok');
    expect(byId['host.hugepages']!.evidence).toBe('8 free 1 GB pages, the run takes 6 (ovsDpdk.socketMemMb 0,2048, vm.memoryMb 4096)');
    expect(byId['host.hugepages-node']!.evidence).toBe('node 1: 8 free 1 GB pages, DPDK takes 2; hugetlbfs of 1 GB pages at /dev/hugepages');
    expect(byId['host.nic-driver']!.evidence).toBe('0000:af:00.0 vfio-pci, 0000:af:00.1 vfio-pci');
    expect(byId['host.iommu-group']!.evidence).toBe('0000:af:00.0 in group 87, 0000:af:00.1 in group 88');
    expect(byId['host.socket-mem-node']!.evidence).toBe('0000:af:00.0 on node 1, 0000:af:00.1 on node 1; ovsDpdk.socketMemMb 0,2048');
    expect(byId['host.pmd-isolated']!.evidence).toBe('PMD cores 18,19,20,21 isolated, nohz_full');
    // The scripted host's sshd carries the channel and finds nothing at the guest's port yet (connect failed).
    expect(byId['host.ssh-forwarding']!.evidence).toMatch(/^forwarding allowed: sshd tried 127\.0\.0\.1:2222 /);
    expect(byId['guest.connect']).toMatchObject({ status: 'n/a', evidence: 'the run starts the VM: its guest is checked by the run' });
    expect(byId['tg.generator']).toMatchObject({ status: 'ok', evidence: expect.stringMatching(/^TRex v3\.08 at 127\.0\.0\.1:\d+, STL API answered$/) });
  });

  const cases: Array<[HostFault, 'fail' | 'warn', RegExp, RegExp]> = [
    [
      'hugepages',
      'fail',
      /^1 free 1 GB pages, the run takes 6 \(ovsDpdk\.socketMemMb 0,2048, vm\.memoryMb 4096\)$/,
      /^hugepagesz=1G hugepages=6 on the kernel command line$/,
    ],
    [
      'hugepages-node',
      'fail',
      /^node 1: 0 free 1 GB pages, DPDK takes 2$/,
      /^echo 2 > \/sys\/devices\/system\/node\/node1\/hugepages\/hugepages-1048576kB\/nr_hugepages/,
    ],
    ['iommu', 'fail', /^no IOMMU unit in \/sys\/class\/iommu$/, /intel_iommu=on iommu=pt/],
    [
      'iommu-group',
      'fail',
      /^0000:af:00\.0 in group 87, 0000:af:00\.1 in group 87; group 87 also holds 0000:af:00\.2 on i40e; .*vfio-pci takes a whole group or none of it$/,
      /^bind them to vfio-pci too \(dpdk-devbind\.py -b vfio-pci 0000:af:00\.2\)/,
    ],
    ['nic-driver', 'fail', /^0000:af:00\.0 i40e, 0000:af:00\.1 vfio-pci$/, /^dpdk-devbind\.py -b vfio-pci 0000:af:00\.0 \(modprobe vfio-pci first\)$/],
    [
      'socket-mem-node',
      'fail',
      /^0000:af:00\.0 on node 0, 0000:af:00\.1 on node 0; ovsDpdk\.socketMemMb 0,2048: node 0 gets none/,
      /^ovsDpdk\.socketMemMb: \[2048, 2048\]/,
    ],
    ['numa', 'warn', /0000:af:00\.0 on node 0, 0000:af:00\.1 on node 0; PMD cores 18@1, 19@1, 20@1, 21@1/, /^give ovsDpdk\.pmdCpuMask cores on node 0/],
    ['pmd-siblings', 'warn', /^PMD cores 18 and 19, 20 and 21 are SMT siblings/, /lscpu -e: the CORE column/],
    [
      'pmd-isolated',
      'warn',
      /^PMD cores 18,19,20,21 not isolated \(isolated: none\)$/,
      /^isolcpus=18,19,20,21 nohz_full=18,19,20,21 rcu_nocbs=18,19,20,21 on the kernel command line/,
    ],
    ['cpu-governor', 'warn', /cpu18 powersave, cpu19 powersave/, /^cpupower -c 18,19 frequency-set -g performance/],
    ['kvm', 'fail', /QEMU could not run a KVM vCPU \(exit 1: Could not access KVM kernel module/, /VT-x\/AMD-V.*or set vm\.accel: tcg/],
    ['vm-image', 'fail', /^missing: \/var\/lib\/dutlab\/image\/vmlinuz$/, /dutlab lab image/],
    [
      'guest-port',
      'fail',
      /^127\.0\.0\.1:2222 held by ssh \(pid 4242\): QEMU could not forward port 2222 to the guest$/,
      /vm\.mgmtForwardPort and hosts\.guest\.port/,
    ],
    ['tools', 'fail', /^missing: qemu-system-x86_64$/, /^apt-get install qemu-system-x86/],
    ['devices', 'fail', /^phyPorts\.1\.dpdkDevargs names PCI device 0000:af:00\.1, which the host does not have$/, /^correct phyPorts\[\]\.dpdkDevargs/],
    [
      'switch-database',
      'fail',
      /^bridge dutlab-br0 holds ports the testbed does not name \(eno1\): it is not this lab's to delete$/,
      /ovs-vsctl del-br dutlab-br0/,
    ],
    [
      'vswitchd-foreign',
      'fail',
      /^not started by a run of this lab: pid 812 \(ovs-vswitchd unix:\/var\/run\/openvswitch\/db\.sock /,
      /systemctl disable --now ovs-vswitchd.*keeping ovsdb-server running/,
    ],
  ];
  // Each fault on a scripted host of its own, all at once: the doctor's reads wait on round trips, not on the CPU.
  for (const [fault, status, evidence, fix] of cases) {
    it.concurrent(`finds ${fault} broken alone, with its fix`, async () => {
      const own = await startScriptedRealLab(dir, { fault });
      let results: ProbeResult[];
      try {
        results = await doctor(own.tb, 'ovs-dpdk', { roles: ['host'] });
      } finally {
        await own.close();
      }
      expect(notOk(results).map((r) => `${r.host}.${r.id}`)).toEqual([`host.${fault}`]);
      const line = results.find((r) => r.id === fault)!;
      expect(line.status).toBe(status);
      expect(line.evidence).toMatch(evidence);
      expect(line.fix).toMatch(fix);
      expect(healthy(results)).toBe(status !== 'fail');
    });
  }

  it("finds the TG's generator not answering, and a TRex port whose link is down", async () => {
    const down = await checkApart({ trexDown: true, trexCallTimeoutMs: 1000 });
    expect(notOk(down).map((r) => `${r.host}.${r.id}`)).toEqual(['tg.generator']);
    expect(down.find((r) => r.id === 'generator')).toMatchObject({
      status: 'fail',
      evidence: expect.stringMatching(/did not answer api_sync_v2 within 1 s/),
      fix: expect.stringMatching(/^start TRex in stateless mode on the TG \(\.\/t-rex-64 -i\) listening on 127\.0\.0\.1:\d+, or correct tg\.trex\.server$/),
    });
    const link = await checkApart({ trex: { linkDown: [1] } });
    expect(link.find((r) => r.id === 'generator')).toMatchObject({ status: 'fail', evidence: expect.stringMatching(/link down: port 1 \(receive\)$/) });
  });
});
