// The tests' example of a new profile (tests/unit/profiles.test.ts): one
// file, named after the profile, and its steps' file; no list names it. It
// is the virtual lab's profile with the flows dumped once installed.
import * as S from '../../lib/profiles/steps/index.js';
import { virtual } from '../../lib/profiles/virtual.profile.js';
import type { Profile } from '../../lib/profiles/profile.js';
import { hostDumpFlows } from './steps/dump-flows.js';

const virtualDumpFlows: Profile = {
  ...virtual,
  name: 'virtual-dump-flows',
  title: "the virtual lab's profile, with the bridge's flows dumped once installed",
  defaultSuites: [],
  steps: virtual.steps.flatMap((s) => (s === S.hostFlows ? [s, hostDumpFlows] : [s])),
};
export default virtualDumpFlows;
