import { defineConfig } from 'vitest/config';

// `npm test`: the fast tier, projects `unit`, `protocol` and `integration`;
// `npm run test:lab`: the lab tier, project `lab`. Each project is named for
// the folder it runs (tests/<name>). The suites (lib/suite/<name>/suite.ts) run only
// through `dutlab run`, against a testbed.
//
// `unit` (pure code) and `protocol` (SSH servers in this process, the legacy
// lab's scripted tools, TRex's protocol) run first; then `integration`
// (virtual labs: namespaces, sshd, OVS, as root: the harness's own mechanics,
// a run, an abort, the lab, the TG, captures), one file at a time, their
// cases at once where each has a lab of its own: more at once starves a
// 2-core box, and the virtual DUT then really loses packets. The catalogue of
// faults (a full PVP run each, ~11 CPU-seconds), the kernel-log fault among
// them, is in the lab tier: with it the fast tier needed 5.5 minutes on a
// fresh 2-core box.
export default defineConfig({
  test: {
    // Fails the run if anything the tests made is still there at the end.
    globalSetup: ['tests/global-leftovers.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Two cores.
    maxWorkers: 2,
    // Each tier its own JUnit: `npm run test:lab` names reports/junit-lab.xml.
    reporters: ['default', ['junit', { outputFile: process.env.VITEST_JUNIT_FILE ?? 'reports/junit.xml', suiteName: 'dutlab' }]],
    projects: [
      { extends: true, test: { name: 'unit', include: ['tests/unit/**/*.test.ts'], sequence: { groupOrder: 0 } } },
      { extends: true, test: { name: 'protocol', include: ['tests/protocol/**/*.test.ts'], sequence: { groupOrder: 0 } } },
      { extends: true, test: { name: 'integration', include: ['tests/integration/**/*.test.ts'], fileParallelism: false, sequence: { groupOrder: 0 } } },
      // The lab tier (`npm run test:lab`, after `npm test` in .ci/run): the fault catalogue, a real DPDK datapath, VMs, throughput searches.
      { extends: true, test: { name: 'lab', include: ['tests/lab/**/*.test.ts'], fileParallelism: false, sequence: { groupOrder: 1 } } },
    ],
  },
});
