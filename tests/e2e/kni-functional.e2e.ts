// The KNI functional suite (DPDK's kni_test_plan.rst): on the PVP suite's
// setup, the guest's vEth interfaces in their own right: RX statistics, link
// down and up, MTU, ethtool. Whatever the profile puts behind them: KNI, veth,
// the tap PMD.
import { KniFunctionalTest } from '../../lib/scenario/kni-functional.js';
import { defineSuite } from '../../lib/suite/api.js';

export default defineSuite(
  {
    name: 'kni-functional',
    title: "the guest's vEth interfaces in their own right (DPDK's KNI test plan): statistics, link, MTU, ethtool",
    requires: [{ feature: 'guest' }],
  },
  (lab) => [...lab.setupStages(), ...new KniFunctionalTest(lab).stages()],
);
