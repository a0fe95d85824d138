// The legacy-kni profile through real SSH against the scripted legacy lab:
// the guide's whole procedure, and the KNI safety gate.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, it } from 'vitest';
import { KniGateError } from '../../lib/errors.js';
import { parseIvshmCmdline } from '../../lib/parsers/ivshm.js';
import { planOf } from '../../lib/scenario/plan.js';
import { legacyKni } from '../../lib/profiles/legacy-kni.profile.js';
import { LabRun, type Stage } from '../../lib/scenario/lab-run.js';
import { KniFunctionalTest } from '../../lib/suite/kni-functional/cases.js';
import { PvpTest } from '../../lib/suite/pvp/cases.js';
import { output } from '../helpers/fixtures.js';
import { loadTestbed } from '../../lib/testbed/load.js';
import { startLegacyLab, type LegacyLab } from '../helpers/legacy-lab.js';

const dirs: string[] = [];
const labs: LegacyLab[] = [];
afterAll(async () => {
  for (const l of labs) await l.close();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

async function setUp(ivshmem: 'found' | 'not-found', dpdkVersion?: string, ethtool?: 'kni' | 'device-gone', qemu?: 'dies-at-boot') {
  const dir = mkdtempSync(join(tmpdir(), 'dutlab-legacy-'));
  dirs.push(dir);
  const lab = await startLegacyLab(dir, { ivshmem, ...(dpdkVersion ? { dpdkVersion } : {}), ...(ethtool ? { ethtool } : {}), ...(qemu ? { qemu } : {}) });
  labs.push(lab);
  const run = new LabRun(
    {
      testbed: loadTestbed(lab.testbedFile),
      testbedNotes: [],
      testbedFile: lab.testbedFile,
      profile: 'legacy-kni',
      runId: `legacy-${ivshmem}`,
      runDir: join(dir, 'run'),
    },
    { name: 'pvp', title: 'PVP', requires: [{ feature: 'guest' }] },
  );
  const stages: Stage[] = [...run.setupStages(), ...new PvpTest(run).stages()];
  return { lab, run, stages };
}

/** The KNI functional suite through the scripted lab, every stage run (a failed one recorded), the run finished. */
async function kniSuite(ethtool: 'kni' | 'device-gone') {
  const { run } = await setUp('found', undefined, ethtool);
  const stages = [...run.setupStages(), ...new KniFunctionalTest(run).stages()];
  try {
    for (const stage of stages) await run.runStage(stage).catch(() => undefined);
  } finally {
    await run.finish();
  }
  return run;
}

/** Is `want` a subsequence of `got`? Returns the lines of want that are missing, in order. */
function missingInOrder(got: string[], want: string[]): string[] {
  let from = 0;
  return want.filter((w) => {
    const at = got.indexOf(w, from);
    if (at < 0) return true;
    from = at + 1;
    return false;
  });
}

// Each case on a scripted lab of its own: they wait more than they work, so they run at once (their own expect).
describe.concurrent('legacy-kni on the scripted legacy lab', () => {
  it('runs every command of the plan, in order, on the host and on the guest (reached through the host)', async ({ expect }) => {
    const { lab, run, stages } = await setUp('found');
    // Each fixture's undo exists once it was set up, and only then (Playwright's use): none before the run starts.
    expect(run.teardown.pending).toEqual([]);
    const setup = stages.filter((s) => s.group === 'setup');
    expect(await run.runStage(setup[0]!)).toBeNull();
    expect(run.teardown.pending).toEqual(['lab lock', 'connections']);
    for (const stage of setup.slice(1)) expect(await run.runStage(stage), stage.id).toBeNull();
    expect(run.teardown.pending).toEqual(['logs', 'setup', 'lab lock', 'connections']);
    await run.finish();
    expect(run.teardown.pending).toEqual([]);
    const plan = planOf(run.tb, legacyKni, { 'ivshmem-device': parseIvshmCmdline(output('ivshm-mngr-vm_1.txt')).argument });
    for (const role of ['host', 'guest'] as const) {
      const want = plan.filter((s) => s.host === role).flatMap((s) => s.commands.map((c) => c.line));
      expect(missingInOrder(lab.received(role), want)).toEqual([]);
    }
    const qemu = lab.received('host').find((c) => c.includes('qemu-system-x86_64') && c.includes('-device ivshmem'))!;
    expect(qemu).toContain('-device ivshmem,size=64M,shm=fd:/dev/hugepages/rtemap_0:0x0:0x200000:');
    expect(qemu).toContain("-name 'client 1'");
    // Teardown stopped what the run started, by pid.
    expect(lab.host.commands.filter((c) => c.includes('kill -s TERM')).length).toBeGreaterThanOrEqual(4);
  });

  it('stops at the KNI gate when dmesg says "IVSHMEM metadata NOT found": no vEth interface is touched', async ({ expect }) => {
    const { lab, run, stages } = await setUp('not-found');
    let gateError: unknown;
    for (const stage of stages) {
      try {
        await run.runStage(stage);
      } catch (err) {
        if (stage.id === 'guest.kni-gate') gateError = err;
      }
    }
    await run.finish();
    expect(gateError).toBeInstanceOf(KniGateError);
    expect((gateError as KniGateError).kind).toBe('dut');
    expect((gateError as KniGateError).message).toMatch(
      /dmesg says "KNI: IVSHMEM metadata NOT found": no vEth interface was brought up, since that panics the guest/,
    );
    expect((gateError as KniGateError).dmesg).toContain('KNI: IVSHMEM metadata NOT found');
    const guest = lab.received('guest');
    expect(guest).toContain('insmod /root/kni/DPDK/x86_64-ivshmem-linuxapp-gcc/kmod/rte_kni.ko');
    expect(guest).toContain('dmesg');
    expect(guest.filter((c) => /vEth_|kni_client|ifconfig|route add|arp -s/.test(c))).toEqual([]);
    const after = run.data.cases.filter((s) => stages.findIndex((x) => x.id === s.id) > stages.findIndex((x) => x.id === 'guest.kni-gate'));
    const setupAfter = after.filter((s) => s.group === 'setup');
    expect(setupAfter.map((s) => s.id)).toEqual([
      'guest.start-kni-client',
      'guest.interfaces',
      'guest.forwarding',
      'guest.route-arp',
      'guest.check-interfaces',
    ]);
    expect(setupAfter.every((s) => s.status === 'skipped')).toBe(true);
    expect(setupAfter[0]!.message).toBe('skipped: "Check dmesg for "IVSHMEM metadata found" before any vEth interface is touched" failed');
    expect(run.data.cases.find((s) => s.id === 'guest.kni-gate')).toMatchObject({ status: 'failed', kind: 'dut' });
  });

  it("blocks the guide's setup on a host whose DPDK has no KNI (23.11): nothing is built or loaded, each step says why, nothing fails", async ({ expect }) => {
    const { lab, run, stages } = await setUp('found', '23.11.1');
    try {
      for (const stage of stages) expect((await run.runStage(stage))?.status ?? 'ran', stage.id).toBe(stage.id.startsWith('lab.') ? 'ran' : 'blocked');
      // No step ran: there is no setup to undo and nothing of it to collect, only the lock and the connections.
      expect(run.teardown.pending).toEqual(['lab lock', 'connections']);
    } finally {
      // Whatever failed, the run's connections close: the scripted servers can then stop.
      await run.finish();
    }
    expect(run.data.versions.dpdk).toBe('23.11.1');
    const byId = Object.fromEntries(run.data.cases.map((s) => [s.id, s]));
    expect(byId['lab.lock']!.status).toBe('passed');
    expect(byId['lab.preflight']!.status).toBe('passed');
    expect(run.data.cases.filter((s) => s.status === 'failed')).toEqual([]);
    expect(run.data.cases.filter((s) => !['lab.lock', 'lab.preflight'].includes(s.id)).every((s) => s.status === 'blocked')).toBe(true);
    for (const id of ['guest.build-dpdk', 'guest.build-kni-client', 'guest.insmod', 'guest.kni-gate', 'guest.start-kni-client'])
      expect(byId[id]!.message, id).toBe('blocked: KNI was removed in DPDK 23.11, this host has 23.11.1');
    expect(byId['host.ivshm-metadata']!.message).toBe('blocked: IVSHMEM was removed in DPDK 16.11, this host has 23.11.1');
    expect(byId['check.dmesg-kni']!.message).toMatch(/^blocked: /);
    expect(run.data.notes.join('\n')).toContain(
      'the legacy-kni profile cannot run on this lab: blocked: IVSHMEM was removed in DPDK 16.11, this host has 23.11.1',
    );
    // Only the preflight's reads reached the host; the guest was never touched.
    expect(
      lab
        .received('host')
        .filter(
          (c) =>
            !/^(exec sh -s$|if \[ -r '?\/root\/DPDK'?\/VERSION|\.\/utilities\/ovs-vsctl --version|uname -r|mkdir|test |rm -|ls )/.test(c) &&
            !c.includes('lock'),
        ),
    ).toEqual([]);
    expect(lab.received('guest')).toEqual([]);
  });

  it("reports a QEMU that dies at boot within seconds, with its exit and its console (the guide's -nographic output), not after the guest's connect timeout", async ({
    expect,
  }) => {
    const { run, stages } = await setUp('found', undefined, undefined, 'dies-at-boot');
    const started = Date.now();
    for (const stage of stages.filter((s) => s.group === 'setup')) await run.runStage(stage).catch(() => undefined);
    await run.finish();
    const connect = run.data.cases.find((s) => s.id === 'guest.connect')!;
    expect(connect).toMatchObject({ status: 'failed', kind: 'infra' });
    expect(connect.message).toMatch(
      /^the guest did not come up: QEMU \(pid \d+\) exited, exit status 1; its console \(\/tmp\/dutlab\/qemu\.log\) ends:\nCould not access KVM kernel module: No such file or directory\nfailed to initialize KVM: No such file or directory\ndutlab-exit-status: 1$/,
    );
    // The guest's connect timeout is 60 s on this testbed: the watch on QEMU's pid ended the wait.
    expect(Date.now() - started).toBeLessThan(15_000);
    expect(run.data.cases.find((s) => s.id === 'guest.copy-files')!.status).toBe('skipped');
  });

  it("reports a guest whose kernel panicked while QEMU runs on as the DUT's failure, in the kernel's words from the guide's -nographic console", async ({
    expect,
  }) => {
    const { lab, run, stages } = await setUp('found');
    for (const stage of stages.filter((s) => s.group === 'setup')) expect(await run.runStage(stage), stage.id).toBeNull();
    // Set up, then its kernel dies: every connection to the guest drops.
    lab.panicGuest();
    for (const id of ['check.ifconfig', 'check.sysctl']) await run.runStage(stages.find((s) => s.id === id)!).catch(() => undefined);
    await run.finish();
    const lastWords =
      /; its console since the run began says:\n\[2712\.345678\] BUG: unable to handle kernel paging request at ffffc90000d3e010\n\[2712\.345715\] Oops: 0000 \[#1\] SMP \n\[2712\.345899\] Call Trace:\n\[2712\.346020\] Kernel panic - not syncing: Fatal exception\n\[2712\.346100\] drm_kms_helper: panic occurred, switching back to text console$/;
    for (const id of ['check.ifconfig', 'check.sysctl']) {
      const c = run.data.cases.find((s) => s.id === id)!;
      expect(c, id).toMatchObject({ status: 'failed', kind: 'dut' });
      expect(c.message).toMatch(/^guest kernel: the guest's kernel failed \(QEMU \(pid \d+\) still runs; the guest's connection: \[guest\] .+\)/);
      expect(c.message).toMatch(lastWords);
    }
  });

  it("runs the KNI suite's ethtool case on KNI in a VM: unsupported, as the KNI programmer's guide says, recorded and not passed off as checked", async ({
    expect,
  }) => {
    const run = await kniSuite('kni');
    const byId = Object.fromEntries(run.data.cases.map((s) => [s.id, s]));
    expect(byId['kni.ethtool']!.status).toBe('passed');
    expect(run.data.notes).toContain(
      'ethtool: vEth_port32 (driver not named: ethtool -i is not supported): not supported: ethtool vEth_port32, ethtool -i vEth_port32, ethtool -S vEth_port32, ethtool -k vEth_port32',
    );
    expect(run.data.tables.find((t) => t.title === 'ethtool on the guest')!.rows).toContainEqual(['ethtool -i vEth_port33', 'not supported by the driver']);
    // The scripted lab has no traffic generator: the traffic cases are skipped for it, not failed.
    expect(byId['kni.prepare']!.status).toBe('failed');
    expect(byId['kni.prepare']!.kind).toBe('infra');
    expect(byId['kni.statistics']!.status).toBe('skipped');
  });

  it('fails the ethtool case when ethtool fails for another reason than an unsupported operation', async ({ expect }) => {
    const run = await kniSuite('device-gone');
    const ethtool = run.data.cases.find((s) => s.id === 'kni.ethtool')!;
    expect(ethtool).toMatchObject({ status: 'failed', kind: 'dut' });
    expect(ethtool.message).toMatch(/^ethtool: ethtool vEth_port32 failed \(exit 71\): Cannot get driver information: No such device; /);
  });
});
