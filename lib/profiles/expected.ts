import type { Topology } from '../testbed/topology.js';
import type { Testbed } from '../testbed/schema.js';
import type { ExpectedIface, ExpectedPort } from '../verify/state.js';
import type { Profile } from './profile.js';

export function sysctlExpected(t: Topology): Record<string, string> {
  return {
    'net.ipv4.ip_forward': '1',
    'net.ipv4.conf.all.rp_filter': '0',
    [`net.ipv4.conf.${t.vmIngress.guestIf}.rp_filter`]: '0',
  };
}

export function expectedPorts(tb: Testbed, p: Profile): ExpectedPort[] {
  return [
    ...tb.phyPorts.map((x) => ({ name: x.name, ofport: x.ofport, ...p.phyShown(x) })),
    ...tb.vmPorts.map((x) => ({ name: x.name, ofport: x.ofport, ...p.vmShown(x) })),
  ];
}

/** The vEth interfaces the guest must show: the testbed's KNI vports as the guest names them. */
export function expectedVeths(tb: Testbed): ExpectedIface[] {
  return tb.vmPorts.map((k) => ({ name: k.guestIf, mac: k.mac, cidr: k.cidr }));
}
