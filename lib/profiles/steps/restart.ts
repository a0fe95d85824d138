// ovs-vswitchd restarted under traffic, as an operator's `ovs-ctl restart`
// does it (utilities/ovs-ctl.in, utilities/ovs-save): the OpenFlow rules saved
// with ovs-save's own dump (highest OpenFlow version, no stats, no ages),
// flow-restore-wait set so that the new daemon keeps its datapath's hands off
// until the rules are back, the daemon stopped (`ovs-appctl exit`, or SIGKILL
// for a crash), the same or another build started (the profile's start step,
// re-run: its read-back names what the new daemon really is), the rules
// replaced in one bundle, flow-restore-wait removed. Then the profile's own
// steps that a new daemon undid (a tap port's kernel side is created anew in
// the host's namespace: moved to the guest and addressed again).
import type { Testbed } from '../../testbed/schema.js';
import { shq } from '../../transport/quote.js';
import type { Profile, StepDef } from '../profile.js';
import { ingressPolicing, selectedBuild } from './build.js';
import { dpdkVswitchdCtl, hostStartVswitchdDpdk } from './ovs-dpdk.js';
import { host, t } from './shared.js';

/** Where the saved rules wait on the DUT host while the daemon restarts. */
const flowsFile = (tb: Testbed) => `${tb.paths.workDir}/restart-flows.dump`;

/** ovs-save's OpenFlow version: the bridge's highest enabled, OpenFlow14 where it names none (bundles need 1.4). */
const OFP = (tb: Testbed, vsctl: string) =>
  `ofp=$(${vsctl} get Bridge ${shq(tb.bridge)} protocols | tr -d '[] ' | awk -F, '{ print (NF > 0 && $NF != "") ? $NF : "OpenFlow14" }')`;

/** The exit code of a stop whose daemon was still there after the bound. */
export const STILL_RUNNING_EXIT = 4;

export const restartSaveFlows: StepDef = {
  id: 'restart.save-flows',
  title: "Save the bridge's OpenFlow rules as ovs-save does",
  host: 'host',
  commands: (c) => [
    host(
      c,
      `${OFP(c.tb, t(c, 'ovs-vsctl'))}; ${t(c, 'ovs-ofctl')} -O "$ofp" dump-flows --no-names --no-stats ${shq(c.tb.bridge)} | ` +
        `sed -e '/NXST_FLOW/d' -e '/OFPST_FLOW/d' -e 's/\\(idle\\|hard\\)_age=[^,]*,//g' > ${shq(flowsFile(c.tb))} && wc -l < ${shq(flowsFile(c.tb))}`,
    ),
  ],
  undo: (c) => [host(c, `rm -f ${shq(flowsFile(c.tb))}`)],
};

/**
 * The daemon stopped: flow-restore-wait set first (where the testbed keeps it), then `ovs-appctl exit` (ovs-ctl's
 * stop) or SIGKILL by its pidfile, waited for (10 s) by its pid; then dpdk_initialized cleared, so that the start
 * step waits for the new daemon's word, not the old one's.
 */
export const restartStop: StepDef = {
  id: 'restart.stop-vswitchd',
  title: 'Stop ovs-vswitchd as the restart says (ovs-appctl exit, or SIGKILL)',
  host: 'host',
  commands: (c) => {
    const vsctl = t(c, 'ovs-vsctl');
    const pidfile = shq(c.tb.paths.vswitchdPidfile);
    const stop = c.tb.restart.stop === 'kill' ? 'kill -9 "$pid"' : `${t(c, 'ovs-appctl')} -t ${shq(dpdkVswitchdCtl(c.tb))} exit`;
    return [
      ...(c.tb.restart.flowRestoreWait ? [host(c, `${vsctl} --no-wait set Open_vSwitch . other_config:flow-restore-wait=true`)] : []),
      host(
        c,
        // Gone once it is a zombie: its memory is given back before, and its parent (the run's shell) reaps it when it will.
        `alive() { [ -e "/proc/$1" ] && ! grep -qs '^State:[[:space:]]*Z' "/proc/$1/status"; }; ` +
          `pid=$(cat ${pidfile}) && [ -n "$pid" ] && ${stop}; for i in $(seq 200); do alive "$pid" || break; sleep 0.05; done; ` +
          `if alive "$pid"; then echo "ovs-vswitchd (pid $pid) still runs 10 s after the stop"; exit ${STILL_RUNNING_EXIT}; fi`,
        { timeoutMs: 20_000 },
      ),
      host(c, `${vsctl} --no-wait set Open_vSwitch . dpdk_initialized=false`),
    ];
  },
  // Whatever happens next, flow-restore-wait does not outlive the run.
  undo: (c) => [host(c, `${t(c, 'ovs-vsctl')} --no-wait remove Open_vSwitch . other_config flow-restore-wait`, { okExitCodes: [0, 1] })],
};

/** The saved rules replaced in one bundle, the build's ingress policing set (or cleared), flow-restore-wait removed. */
export const restartRestoreFlows: StepDef = {
  id: 'restart.restore-flows',
  title: 'Restore the OpenFlow rules in one bundle and remove flow-restore-wait',
  host: 'host',
  commands: (c) => {
    const vsctl = t(c, 'ovs-vsctl');
    return [
      host(c, `${OFP(c.tb, vsctl)}; ${t(c, 'ovs-ofctl')} -O "$ofp" replace-flows ${shq(c.tb.bridge)} ${shq(flowsFile(c.tb))} --bundle`),
      host(c, `${vsctl} --no-wait set Interface ${shq(c.topology.phyIngress.name)} ${ingressPolicing(selectedBuild(c.tb)).join(' ')}`),
      ...(c.tb.restart.flowRestoreWait ? [host(c, `${vsctl} --no-wait remove Open_vSwitch . other_config flow-restore-wait`)] : []),
    ];
  },
};

/** The restart, step by step, on a profile that can restart its switch (Profile.restartSteps): null on one that cannot. */
export function restartSequence(profile: Profile): StepDef[] | null {
  if (!profile.restartSteps) return null;
  return [restartSaveFlows, restartStop, hostStartVswitchdDpdk, restartRestoreFlows, ...profile.restartSteps];
}
