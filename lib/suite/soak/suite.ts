// The soak suite: the profile's setup, then one steady stream for minutes or
// hours, sampled every interval: loss events from the sequence numbers, and
// the watched processes' memory fitted for growth (docs/soak.md).
import { defineSuite } from '../api.js';
import { SoakTest } from './cases.js';

export default defineSuite(
  {
    name: 'soak',
    title: 'A steady stream for minutes or hours, sampled every interval: loss events, and memory growth of the daemons',
    requires: [{ feature: 'guest' }],
  },
  (lab) => [...lab.setupStages(), ...new SoakTest(lab).stages()],
);
