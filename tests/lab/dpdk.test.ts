// The lab tier: the ovs-dpdk profile on a real DPDK datapath (Debian's
// OVS-DPDK on DPDK virtual devices) in the virtual lab. The main job with both
// profiles; a fault for each DPDK check; what the lab takes from the machine
// (hugepages, DPDK's runtime directory, the ovs-vswitchd alternative) given back.
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, describe, expect, it } from 'vitest';
import { labDown, labLeftovers } from '../../lib/vlab/lab.js';
import { hugepageCounts } from '../../lib/vlab/hugepages.js';
import { CHECKS, checkFault, cleanUpFaultLabs, guestForwardRule, inHostOvs, type Fault } from '../helpers/faults.js';
import { virtual } from '../../lib/profiles/virtual.profile.js';
import type { Summary } from '../../lib/report/summary.js';

const ROOT = new URL('../..', import.meta.url).pathname;
const dirs: string[] = [];
cleanUpFaultLabs();
afterAll(async () => {
  await labDown({ id: 'dpe2e' });
  await labDown({ id: 'dpe2e-dpdk' });
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const alternative = async () => (await execa('update-alternatives', ['--query', 'ovs-vswitchd'], { reject: false })).stdout;

describe('the main job with both profiles', () => {
  it('passes the virtual and the ovs-dpdk profile, one line each with DPDK version; gives back the hugepages, DPDK dir and alternative as found', async () => {
    const reports = mkdtempSync(join(tmpdir(), 'dutlab-e2e-'));
    dirs.push(reports);
    const [pagesBefore, altBefore] = [await hugepageCounts(2048), await alternative()];
    const r = await execa('node', ['bin/dutlab.js', 'e2e', '--id', 'dpe2e', '--reports', reports], { cwd: ROOT, reject: false, timeout: 300_000 });
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stderr).toMatch(
      /^dutlab: virtual: PASS \(exit 0\): \d+ testcases passed(, \d+ blocked \(the lab lacks what they need\))?; DPDK none \(profile virtual: no DPDK\)$/m,
    );
    expect(r.stderr).toMatch(
      /^dutlab: ovs-dpdk: PASS \(exit 0\): \d+ testcases passed(, \d+ blocked \(the lab lacks what they need\))?; DPDK DPDK 22\.11\.\d+$/m,
    );
    // The DPDK lab reserved its pages while up, and gave back exactly those.
    expect(r.stderr).toMatch(/dutlab: reserved 128 hugepages of 2 MB/);
    expect(await hugepageCounts(2048)).toEqual(pagesBefore);
    expect(await alternative()).toBe(altBefore);
    expect(existsSync('/var/run/dpdk/dutlab-dpe2e-dpdk')).toBe(false);
    expect(await labLeftovers('dpe2e-dpdk')).toEqual([]);
    expect(await labLeftovers('dpe2e')).toEqual([]);
    const runs = readdirSync(reports).filter((d) => /^\d{8}-/.test(d));
    const summaryOf = (d: string) => JSON.parse(readFileSync(join(reports, d, 'summary.json'), 'utf8')) as Summary;
    // The virtual profile's default suite, with the testcase ids dashboards and the fault tests read.
    const virtualRun = runs.find((d) => summaryOf(d).profile === 'virtual')!;
    expect(summaryOf(virtualRun)).toMatchObject({ verdict: 'pass', profile: 'virtual' });
    // The checks of what this profile lacks (KNI, DPDK ports, a VM) are there, blocked with the reason, in the suite's order.
    const blocked = {
      'check.dmesg-kni': 'kni',
      'check.dpdk-ports': 'dpdk-ports',
      'check.pmd-stats': 'dpdk-ports',
      'check.vswitchd-log': 'dpdk-ports',
      'check.guest-boot': 'vm',
    };
    const [packets, counters, sw, flows, ...rest] = CHECKS;
    const checks = [packets, counters, sw, flows, 'check.dmesg-kni', ...rest, 'check.dpdk-ports', 'check.pmd-stats', 'check.vswitchd-log', 'check.guest-boot'];
    expect(summaryOf(virtualRun).cases.map((c) => `${c.suite} ${c.id}`)).toEqual(
      ['lab.lock', 'lab.preflight', ...virtual.steps.map((s) => s.id), 'traffic.prepare', 'traffic.send', ...checks].map((id) => `pvp ${id}`),
    );
    expect(
      summaryOf(virtualRun)
        .cases.filter((c) => c.status !== 'passed')
        .map((c) => [c.id, c.status, c.message]),
    ).toEqual(Object.entries(blocked).map(([id, feature]) => [id, 'blocked', `blocked: this lab has no ${feature}`]));
    for (const d of runs) expect(existsSync(join(reports, d, 'junit.xml'))).toBe(true);
    // The DPDK run: --no-pci in DPDK's EAL arguments, as its daemon logged them; the capability matrix in its report.
    const dpdkRun = runs.map((d) => join(reports, d)).find((d) => readFileSync(join(d, 'summary.md'), 'utf8').includes('profile `ovs-dpdk`'))!;
    const log = readFileSync(join(dpdkRun, 'pvp', 'logs', 'host-ovs-vswitchd.log'), 'utf8');
    const eal = log.split('\n').filter((l) => l.includes('EAL ARGS:'));
    expect(eal.length).toBeGreaterThan(0);
    for (const line of eal) expect(line).toMatch(/ --no-pci /);
    expect(log).toContain('--file-prefix=dutlab-dpe2e-dpdk');
    const md = readFileSync(join(dpdkRun, 'summary.md'), 'utf8');
    expect(md).toMatch(
      /## Capabilities: what the run requires, what this lab has\n\n\| requirement \| needed by \| this lab \| {2}\|\n\|---\|---\|---\|---\|\n\| guest \| suite pvp \| guest \| ok \|/,
    );
    expect(md).toContain('- dpdk: DPDK 22.11');
  }, 300_000);
});

const dpdk = (f: Omit<Fault, 'profile'>): Fault => ({ ...f, profile: 'ovs-dpdk' });

/** Each DPDK check broken in its one way, on a DPDK lab of its own. */
const FAULTS: Fault[] = [
  dpdk({
    name: "ovs-vswitchd without DPDK (the system's non-DPDK build where the DPDK one belongs)",
    hook: () => 'true',
    testbed: (y) => y.replace(/^ovsDpdk:\n/m, 'ovsDpdk:\n  vswitchd: /usr/lib/openvswitch-switch/ovs-vswitchd\n'),
    exitCode: 1,
    fails: {},
    setupFails: {
      'host.start-vswitchd-dpdk': /^dpdk: DPDK is not initialised in ovs-vswitchd \(dpdk_initialized=false\); ovs-vswitchd reports no DPDK version/,
    },
  }),
  dpdk({
    name: 'the egress phy port administratively down',
    hook: (lab) => inHostOvs(lab, 'ovs-ofctl mod-port br0 port17 down'),
    exitCode: 1,
    fails: {
      'check.dpdk-ports': /^dpdk ports: DPDK port port17 has link_state down, expected up$/,
      'check.packets': /none of the 1000 packets sent came back/,
    },
    passes: ['check.flows', 'check.ifconfig', 'check.switch', 'check.vswitchd-log'],
  }),
  dpdk({
    name: 'the guest drops the stream: the PMD threads see it once, not twice',
    hook: guestForwardRule('drop'),
    exitCode: 1,
    fails: {
      'check.pmd-stats':
        /^pmd stats: the PMD threads received 1000 packets over the run, fewer than the 2000 of the stream's 1000 packets crossing the switch twice: 1000 did not come back through it$/,
      'check.packets': /none of the 1000 packets sent came back/,
    },
    passes: ['check.dpdk-ports', 'check.vswitchd-log', 'check.flows', 'check.ifconfig'],
  }),
  dpdk({
    name: "an error in ovs-vswitchd's log (a DPDK device that cannot attach, added and removed)",
    hook: (lab) =>
      `${inHostOvs(lab, 'ovs-vsctl --timeout=10 add-port br0 bogus -- set Interface bogus type=dpdk options:dpdk-devargs=net_bogus0')}; ${inHostOvs(lab, 'ovs-vsctl --timeout=10 del-port br0 bogus')}; true`,
    exitCode: 1,
    fails: {
      'check.vswitchd-log': /^ovs-vswitchd log: \d+ unexpected ERR\/EMER line\(s\) in ovs-vswitchd's log, first: .*failed to parse device \\"net_bogus0\\"/,
    },
    passes: 'every other check',
  }),
  dpdk({
    name: 'a port OVS refuses (its DPDK devargs take a key the PMD does not know): the wait fails quoting OVS',
    hook: () => 'true',
    testbed: (y) => y.replace('"net_af_packet1,iface=port17"', '"net_af_packet1,iface=port17,bogus=1"'),
    exitCode: 1,
    fails: {},
    setupFails: {
      'host.wait-ports': /OVS says: Interface port17 error "[^"]*net_af_packet1,iface=port17,bogus=1[^"]*"(; ovs-vswitchd\.log: .*port17.*)?$/,
    },
  }),
  dpdk({
    name: 'too few free hugepages: an infrastructure error before DPDK starts',
    hook: () => 'true',
    testbed: (y) => y.replace(/socketMemMb: 256/, 'socketMemMb: 100000').replace(/socketLimitMb: 256/, 'socketLimitMb: 100000'),
    exitCode: 2,
    fails: {},
    setupFails: {
      'lab.preflight':
        /^the lab is not ready: \[host\] hugepages: \d+ free 2 MB pages, the run takes 50000 \(ovsDpdk\.socketMemMb 100000\) \(fix: echo 50000 > \/sys\/kernel\/mm\/hugepages\/hugepages-2048kB\/nr_hugepages/,
    },
  }),
];

describe('DPDK faults: each check fails on its fault, with its diagnosis', () => {
  it.concurrent.for(FAULTS)('$name', { timeout: 180_000 }, async (f, { expect }) => {
    await checkFault(f, expect);
  });
});
