import { CheckFailure } from '../../errors.js';
import { parseIfconfig, parseNeighbours, parseRoutes, parseSysctl } from '../../parsers/net.js';
import { shq } from '../../transport/quote.js';
import { checkDefaultRoute, checkGuestIfaces, checkReverseRoute, checkStaticArp, checkSysctl } from '../../verify/state.js';
import { reverseGatewayOf } from '../../testbed/topology.js';
import type { Cmd, StepContext, StepDef } from '../profile.js';
import { sysctlExpected, expectedVeths } from '../expected.js';

// ---- Guest Configuration --------------------------------------------------
export const guestConnect: StepDef = {
  id: 'guest.connect',
  title: "Login to the VM (wait for the guest's SSH)",
  host: 'guest',
  commands: () => [],
  after: async (s) => {
    await s.connect('guest');
  },
};

/** The step after which the guest's kernel log is judged (check.dmesg-kernel needs it). */
export const DMESG_BASELINE_STEP_ID = 'dmesg.baseline';

export const dmesgBaseline: StepDef = {
  id: DMESG_BASELINE_STEP_ID,
  title: 'Note where the kernel logs stand before the run',
  host: 'guest',
  commands: () => [],
  after: async (s) => {
    await s.takeDmesgBaseline();
  },
};

/** The guide's default route and static ARP entry for the gateway, removed (absent already is fine: route 7, arp 255); and the reverse stream's. */
const removeGatewayRouteArp = (c: StepContext): Cmd[] => [
  { line: `route del default gw ${c.tb.gateway.ip} ${shq(c.topology.vmEgress.guestIf)}`, okExitCodes: [0, 7] },
  { line: `arp -d ${c.tb.gateway.ip}`, okExitCodes: [0, 255] },
  ...(c.tb.traffic.direction === 'both' ? removeReverseRouteArp(c) : []),
];

/**
 * traffic.direction both: the guest routes the reverse stream (to the forward
 * stream's sources) out of its ingress interface, to a next hop with a static
 * ARP entry (the TG's transmit port), as the guide does for the gateway.
 */
/** route(8)'s target: a host for a /32, a network otherwise. */
const routeTarget = (prefix: string) => (prefix.endsWith('/32') ? `-host ${prefix.slice(0, -3)}` : `-net ${prefix}`);

const reverseRouteArp = (c: StepContext): Cmd[] => {
  const r = reverseGatewayOf(c.tb);
  return [{ line: `route add ${routeTarget(r.route)} gw ${r.ip} ${shq(c.topology.vmIngress.guestIf)}` }, { line: `arp -s ${r.ip} ${r.mac}` }];
};

const removeReverseRouteArp = (c: StepContext): Cmd[] => {
  const r = reverseGatewayOf(c.tb);
  return [
    { line: `route del ${routeTarget(r.route)} gw ${r.ip} ${shq(c.topology.vmIngress.guestIf)}`, okExitCodes: [0, 7] },
    { line: `arp -d ${r.ip}`, okExitCodes: [0, 255] },
  ];
};

export const guestCleanPreviousRun: StepDef = {
  id: 'guest.clean-previous-run',
  cleans: true,
  title: 'Remove the addresses, route and ARP entry a previous run left',
  host: 'guest',
  commands: (c) => [...c.tb.vmPorts.map((k) => ({ line: `ip addr flush dev ${shq(k.guestIf)}` })), ...removeGatewayRouteArp(c)],
};

export const guestInterfaces: StepDef = {
  id: 'guest.interfaces',
  title: 'Bring up virtual interfaces',
  host: 'guest',
  commands: (c) => [
    ...c.tb.vmPorts.map((k) => ({ line: `ifconfig ${shq(k.guestIf)} hw ether ${k.mac}` })),
    ...c.tb.vmPorts.map((k) => ({ line: `ifconfig ${shq(k.guestIf)} ${k.cidr} up` })),
  ],
  undo: (c) => c.tb.vmPorts.flatMap((k) => [{ line: `ip addr flush dev ${shq(k.guestIf)}` }, { line: `ip link set ${shq(k.guestIf)} down` }]),
};

export const guestForwarding: StepDef = {
  id: 'guest.forwarding',
  title: 'Turn on IP forwarding and turn off reverse path filtering',
  host: 'guest',
  commands: (c) => [
    { line: 'sysctl -w net.ipv4.ip_forward=1' },
    { line: 'sysctl -w net.ipv4.conf.all.rp_filter=0' },
    { line: `sysctl -w ${shq(`net.ipv4.conf.${c.topology.vmIngress.guestIf}.rp_filter=0`)}` },
  ],
};

export const guestRouteArp: StepDef = {
  id: 'guest.route-arp',
  title: 'Add a default gateway and an ARP entry for it',
  host: 'guest',
  commands: (c) => [
    { line: `route add default gw ${c.tb.gateway.ip} ${shq(c.topology.vmEgress.guestIf)}` },
    { line: `arp -s ${c.tb.gateway.ip} ${c.tb.gateway.mac}` },
    ...(c.tb.traffic.direction === 'both' ? reverseRouteArp(c) : []),
  ],
  undo: removeGatewayRouteArp,
};

export const guestCheckInterfaces: StepDef = {
  id: 'guest.check-interfaces',
  title: 'Check both virtual interfaces are up and running',
  host: 'guest',
  commands: (c) => [
    { line: 'ifconfig -a' },
    { line: `sysctl ${Object.keys(sysctlExpected(c.topology)).map(shq).join(' ')}` },
    { line: 'ip route' },
    { line: 'arp -n' },
  ],
  after: async (s, [ifc, sysctl, route, arp]) => {
    const { tb, topology: t } = s;
    CheckFailure.ifAny('guest interfaces', [
      ...checkGuestIfaces(parseIfconfig(ifc!), expectedVeths(tb)),
      ...checkSysctl(parseSysctl(sysctl!, Object.keys(sysctlExpected(t))), sysctlExpected(t)),
      ...checkDefaultRoute(parseRoutes(route!, { required: true }), tb.gateway.ip, t.vmEgress.guestIf),
      ...checkStaticArp(parseNeighbours(arp!), tb.gateway.ip, tb.gateway.mac, t.vmEgress.guestIf),
      ...(tb.traffic.direction === 'both' ? checkReverseRoute(parseRoutes(route!), parseNeighbours(arp!), reverseGatewayOf(tb), t.vmIngress.guestIf) : []),
    ]);
  },
};

/**
 * The guest as a router that nothing is built in (a namespace, a container,
 * a prepared VM): reach it, note its kernel log, clear what a previous run
 * left, then the guide's interface, forwarding, route and ARP steps.
 */
export const GUEST_ROUTER_STEPS: readonly StepDef[] = [
  guestConnect,
  dmesgBaseline,
  guestCleanPreviousRun,
  guestInterfaces,
  guestForwarding,
  guestRouteArp,
  guestCheckInterfaces,
];
