// A suite for DPDK labs only: on a lab without DPDK the whole suite is blocked, and it touches nothing.
import { defineSuite } from '../../lib/suite/api.js';

export default defineSuite({ name: 'needs-dpdk', title: 'A suite for DPDK labs only', requires: [{ feature: 'dpdk' }] }, (lab) => [
  {
    id: 'dpdk.anything',
    title: 'Anything on DPDK',
    group: 'checks',
    needs: [],
    run: async () => {
      await lab.session.connect('host');
    },
  },
]);
