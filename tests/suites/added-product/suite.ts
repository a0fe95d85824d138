// A product suite as the tests add one (tests/integration/suite-folder.test.ts
// copies this folder to lib/suite/<name>/, its imports made those of that
// place): a definition, its cases and its values, found by the catalog, listed
// by `dutlab suites` and run by `dutlab run` with no list edited.
import { defineSuite } from '../../../lib/suite/api.js';
import { AddedCases } from './cases.js';

export default defineSuite(
  { name: 'added-product', title: 'A product suite added as one folder: the testbed read, an undo run at the end', requires: [] },
  (lab) => new AddedCases(lab).stages(),
);
