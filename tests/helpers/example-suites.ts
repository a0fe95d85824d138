// Suites added as files for the tests, the way a user adds one: a file under
// tests/e2e written against lib/suite/api.ts. Each test run names them after
// its pid, and removes them.
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const ROOT = new URL('../..', import.meta.url).pathname;
const tag = `${process.pid}`;
export const EXAMPLE = `example-${tag}`;
export const NEEDS_DPDK = `needs-dpdk-${tag}`;
const file = (name: string) => join(ROOT, 'tests', 'e2e', `${name}.e2e.ts`);

// Two cases: one reads the DUT host's kernel and contributes a table, the other needs a real VM.
const exampleSuite = `import { defineSuite } from '../../lib/suite/api.js';

export default defineSuite(
  { name: '${EXAMPLE}', title: 'An example: the DUT host tells its kernel; a case only a VM can run', requires: [{ feature: 'guest' }] },
  (lab) => [
    {
      id: 'example.host-kernel',
      title: 'The DUT host tells its kernel',
      group: 'checks',
      needs: [],
      run: async () => {
        const kernel = (await (await lab.session.connect('host')).run('uname -r')).stdout.trim();
        if (!kernel) throw new Error('uname -r printed nothing');
        lab.table({ title: 'Host', columns: ['kernel'], rows: [[kernel]] });
      },
    },
    {
      id: 'example.vm-only',
      title: 'A case only a real VM can run',
      group: 'checks',
      needs: [],
      requires: [{ feature: 'vm' }],
      run: async () => {
        throw new Error('ran on a lab without a VM');
      },
    },
  ],
);
`;

const dpdkSuite = `import { defineSuite } from '../../lib/suite/api.js';

export default defineSuite({ name: '${NEEDS_DPDK}', title: 'A suite for DPDK labs only', requires: [{ feature: 'dpdk' }] }, (lab) => [
  { id: 'dpdk.anything', title: 'Anything on DPDK', group: 'checks', needs: [], run: async () => { await lab.session.connect('host'); } },
]);
`;

/** Writes the two suites; returns the function that removes them. */
export function addExampleSuites(): () => void {
  writeFileSync(file(EXAMPLE), exampleSuite);
  writeFileSync(file(NEEDS_DPDK), dpdkSuite);
  return () => {
    rmSync(file(EXAMPLE), { force: true });
    rmSync(file(NEEDS_DPDK), { force: true });
  };
}
