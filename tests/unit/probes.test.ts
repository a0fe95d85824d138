// The doctor's judges, on the outputs of their reads: each ok and each
// broken, with the fix line a lab engineer acts on. (The reads themselves
// run against the virtual lab, tests/lab/doctor.test.ts, and the scripted
// real lab, tests/protocol/doctor-real-lab.test.ts.)
import { describe, expect, it } from 'vitest';
import { PROBES } from '../../lib/probes/doctor.js';
import { deviceOf } from '../../lib/probes/dut.js';
import { CLOCK_FAIL_MS, CLOCK_WARN_MS } from '../../lib/probes/hosts.js';
import { coresOf, cpuList, formatProbes, type CommandProbe, type ProbeContext, type Reading } from '../../lib/probes/probe.js';
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
