// The PVP suite: the profile's setup, then the testbed's stream from the TG
// through phy ingress, the guest's router and phy egress, judged by its return
// packets, the counters along the path, dmesg and the guest's state.
import { PvpTest } from './cases.js';
import { defineSuite } from '../api.js';

export default defineSuite(
  {
    name: 'pvp',
    title: 'Phy->VM->Phy: the stream crosses the guest router once, unchanged, and every counter on the path agrees',
    requires: [{ feature: 'guest' }],
  },
  (lab) => [...lab.setupStages(), ...new PvpTest(lab).stages()],
);
