// The restart suite: the profile's setup, then ovs-vswitchd restarted under a
// steady stream (to the same build, or restart.to: an upgrade as an operator
// does it), its downtime read from the stream's sequence numbers.
import { defineSuite } from '../api.js';
import { RestartTest } from './cases.js';

export default defineSuite(
  {
    name: 'restart',
    title: "ovs-vswitchd restarted under a steady stream (ovs-ctl restart's way, or killed): the downtime, from the sequence numbers",
    requires: [{ feature: 'guest' }, { feature: 'dpdk-ports' }],
  },
  (lab) => [...lab.setupStages(), ...new RestartTest(lab).stages()],
);
