import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { buildCli } from '../../lib/cli/main.js';
import { dutlabInProcess as inProcess } from '../helpers/in-process.js';
import { fixturePath } from '../helpers/fixtures.js';

const ROOT = new URL('../..', import.meta.url).pathname;
const dutlab = (...args: string[]) => execa('node', ['bin/dutlab.js', ...args], { cwd: ROOT, reject: false });

describe('the dutlab command', () => {
  const commands = buildCli().commands.flatMap((c) => (c.commands.length ? c.commands.map((s) => [c.name(), s.name()]) : [[c.name()]]));

  it('has the subcommands the README names', () => {
    expect(commands.map((c) => c.join(' '))).toEqual([
      'run',
      'compare',
      'gate',
      'trend',
      'suites',
      'plan',
      'doctor',
      'e2e',
      'lab up',
      'lab image',
      'lab down',
      'lab status',
      'pool list',
      'pool status',
      'pool quarantine',
      'pool release',
      'results push',
      'results import',
    ]);
  });

  it.each(commands.map((c) => c.join(' ')))('answers --help for `dutlab %s`', async (words) => {
    const r = await inProcess(...words.split(' '), '--help');
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toMatch(/^Usage: dutlab /);
  });

  it('answers --help through the installed command, exit 0', async () => {
    const r = await dutlab('run', '--help');
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toMatch(/^Usage: dutlab run /);
  });

  it('prints the plan without connecting anywhere', async () => {
    const r = await dutlab('plan', '--testbed', fixturePath('testbeds/legacy-kni.yaml'), '--profile', 'legacy-kni');
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toContain('./utilities/ovs-ofctl add-flow br0 in_port=16,dl_type=0x0800,nw_src=1.1.1.1,nw_dst=6.6.6.2,idle_timeout=0,action=output:32');
  });

  it('prints the ovs-dpdk plan, and refuses a testbed that profile cannot build, naming the fields', async () => {
    const r = await inProcess('plan', '--testbed', fixturePath('testbeds/virtual-dpdk.yaml'), '--profile', 'ovs-dpdk');
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toContain('[host] host.start-vswitchd-dpdk: Start the DPDK build of ovs-vswitchd and wait for DPDK to initialise');
    expect(r.stdout).toContain("'other_config:dpdk-extra=--in-memory --no-pci --file-prefix=dutlab-vlab'");
    const wrong = await inProcess('plan', '--testbed', fixturePath('testbeds/legacy-kni.yaml'), '--profile', 'ovs-dpdk');
    expect(wrong.exitCode).toBe(2);
    expect(wrong.stderr).toContain("phyPorts.0.dpdkDevargs: the ovs-dpdk profile needs the port's DPDK device (profile ovs-dpdk)");
  });

  it('says clearly what is wrong with a bad testbed or profile', async () => {
    const bad = await dutlab('plan', '--testbed', '/nonexistent.yaml', '--profile', 'virtual');
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr).toContain('/nonexistent.yaml: 1 problem(s) in the testbed file');
    const profile = await dutlab('plan', '--testbed', fixturePath('testbeds/legacy-kni.yaml'), '--profile', 'kni');
    expect(profile.exitCode).not.toBe(0);
    expect(profile.stderr).toMatch(/Allowed choices are legacy-kni, ovs-dpdk, virtual/);
  });

  it.each([
    ['an unknown profile', ['--testbed', 'x.yaml', '--profile', 'nope'], /usage: option '--profile <name>' argument 'nope' is invalid/],
    ['no --testbed', ['--profile', 'virtual'], /^a testbed to run on: --testbed FILE, or --pool FILE --label LABEL$/],
    ['--testbed and --pool', ['--testbed', 'x.yaml', '--pool', 'p.yaml', '--label', 'l', '--profile', 'virtual'], /^--testbed and --pool: give one of them$/],
    ['--pool without --label', ['--pool', 'p.yaml', '--profile', 'virtual'], /^--pool needs --label: which of its testbeds may run this$/],
    ['--wait that is no number of seconds', ['--pool', 'p.yaml', '--label', 'l', '--wait', '1h', '--profile', 'virtual'], /usage: .*--wait 1h: whole seconds/],
    [
      'a pool file that is not there',
      ['--pool', '/nonexistent/pool.yaml', '--label', 'l', '--profile', 'virtual'],
      /^\/nonexistent\/pool\.yaml: 1 problem\(s\) in the pool file:\n {2}- \(top\): cannot read the pool file: no such file or directory \(ENOENT\)/,
    ],
    ['an unknown option', ['--testbed', 'x.yaml', '--profile', 'virtual', '--fast'], /usage: unknown option '--fast'/],
  ])('calls a usage error of `dutlab run` (%s) an infrastructure error: exit 2, and a report that replaces the last one', async (_what, args, reason) => {
    const reports = mkdtempSync(join(tmpdir(), 'dutlab-usage-'));
    try {
      writeFileSync(join(reports, 'junit.xml'), "the last run's JUnit");
      const r = await inProcess('run', ...args, '--reports', reports);
      expect(r.exitCode).toBe(2);
      const summary = JSON.parse(readFileSync(join(reports, 'latest', 'summary.json'), 'utf8'));
      expect(summary).toMatchObject({ verdict: 'infra-error', exitCode: 2, reason: expect.stringMatching(reason) });
      expect(readFileSync(join(reports, 'junit.xml'), 'utf8')).toMatch(/<testsuites[^>]* failures="1"/);
    } finally {
      rmSync(reports, { recursive: true, force: true });
    }
  });

  it('warns in the plan about key and known_hosts files this machine cannot read, and `run` stops on them before connecting', async () => {
    const plan = await inProcess('plan', '--testbed', fixturePath('testbeds/legacy-kni.yaml'), '--profile', 'legacy-kni');
    expect(plan.exitCode).toBe(0);
    expect(plan.stderr).toContain(
      `dutlab: warning: hosts.host.auth.privateKeyFile: cannot read ${homedir()}/.ssh/dutlab_ed25519: no such file or directory (ENOENT)`,
    );
    const reports = mkdtempSync(join(tmpdir(), 'dutlab-usage-'));
    try {
      const run = await inProcess('run', '--testbed', fixturePath('testbeds/legacy-kni.yaml'), '--profile', 'legacy-kni', '--reports', reports, '--quiet');
      expect(run.exitCode).toBe(2);
      const summary = JSON.parse(readFileSync(join(reports, 'latest', 'summary.json'), 'utf8'));
      expect(summary.reason).toMatch(
        /^before connecting: hosts\.host\.auth\.privateKeyFile: cannot read .*dutlab_ed25519: no such file or directory \(ENOENT\)/,
      );
      expect(summary.cases).toEqual([]);
    } finally {
      rmSync(reports, { recursive: true, force: true });
    }
  });

  it('refuses an unknown suite before touching the lab, naming the suites there are (exit 2, with a report)', async () => {
    const reports = mkdtempSync(join(tmpdir(), 'dutlab-usage-'));
    try {
      const r = await inProcess(
        'run',
        '--testbed',
        fixturePath('testbeds/legacy-kni.yaml'),
        '--profile',
        'legacy-kni',
        '--suite',
        'pvpp',
        '--reports',
        reports,
        '--quiet',
      );
      expect(r.exitCode).toBe(2);
      const summary = JSON.parse(readFileSync(join(reports, 'latest', 'summary.json'), 'utf8'));
      expect(summary.reason).toMatch(/^no suite "pvpp": the suites are (\S+, )*pvp(, \S+)* \(files .*\/lib\/suite\/<name>\/suite\.ts\)$/);
    } finally {
      rmSync(reports, { recursive: true, force: true });
    }
  });

  it('lists the suites, a line each with what they require and which profiles run them, then the profiles', async () => {
    const r = await inProcess('suites');
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toMatch(/^pvp +Phy->VM->Phy: .*\n +requires: guest; default for: legacy-kni, ovs-dpdk, virtual; file: lib\/suite\/pvp\/suite\.ts$/m);
    expect(r.stdout).toMatch(
      /^profiles:\nlegacy-kni +the guide's lab: .*\(offers: guest, guest-router, vm, dpdk, kni, ivshmem, ovs-dpdk-fork\)\novs-dpdk +upstream OVS with DPDK .*\(offers: guest, guest-router, dpdk, dpdk-ports, tap\)\nvirtual +the virtual lab: .*\(offers: guest, guest-router\)$/m,
    );
  });

  it("holds compare's thresholds to the ranges of the testbed's own fields (never typed again), naming the option", async () => {
    const run = fixturePath('runs/pvp-throughput-schema-2');
    const high = await inProcess('compare', run, run, '--threshold', '0.95');
    expect(high.exitCode).toBe(2);
    expect(high.stderr).toContain('--threshold 0.95: a threshold above 0.9 lets almost any drop pass: the gate would never fail');
    const zero = await inProcess('compare', run, run, '--threshold', '0.1', '--latency-threshold', '0');
    expect(zero.exitCode).toBe(2);
    expect(zero.stderr).toContain("--latency-threshold 0: a ratio above 0 (0.5: p99 half as high again as the baseline's)");
    expect((await inProcess('compare', run, run, '--threshold', 'abc', '--latency-threshold', '1')).stderr).toMatch(/--threshold abc: /);
  });
});
