import { defineConfig } from 'vitest/config';

// `npm test`: the harness's own tests. The e2e suite (tests/e2e) runs only
// through `dutlab run`, against a testbed.
export default defineConfig({
  test: {
    include: ['tests/unit/**/*.test.ts', 'tests/integration/**/*.test.ts'],
    // Integration tests build virtual labs and servers as root; one file at a time keeps them apart.
    fileParallelism: false,
    // Fails the run if anything the tests made is still there at the end.
    globalSetup: ['tests/global-leftovers.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    reporters: ['default', ['junit', { outputFile: 'reports/junit.xml', suiteName: 'dutlab' }]],
  },
});
