// The throughput suite: the profile's setup, then RFC 2544 NDR and PDR found
// by an MLRsearch-style search per frame size, the generator's own limit
// measured first. Its numbers are the upgrade gate's (dutlab compare).
import { ThroughputTest } from './cases.js';
import { defineSuite } from '../api.js';

export default defineSuite(
  {
    name: 'throughput',
    title: 'NDR and PDR through the guest (MLRsearch), with bounds, per frame size; the generator limit measured',
    requires: [{ feature: 'guest' }],
  },
  (lab) => [...lab.setupStages(), ...new ThroughputTest(lab).stages()],
);
