// A suite that only takes the lab lock (and gives it back at its teardown):
// what the lock's own tests need of a run, without building the setup.
import { defineSuite } from '../../lib/suite/api.js';

export default defineSuite({ name: 'lock-only', title: 'Takes the lab lock and gives it back', requires: [] }, (lab) =>
  lab.setupStages().filter((s) => s.id === 'lab.lock'),
);
