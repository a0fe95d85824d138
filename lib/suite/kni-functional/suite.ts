// The KNI functional suite (DPDK's kni_test_plan.rst): on the PVP suite's
// setup, the guest's vEth interfaces in their own right: ping, capture, RX
// statistics, addresses, link down and up, MTU, ethtool. Whatever the profile
// puts behind them: KNI, veth, the tap PMD, vhost-user.
import { KniFunctionalTest } from './cases.js';
import type { SuiteFlow } from './values.js';
import { defineSuite } from '../api.js';
import type { Topology } from '../../testbed/topology.js';

const ARP = 'dl_type=0x0806';
const ICMP = 'dl_type=0x0800,nw_proto=1';
/** The capture case's raw Ethernet frames (lib/traffic/frames.ts RAW_ETHERTYPE). */
const RAW = 'dl_type=0x88b5';

/**
 * What the cases need beyond the guide's two flows, which carry only the
 * 1.1.1.1 -> 6.6.6.2 stream (and the gateway's ARP entry is static): ARP and
 * ICMP both ways between each TG port and its vEth (ping, with ARP resolved on
 * the wire), and the raw frames toward the ingress vEth (capture; its UDP, TCP
 * and ICMP frames carry the stream's addresses, which the guide's flow takes).
 * Added when the cases start, removed when they end.
 */
const flows = (t: Topology): SuiteFlow[] => [
  ...[
    [t.phyIngress.ofport, t.vmIngress.ofport],
    [t.vmIngress.ofport, t.phyIngress.ofport],
    [t.phyEgress.ofport, t.vmEgress.ofport],
    [t.vmEgress.ofport, t.phyEgress.ofport],
  ].flatMap(([from, to]) => [
    { match: `in_port=${from},${ARP}`, output: to!, why: 'ping: ARP on the wire' },
    { match: `in_port=${from},${ICMP}`, output: to!, why: 'ping: echo request and reply' },
  ]),
  { match: `in_port=${t.phyIngress.ofport},${RAW}`, output: t.vmIngress.ofport, why: 'capture: raw Ethernet frames' },
];

export default defineSuite(
  {
    name: 'kni-functional',
    title: "the guest's vEth interfaces in their own right (DPDK's KNI test plan): ping, capture, statistics, addresses, link, MTU, ethtool",
    requires: [{ feature: 'guest' }],
  },
  (lab) => [...lab.setupStages(), ...new KniFunctionalTest(lab, flows).stages()],
);
