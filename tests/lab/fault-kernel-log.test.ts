// The fault that touches what every lab shares: a kernel BUG in the log of
// this machine's kernel, which every namespace's dmesg shows. A file of its
// own in the lab tier, whose files run one at a time (vitest.config.ts): no
// other run is reading the kernel's log while it writes there, and every later
// run reads only what was logged after it began.
import { describe, it } from 'vitest';
import { VERDICTS, checkFault, cleanUpFaultLabs, type Fault } from '../helpers/faults.js';

cleanUpFaultLabs();

const FAULT: Fault = {
  // The lab's hosts share this machine's kernel, so a line in its log is a line in both.
  // The line says what it is, for whoever reads this machine's dmesg later.
  name: 'a kernel BUG logged during the run',
  hook: () => `echo '<4>dutlab fault injection (tests/lab/fault-kernel-log.test.ts), not a real fault: BUG: soft lockup - CPU#0 stuck for 23s' > /dev/kmsg`,
  exitCode: 1,
  fails: {
    'check.dmesg-kernel':
      /^dmesg \(kernel\): host kernel logged: \[[\d.]+\] dutlab fault injection .*BUG: soft lockup - CPU#0 stuck for 23s; guest kernel logged: /,
  },
  passes: ['check.packets', 'check.counters', 'check.flows', 'check.switch', 'check.ifconfig', 'check.sysctl', 'check.route', 'check.arp'],
};

describe('fault injection', () => {
  it(`${FAULT.name}: ${VERDICTS[FAULT.exitCode]}, the named diagnosis, a clean lab after`, { timeout: 240_000 }, ({ expect }) => checkFault(FAULT, expect));
});
