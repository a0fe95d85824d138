// The legacy-kni profile through real SSH against the scripted legacy lab:
// the guide's whole procedure, and the KNI safety gate.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { KniGateError } from '../../lib/errors.js';
import { parseIvshmCmdline } from '../../lib/parsers/ivshm.js';
import { planOf } from '../../lib/scenario/plan.js';
import { legacyKni } from '../../lib/scenario/profiles.js';
import { PvpRun } from '../../lib/scenario/run.js';
import { output } from '../helpers/fixtures.js';
import { startLegacyLab, type LegacyLab } from '../helpers/legacy-lab.js';

const dirs: string[] = [];
const labs: LegacyLab[] = [];
afterAll(async () => {
  for (const l of labs) await l.close();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

async function setUp(ivshmem: 'found' | 'not-found') {
  const dir = mkdtempSync(join(tmpdir(), 'dutlab-legacy-'));
  dirs.push(dir);
  const lab = await startLegacyLab(dir, { ivshmem });
  labs.push(lab);
  const run = new PvpRun({ testbedFile: lab.testbedFile, profile: 'legacy-kni', runId: `legacy-${ivshmem}`, runDir: join(dir, 'run') });
  return { lab, run };
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

describe('legacy-kni on the scripted legacy lab', () => {
  it('runs every command of the plan, in order, on the host and on the guest (reached through the host)', async () => {
    const { lab, run } = await setUp('found');
    for (const stage of run.stages.filter((s) => s.group === 'setup')) expect(await run.runStage(stage), stage.id).toBeNull();
    await run.finish();
    const plan = planOf(run.tb, legacyKni, { 'ivshmem-device': parseIvshmCmdline(output('ivshm-mngr-vm_1.txt')).argument });
    for (const role of ['host', 'guest'] as const) {
      const want = plan.filter((s) => s.host === role).flatMap((s) => s.commands.map((c) => c.line));
      expect(missingInOrder(lab.received(role), want)).toEqual([]);
    }
    const qemu = lab.received('host').find((c) => c.includes('qemu-system-x86_64'))!;
    expect(qemu).toContain('-device ivshmem,size=64M,shm=fd:/dev/hugepages/rtemap_0:0x0:0x200000:');
    expect(qemu).toContain("-name 'client 1'");
    // Teardown stopped what the run started, by pid.
    expect(lab.host.commands.filter((c) => c.includes('kill -s TERM')).length).toBeGreaterThanOrEqual(4);
  });

  it('stops at the KNI gate when dmesg says "IVSHMEM metadata NOT found": no vEth interface is touched', async () => {
    const { lab, run } = await setUp('not-found');
    let gateError: unknown;
    for (const stage of run.stages) {
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
    const after = run.data.stages.filter((s) => run.stages.findIndex((x) => x.id === s.id) > run.stages.findIndex((x) => x.id === 'guest.kni-gate'));
    const setupAfter = after.filter((s) => s.group === 'setup');
    expect(setupAfter.map((s) => s.id)).toEqual([
      'guest.start-kni-client',
      'guest.interfaces',
      'guest.forwarding',
      'guest.route-arp',
      'guest.check-interfaces',
    ]);
    expect(setupAfter.every((s) => s.status === 'skipped')).toBe(true);
    expect(setupAfter[0]!.diagnosis).toBe('skipped: "Check dmesg for "IVSHMEM metadata found" before any vEth interface is touched" failed');
    expect(run.data.stages.find((s) => s.id === 'guest.kni-gate')).toMatchObject({ status: 'failed', kind: 'dut' });
  });
});
