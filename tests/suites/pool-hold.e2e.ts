// A light suite for the pool's proof (tests/lab/pool.test.ts): the virtual
// profile's whole setup, then the lab held a while (the run's hook, which the
// test uses to know when a run holds its lab), then the lab read once more.
// No traffic: three labs forwarding at once on two cores lose packets, and
// what the pool must prove is who holds which lab when, not forwarding.
import { defineSuite } from '../../lib/suite/api.js';

export default defineSuite({ name: 'pool-hold', title: 'Builds the setup, holds the lab a while, reads it again', requires: [{ feature: 'guest' }] }, (lab) => [
  ...lab.setupStages(),
  {
    id: 'pool.hold',
    title: "Hold the lab (the run's hook), then find the guest still forwarding as the setup left it",
    group: 'checks',
    needs: [lab.setupDone],
    run: async () => {
      await lab.runHookBeforeTraffic();
      const forwarding = (await (await lab.session.connect('guest')).run('sysctl -n net.ipv4.ip_forward')).stdout.trim();
      if (forwarding !== '1') throw new Error(`the guest's net.ipv4.ip_forward is ${forwarding}, the setup set 1: another run changed this lab`);
    },
  },
]);
