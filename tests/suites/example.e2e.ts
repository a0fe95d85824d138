// An example suite, as a lab adds its own: one file in a directory of suites
// (`dutlab run --suites-dir tests/suites --suite example`), written against
// lib/suite/api.ts. Two cases: one reads the DUT host's kernel and contributes
// a table, the other needs a real VM (blocked on a lab without one).
import { defineSuite } from '../../lib/suite/api.js';

export default defineSuite(
  { name: 'example', title: 'An example: the DUT host tells its kernel; a case only a VM can run', requires: [{ feature: 'guest' }] },
  (lab) => [
    {
      id: 'example.host-kernel',
      title: 'The DUT host tells its kernel',
      group: 'checks',
      needs: [],
      run: async () => {
        const kernel = (await (await lab.session.connect('host')).run('uname -r')).stdout.trim();
        if (!kernel) throw new Error('uname -r printed nothing');
        lab.table({ title: 'Host', columns: ['kernel', 'testbed'], rows: [[kernel, lab.tb.name]] });
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
