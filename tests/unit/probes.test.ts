// The doctor's judges, on the outputs of their reads: each ok and each
// broken, with the fix line a lab engineer acts on. (The reads themselves
// run against the virtual lab, tests/lab/doctor.test.ts, and the scripted
// real lab, tests/protocol/doctor-real-lab.test.ts.)
import { describe, expect, it } from 'vitest';
import { PROBES } from '../../lib/probes/doctor.js';
import { deviceOf } from '../../lib/probes/dut.js';
import { CLOCK_FAIL_MS, CLOCK_WARN_MS } from '../../lib/probes/hosts.js';
import { coresOf, cpuList, formatProbes, type CommandProbe, type ProbeContext, type Reading } from '../../lib/probes/probe.js';
import { ovsDpdk } from '../../lib/profiles/ovs-dpdk.profile.js';
import { virtual } from '../../lib/profiles/virtual.profile.js';
import { loadTestbed } from '../../lib/testbed/load.js';
import { fixturePath } from '../helpers/fixtures.js';

const tb = loadTestbed(fixturePath('testbeds/virtual.yaml'));
const c: ProbeContext = { tb, profile: virtual };
const probe = (host: string, id: string) => PROBES.find((p) => p.host === host && p.id === id && 'judge' in p && p.notNeeded(c) === null) as CommandProbe;
const at = (stdout: string, fromUs = 1_000_000_000_000_000, toUs = fromUs + 2000): Reading => ({ stdout, exitCode: 0, fromUs, toUs });

describe("the doctor's judges", () => {
  it("reads the clock's offset to within half the round trip: ok, warn past 50 ms, fail past a second (faked offsets)", () => {
    const clock = probe('host', 'clock');
    const from = 1_764_500_000_000_000;
    const remote = (offsetMs: number) => `${(from + 1000 + offsetMs * 1000) * 1000}\n`;
    expect(clock.judge(at(remote(3), from), c)).toMatchObject({ status: 'ok', evidence: '+3.0 ms from the controller (±1.0 ms)' });
    expect(clock.judge(at(remote(CLOCK_WARN_MS + 150), from), c)).toMatchObject({ status: 'warn', evidence: '+200.0 ms from the controller (±1.0 ms)' });
    const far = clock.judge(at(remote(-(CLOCK_FAIL_MS + 4000)), from), c);
    expect(far).toMatchObject({ status: 'fail', evidence: '-5000.0 ms from the controller (±1.0 ms)' });
    expect(far.fix).toMatch(/^synchronise the clocks \(chrony/);
    expect(clock.judge(at('Mon Nov 30\n'), c)).toMatchObject({ status: 'fail', fix: 'a date(1) with %N (GNU coreutils)' });
  });

  it("finds an ovs-vswitchd on the lab's database that no run of this lab started, and tells the record's own from it", () => {
    const real = loadTestbed(fixturePath('testbeds/real-ovs-dpdk.yaml'));
    const cd: ProbeContext = { tb: real, profile: ovsDpdk };
    const foreign = PROBES.find((p) => p.id === 'vswitchd-foreign') as CommandProbe;
    expect(foreign.notNeeded(c)).toBe('the virtual profile does not start upstream OVS-DPDK');
    const run = real.paths.ovsRunDir;
    const system = `proc 812 4711 ovs-vswitchd unix:${run}/db.sock -vconsole:emer -vsyslog:err -vfile:info --mlockall --no-chdir --log-file=/var/log/openvswitch/ovs-vswitchd.log --pidfile --detach`;
    const ours = `proc 2301 99120 ${real.ovsDpdk.vswitchd} unix:${run}/db.sock --pidfile=${real.paths.vswitchdPidfile}`;
    expect(foreign.judge(at('record none\nend\n'), cd)).toMatchObject({ status: 'ok', evidence: 'none runs: the run starts its own' });
    expect(foreign.judge(at(`record 2301 99120\n${ours}\nend\n`), cd)).toMatchObject({
      status: 'ok',
      evidence: expect.stringContaining("a previous run's ovs-vswitchd still runs (pid 2301)"),
    });
    const found = foreign.judge(at(`record 2301 99120\n${ours}\n${system}\nend\n`), cd);
    expect(found).toMatchObject({ status: 'fail', evidence: expect.stringMatching(/^not started by a run of this lab: pid 812 \(ovs-vswitchd unix:/) });
    expect(found.fix).toContain('systemctl disable --now ovs-vswitchd');
    // A record of another start time (the pid reused since) is not this harness's daemon.
    expect(foreign.judge(at(`record 2301 5\n${ours}\nend\n`), cd).status).toBe('fail');
    // Another lab's daemon, on its own database, is none of this lab's business.
    expect(foreign.judge(at('record none\nproc 9 9 ovs-vswitchd unix:/run/other/db.sock --pidfile=/run/other/v.pid\nend\n'), cd).status).toBe('ok');
    expect(foreign.judge(at(`record none\n${system}\n`), cd)).toMatchObject({ status: 'fail', evidence: 'the list of ovs-vswitchd processes was cut short' });
  });

  it("wants ovsdb-server answering on the lab's database, and a bridge that holds only the testbed's ports", () => {
    const db = probe('host', 'switch-database');
    expect(db.judge(at('db ok\nbridge no\nend\n'), c)).toMatchObject({
      status: 'ok',
      evidence: expect.stringContaining('no bridge br0 yet: the run makes it'),
    });
    expect(db.judge(at('db ok\nbridge yes\nport port16\nport port32\nend\n'), c)).toMatchObject({ status: 'ok' });
    const theirs = db.judge(at('db ok\nbridge yes\nport port16\nport mgmt0\nport eno2\nend\n'), c);
    expect(theirs).toMatchObject({
      status: 'fail',
      evidence: "bridge br0 holds ports the testbed does not name (mgmt0, eno2): it is not this lab's to delete",
    });
    expect(db.judge(at('db down\nend\n'), c)).toMatchObject({ status: 'fail', evidence: `ovsdb-server does not answer on unix:${tb.paths.ovsRunDir}/db.sock` });
    expect(db.judge(at('db ok\nbridge yes\nport mgmt0\n'), c).evidence).toBe("the switch database's answer was cut short");
  });

  it('wants root or passwordless sudo, and says which', () => {
    const priv = probe('host', 'privileges');
    expect(priv.judge(at('0\n'), c).status).toBe('ok');
    expect(priv.judge(at('1000\n'), c)).toMatchObject({
      status: 'fail',
      fix: 'log in as root, or set hosts.host.sudo: true for a user with passwordless sudo',
    });
    const withSudo = { ...c, tb: { ...tb, hosts: { ...tb.hosts, host: { ...tb.hosts.host, sudo: true } } } };
    expect(priv.judge(at('1000\nsudo-ok\n'), withSudo)).toMatchObject({ status: 'ok', evidence: 'uid 1000, sudo without a password' });
    expect(priv.judge(at('1000\n'), withSudo).fix).toMatch(/NOPASSWD/);
  });

  it('names the missing tools and the packages they come from', () => {
    const tools = probe('guest', 'tools');
    expect(tools.judge(at(''), c)).toMatchObject({ status: 'ok', evidence: 'ip, ifconfig, route, arp, sysctl' });
    expect(tools.judge(at('missing: ifconfig\nmissing: arp\n'), c)).toMatchObject({
      status: 'fail',
      evidence: 'missing: ifconfig, arp',
      fix: 'apt-get install net-tools (or point the testbed at where they are)',
    });
  });

  it("finds a TG port down or absent, and the generator's tools missing", () => {
    const ports = probe('tg', 'tg-ports');
    expect(ports.judge(at('tg0 up\ntg1 up\n'), c).status).toBe('ok');
    expect(ports.judge(at('tg0 down\ntg1 up\n'), c)).toMatchObject({ status: 'fail', fix: 'ip link set dev tg0 up, and check the cable to the DUT' });
    expect(ports.judge(at('tg0 absent\ntg1 up\n'), c).fix).toBe('no such interface on the TG: tg0; check phyPorts[].tgPort');
    const gen = probe('tg', 'generator');
    expect(gen.judge(at('tcpreplay version: 4.4.3 (build git:v4.4.3)\ntcpdump version 4.99.3\n'), c)).toMatchObject({
      status: 'ok',
      evidence: 'tcpreplay 4.4.3, tcpdump 4.99.3',
    });
    expect(gen.judge(at('sh: 1: tcpreplay: not found\ntcpdump version 4.99.3\n'), c)).toMatchObject({
      status: 'fail',
      fix: 'apt-get install tcpreplay tcpdump',
    });
  });

  it('reads core masks and kernel CPU lists', () => {
    expect(coresOf('0x3c')).toEqual([2, 3, 4, 5]);
    expect(coresOf('0x1')).toEqual([0]);
    expect(cpuList('1-3,8\n')).toEqual([1, 2, 3, 8]);
    expect(cpuList('\n')).toEqual([]);
  });

  it('prints a line per check, the fix under what is not ok, and the counts', () => {
    const text = formatProbes([
      { id: 'connect', host: 'host', title: '', status: 'ok', evidence: 'root@dut1:22, host key verified' },
      {
        id: 'hugepages',
        host: 'host',
        title: '',
        status: 'fail',
        evidence: '1 free 1 GB pages, the run takes 6',
        fix: 'hugepagesz=1G hugepages=6 on the kernel command line',
      },
      { id: 'kvm', host: 'host', title: '', status: 'n/a', evidence: 'vm.accel is tcg' },
    ]);
    expect(text).toBe(
      [
        'OK    [host] connect    root@dut1:22, host key verified',
        'FAIL  [host] hugepages  1 free 1 GB pages, the run takes 6',
        '                        fix: hugepagesz=1G hugepages=6 on the kernel command line',
        'N/A   [host] kvm        vm.accel is tcg',
        '',
        '1 ok, 0 warn, 1 fail, 1 n/a',
        '',
      ].join('\n'),
    );
  });

  it("finds the devices a phy port's devargs name: a PCI address, an af_packet or af_xdp interface; a vdev makes its own", () => {
    expect(deviceOf('0000:3b:00.1')).toEqual({ kind: 'PCI device', path: '/sys/bus/pci/devices/0000:3b:00.1', name: '0000:3b:00.1' });
    expect(deviceOf('net_af_packet0,iface=port16')).toEqual({ kind: 'interface', path: '/sys/class/net/port16', name: 'port16' });
    expect(deviceOf('net_af_xdp0,iface=ens1f0,start_queue=0')).toMatchObject({ kind: 'interface', name: 'ens1f0' });
    expect(deviceOf('net_tap32,iface=vEth_port32')).toBeNull();
  });
});
