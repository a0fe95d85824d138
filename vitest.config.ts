import { defineConfig } from 'vitest/config';

// `npm test`: the harness's own tests (the fast tier: projects unit, lab and
// kernel-log); `npm run test:lab`: the lab tier (project dpdk). The e2e suite
// (tests/e2e) runs only through `dutlab run`, against a testbed.
//
// Three projects. `unit` (pure code, and SSH servers in this process) and
// `lab` (virtual labs: namespaces, sshd, OVS, as root: the harness's own
// mechanics, a run, an abort, the lab, the TG, captures) run side by side. Lab
// files run one at a time, their cases at once where each has a lab of its
// own: more at once starves a 2-core box, and the virtual DUT then really
// loses packets. `kernel-log` holds the one fault that writes to the kernel
// log, which every lab's dmesg shows: it runs after everything else, alone.
// The catalogue of faults (a full PVP run each, ~11 CPU-seconds) is in the lab
// tier: with it the fast tier needed 5.5 minutes on a fresh 2-core box.
const LAB_FREE = ['tests/unit/**/*.test.ts', 'tests/integration/ssh-protocol.test.ts', 'tests/integration/legacy-scripted.test.ts'];
const KERNEL_LOG = ['tests/integration/fault-kernel-log.test.ts'];

export default defineConfig({
  test: {
    // Fails the run if anything the tests made is still there at the end.
    globalSetup: ['tests/global-leftovers.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Two cores: the unit files beside one lab file at a time.
    maxWorkers: 2,
    // Each tier its own JUnit: `npm run test:lab` names reports/junit-lab.xml.
    reporters: ['default', ['junit', { outputFile: process.env.VITEST_JUNIT_FILE ?? 'reports/junit.xml', suiteName: 'dutlab' }]],
    projects: [
      { extends: true, test: { name: 'unit', include: LAB_FREE, sequence: { groupOrder: 0 } } },
      {
        extends: true,
        test: {
          name: 'lab',
          include: ['tests/integration/**/*.test.ts'],
          exclude: [...LAB_FREE, ...KERNEL_LOG],
          fileParallelism: false,
          sequence: { groupOrder: 0 },
        },
      },
      { extends: true, test: { name: 'kernel-log', include: KERNEL_LOG, sequence: { groupOrder: 1 } } },
      // The lab tier (`npm run test:lab`, after `npm test` in .ci/run): the fault catalogue, a real DPDK datapath, VMs, throughput searches.
      { extends: true, test: { name: 'dpdk', include: ['tests/lab/**/*.test.ts'], fileParallelism: false, sequence: { groupOrder: 2 } } },
    ],
  },
});
