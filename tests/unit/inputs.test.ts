// Inputs that used to slip through (issue 21): each example, refused where it
// enters with the file, line and field, or made to mean what it says. The
// property-based tests (properties.test.ts) do the same over generated inputs.
import { execFileSync } from 'node:child_process';
import { appendFileSync, cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { InputFileError, PcapError, ParseError, TestbedError } from '../../lib/errors.js';
import { FILE_LIMITS, readBounded } from '../../lib/files.js';
import { parseDumpPorts } from '../../lib/parsers/ovs.js';
import { parseRoutes, parseSysctl } from '../../lib/parsers/net.js';
import { profileByName } from '../../lib/profiles/index.js';
import { profileProblems } from '../../lib/profiles/profile.js';
import { GATE_CASE_ID, incomparable, judgeAgainstBaseline } from '../../lib/report/compare.js';
import type { RunRecord } from '../../lib/results/run.js';
import { appendHistory, HISTORY_FILE, loadRun, readHistory } from '../../lib/store/file.js';
import { historyEntry } from '../../lib/results/history.js';
import { loadTestbed, parseTestbed } from '../../lib/testbed/load.js';
import { readPcap, writeStreamPcap } from '../../lib/traffic/pcap.js';
import { streamFromTestbed } from '../../lib/traffic/stream.js';
import { dutlabInProcess as dutlab } from '../helpers/in-process.js';
import { fixturePath, MINIMAL_TESTBED as MINIMAL } from '../helpers/fixtures.js';
import { runRecord, SEARCH_64 } from '../helpers/history.js';
import { throughputOf } from '../../lib/results/throughput.js';
import { SCHEMA_VERSION } from '../../lib/results/schema.js';
import type { CaseOutcome } from '../../lib/results/run.js';
import { pvpMeasured } from '../../lib/results/pvp.js';

const tmp = mkdtempSync(join(tmpdir(), 'dutlab-inputs-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** The problems a testbed is refused for, as "path: message" lines. */
function refused(text: string): string[] {
  try {
    parseTestbed(text, 'bad.yaml');
  } catch (err) {
    expect(err).toBeInstanceOf(TestbedError);
    return (err as TestbedError).problems.map((p) => `${p.path}: ${p.message}`);
  }
  throw new Error('the testbed was accepted');
}

/** A run's data as compare reads it: one suite, the same NDR search (40..42 kfps) at each frame size. */
const runOf = (o: { runId: string; testbed?: string; profile?: string; frames?: number[]; suite?: string }): RunRecord =>
  runRecord({
    runId: o.runId,
    testbedName: o.testbed ?? 'lab-a',
    profile: o.profile ?? 'virtual',
    ...(o.suite ? { suite: o.suite } : {}),
    throughput: (o.frames ?? [64]).map((frame) => structuredClone({ ...SEARCH_64, frame })),
  });

describe('data loss: the history', () => {
  it('never loses the entry appended after a cut last line; the reader skips the cut line and names it', () => {
    const dir = mkdtempSync(join(tmp, 'hist-'));
    const a = historyEntry(runOf({ runId: 'run-a' }).run, 'pass');
    appendHistory(dir, a);
    // A run killed in mid-append (or a disk that filled up) left half a line.
    appendFileSync(join(dir, HISTORY_FILE), JSON.stringify(historyEntry(runOf({ runId: 'run-cut' }).run, 'pass')).slice(0, 40));
    const b = historyEntry(runOf({ runId: 'run-b' }).run, 'pass');
    appendHistory(dir, b);
    const h = readHistory(dir);
    expect(h.entries.map((e) => e.runId)).toEqual(['run-a', 'run-b']);
    expect(h.skipped).toEqual([expect.stringMatching(new RegExp(`${HISTORY_FILE}:2: skipped: not a whole JSON line \\(cut off\\?\\)`))]);
    // And `--baseline` still finds a run by its id there.
    mkdirSync(join(dir, 'run-b'));
    expect(() => loadRun('run-b', dir)).toThrow(InputFileError);
  });

  it('skips a line of the wrong shape, naming the line and the field', () => {
    const dir = mkdtempSync(join(tmp, 'hist-'));
    writeFileSync(join(dir, HISTORY_FILE), `${JSON.stringify({ runId: 'x', startedAt: 1 })}\nnull\n`);
    const h = readHistory(dir);
    expect(h.entries).toEqual([]);
    expect(h.skipped[0]).toMatch(/history\.jsonl:1: skipped: startedAt: expected string, got number/);
    expect(h.skipped[1]).toMatch(/history\.jsonl:2: skipped: \(top\): expected object, got null/);
  });
});

describe('a stale report for a gate: every exit path of `run` writes this run report', () => {
  const testbed = join(tmp, 'tb.yaml');
  writeFileSync(testbed, MINIMAL);
  const cut = join(tmp, 'cut-run');
  cpSync(fixturePath('runs/pvp-before-schema-version'), cut, { recursive: true });
  writeFileSync(join(cut, 'summary.json'), readFileSync(join(cut, 'summary.json'), 'utf8').slice(0, 300));
  const empty = join(tmp, 'empty-run');
  mkdirSync(empty, { recursive: true });

  it.each([
    ['nothing there', join(tmp, 'no-such-run'), /no-such-run: neither a run directory nor a run id in .*history\.jsonl/],
    ['an empty directory', empty, /empty-run\/run\.json: cannot read the run\.json: no such file or directory \(ENOENT\)/],
    ['a cut summary.json', cut, /cut-run\/summary\.json: not valid JSON \(cut off\?\)/],
  ])('a baseline that cannot be read (%s): exit 2 naming it, and a report of this run', async (_what, baseline, why) => {
    const reports = mkdtempSync(join(tmp, 'reports-'));
    const r = await dutlab('run', '--testbed', testbed, '--profile', 'virtual', '--baseline', baseline, '--reports', reports, '--quiet');
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(why);
    const summary = JSON.parse(readFileSync(join(reports, 'latest', 'summary.json'), 'utf8'));
    expect(summary).toMatchObject({ verdict: 'infra-error', exitCode: 2 });
    expect(summary.reason).toMatch(/^the baseline cannot be read: /);
    expect(readFileSync(join(reports, 'junit.xml'), 'utf8')).toContain(`<property name="runId" value="${summary.runId}"/>`);
  });
});

describe('no size limit: every file read has a bound', () => {
  it('refuses /dev/zero as a testbed at once, naming it, without reading it', async () => {
    const t0 = Date.now();
    expect(() => loadTestbed('/dev/zero')).toThrow(/\/dev\/zero: .*the testbed file is not a regular file \(a character device\)/s);
    const reports = mkdtempSync(join(tmp, 'reports-'));
    const r = await dutlab('run', '--testbed', '/dev/zero', '--profile', 'virtual', '--reports', reports, '--quiet');
    expect(r.exitCode).toBe(2);
    expect(Date.now() - t0).toBeLessThan(5000);
  });

  it('refuses a FIFO without waiting for a writer', () => {
    const fifo = join(tmp, 'fifo');
    execFileSync('mkfifo', [fifo]);
    expect(() => readBounded(fifo, 100, 'testbed file')).toThrow(/not a regular file \(a FIFO\)/);
  });

  it('refuses a testbed with a 50 MB value by its size', () => {
    const big = join(tmp, 'big.yaml');
    writeFileSync(big, `${MINIMAL}bridge: ${'x'.repeat(50 << 20)}\n`);
    expect(() => loadTestbed(big)).toThrow(
      new RegExp(`is ${(50 << 20) + MINIMAL.length + 9} bytes, more than the ${FILE_LIMITS.testbed} a testbed file may have`),
    );
  });
});

describe('values that failed late or misled: refused at load, with the field', () => {
  it.each([
    [
      'throughput.minRate above maxRate',
      'throughput: { minRate: 5000, maxRate: 1000 }',
      "throughput.minRate: 5000 frames/s is above the search's ceiling 1000 (throughput.maxRate)",
    ],
    ['a logAllowlist regex that does not compile', 'ovsDpdk: { logAllowlist: ["(unclosed"] }', 'ovsDpdk.logAllowlist.0: not a regular expression'],
    [
      'two vhost-user ports on one socket',
      `vmPorts:
  - { name: vhu0, ofport: 32, kind: vhost-user, guestIf: e0, mac: "52:54:00:00:00:10", cidr: 2.2.2.1/24, vhostSocket: /run/vhu.sock }
  - { name: vhu1, ofport: 33, kind: vhost-user, guestIf: e1, mac: "52:54:00:00:00:11", cidr: 3.3.3.1/24, vhostSocket: /run/vhu.sock }`,
      'vmPorts: vhost-user socket /run/vhu.sock is used twice',
    ],
    [
      'two phy ports on one DPDK device',
      `phyPorts:
  - { name: p0, ofport: 16, dpdkPort: 1, tgPort: tg0, dpdkDevargs: "0000:01:00.0" }
  - { name: p1, ofport: 17, dpdkPort: 2, tgPort: tg1, dpdkDevargs: "0000:01:00.0" }`,
      'phyPorts: DPDK device 0000:01:00.0 is used twice',
    ],
    [
      'two af_packet devices on one interface',
      `phyPorts:
  - { name: p0, ofport: 16, dpdkPort: 1, tgPort: tg0, dpdkDevargs: "net_af_packet0,iface=eth1" }
  - { name: p1, ofport: 17, dpdkPort: 2, tgPort: tg1, dpdkDevargs: "net_af_packet1,iface=eth1" }`,
      'phyPorts: DPDK device interface eth1 is used twice',
    ],
    [
      'vm.hugepageSizeKb other than the switch',
      'vm: { kernel: /k, initrd: /i, disk: /d, pidfile: /p, consoleLog: /c, hugepageSizeKb: 1048576 }',
      "vm.hugepageSizeKb: 1048576 KiB, but ovsDpdk.hugepageSizeKb is 2048: the guest's memory is shared with ovs-vswitchd",
    ],
    [
      'a hugepage size x86 does not have',
      'ovsDpdk: { hugepageSizeKb: 4096 }',
      'ovsDpdk.hugepageSizeKb: expected a hugepage size of 2048 (2 MB) or 1048576 (1 GB) KiB',
    ],
    [
      'a VM memory that is not a whole number of hugepages',
      'vm: { kernel: /k, initrd: /i, disk: /d, pidfile: /p, consoleLog: /c, memoryMb: 513 }',
      'vm.memoryMb: 513 MB is not a whole number of 2 MB hugepages',
    ],
    ['a multicast MAC', 'gateway: { ip: 3.3.3.2, mac: "01:00:5E:00:00:01" }', 'gateway.mac: a multicast or broadcast MAC address is no interface address'],
    ['the broadcast MAC', 'traffic: { srcMac: "FF:FF:FF:FF:FF:FF" }', 'traffic.srcMac: a multicast or broadcast MAC address'],
    ['an all-zero MAC', 'traffic: { dstMac: "00:00:00:00:00:00" }', 'traffic.dstMac: an all-zero MAC address is no interface address'],
    [
      'a regression threshold that disables the gate',
      'throughput: { regressionThreshold: 1 }',
      'throughput.regressionThreshold: a threshold above 0.9 lets almost any drop pass',
    ],
    [
      'an NDR loss ratio above PDR',
      'throughput: { ndr: { lossRatio: 0.01 }, pdr: { lossRatio: 0.005 } }',
      'throughput.ndr.lossRatio: 0.01 is above throughput.pdr.lossRatio 0.005',
    ],
    ['--no-pci beside pciDevices', 'ovsDpdk: { pciDevices: ["0000:01:00.0"], extraArgs: ["--no-pci"] }', 'ovsDpdk.extraArgs: --no-pci forbids the PCI devices'],
    ['more KNI devices than VM ports', 'dpdk: { ovsDpdk: { kniPorts: 3 } }', 'dpdk.ovsDpdk.kniPorts: 3, but the testbed has 2 KNI vport(s)'],
    [
      'a socket limit below the socket memory',
      'ovsDpdk: { socketMemMb: 1024, socketLimitMb: 512 }',
      'ovsDpdk.socketLimitMb: 512 MB is below ovsDpdk.socketMemMb 1024',
    ],
    [
      'socket memory no socket holds',
      'ovsDpdk: { socketMemMb: 1000000000, socketLimitMb: 1000000000 }',
      'ovsDpdk.socketMemMb: at most 1048576 MB (1 TiB) on one NUMA node',
    ],
    [
      'more MSI-X vectors than a PCI function has',
      'vm: { kernel: /k, initrd: /i, disk: /d, pidfile: /p, consoleLog: /c, nicVectors: 100000 }',
      'vm.nicVectors: at most 2048: the most MSI-X vectors a PCI function has',
    ],
  ])('%s', (_what, yaml, problem) => {
    expect(refused(`${MINIMAL}${yaml}\n`).join('\n')).toContain(problem);
  });

  it('refuses the legacy profile on a virtual-lab testbed (VM ports that are not KNI vports)', () => {
    const tb = parseTestbed(
      `${MINIMAL}vmPorts:
  - { name: port32, ofport: 32, kind: veth, guestIf: vEth_port32, mac: "00:4B:4E:49:30:00", cidr: 2.2.2.1/24 }
  - { name: port33, ofport: 33, kind: veth, guestIf: vEth_port33, mac: "00:4B:4E:49:30:01", cidr: 3.3.3.1/24 }
`,
    );
    const wrong = profileProblems(profileByName('legacy-kni'), tb, 'vlab.yaml');
    expect(wrong?.problems.map((p) => `${p.path}: ${p.message}`)).toEqual([
      "vmPorts.0.kind: veth; the guide's lab has KNI vports (kind kni): a virtual-lab testbed runs with profile virtual or ovs-dpdk (profile legacy-kni)",
      "vmPorts.1.kind: veth; the guide's lab has KNI vports (kind kni): a virtual-lab testbed runs with profile virtual or ovs-dpdk (profile legacy-kni)",
      expect.stringMatching(/^dpdk\.ovsDpdk\.baseVirtAddr: missing; the guide's --base-virtaddr=<virt_addr> is the host's own/),
    ]);
    expect(
      profileProblems(profileByName('legacy-kni'), parseTestbed(`${MINIMAL}dpdk: { ovsDpdk: { baseVirtAddr: "0x2aaa2aa0000" } }\n`), 'guide.yaml'),
    ).toBeNull();
    const normal = parseTestbed(`${MINIMAL}dpdk: { ovsDpdk: { baseVirtAddr: "0x2aaa2aa0000" } }\ntraffic: { rules: normal, direction: both }\n`);
    expect(profileProblems(profileByName('legacy-kni'), normal, 'guide.yaml')?.problems.map((p) => `${p.path}: ${p.message}`)).toEqual([
      "traffic.direction: both; the guide's setup is one way (its flows, its route and ARP entry): use one-way, or the virtual or ovs-dpdk profile (profile legacy-kni)",
      "traffic.rules: normal; the guide's vSwitch has no static MAC entries (ovs-appctl fdb/add) to keep it from flooding: use guide, port or flow (profile legacy-kni)",
    ]);
  });

  it('uses vm.hugepageSizeKb for the guest memory it names', () => {
    const tb = parseTestbed(`${MINIMAL}vm: { kernel: /k, initrd: /i, disk: /d, pidfile: /p, consoleLog: /c, memoryMb: 1024, pin: none }\n`);
    expect(tb.vm?.hugepageSizeKb).toBe(2048);
  });
});

describe('unlike things compared', () => {
  const base = runOf({ runId: 'base' });
  it.each([
    ['another profile', runOf({ runId: 'c', profile: 'ovs-dpdk' }), 'profile: virtual in the baseline, ovs-dpdk now'],
    ['other frame sizes', runOf({ runId: 'c', frames: [64, 1518] }), 'frame sizes: 64 in the baseline, 64, 1518 now'],
    ['another testbed', runOf({ runId: 'c', testbed: 'lab-b' }), 'testbed: lab-a in the baseline, lab-b now'],
    ['no suite in common', runOf({ runId: 'c', suite: 'pvp', frames: [] }), 'suites: throughput in the baseline, pvp now: none in common'],
  ])('%s: not compared, and the gate says so as an infrastructure error', (_what, cand, diff) => {
    expect(incomparable(base, cand)).toContain(diff);
    const gate = judgeAgainstBaseline(base, cand, { throughput: 0.1, latency: 0.5 });
    expect(gate.case).toMatchObject({ id: GATE_CASE_ID, status: 'failed', kind: 'infra' });
    expect(gate.case.message).toContain(`cannot compare with the baseline base: ${diff}`);
  });

  it('compares like with like: passed when nothing dropped, the DUT failed when it did', () => {
    expect(judgeAgainstBaseline(base, runOf({ runId: 'c' }), { throughput: 0.1, latency: 0.5 }).case.status).toBe('passed');
    const slow = runOf({ runId: 'slow' });
    Object.assign(throughputOf(slow.run.suites[0]!)[0]!.goals[0]!, {
      lowerBound: 10_000,
      upperBound: 11_000,
      spread: { highestPass: 10_000, lowestExceed: 11_000 },
    });
    expect(judgeAgainstBaseline(base, slow, { throughput: 0.1, latency: 0.5 }).case).toMatchObject({ status: 'failed', kind: 'dut' });
  });

  it('`dutlab compare` refuses runs of two profiles: exit 2 naming what differs', async () => {
    const dirOf = (rec: RunRecord) => {
      const d = mkdtempSync(join(tmp, 'run-'));
      writeFileSync(join(d, 'run.json'), JSON.stringify({ schemaVersion: SCHEMA_VERSION, ...rec.run }));
      writeFileSync(join(d, 'summary.json'), JSON.stringify({ runId: rec.run.runId, verdict: 'pass', exitCode: 0, cases: [] }));
      return d;
    };
    const r = await dutlab('compare', dirOf(base), dirOf(runOf({ runId: 'other', profile: 'ovs-dpdk' })));
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain('cannot compare base with other: profile: virtual in the baseline, ovs-dpdk now');
  });
});

describe('the command line and the file system, in words', () => {
  it.each([
    ['plan', '--testbed', '--testbed'],
    ['run', '--profile', '--profile=virtual'],
    ['compare', '--reports', '--reports'],
  ])('%s with %s given twice: exit 2 naming it, not the last one silently winning', async (command, flag, again) => {
    const tb = fixturePath('testbeds/virtual.yaml');
    const args: Record<string, string[]> = {
      plan: ['--testbed', tb, '--testbed', fixturePath('testbeds/legacy-kni.yaml'), '--profile', 'virtual'],
      run: ['--testbed', tb, '--profile', 'virtual', again, ...(again.includes('=') ? [] : ['virtual']), '--reports', mkdtempSync(join(tmp, 'twice-'))],
      compare: ['a', 'b', '--reports', tmp, '--reports', tmp],
    };
    const r = await dutlab(command, ...args[command]!);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain(`${flag} given 2 times: give each once`);
  });

  it('a repeatable flag repeated is no error', async () => {
    const r = await dutlab('suites', '--suites-dir', fixturePath('../tests/suites'), '--suites-dir', fixturePath('../tests/suites'));
    expect(r.stderr).not.toContain('given 2 times');
  });

  it('trend --reports naming a directory that is not there: exit 2 naming it, not "trend of 0 runs"', async () => {
    const r = await dutlab('trend', '--reports', join(tmp, 'no-such-reports'));
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain(`--reports ${join(tmp, 'no-such-reports')}: no such directory`);
    expect(r.stderr).not.toContain('trend of 0');
  });

  it('says what a file problem is in words, the code after them', () => {
    const loop = join(tmp, 'loop.yaml');
    execFileSync('ln', ['-sfn', loop, loop]);
    writeFileSync(join(tmp, 'plain'), 'x');
    expect(() => loadTestbed(loop)).toThrow(/too many symbolic links \(a link that points to itself\?\) \(ELOOP\)/);
    expect(() => loadTestbed(join(tmp, 'plain', 'tb.yaml'))).toThrow(/a part of the path is not a directory \(ENOTDIR\)/);
    expect(() => loadTestbed(join(tmp, 'none.yaml'))).toThrow(/no such file or directory \(ENOENT\)/);
  });
});

describe('a run that could not be measured is not compared, never a regression', () => {
  const base = runOf({ runId: 'base' });
  const preflight: CaseOutcome = {
    id: 'lab.preflight',
    name: 'The lab is ready',
    suite: 'throughput',
    group: 'setup',
    status: 'failed',
    kind: 'infra',
    durationMs: 5,
    message: 'the lab is not ready: [host] hugepages: 119 free 2 MB pages, the run takes 128',
  };
  const failedOnInfra = (id: string): RunRecord => {
    const r = runOf({ runId: id });
    return { ...r, cases: [preflight, ...r.cases.map((c) => (c.id === 'lab.preflight' ? preflight : { ...c, status: 'skipped' as const }))] };
  };
  const thresholds = { throughput: 0.1, latency: 0.5 };

  it('a candidate that failed on the infrastructure: the gate case skipped, "not compared (the candidate could not be measured: ...)"', () => {
    const gate = judgeAgainstBaseline(base, failedOnInfra('cand'), thresholds);
    expect(gate.regression).toBeNull();
    expect(gate.case).toMatchObject({ id: GATE_CASE_ID, status: 'skipped' });
    expect(gate.case.message).toBe(`not compared (the candidate could not be measured: The lab is ready: ${preflight.message})`);
    // comparison.txt and summary.md's section say the same, and no REGRESSION.
    expect(gate.text).toBe(`${gate.case.message}\n`);
    expect(gate.text).not.toMatch(/REGRESSION/);
  });

  it('an aborted candidate, and a baseline that failed on the infrastructure, likewise', () => {
    const aborted = runOf({ runId: 'cand' });
    aborted.run.aborted = 'interrupted by SIGINT';
    expect(judgeAgainstBaseline(base, aborted, thresholds).case.message).toBe(
      'not compared (the candidate could not be measured: aborted: interrupted by SIGINT)',
    );
    expect(judgeAgainstBaseline(failedOnInfra('old'), runOf({ runId: 'cand' }), thresholds).case.message).toMatch(
      /^not compared \(the baseline old could not be measured: The lab is ready: the lab is not ready/,
    );
  });

  it('`dutlab compare` of such a run exits 2, not 1, and says why', async () => {
    const dirOf = (rec: RunRecord, verdict: string) => {
      const d = mkdtempSync(join(tmp, 'run-'));
      writeFileSync(join(d, 'run.json'), JSON.stringify({ schemaVersion: SCHEMA_VERSION, ...rec.run }));
      writeFileSync(join(d, 'summary.json'), JSON.stringify({ runId: rec.run.runId, verdict, exitCode: verdict === 'pass' ? 0 : 2, cases: rec.cases }));
      return d;
    };
    const r = await dutlab('compare', dirOf(base, 'pass'), dirOf(failedOnInfra('cand'), 'infra-error'));
    expect(r.exitCode, r.stderr).toBe(2);
    expect(r.stderr).toContain('base -> cand: not compared (the candidate could not be measured: The lab is ready: the lab is not ready');
    expect(r.stdout).not.toMatch(/REGRESSION/);
  });
});

describe('raw exceptions: every reader validates and names the file and field', () => {
  it.each([
    ['run.json', '{"runId":"x","suites":"no"}', /run\.json: testbed: not a run's run\.json: expected string, got nothing/],
    ['run.json', 'null', /run\.json: \(top\): not a run's run\.json: expected object, got null/],
    ['summary.json', '{"runId":"x","verdict":"pass","exitCode":0,"cases":{}}', /summary\.json: cases: not a run's summary\.json: expected array, got object/],
  ])('%s holding %s', (file, text, message) => {
    const d = mkdtempSync(join(tmp, 'run-'));
    cpSync(fixturePath('runs/pvp-before-schema-version'), d, { recursive: true });
    writeFileSync(join(d, file), text);
    const err = (() => {
      try {
        loadRun(d, tmp);
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(InputFileError);
    expect((err as Error).message).toMatch(message);
  });

  it('reads a run directory written before schemaVersion existed, as a baseline', () => {
    const rec = loadRun(fixturePath('runs/pvp-before-schema-version'), tmp);
    expect(rec.run.runId).toBe('20261130-095314-7113');
    expect(rec.cases.filter((c) => c.status === 'passed')).toHaveLength(27);
    expect(judgeAgainstBaseline(rec, rec, { throughput: 0.1, latency: 0.5 }).case.status).toBe('passed');
    // Schema 1 had stages, not cases: they read as today's cases of their suite.
    expect(rec.run.suites[0]!.cases[0]).toMatchObject({ id: 'lab.lock', suite: 'pvp', status: 'passed' });
    expect(pvpMeasured(rec.run.suites[0]!)?.packets?.received).toBe(1000);
  });

  // A PVP and throughput run of the virtual lab, written by dutlab as it was before the suites owned their results
  // (schema 2: stages, and packets, counters and the search at the top of each suite), kept as it was written.
  it('takes a run directory of schema 2 as a baseline: its cases, its search and its counters as today, compared with a run of today', async () => {
    const old = fixturePath('runs/pvp-throughput-schema-2');
    const rec = loadRun(old, tmp);
    const [pvp, tput] = rec.run.suites;
    expect(JSON.parse(readFileSync(join(old, 'run.json'), 'utf8')).schemaVersion).toBe(2);
    expect(pvp!.cases.find((c) => c.id === 'check.counters')).toMatchObject({ name: expect.stringMatching(/^Counters/), suite: 'pvp', status: 'passed' });
    expect(pvpMeasured(pvp!)?.counters?.hostKniIngressTx).toBe(1000);
    const search = throughputOf(tput!)[0]!;
    expect(search.frame).toBe(64);
    expect(search.goals.map((g) => g.goal)).toEqual(['NDR', 'PDR']);
    // The same run as today writes it, then the same run with every load a twentieth (the old run's own spread on the
    // virtual lab is wide: its trials lost frames at 21.7 kfps and passed at 105.6 kfps): compared with the old one.
    const today = (scale: number) => {
      const d = mkdtempSync(join(tmp, 'run-'));
      const run = structuredClone(rec.run);
      const search = throughputOf(run.suites[1]!)[0]!;
      for (const t of search.trials) t.rate *= scale;
      for (const g of search.goals)
        Object.assign(g, {
          lowerBound: g.lowerBound && g.lowerBound * scale,
          upperBound: g.upperBound && g.upperBound * scale,
          spread: { highestPass: (g.spread.highestPass ?? 0) * scale, lowestExceed: (g.spread.lowestExceed ?? 0) * scale },
        });
      writeFileSync(join(d, 'run.json'), JSON.stringify({ ...run, schemaVersion: SCHEMA_VERSION }));
      for (const f of ['summary.json', 'testbed.yaml']) cpSync(join(old, f), join(d, f));
      return d;
    };
    expect(judgeAgainstBaseline(rec, loadRun(today(1), tmp), { throughput: 0.1, latency: 0.5 }).case.status).toBe('passed');
    const same = await dutlab('compare', old, today(1));
    expect(same.exitCode, same.stderr).toBe(0);
    expect(same.stdout).toContain('no regression');
    const slower = await dutlab('compare', old, today(0.05));
    expect(slower.exitCode, slower.stderr).toBe(1);
    expect(slower.stdout).toMatch(/REGRESSION .*\n\s+- NDR at 64-byte frames/);
  });
});

describe('parsers: what a cut or garbled output would have slipped through', () => {
  it('refuses a counter that is not a number (pkts=lots), never NaN', () => {
    const text =
      'OFPST_PORT reply (xid=0x4): 1 ports\n  port 16: rx pkts=lots, bytes=0, drop=0, errs=0, frame=0, over=0, crc=0\n           tx pkts=0, bytes=0, drop=0, errs=0, coll=0\n';
    expect(() => parseDumpPorts(text)).toThrow(ParseError);
    expect(() => parseDumpPorts(text)).toThrow(/a count or "\?", not "lots"/);
    // "?" stays what OVS means by it: not counted.
    expect(parseDumpPorts(text.replace('lots', '?')).get('16')?.rxPackets).toBe(0);
  });

  it('refuses a routing line that is no route (12345, 999.1.1.1/8)', () => {
    expect(() => parseRoutes('12345')).toThrow(ParseError);
    expect(() => parseRoutes('999.1.1.1/8 dev x')).toThrow(ParseError);
    expect(() => parseRoutes('local')).toThrow(ParseError);
    expect(parseRoutes('default via 3.3.3.2 dev vEth_port33\n2.2.2.0/24 dev vEth_port32 proto kernel scope link src 2.2.2.1')).toEqual([
      { dst: 'default', gateway: '3.3.3.2', dev: 'vEth_port33' },
      { dst: '2.2.2.0/24', dev: 'vEth_port32' },
    ]);
  });

  it('refuses a cut sysctl (a key without its value, or a key asked for and missing), never an empty value', () => {
    expect(() => parseSysctl('net.ipv4.ip_forward = 1\nnet.ipv4.conf.all.rp_filter =')).toThrow(
      /a value after "net\.ipv4\.conf\.all\.rp_filter =" \(output cut\?\)/,
    );
    expect(() => parseSysctl('net.ipv4.ip_forward = 1\n', ['net.ipv4.ip_forward', 'net.ipv4.conf.all.rp_filter'])).toThrow(
      /none for net\.ipv4\.conf\.all\.rp_filter \(output cut\?\)/,
    );
    expect(parseSysctl('net.ipv4.ip_forward = 1\n', ['net.ipv4.ip_forward'])).toEqual({ 'net.ipv4.ip_forward': '1' });
  });

  it.each([
    [2, 3],
    [1, 4],
    [3, 4],
  ])('refuses a pcap of version %i.%i (only 2.4 is read)', async (major, minor) => {
    const file = join(tmp, `v${major}${minor}.pcap`);
    writeStreamPcap(file, streamFromTestbed(parseTestbed(MINIMAL), 1, { count: 3 }));
    const b = readFileSync(file);
    b.writeUInt16LE(major, 4);
    b.writeUInt16LE(minor, 6);
    writeFileSync(file, b);
    await expect(readPcap(file, () => undefined)).rejects.toThrow(PcapError);
    await expect(readPcap(file, () => undefined)).rejects.toThrow(new RegExp(`pcap version ${major}\\.${minor}; only 2\\.4`));
  });
});

describe('lab commands that misled', () => {
  it('refuses --guest vm --datapath netdev (it became dpdk), before anything', async () => {
    const r = await dutlab('lab', 'up', '--id', 'never', '--guest', 'vm', '--datapath', 'netdev');
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/--guest vm --datapath netdev: a VM guest sits on vhost-user ports/);
  });

  it('refuses an e2e --id too long for the DPDK lab before the first profile runs', async () => {
    const r = await dutlab('e2e', '--id', 'abcdefghijkl', '--profiles', 'virtual,ovs-dpdk');
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/--id abcdefghijkl: the ovs-dpdk profile's lab would be abcdefghijkl-dpdk: lab id "abcdefghijkl-dpdk": use 1-16/);
  });
});
