// The steps' file of the tests' example profile: one step the built-in
// profiles do not have, written as theirs are (the testbed's values quoted).
import type { StepDef } from '../../../lib/profiles/profile.js';
import { host, t } from '../../../lib/profiles/steps/shared.js';
import { shq } from '../../../lib/transport/quote.js';

export const hostDumpFlows: StepDef = {
  id: 'host.dump-flows',
  title: "Show the bridge's flows as installed, for the transcript",
  host: 'host',
  commands: (c) => [host(c, `${t(c, 'ovs-ofctl')} dump-flows ${shq(c.tb.bridge)}`)],
};
