// The doctor's judges of what a real DUT host gets wrong (issue 39), on the
// reads such hosts answer: the cases the scripted two-socket host
// (tests/protocol/doctor-real-lab.test.ts) does not break, each failing and
// passing. A bifurcated NIC, hugepages on a node the host lacks or with no
// mount of their size, the netdev profiles' own ovs-vswitchd dead or beside
// another, sshd refusing the guest's forward, the guide's host unready.
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { ConnectionError } from '../../lib/errors.js';
import { PROBES } from '../../lib/probes/doctor.js';
import type { AskingProbe, CommandProbe, ProbeContext, Reading } from '../../lib/probes/probe.js';
import { legacyKni } from '../../lib/profiles/legacy-kni.profile.js';
import { ovsDpdk } from '../../lib/profiles/ovs-dpdk.profile.js';
import { profileFor } from '../../lib/profiles/profile.js';
import { virtual } from '../../lib/profiles/virtual.profile.js';
import { loadTestbed, parseTestbed } from '../../lib/testbed/load.js';
import type { Shell } from '../../lib/transport/shell.js';
import { fixturePath, MINIMAL_TESTBED } from '../helpers/fixtures.js';

const real = loadTestbed(fixturePath('testbeds/real-ovs-dpdk.yaml'));
const modern: ProbeContext = { tb: real, profile: profileFor(ovsDpdk, real) };
const at = (stdout: string): Reading => ({ stdout, exitCode: 0, fromUs: 0, toUs: 1000 });
const probe = (id: string, c: ProbeContext) => PROBES.find((p) => p.id === id && p.notNeeded(c) === null) as CommandProbe;

describe("a real DUT host's NICs", () => {
  it('recognises a bifurcated NIC (mlx5) and never tells it to move to vfio-pci', () => {
    const nic = probe('nic-driver', modern);
    const mlx = nic.judge(at('0000:af:00.0 mlx5_core\n0000:af:00.1 mlx5_core\n'), modern);
    expect(mlx).toMatchObject({ status: 'fail', evidence: expect.stringContaining('0000:af:00.0, 0000:af:00.1 are a bifurcated NIC (mlx5_core)') });
    expect(mlx.fix).toBe("set ovsDpdk.pciDriver: mlx5_core: DPDK's mlx5 PMD drives it beside its kernel driver; never bind it to vfio-pci");
    const onMlx = { ...modern, tb: { ...real, ovsDpdk: { ...real.ovsDpdk, pciDriver: 'mlx5_core' } } };
    expect(nic.judge(at('0000:af:00.0 mlx5_core\n0000:af:00.1 mlx5_core\n'), onMlx).status).toBe('ok');
    // Its IOMMU group is none of vfio's business.
    expect(PROBES.find((p) => p.id === 'iommu-group')!.notNeeded(onMlx)).toBe('a bifurcated NIC (mlx5_core) stays on its kernel driver');
  });

  it('takes a group whose other members are on vfio-pci, a PCIe bridge or no driver, and finds a NIC with no group', () => {
    const group = probe('iommu-group', modern);
    const viable =
      'member 0000:af:00.0 40 0000:ae:00.0 pcieport\nmember 0000:af:00.0 40 0000:af:00.0 vfio-pci\nmember 0000:af:00.0 40 0000:af:00.3\n' +
      'member 0000:af:00.1 40 0000:af:00.1 vfio-pci\nend\n';
    expect(group.judge(at(viable), modern)).toMatchObject({ status: 'ok', evidence: '0000:af:00.0 in group 40, 0000:af:00.1 in group 40' });
    expect(group.judge(at('nogroup 0000:af:00.0\nnogroup 0000:af:00.1\nend\n'), modern)).toMatchObject({
      status: 'fail',
      evidence: 'no IOMMU group for 0000:af:00.0, 0000:af:00.1',
    });
    expect(group.judge(at('member 0000:af:00.0 40 0000:af:00.0 vfio-pci\n'), modern).evidence).toBe('the IOMMU groups were cut short');
  });
});

describe("a real DUT host's hugepages per node", () => {
  const node = probe('hugepages-node', modern);
  it('fails memory asked of a node the host does not have (a one-node host, a testbed written for two)', () => {
    expect(node.judge(at('node 0 16\ndefault 1048576\nmount /dev/hugepages rw,pagesize=1024M\nend\n'), modern)).toMatchObject({
      status: 'fail',
      evidence: 'ovsDpdk.socketMemMb 0,2048 takes memory on node 1, which this host has node 0',
    });
  });

  it('wants a hugetlbfs mount of the pages DPDK takes, unless it runs --in-memory, and reads a mount without pagesize= as the default size', () => {
    const noMount = node.judge(at('node 0 0\nnode 1 8\ndefault 1048576\nmount /dev/hugepages rw,relatime,pagesize=2M\nend\n'), modern);
    expect(noMount).toMatchObject({ status: 'fail', evidence: 'node 1: 8 free 1 GB pages, DPDK takes 2; no hugetlbfs mount of 1 GB pages' });
    expect(noMount.fix).toMatch(/^mkdir -p \/dev\/hugepages1G && mount -t hugetlbfs -o pagesize=1G none \/dev\/hugepages1G/);
    expect(node.judge(at('node 0 0\nnode 1 8\ndefault 1048576\nmount /dev/hugepages rw,relatime\nend\n'), modern).status).toBe('ok');
    const inMemory = { ...modern, tb: { ...real, ovsDpdk: { ...real.ovsDpdk, extraArgs: ['--in-memory'] } } };
    expect(node.judge(at('node 0 0\nnode 1 8\ndefault 2048\nend\n'), inMemory)).toMatchObject({
      status: 'ok',
      evidence: 'node 1: 8 free 1 GB pages, DPDK takes 2 (--in-memory: no hugetlbfs mount needed)',
    });
  });
});

describe("the netdev profiles' running ovs-vswitchd", () => {
  const tb = loadTestbed(fixturePath('testbeds/virtual.yaml'));
  const c: ProbeContext = { tb, profile: virtual };
  const answers = probe('vswitchd-answers', c);
  const own = `proc 400 9 ovs-vswitchd unix:${tb.paths.ovsRunDir}/db.sock --pidfile=${tb.paths.vswitchdPidfile}`;
  it('is the one its pidfile names, and answers', () => {
    expect(PROBES.find((p) => p.id === 'vswitchd-answers')!.notNeeded(modern)).toBe('the ovs-dpdk profile starts its own ovs-vswitchd');
    expect(answers.judge(at(`pidfile 400\n${own}\nanswers yes\nend\n`), c)).toMatchObject({ status: 'ok', evidence: 'ovs-vswitchd (pid 400) answers' });
  });
  it('fails a dead one, one that does not answer, and another beside it, each with its fix', () => {
    const dead = answers.judge(at('pidfile 400\nanswers no\nend\n'), c);
    expect(dead).toMatchObject({ status: 'fail', evidence: expect.stringMatching(/^no ovs-vswitchd runs on the lab's database/) });
    expect(dead.fix).toMatch(/dutlab lab up.*systemctl start openvswitch-switch/);
    expect(answers.judge(at(`pidfile 400\n${own}\nanswers no\nend\n`), c)).toMatchObject({
      status: 'fail',
      evidence: 'ovs-vswitchd (pid 400) runs but does not answer ovs-appctl within 5 s',
    });
    const other = `proc 812 4 ovs-vswitchd unix:${tb.paths.ovsRunDir}/db.sock --pidfile=/tmp/other.pid`;
    expect(answers.judge(at(`pidfile 400\n${own}\n${other}\nanswers yes\nend\n`), c)).toMatchObject({
      status: 'fail',
      evidence: expect.stringMatching(/^not the lab's own .*: pid 812 /),
    });
  });
});

/** A shell whose forwarded channel opens, is refused with an SSH reason, or is never answered. */
const forwarding = (outcome: 'open' | number | 'silent'): Shell =>
  ({
    host: 'host',
    forwardOut: () => {
      if (outcome === 'open') return Promise.resolve(new PassThrough());
      if (outcome === 'silent') return new Promise(() => undefined);
      const cause = Object.assign(new Error(`(SSH) Channel open failure: ${outcome === 1 ? 'open failed' : 'Connection refused'}`), { reason: outcome });
      return Promise.reject(new ConnectionError('host', `cannot open a channel to 127.0.0.1:2222: ${cause.message}`, { cause }));
    },
  }) as unknown as Shell;

describe("the host's sshd and the guest's port", () => {
  const fwd = PROBES.find((p) => p.id === 'ssh-forwarding') as AskingProbe;
  it("fails an sshd that refuses forwarding (administratively prohibited), and takes one that tries the guest's port", async () => {
    const refused = await fwd.ask(forwarding(1), modern);
    expect(refused).toMatchObject({ status: 'fail', evidence: expect.stringMatching(/^sshd refused a channel to 127\.0\.0\.1:2222: /) });
    expect(refused.fix).toMatch(/AllowTcpForwarding yes or local/);
    expect(await fwd.ask(forwarding(2), modern)).toMatchObject({
      status: 'ok',
      evidence: expect.stringMatching(/^forwarding allowed: sshd tried 127\.0\.0\.1:2222/),
    });
    expect((await fwd.ask(forwarding('open'), modern)).status).toBe('ok');
    expect((await fwd.ask(forwarding('silent'), modern)).evidence).toMatch(/forwarding allowed; nothing answers there yet/);
    const tb = parseTestbed(MINIMAL_TESTBED);
    const { jump: _jump, ...guest } = tb.hosts.guest;
    const direct = { ...tb, hosts: { ...tb.hosts, guest } };
    expect(fwd.notNeeded({ tb: direct, profile: virtual })).toBe('the guest is not reached through the host');
  }, 10_000);

  it("takes the port held by the lab's own previous guest (the run stops it first), and ignores another address's listener", () => {
    const port = probe('guest-port', modern);
    const qemu = 'listen LISTEN 0 1 127.0.0.1:2222 0.0.0.0:* users:(("qemu-system-x86",pid=777,fd=12))';
    expect(port.judge(at(`vm 777\n${qemu}\nend\n`), modern)).toMatchObject({
      status: 'ok',
      evidence: expect.stringContaining("the lab's previous guest (pid 777)"),
    });
    expect(port.judge(at(`vm 778\n${qemu}\nend\n`), modern).status).toBe('fail');
    expect(port.judge(at('vm none\nlisten LISTEN 0 1 10.0.0.5:2222 0.0.0.0:* users:(("sshd",pid=5,fd=3))\nend\n'), modern).status).toBe('ok');
    expect(port.judge(at('vm none\nlisten LISTEN 0 1 *:2222 *:* users:(("sshd",pid=5,fd=3))\nend\n'), modern)).toMatchObject({
      status: 'fail',
      evidence: '*:2222 held by sshd (pid 5): QEMU could not forward port 2222 to the guest',
    });
  });
});

describe("the guide's DUT host", () => {
  const tb = loadTestbed(fixturePath('testbeds/legacy-kni.yaml'));
  const c: ProbeContext = { tb, profile: legacyKni };
  it('wants 2 MB pages mounted at /dev/hugepages, the port mask on igb_uio, and the fork built', () => {
    const pages = probe('legacy-hugepages', c);
    expect(pages.judge(at('free 1024\ndefault 2048\nmount /dev/hugepages rw,relatime\nend\n'), c)).toMatchObject({ status: 'ok' });
    expect(pages.judge(at('free 0\ndefault 2048\nmount /dev/hugepages rw,relatime\nend\n'), c)).toMatchObject({
      status: 'fail',
      evidence: '0 free 2 MB hugepages',
    });
    expect(pages.judge(at('free 512\ndefault 1048576\nmount /dev/hugepages rw,relatime\nend\n'), c)).toMatchObject({
      status: 'fail',
      evidence: '512 free 2 MB pages; /dev/hugepages is hugetlbfs of another size (rw,relatime)',
    });
    const nics = probe('legacy-nics', c);
    expect(nics.judge(at('igb_uio 1\nnic 0000:01:00.0\nnic 0000:01:00.1\nend\n'), c).status).toBe('ok');
    expect(nics.judge(at('igb_uio 0\nend\n'), c)).toMatchObject({ status: 'fail', evidence: 'igb_uio is not loaded' });
    expect(nics.judge(at('igb_uio 1\nnic 0000:01:00.0\nend\n'), c)).toMatchObject({
      status: 'fail',
      evidence: '1 NIC(s) on igb_uio (0000:01:00.0), the port mask 0x03 takes 2',
    });
    const tree = probe('legacy-tree', c);
    expect(tree.judge(at('end\n'), c).status).toBe('ok');
    const gone = tree.judge(at(`missing ${tb.paths.ovsDir}/guest/kni/kni_client paths.kniClientDir\nend\n`), c);
    expect(gone).toMatchObject({ status: 'fail', evidence: `missing: ${tb.paths.ovsDir}/guest/kni/kni_client (paths.kniClientDir)` });
    expect(tree.judge(at(`missing ${tb.paths.ovsDir}/datapath/dpdk/build/ovs_dpdk build\nend\n`), c).fix).toMatch(/^build the fork/);
  });
});
