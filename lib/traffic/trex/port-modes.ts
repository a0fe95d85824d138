// What a run asks of TRex's ports besides owning them, read from TRex and
// given back as found (doc/trex_stateless.asciidoc, doc/trex_port_service_mode.asciidoc):
// - the receive port promiscuous for the run: a TRex port on a NIC receives
//   only frames addressed to its own MAC, and the frames coming back carry
//   the testbed's gateway MAC; what it was before is read, and restored;
// - service mode only around a capture (TRex copies what it sends into a TX
//   capture only in service mode; on NICs with hardware flow statistics it
//   refuses latency streams while a port is in it), never left on; TRex
//   refuses to leave it while a capture on the port exists, so the capture
//   goes first.
// A port another user left in service mode or promiscuous is named in the
// run's notes, never used silently.
import { ParseError } from '../../errors.js';
import type { TrexPorts, TrexRpc } from './rpc.js';

/** get_port_status as trex_rpc_cmds_common.cpp answers it: the parts the driver reads. */
export interface TrexPortStatus {
  state: string;
  owner: string;
  linkUp: boolean;
  service: boolean;
  promiscuous: boolean;
}

export function portStatusOf(raw: unknown, port: number): TrexPortStatus {
  const r = raw as { state?: unknown; owner?: unknown; service?: unknown; attr?: { link?: { up?: unknown }; promiscuous?: { enabled?: unknown } } };
  const ok = typeof r?.state === 'string' && typeof r.service === 'boolean' && typeof r.attr?.promiscuous?.enabled === 'boolean';
  if (!ok) throw new ParseError(`TRex's get_port_status of port ${port}`, 'state, service and attr.promiscuous.enabled', JSON.stringify(raw).slice(0, 300));
  return {
    state: r.state as string,
    owner: typeof r.owner === 'string' ? r.owner : '',
    linkUp: r.attr?.link?.up === true,
    service: r.service as boolean,
    promiscuous: r.attr!.promiscuous!.enabled as boolean,
  };
}

/** One port's status, asked as TRex's own client asks it (block: false: never wait on the port's lock). */
export async function portStatus(rpc: TrexRpc, port: number): Promise<TrexPortStatus> {
  return portStatusOf(await rpc.call('get_port_status', { port_id: port, block: false }), port);
}

export class PortModes {
  /** The receiving ports' promiscuity as the run found it: what cleanup puts back. */
  private readonly foundPromiscuous = new Map<number, boolean>();
  private readonly inService = new Set<number>();

  /** `bothWays`: the transmit port receives too (the reverse stream's return, to the stream's source MAC). */
  constructor(
    private readonly rpc: TrexRpc,
    private readonly ports: TrexPorts,
    private readonly roles: { transmit: number; receive: number },
    private readonly note: (line: string) => void,
    private readonly bothWays = false,
  ) {}

  /** The ports the stream comes back to. */
  private get receiving(): number[] {
    return this.bothWays ? [this.roles.receive, this.roles.transmit] : [this.roles.receive];
  }

  /** Reads both ports as found (naming what another user left on), turns service mode off and the receiving ports promiscuous. */
  async takeOver(): Promise<Record<number, TrexPortStatus>> {
    const found: Record<number, TrexPortStatus> = {};
    for (const [role, port] of Object.entries(this.roles)) {
      const st = await portStatus(this.rpc, port);
      found[port] = st;
      if (st.service) {
        this.note(`TRex port ${port} (the ${role} port) was left in service mode by an earlier user: turned off (a run measures with it off)`);
        await this.service(port, false);
      }
      if (st.promiscuous && !this.receiving.includes(port))
        this.note(`TRex port ${port} (the ${role} port) was left promiscuous by an earlier user: left so (it only sends)`);
    }
    for (const port of this.receiving) {
      this.foundPromiscuous.set(port, found[port]!.promiscuous);
      const role = port === this.roles.receive ? 'receive' : 'transmit';
      if (found[port]!.promiscuous) this.note(`TRex port ${port} (the ${role} port) was promiscuous already: it stays so after the run`);
      else await this.promiscuous(port, true);
    }
    return found;
  }

  /** Service mode on both ports (around a capture). */
  async serviceOn(): Promise<void> {
    for (const port of [this.roles.transmit, this.roles.receive]) await this.service(port, true);
  }

  /** Service mode off on every port this run put in it. */
  async serviceOff(): Promise<void> {
    for (const port of [...this.inService]) await this.service(port, false);
  }

  /** Service mode off, the receiving ports' promiscuity as found; what cannot be put back is returned, not thrown. */
  async restore(): Promise<string[]> {
    const problems: string[] = [];
    await this.serviceOff().catch((e: unknown) => problems.push(`service mode: ${(e as Error).message}`));
    for (const [port, was] of this.foundPromiscuous)
      if (!was && this.ports.holds(port))
        await this.promiscuous(port, false).catch((e: unknown) => problems.push(`promiscuous on port ${port}: ${(e as Error).message}`));
    this.foundPromiscuous.clear();
    return problems;
  }

  private async service(port: number, enabled: boolean): Promise<void> {
    await this.rpc.call('service', { handler: this.ports.handler(port), port_id: port, enabled });
    if (enabled) this.inService.add(port);
    else this.inService.delete(port);
  }

  private async promiscuous(port: number, enabled: boolean): Promise<void> {
    await this.rpc.call('set_port_attr', { handler: this.ports.handler(port), port_id: port, attr: { promiscuous: { enabled } } });
  }
}
