// A server that speaks TRex's stateless RPC as trex-core defines it (facts
// from doc/trex_rpc_server_spec.asciidoc, src/rpc-server and src/stx; no code
// of it): JSON-RPC 2.0 on a ZeroMQ REP socket, a compressed answer to a
// compressed request, the API check of api_sync_v2 in TRex's words, the
// handle every other call carries, ports owned by a user and a session, and
// the answers of a busy server (-32001) and of work in progress (-32002,
// polled with get_async_results), a port's modes (service mode, promiscuous)
// as get_port_status shows them. A real TRex runs in the lab tier
// (../shared/trex); this one stays for what a real one cannot be made to do
// on demand (a busy server, -32001/-32002, another API version, a malformed
// answer, a NIC's RX filter) and answers in trex-core's words, checked
// against the real one's in tests/lab/trex.test.ts. Traffic is added by
// trex-wire.ts (a wire and a DUT, modelled on what the real one does).
// Differences from a real TRex: no ZMQ publisher, no stream VM, no ASTF; a
// port's counters are the wire model's.
import { Reply } from 'zeromq';
import { compressMessage, decodeMessage, isCompressed, TREX_ERR } from '../../lib/traffic/trex/rpc.js';

export class RpcFault extends Error {
  constructor(
    readonly code: number,
    readonly specific: string,
  ) {
    super(specific);
  }
}

/** TRex's own words for each code (trex_rpc_jsonrpc_v2_parser.cpp). */
const MESSAGES: Record<number, string> = {
  [TREX_ERR.execute]: 'Failed To Execute Method',
  [TREX_ERR.tryAgain]: 'Try again later',
  [TREX_ERR.workInProgress]: 'Work in progress',
  [TREX_ERR.noResults]: 'No results for request',
  [TREX_ERR.methodNotFound]: 'Method not registered',
  [TREX_ERR.invalidParams]: 'Bad parameters for method',
};

export type Method = (params: Record<string, unknown>) => unknown | Promise<unknown>;

export interface TrexServerOptions {
  /** The server's API (STL 5.1 unless said). */
  api?: { major: number; minor: number };
  ports?: number;
  /** Ports another user holds already, by port id. */
  owners?: Record<number, string>;
  /** Methods that answer "try again later" this many times before they run. */
  busy?: Record<string, number>;
  /** Methods that answer "work in progress" with a ticket, then as many get_async_results polls as said before their result. */
  inProgress?: Record<string, number>;
  /** Ports whose link is down. */
  linkDown?: number[];
  /** Ports an earlier user left in service mode, or promiscuous. */
  service?: number[];
  promiscuous?: number[];
  /** Takes requests and never answers (a TRex whose RPC thread hangs). */
  silent?: boolean;
  version?: string;
}

export interface Received {
  method: string;
  params: Record<string, unknown>;
  compressed: boolean;
}

export class TrexProtocolServer {
  readonly received: Received[] = [];
  private readonly socket = new Reply({ linger: 0 });
  private readonly methods = new Map<string, Method>();
  private readonly apiH = `api${Math.random().toString(36).slice(2, 7)}`;
  private readonly owners = new Map<number, { user: string; session: number; handler: string }>();
  private readonly tickets = new Map<number, { left: number; result: () => unknown }>();
  /** Each port's modes, as get_port_status shows them. */
  readonly modes = new Map<number, { service: boolean; promiscuous: boolean }>();
  /** Ports a capture is active on: TRex refuses to leave service mode while one exists (set by trex-wire.ts). */
  capturing: (port: number) => boolean = () => false;
  /** What a port is doing (IDLE, STREAMS, TX, PCAP_TX; set by trex-wire.ts). */
  stateOf: (port: number) => string = () => 'IDLE';
  private nextTicket = 1000;
  endpoint = '';

  constructor(private readonly opts: TrexServerOptions = {}) {
    for (const [port, user] of Object.entries(opts.owners ?? {})) this.owners.set(Number(port), { user, session: 1, handler: 'theirs' });
    this.method('ping', () => ({}));
    this.method('api_sync_v2', (p) => this.apiSync(p));
    this.method('get_version', () => ({
      build_date: 'Dec  6 2026',
      build_time: '14:16:29',
      built_by: 'unknown',
      mode: 'STL',
      version: opts.version ?? 'v3.08',
    }));
    for (let port = 0; port < (opts.ports ?? 2); port++)
      this.modes.set(port, { service: opts.service?.includes(port) ?? false, promiscuous: opts.promiscuous?.includes(port) ?? false });
    this.method('get_port_status', (p) => this.portStatus(this.port(p)));
    this.method('service', (p) => {
      const port = this.owned(p);
      if (p.enabled === false && this.capturing(port))
        throw new RpcFault(TREX_ERR.execute, `unable to disable service mode - an active capture on port ${port} exists`);
      this.modes.get(port)!.service = p.enabled === true;
      return {};
    });
    this.method('set_port_attr', (p) => {
      const port = this.owned(p);
      const promiscuous = (p.attr as { promiscuous?: { enabled?: unknown } } | undefined)?.promiscuous?.enabled;
      if (typeof promiscuous === 'boolean') this.modes.get(port)!.promiscuous = promiscuous;
      return {};
    });
    this.method('get_global_stats', () => ({ m_cpu_util: 0, m_rx_drop_bps: 0, m_total_tx_pkts: 0 }));
    this.method('acquire', (p) => this.acquire(p));
    this.method('release', (p) => {
      this.owned(p);
      this.owners.delete(this.port(p));
      return {};
    });
    this.method('get_async_results', (p) => this.asyncResult(p));
    this.method('cancel_async_task', (p) => {
      this.tickets.delete(Number(p.ticket_id));
      return {};
    });
  }

  /** get_port_status as trex_rpc_cmds_common.cpp answers it (the fields the real one was seen to give). */
  portStatus(port: number): Record<string, unknown> {
    const up = !this.opts.linkDown?.includes(port);
    const m = this.modes.get(port)!;
    return {
      attr: {
        fc: { mode: -1 },
        layer_cfg: { ether: { dst: '02:00:00:00:00:02', src: '02:00:00:00:00:01', state: 'configured' }, ipv4: { state: 'none' }, ipv6: { enabled: false } },
        link: { up },
        multicast: { enabled: false },
        promiscuous: { enabled: m.promiscuous },
        rx_filter_mode: m.service ? 'all' : 'hw',
        speed: 10,
        vlan: { tags: [] },
        vxlan_fs: [],
      },
      max_stream_id: 0,
      owner: this.owners.get(port)?.user ?? '',
      profile_count: 1,
      service: m.service,
      service_filtered: false,
      state: up ? this.stateOf(port) : 'DOWN',
    };
  }

  /** Adds or replaces a method; those that change a port check the caller owns it (`owned`). */
  method(name: string, fn: Method): void {
    this.methods.set(name, fn);
  }

  /** The port a call names, checked as TRex does. */
  port(p: Record<string, unknown>): number {
    const port = p.port_id;
    if (typeof port !== 'number' || !Number.isInteger(port)) throw new RpcFault(TREX_ERR.invalidParams, "field 'port_id' is missing or not an integer");
    // TRex streams the valid ids as raw bytes, not digits (seen on the real one: "should be: \u0001 \u0000").
    if (port < 0 || port >= (this.opts.ports ?? 2))
      throw new RpcFault(
        TREX_ERR.execute,
        `invalid port id - should be: ${[...Array(this.opts.ports ?? 2).keys()]
          .reverse()
          .map((i) => String.fromCharCode(i))
          .join(' ')}`,
      );
    return port;
  }

  /** TRex's ownership check of a port-changing call (trex_rpc_cmd.cpp's verify_ownership). */
  owned(p: Record<string, unknown>): number {
    const port = this.port(p);
    const o = this.owners.get(port);
    if (!o) throw new RpcFault(TREX_ERR.execute, 'please acquire the port before modifying port state');
    if (o.handler !== p.handler) throw new RpcFault(TREX_ERR.execute, 'port is not owned by you or your current executing session');
    return port;
  }

  ownerOf(port: number): string | undefined {
    return this.owners.get(port)?.user;
  }

  /** Listens on 127.0.0.1 only: on an ephemeral port unless one is given. */
  async start(port?: number): Promise<this> {
    await this.socket.bind(`tcp://127.0.0.1:${port ?? '*'}`);
    this.endpoint = this.socket.lastEndpoint ?? '';
    void this.serve();
    return this;
  }

  /** The TCP port it listens on (127.0.0.1). */
  get tcpPort(): number {
    return Number(this.endpoint.split(':').pop());
  }

  private async serve(): Promise<void> {
    try {
      for await (const [msg] of this.socket) {
        const compressed = isCompressed(msg as Buffer);
        const answer = await this.answer(decodeMessage(msg as Buffer), compressed);
        if (this.opts.silent) return;
        await this.socket.send(compressed ? compressMessage(answer) : answer);
      }
    } catch {
      // closed
    }
  }

  private async answer(text: string, compressed: boolean): Promise<string> {
    let req: { id?: unknown; method?: string; params?: Record<string, unknown> };
    try {
      req = JSON.parse(text);
    } catch {
      return JSON.stringify({ jsonrpc: '2.0', id: null, error: { code: -32700, message: 'Bad JSON Format', specific_err: 'Bad JSON Format' } });
    }
    const method = req.method ?? '';
    const params = req.params ?? {};
    this.received.push({ method, params, compressed });
    const reply = (body: object) => JSON.stringify({ jsonrpc: '2.0', id: req.id, ...body });
    const fault = (f: RpcFault) => reply({ error: { code: f.code, message: MESSAGES[f.code] ?? 'Error', specific_err: f.specific } });
    const fn = this.methods.get(method);
    // The real one: -32601 "Method <name> not registered", with no specific_err.
    if (!fn) return reply({ error: { code: TREX_ERR.methodNotFound, message: `Method ${method} not registered` } });
    if (method !== 'api_sync_v2' && method !== 'ping' && params.api_h !== this.apiH)
      return fault(new RpcFault(TREX_ERR.execute, "API verification failed - API handler provided mismatch for class: 'STL'"));
    const busy = this.opts.busy?.[method] ?? 0;
    if (busy > 0) {
      this.opts.busy![method] = busy - 1;
      return fault(new RpcFault(TREX_ERR.tryAgain, ''));
    }
    try {
      const polls = this.opts.inProgress?.[method];
      if (polls !== undefined) {
        const result = await fn(params);
        const ticket = this.nextTicket++;
        this.tickets.set(ticket, { left: polls, result: () => result });
        return fault(new RpcFault(TREX_ERR.workInProgress, String(ticket)));
      }
      return reply({ result: (await fn(params)) ?? {} });
    } catch (e) {
      if (e instanceof RpcFault) return fault(e);
      return fault(new RpcFault(-32603, (e as Error).message));
    }
  }

  private apiSync(p: Record<string, unknown>): unknown {
    const server = this.opts.api ?? { major: 5, minor: 1 };
    const major = Number(p.major);
    const minor = Number(p.minor);
    if (p.name !== 'STL')
      throw new RpcFault(TREX_ERR.execute, `RPC configuration mismatch - server RPC configuration: 'STL', client RPC configuration: '${String(p.name)}'`);
    const tooNew = major > server.major || (major === server.major && minor > server.minor);
    if (major < server.major || tooNew) {
      const head = tooNew
        ? 'Version mismatch: your client version is too new to be supported by the server'
        : 'RPC version mismatch: a newer client version is required';
      throw new RpcFault(TREX_ERR.execute, `${head}\n(API type 'STL': - server: '${server.major}.${server.minor}', client: '${major}.${minor}')`);
    }
    return { api_h: this.apiH };
  }

  private acquire(p: Record<string, unknown>): string {
    const port = this.port(p);
    const user = String(p.user ?? '');
    const session = Number(p.session_id);
    const held = this.owners.get(port);
    if (held && !p.force) {
      if (held.user !== user) throw new RpcFault(TREX_ERR.execute, `port is already taken by '${held.user}'`);
      if (held.session !== session) throw new RpcFault(TREX_ERR.execute, `port is already owned by another session of '${user}'`);
      return held.handler;
    }
    const handler = `h${port}${Math.random().toString(36).slice(2, 8)}`;
    this.owners.set(port, { user, session, handler });
    return handler;
  }

  private asyncResult(p: Record<string, unknown>): unknown {
    const ticket = this.tickets.get(Number(p.ticket_id));
    if (!ticket) throw new RpcFault(TREX_ERR.noResults, '');
    if (ticket.left > 0) {
      ticket.left--;
      throw new RpcFault(TREX_ERR.workInProgress, String(p.ticket_id));
    }
    this.tickets.delete(Number(p.ticket_id));
    return ticket.result();
  }

  close(): void {
    this.socket.close();
  }
}
