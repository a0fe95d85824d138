// dutlab doctor on the virtual lab, where its faults can be made for real: it
// passes the DPDK lab (every line ok or n/a); a TG port
// down, a host that cannot be reached, hugepages the run cannot have and the
// DPDK build of ovs-vswitchd missing each fail alone with their fix; `run
// --doctor` stops a broken lab in seconds, before any setup, with exit 2.
import { existsSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseDocument } from 'yaml';
import type { ProbeResult } from '../../lib/probes/probe.js';
import { labDown, labUp, type LabState } from '../../lib/vlab/lab.js';
import { dutlabRun } from '../helpers/cli.js';
import { closedPort } from '../helpers/ports.js';
import { waitUntil } from '../../lib/wait.js';
import { sshdListening } from '../../lib/vlab/daemons.js';
import { ovsDpdk } from '../../lib/profiles/ovs-dpdk.profile.js';
import { profileFor, type StepContext } from '../../lib/profiles/profile.js';
import { delOwnBridge } from '../../lib/profiles/steps/shared.js';
import { loadTestbed } from '../../lib/testbed/load.js';

const ROOT = new URL('../..', import.meta.url).pathname;
const dutlab = (...args: string[]) => execa('node', ['bin/dutlab.js', ...args], { cwd: ROOT, reject: false, timeout: 60_000 });
// One lab for all (the DPDK one: the checks of upstream OVS-DPDK apply there), to keep the tier short.
let dpdk: LabState;

beforeAll(async () => {
  dpdk = await labUp({ id: 'docd', datapath: 'dpdk' });
}, 180_000);
afterAll(async () => {
  await labDown({ id: 'docd' });
});

/** The lab's testbed with these fields changed, as a new file beside it. */
function variant(lab: LabState, name: string, set: Array<[Array<string | number>, unknown]>): string {
  const doc = parseDocument(readFileSync(lab.testbedFile, 'utf8'));
  for (const [path, value] of set) {
    if (value === undefined) doc.deleteIn(path);
    else doc.setIn(path, value);
  }
  const file = join(lab.stateDir, `${name}.yaml`);
  writeFileSync(file, doc.toString());
  return file;
}

async function checks(testbed: string, profile: string, ...more: string[]): Promise<{ exitCode: number; results: ProbeResult[] }> {
  const r = await dutlab('doctor', '--testbed', testbed, '--profile', profile, '--json', ...more);
  return { exitCode: r.exitCode ?? -1, results: (JSON.parse(r.stdout) as { checks: ProbeResult[] }).checks };
}
const notOk = (rs: ProbeResult[]) => rs.filter((r) => r.status !== 'ok' && r.status !== 'n/a').map((r) => `${r.host}.${r.id}`);

describe('dutlab doctor on the virtual lab', () => {
  it('passes the virtual lab: every line ok or n/a, exit 0', async () => {
    const a = await dutlab('doctor', '--testbed', dpdk.testbedFile);
    expect(a.exitCode, a.stdout).toBe(0);
    expect(a.stdout).toMatch(/^OK {4}\[tg\] tg-ports +tg0 up, tg1 up$/m);
    expect(a.stdout).toMatch(/\d+ ok, 0 warn, 0 fail, \d+ n\/a$/);
    const b = await checks(dpdk.testbedFile, 'ovs-dpdk');
    expect(b.exitCode).toBe(0);
    expect(notOk(b.results)).toEqual([]);
    expect(b.results.find((r) => r.id === 'hugepages')).toMatchObject({
      status: 'ok',
      evidence: expect.stringMatching(/^\d+ free 2 MB pages, the run takes 128 \(ovsDpdk\.socketMemMb 256\)$/),
    });
    expect(b.results.find((r) => r.id === 'pmd-isolated')).toMatchObject({
      status: 'n/a',
      evidence: 'ovsDpdk.dedicatedCores is false: the PMD cores share the machine',
    });
  }, 60_000);

  it('fails a TG port that is down, alone, with its fix', async () => {
    await execa('ip', ['-n', dpdk.namespaces.tg, 'link', 'set', 'tg1', 'down']);
    try {
      // Only the TG asked (--host tg): its lines alone.
      const r = await checks(dpdk.testbedFile, 'ovs-dpdk', '--host', 'tg');
      expect(r.exitCode).toBe(2);
      expect([...new Set(r.results.map((x) => x.host))]).toEqual(['tg']);
      expect(notOk(r.results)).toEqual(['tg.tg-ports']);
      expect(r.results.find((x) => x.id === 'tg-ports')).toMatchObject({
        evidence: 'tg0 up, tg1 down',
        fix: 'ip link set dev tg1 up, and check the cable to the DUT',
      });
    } finally {
      await execa('ip', ['-n', dpdk.namespaces.tg, 'link', 'set', 'tg1', 'up']);
    }
  }, 60_000);

  it("fails a host it cannot reach with the fix, and does not run that host's checks (nor the guest's, reached through it)", async () => {
    const closed = await closedPort();
    const r = await checks(variant(dpdk, 'unreachable', [[['hosts', 'host', 'port'], closed]]), 'ovs-dpdk');
    expect(r.exitCode).toBe(2);
    expect(notOk(r.results)).toEqual(['host.connect', 'guest.connect']);
    expect(r.results[0]).toMatchObject({
      evidence: expect.stringMatching(new RegExp(`^root@127\\.0\\.0\\.1:${closed}: .*\\(\\d+ checks of this host not run\\)$`)),
      fix: 'check hosts.host.address and port, that sshd runs there, and that this machine can reach it',
    });
    expect(r.results.filter((x) => x.host === 'tg').every((x) => x.status === 'ok' || x.status === 'n/a')).toBe(true);
  }, 60_000);

  it('fails hugepages the run cannot have, and the DPDK build of ovs-vswitchd missing, each alone', async () => {
    const greedy = await checks(
      variant(dpdk, 'greedy', [
        [['ovsDpdk', 'socketMemMb'], 1_000_000],
        [['ovsDpdk', 'socketLimitMb'], 1_000_000],
      ]),
      'ovs-dpdk',
    );
    // The whole (what the run takes) and node 0's share (DPDK's socket memory), each with its fix.
    expect(notOk(greedy.results)).toEqual(['host.hugepages', 'host.hugepages-node']);
    expect(greedy.results.find((x) => x.id === 'hugepages-node')).toMatchObject({
      status: 'fail',
      evidence: expect.stringMatching(/^node 0: \d+ free 2 MB pages, DPDK takes 500000$/),
      fix: expect.stringMatching(/^echo 500000 > \/sys\/devices\/system\/node\/node0\/hugepages\/hugepages-2048kB\/nr_hugepages/),
    });
    expect(greedy.results.find((x) => x.id === 'hugepages')).toMatchObject({
      status: 'fail',
      evidence: expect.stringMatching(/^\d+ free 2 MB pages, the run takes 500000 \(ovsDpdk\.socketMemMb 1000000\)$/),
      fix: 'echo 500000 > /sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages (at boot: hugepagesz=2M hugepages=500000 on the kernel command line)',
    });
    const missing = await checks(variant(dpdk, 'no-vswitchd', [[['ovsDpdk', 'vswitchd'], '/usr/lib/openvswitch-switch-dpdk/ovs-vswitchd-gone']]), 'ovs-dpdk');
    expect(notOk(missing.results)).toEqual(['host.tools']);
    expect(missing.results.find((x) => x.host === 'host' && x.id === 'tools')).toMatchObject({
      evidence: 'missing: /usr/lib/openvswitch-switch-dpdk/ovs-vswitchd-gone',
      fix: 'install them, or point the testbed at where they are',
    });
  }, 60_000);

  it("refuses an ovs-vswitchd no run of this lab started (as Debian's service starts the system's): doctor and run exit 2 naming it, and it is left running with its pidfile", async () => {
    // The system's (non-DPDK) ovs-vswitchd on the lab's database, with the lab's pidfile, as the service would run it.
    const s = dpdk.stateDir;
    const pidfile = join(s, 'ovs', 'ovs-vswitchd.pid');
    const start = `OVS_RUNDIR=${s}/ovs /usr/lib/openvswitch-switch/ovs-vswitchd unix:${s}/ovs/db.sock --pidfile=${pidfile} --unixctl=${s}/ovs/foreign.ctl --log-file=${s}/ovs/foreign.log --no-chdir --detach`;
    await execa('ip', ['netns', 'exec', dpdk.namespaces.host, 'sh', '-c', start]);
    const pid = Number(readFileSync(pidfile, 'utf8').trim());
    try {
      const d = await checks(dpdk.testbedFile, 'ovs-dpdk', '--host', 'host');
      expect(d.exitCode).toBe(2);
      const found = d.results.find((x) => x.id === 'vswitchd-foreign')!;
      expect(found).toMatchObject({
        status: 'fail',
        evidence: expect.stringContaining(`not started by a run of this lab: pid ${pid} (/usr/lib/openvswitch-switch/ovs-vswitchd unix:${s}/ovs/db.sock`),
      });
      expect(found.fix).toContain('systemctl disable --now ovs-vswitchd');
      const r = await dutlabRun(['--testbed', dpdk.testbedFile, '--profile', 'ovs-dpdk'], join(dpdk.stateDir, 'reports'));
      expect(r.exitCode).toBe(2);
      expect(r.summary.cases.find((c) => c.id === 'lab.preflight')).toMatchObject({
        status: 'failed',
        kind: 'infra',
        message: expect.stringContaining(`[host] vswitchd-foreign: not started by a run of this lab: pid ${pid}`),
      });
      expect(r.summary.cases.find((c) => c.id === 'host.stop-previous-vswitchd')?.status).toBe('skipped');
      // As it was: the foreign daemon running, its pidfile naming it.
      expect(readFileSync(pidfile, 'utf8').trim()).toBe(String(pid));
      expect(readlinkSync(`/proc/${pid}/exe`)).toBe('/usr/lib/openvswitch-switch/ovs-vswitchd');
    } finally {
      process.kill(pid, 'SIGTERM');
    }
    await waitUntil('the foreign ovs-vswitchd to exit', () => !existsSync(`/proc/${pid}`), { timeoutMs: 10_000 });
    // And the lab works again once it is gone.
    expect(notOk((await checks(dpdk.testbedFile, 'ovs-dpdk', '--host', 'host')).results)).toEqual([]);
  }, 120_000);

  it("refuses a bridge of the testbed's name holding ports it does not name, and an ovsdb-server that does not answer: exit 2 before any change, the lab as it was", async () => {
    const s = dpdk.stateDir;
    const vsctl = (...a: string[]) => execa('ip', ['netns', 'exec', dpdk.namespaces.host, 'ovs-vsctl', `--db=unix:${s}/ovs/db.sock`, '--no-wait', ...a]);
    await vsctl('add-br', 'br0', '--', 'add-port', 'br0', 'eno-mgmt', '--', 'set', 'Interface', 'eno-mgmt', 'type=internal');
    try {
      const d = await checks(dpdk.testbedFile, 'ovs-dpdk', '--host', 'host');
      expect(d.exitCode).toBe(2);
      expect(notOk(d.results)).toEqual(['host.switch-database']);
      const r = await dutlabRun(['--testbed', dpdk.testbedFile, '--profile', 'ovs-dpdk'], join(dpdk.stateDir, 'reports'));
      expect(r.exitCode).toBe(2);
      expect(r.summary.cases.find((c) => c.id === 'lab.preflight')?.message).toContain(
        "[host] switch-database: bridge br0 holds ports the testbed does not name (eno-mgmt): it is not this lab's to delete",
      );
      expect((await vsctl('list-ports', 'br0')).stdout.trim()).toBe('eno-mgmt');
      // The clean step itself (which `run --pool` runs before its checks) leaves it too, naming it: exit 4.
      const tb = loadTestbed(dpdk.testbedFile);
      const clean = delOwnBridge({ tb, profile: profileFor(ovsDpdk, tb) } as StepContext);
      const env = Object.entries(clean.env ?? {}).map(([k, v]) => `${k}=${v}`);
      const step = () => execa('ip', ['netns', 'exec', dpdk.namespaces.host, 'env', ...env, 'sh', '-c', clean.line], { reject: false });
      const refused = await step();
      expect(refused.exitCode).toBe(4);
      expect(refused.stdout.trim()).toBe('bridge br0 holds ports the testbed does not name: eno-mgmt');
      expect((await vsctl('list-ports', 'br0')).stdout.trim()).toBe('eno-mgmt');
      // A bridge of the testbed's ports alone is a previous run's: removed.
      await vsctl('del-port', 'br0', 'eno-mgmt');
      expect((await step()).exitCode).toBe(0);
      expect((await vsctl('br-exists', 'br0').catch((e: { exitCode: number }) => e)).exitCode).toBe(2);
    } finally {
      await vsctl('--if-exists', 'del-br', 'br0');
    }
    // An ovsdb-server that does not answer (stopped, not killed: it comes back as it was).
    const ovsdb = dpdk.processes.find((p) => p.name === 'ovsdb-server')!;
    process.kill(ovsdb.pid, 'SIGSTOP');
    try {
      const d = await checks(dpdk.testbedFile, 'ovs-dpdk', '--host', 'host');
      expect(d.exitCode).toBe(2);
      expect(d.results.find((x) => x.id === 'switch-database')).toMatchObject({
        status: 'fail',
        evidence: `ovsdb-server does not answer on unix:${s}/ovs/db.sock`,
      });
    } finally {
      process.kill(ovsdb.pid, 'SIGCONT');
    }
  }, 120_000);

  it("refuses a host whose sshd will not forward to the guest: doctor and run exit 2 naming it before any change, the guest's connection named as through it", async () => {
    const config = join(dpdk.stateDir, 'sshd-host', 'sshd_config');
    const before = readFileSync(config, 'utf8');
    // The lab's own sshd (recorded by lab up), told to reread its configuration as a real host's reload does.
    const sshd = dpdk.processes.find((p) => p.name === 'sshd-host')!;
    const reload = async (text: string) => {
      writeFileSync(config, text);
      process.kill(sshd.pid, 'SIGHUP');
      await waitUntil("the host's sshd to listen again", () => sshdListening(dpdk.namespaces.host, '127.0.0.1'), { timeoutMs: 10_000 });
    };
    await reload(before.replace(/^AllowTcpForwarding .*$/m, 'AllowTcpForwarding no'));
    try {
      const d = await checks(dpdk.testbedFile, 'ovs-dpdk');
      expect(d.exitCode).toBe(2);
      expect(notOk(d.results)).toEqual(['host.ssh-forwarding', 'guest.connect']);
      const line = d.results.find((x) => x.id === 'ssh-forwarding')!;
      expect(line.evidence).toMatch(/^sshd refused a channel to 169\.254\.77\.2:22: /);
      expect(line.fix).toMatch(/AllowTcpForwarding yes or local/);
      const r = await dutlabRun(['--testbed', dpdk.testbedFile, '--profile', 'ovs-dpdk'], join(dpdk.stateDir, 'reports'));
      expect(r.exitCode).toBe(2);
      expect(r.summary.cases.find((c) => c.id === 'lab.preflight')?.message).toContain('[host] ssh-forwarding: sshd refused a channel to 169.254.77.2:22');
      expect(r.summary.cases.find((c) => c.id === 'host.stop-previous-vswitchd')?.status).toBe('skipped');
    } finally {
      await reload(before);
    }
    expect(notOk((await checks(dpdk.testbedFile, 'ovs-dpdk')).results)).toEqual([]);
  }, 120_000);

  it("refuses the guest's forwarded port held by another process, and DPDK memory asked of a NUMA node the host does not have: exit 2 before any change", async () => {
    // The DPDK lab as a VM lab would be (vhost-user ports, a guest the run starts): what the doctor reads before QEMU runs.
    const s = dpdk.stateDir;
    for (const f of ['vmlinuz', 'initrd.img', 'root.ext4']) writeFileSync(join(s, f), '');
    const vmLab = variant(dpdk, 'vm-port', [
      [['vmPorts', 0, 'kind'], 'vhost-user'],
      [['vmPorts', 1, 'kind'], 'vhost-user'],
      [['vmPorts', 0, 'vhostSocket'], join(s, 'vm0.sock')],
      [['vmPorts', 1, 'vhostSocket'], join(s, 'vm1.sock')],
      [['vmPorts', 0, 'netns'], undefined],
      [['vmPorts', 1, 'netns'], undefined],
      [
        ['vm'],
        {
          accel: 'tcg',
          cpu: 'max',
          memoryMb: 128,
          kernel: join(s, 'vmlinuz'),
          initrd: join(s, 'initrd.img'),
          disk: join(s, 'root.ext4'),
          pidfile: join(s, 'vm-qemu.pid'),
          consoleLog: join(s, 'vm-console.log'),
          mgmtForwardPort: 2222,
        },
      ],
      // The guest's pages and DPDK's within what the lab reserved.
      [['ovsDpdk', 'socketMemMb'], 128],
      [['ovsDpdk', 'socketLimitMb'], 128],
    ]);
    const holder = execa(
      'ip',
      [
        'netns',
        'exec',
        dpdk.namespaces.host,
        'python3',
        '-c',
        "import socket,time; s=socket.socket(); s.bind(('127.0.0.1', 2222)); s.listen(); print('listening', flush=True); time.sleep(120)",
      ],
      { reject: false },
    );
    await new Promise<void>((resolve) => holder.stdout!.once('data', () => resolve()));
    try {
      const d = await checks(vmLab, 'ovs-dpdk', '--host', 'host');
      expect(d.exitCode).toBe(2);
      expect(notOk(d.results)).toEqual(['host.guest-port']);
      expect(d.results.find((x) => x.id === 'guest-port')).toMatchObject({
        evidence: expect.stringMatching(/^127\.0\.0\.1:2222 held by python3 \(pid \d+\): QEMU could not forward port 2222 to the guest$/),
        fix: expect.stringContaining('give vm.mgmtForwardPort and hosts.guest.port a free one'),
      });
      const r = await dutlabRun(['--testbed', vmLab, '--profile', 'ovs-dpdk'], join(s, 'reports'));
      expect(r.exitCode).toBe(2);
      expect(r.summary.cases.find((c) => c.id === 'lab.preflight')?.message).toContain('[host] guest-port: 127.0.0.1:2222 held by python3');
      expect(r.summary.cases.find((c) => c.id === 'host.stop-previous-vswitchd')?.status).toBe('skipped');
    } finally {
      holder.kill('SIGTERM');
      await holder;
    }
    // Memory on node 1 of a host with node 0 alone: the same probe that finds pages free on the wrong node of a two-socket host
    // (tests/protocol/doctor-real-lab.test.ts), here for real on this one-node box.
    const node1 = variant(dpdk, 'node1', [
      [
        ['ovsDpdk', 'socketMemMb'],
        [0, 256],
      ],
      [
        ['ovsDpdk', 'socketLimitMb'],
        [0, 256],
      ],
    ]);
    const d = await checks(node1, 'ovs-dpdk', '--host', 'host');
    expect(d.exitCode).toBe(2);
    expect(notOk(d.results)).toEqual(['host.hugepages-node']);
    expect(d.results.find((x) => x.id === 'hugepages-node')).toMatchObject({
      evidence: 'ovsDpdk.socketMemMb 0,256 takes memory on node 1, which this host has node 0',
      fix: expect.stringContaining('one value per node this host has'),
    });
    const r = await dutlabRun(['--testbed', node1, '--profile', 'ovs-dpdk'], join(s, 'reports'));
    expect(r.exitCode).toBe(2);
    expect(r.summary.cases.find((c) => c.id === 'lab.preflight')?.message).toContain('[host] hugepages-node: ovsDpdk.socketMemMb 0,256 takes memory on node 1');
    expect(r.summary.cases.find((c) => c.id === 'host.stop-previous-vswitchd')?.status).toBe('skipped');
  }, 120_000);

  it("refuses, on a netdev lab, the lab's own ovs-vswitchd when it does not answer (a run would blame the DUT): doctor and run exit 2", async () => {
    const netdev = await labUp({ id: 'docv' });
    try {
      const vswitchd = netdev.processes.find((p) => p.name === 'ovs-vswitchd')!;
      expect(notOk((await checks(netdev.testbedFile, 'virtual', '--host', 'host')).results)).toEqual([]);
      process.kill(vswitchd.pid, 'SIGSTOP');
      try {
        const d = await checks(netdev.testbedFile, 'virtual', '--host', 'host');
        expect(d.exitCode).toBe(2);
        expect(notOk(d.results)).toEqual(['host.vswitchd-answers']);
        expect(d.results.find((x) => x.id === 'vswitchd-answers')!.evidence).toBe(
          `ovs-vswitchd (pid ${vswitchd.pid}) runs but does not answer ovs-appctl within 5 s`,
        );
        const r = await dutlabRun(['--testbed', netdev.testbedFile, '--profile', 'virtual'], join(netdev.stateDir, 'reports'));
        expect(r.exitCode).toBe(2);
        expect(r.summary.cases.find((c) => c.id === 'lab.preflight')).toMatchObject({
          kind: 'infra',
          message: expect.stringContaining(`[host] vswitchd-answers: ovs-vswitchd (pid ${vswitchd.pid}) runs but does not answer`),
        });
      } finally {
        process.kill(vswitchd.pid, 'SIGCONT');
      }
    } finally {
      await labDown({ id: 'docv' });
    }
  }, 120_000);

  it('stops a run whose testbed names a device the host does not have, at its preflight (no --doctor), exit 2 naming the field', async () => {
    const wrong = variant(dpdk, 'no-device', [[['phyPorts', 1, 'dpdkDevargs'], 'net_af_packet1,iface=nosuch1']]);
    const d = await checks(wrong, 'ovs-dpdk', '--host', 'host');
    expect(notOk(d.results)).toEqual(['host.devices']);
    const t0 = Date.now();
    const r = await dutlabRun(['--testbed', wrong, '--profile', 'ovs-dpdk'], join(dpdk.stateDir, 'reports'));
    expect(r.exitCode).toBe(2);
    expect((Date.now() - t0) / 1000).toBeLessThan(15);
    expect(r.summary.cases.find((c) => c.id === 'lab.preflight')).toMatchObject({
      status: 'failed',
      kind: 'infra',
      message:
        'the lab is not ready: [host] devices: phyPorts.1.dpdkDevargs names interface nosuch1, which the host does not have (fix: correct phyPorts[].dpdkDevargs: `ip -br link` and `lspci -D` list what the host has)',
    });
    // Nothing of the setup ran: the first step is skipped, not failed waiting for a port.
    expect(r.summary.cases.find((c) => c.id === 'host.stop-previous-vswitchd')?.status).toBe('skipped');
  }, 60_000);

  it('stops `run --doctor` on a broken lab in seconds, before any setup: exit 2 naming the check and its fix', async () => {
    await execa('ip', ['-n', dpdk.namespaces.tg, 'link', 'set', 'tg0', 'down']);
    try {
      const t0 = Date.now();
      const r = await dutlabRun(['--testbed', dpdk.testbedFile, '--profile', 'ovs-dpdk', '--doctor'], join(dpdk.stateDir, 'reports'));
      const seconds = (Date.now() - t0) / 1000;
      expect(r.exitCode).toBe(2);
      expect(seconds).toBeLessThan(10);
      expect(r.summary.reason).toBe(
        'the lab is not ready (dutlab doctor): [tg] tg-ports: tg0 down, tg1 up (fix: ip link set dev tg0 up, and check the cable to the DUT)',
      );
      expect(r.summary.cases).toEqual([]);
      expect(readFileSync(join(r.reports, r.summary.runId, 'doctor.txt'), 'utf8')).toMatch(/^FAIL {2}\[tg\] tg-ports/m);
    } finally {
      await execa('ip', ['-n', dpdk.namespaces.tg, 'link', 'set', 'tg0', 'up']);
    }
  }, 60_000);

  it("runs docs/real-lab.md's commands on the virtual lab's DPDK lab, as a first nightly: doctor, plan, a baseline, the nightly against it, compare", async () => {
    const text = readFileSync(join(ROOT, 'docs', 'real-lab.md'), 'utf8');
    const modern = text.slice(text.indexOf('## The modern lab'), text.indexOf('## The guide'));
    const commands = [...modern.matchAll(/^ *\$ dutlab (.*)$/gm)].map((m) => m[1]!);
    expect(commands.map((c) => c.split(' ')[0])).toEqual(['doctor', 'plan', 'run', 'run', 'compare']);
    // my-lab.yaml is the DPDK lab's testbed, with quick searches.
    // What the commands do is the point here, not the figures: the widest, shortest search that is still one.
    const goal = { relativeWidth: 0.5, initialTrialS: 0.25, finalTrialS: 0.5, durationSumS: 0.5 };
    const quick = variant(dpdk, 'my-lab', [
      [['throughput', 'ndr'], goal],
      [['throughput', 'pdr'], goal],
      [['throughput', 'maxSearchS'], 20],
      // The latency after the search is the throughput test's (tests/lab/throughput.test.ts).
      [['throughput', 'latency', 'loads'], []],
      // The gate's sensitivity is the throughput test's too (on a DUT of known capacity): searches this quick on the
      // unshaped DPDK datapath differ by more than the virtual lab's 50 % (73-90 kfps, then 15-30, seen in CI).
      [['throughput', 'regressionThreshold'], 0.9],
    ]);
    const reports = join(dpdk.stateDir, 'doc-reports');
    const ids: Record<string, string> = {};
    const outcomes: Array<{ exitCode: number; out: string }> = [];
    for (const c of commands) {
      const args = c
        .replace(/my-lab\.yaml/g, quick)
        .replace(/\b(BASELINE|CANDIDATE)\b/g, (w) => ids[w]!)
        .split(' ');
      if (args[0] === 'run' || args[0] === 'compare') args.push('--reports', reports);
      const r = await execa('node', ['bin/dutlab.js', ...args], { cwd: ROOT, reject: false, timeout: 180_000 });
      outcomes.push({ exitCode: r.exitCode ?? -1, out: `${r.stdout}\n${r.stderr}` });
      if (args[0] === 'run') ids[ids.BASELINE ? 'CANDIDATE' : 'BASELINE'] = readlinkSync(join(reports, 'latest'));
    }
    for (const [i, o] of outcomes.entries()) expect(o.exitCode, `${commands[i]}\n${o.out}`).toBe(0);
    expect(outcomes[1]!.out).toMatch(/^# dutlab plan: testbed virtual-lab-docd, profile ovs-dpdk/);
    expect(outcomes[2]!.out).toMatch(/^dutlab: NDR \(loss 0\) at 64 B: /m);
    expect(outcomes[3]!.out).toContain(`dutlab: no regression against ${ids.BASELINE}`);
    expect(outcomes[4]!.out).toContain(`baseline ${ids.BASELINE} (virtual-lab-docd, ovs-dpdk) -> candidate ${ids.CANDIDATE}`);
  }, 300_000);
});
