// TRex's stateless API as its server speaks it: JSON-RPC 2.0 over a ZeroMQ
// REQ socket (port 4501 by default), every request compressed as TRex's own
// Python client sends it (an 8-byte header, magic 0xABE85CEA and the
// uncompressed length, both big-endian, then zlib), the answer compressed
// when the request was. Facts from trex-core's doc/trex_rpc_server_spec and
// src/rpc-server (trex_rpc_zip.cpp, trex_rpc_jsonrpc_v2_parser.cpp), checked
// against the protocol, not a live TRex (none runs here).
//
// Every call is bounded. A busy server (-32001, "try again later") is asked
// again; a call the server runs in the background (-32002, "work in
// progress") is polled with get_async_results on its ticket, and cancelled
// when the bound passes. Every call and its answer go to the transcript.
import { inflateSync, deflateSync } from 'node:zlib';
import { Request } from 'zeromq';
import { DutlabError } from '../../errors.js';
import type { Transcript } from '../../transport/transcript.js';
import { WaitTimeoutError, waitUntil } from '../../wait.js';

/** The stateless API this client speaks (TRex v2.89 to v3.x answer it): the server must have this major and at least this minor. */
export const STL_API = { name: 'STL', major: 5, minor: 1 } as const;

export const COMPRESSED_MAGIC = 0xabe85cea;

/** JSON-RPC error codes TRex answers with (trex_rpc_jsonrpc_v2_parser.cpp). */
export const TREX_ERR = {
  execute: -32000,
  tryAgain: -32001,
  workInProgress: -32002,
  noResults: -32003,
  methodNotFound: -32601,
  invalidParams: -32602,
} as const;

/** TRex refused a call, or did not answer: the lab's problem (the TG), never the DUT's. */
export class TrexError extends DutlabError {
  constructor(
    message: string,
    readonly code?: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** A TRex message as it goes on the wire: compressed, with TRex's header. */
export function compressMessage(text: string): Buffer {
  const body = Buffer.from(text, 'utf8');
  const header = Buffer.alloc(8);
  header.writeUInt32BE(COMPRESSED_MAGIC, 0);
  header.writeUInt32BE(body.length, 4);
  return Buffer.concat([header, deflateSync(body)]);
}

export const isCompressed = (b: Buffer): boolean => b.length >= 8 && b.readUInt32BE(0) === COMPRESSED_MAGIC;

/** A message off the wire, compressed or not; a compressed one whose length does not match its header is refused. */
export function decodeMessage(b: Buffer): string {
  if (!isCompressed(b)) return b.toString('utf8');
  const text = inflateSync(b.subarray(8));
  if (text.length !== b.readUInt32BE(4)) throw new TrexError(`a compressed message of ${text.length} bytes says it has ${b.readUInt32BE(4)}`);
  return text.toString('utf8');
}

interface RpcAnswer {
  jsonrpc?: string;
  id?: unknown;
  result?: unknown;
  error?: { code: number; message?: string; specific_err?: string };
}

export interface TrexRpcOptions {
  /** Where the server is, as this machine reaches it (a local forward on the TG's SSH connection): tcp://127.0.0.1:PORT. */
  endpoint: string;
  /** What the transcript and the errors call the server ("TRex on tg (127.0.0.1:4501 there)"). */
  name: string;
  /** The bound on one call, retries and polling included. */
  callTimeoutMs?: number;
  transcript?: Transcript;
  /** The transcript's file for this server's calls: trex.log unless named. */
  transcriptAs?: string;
}

export class TrexRpc {
  private socket: Request | null = null;
  private apiH: string | null = null;
  private nextId = 1;
  private readonly callTimeoutMs: number;
  /** One call at a time: a REQ socket answers in order, and TRex's client locks the same way. */
  private queue: Promise<unknown> = Promise.resolve();
  /** The last exchange went unanswered (TRex dead or hung): a cleanup asks nothing more of it. */
  silent = false;

  constructor(private readonly opts: TrexRpcOptions) {
    this.callTimeoutMs = opts.callTimeoutMs ?? 10_000;
  }

  /**
   * Checks the server speaks this client's API (api_sync_v2), keeping the
   * handle every later call carries. A server of another major version, or
   * an older minor, is refused in its own words.
   */
  async connect(): Promise<{ apiH: string }> {
    const r = await this.call<{ api_h: string }>('api_sync_v2', { name: STL_API.name, major: STL_API.major, minor: STL_API.minor }).catch((e: unknown) => {
      if (e instanceof TrexError && e.code === TREX_ERR.execute)
        throw new TrexError(`${this.opts.name} does not speak the API this driver does (STL ${STL_API.major}.${STL_API.minor}): ${e.message}`, e.code, {
          cause: e,
        });
      throw e;
    });
    this.apiH = r.api_h;
    return { apiH: r.api_h };
  }

  /** Calls a method, bounded, asking again while the server is busy and polling what it runs in the background. */
  call<T>(method: string, params: Record<string, unknown> = {}): Promise<T> {
    const run = this.queue.then(() => this.callNow<T>(method, params));
    this.queue = run.catch(() => undefined);
    return run;
  }

  /**
   * One call, bounded as a whole: asked at once, asked again every 300 ms
   * (TRex's client's pace) while the server answers "try again later"
   * (-32001); a call the server runs in the background (-32002) is polled on
   * its ticket with get_async_results, and the ticket cancelled when the
   * bound passes first.
   */
  private async callNow<T>(method: string, params: Record<string, unknown>): Promise<T> {
    const started = Date.now();
    // What is left of the bound for one exchange; a last one at the bound still gets a moment.
    const left = () => Math.max(250, this.callTimeoutMs - (Date.now() - started));
    let ticket: number | null = null;
    const attempt = async () => {
      const a = ticket === null ? await this.exchange(method, params, left()) : await this.exchange('get_async_results', { ticket_id: ticket }, left());
      if (!a.error) return { value: a.result as T };
      if (a.error.code === TREX_ERR.tryAgain && ticket === null) return null;
      if (a.error.code === TREX_ERR.workInProgress) {
        ticket ??= this.ticketOf(method, a.error);
        return null;
      }
      throw this.refusal(method, a.error);
    };
    const what = `${this.opts.name} to answer ${method} with a result`;
    try {
      return (await waitUntil(what, attempt, { timeoutMs: this.callTimeoutMs, intervalMs: 300 })).value;
    } catch (e) {
      if (!(e instanceof WaitTimeoutError)) throw e;
      const s = this.callTimeoutMs / 1000;
      if (ticket === null) throw new TrexError(`${this.opts.name} was busy for ${s} s: ${method} answered "try again later" each time`, TREX_ERR.tryAgain);
      await this.exchange('cancel_async_task', { ticket_id: ticket }, 2000).catch(() => undefined);
      throw new TrexError(`${this.opts.name} did not finish ${method} within ${s} s (ticket ${ticket}, cancelled)`, TREX_ERR.workInProgress);
    }
  }

  private ticketOf(method: string, error: NonNullable<RpcAnswer['error']>): number {
    const ticket = Number(error.specific_err);
    if (!Number.isInteger(ticket) || error.specific_err === '')
      throw new TrexError(`${this.opts.name} answered ${method} "work in progress" without a ticket: ${JSON.stringify(error)}`);
    return ticket;
  }

  private refusal(method: string, error: NonNullable<RpcAnswer['error']>): TrexError {
    const words = error.specific_err || error.message || 'no reason given';
    return new TrexError(`${this.opts.name} refused ${method}: ${words} (JSON-RPC error ${error.code})`, error.code);
  }

  /** One request and its answer, within what is left of the bound. A server that does not answer loses its socket: the next call starts afresh. */
  private async exchange(method: string, params: Record<string, unknown>, timeoutMs: number): Promise<RpcAnswer> {
    const id = this.nextId++;
    const withApi = method === 'api_sync_v2' || method === 'ping' || !this.apiH ? params : { ...params, api_h: this.apiH };
    const request = JSON.stringify({ jsonrpc: '2.0', id, method, params: withApi });
    const started = Date.now();
    const left = timeoutMs;
    const socket = this.open();
    socket.receiveTimeout = left;
    socket.sendTimeout = left;
    let text: string;
    try {
      await socket.send(compressMessage(request));
      const [reply] = await socket.receive();
      text = decodeMessage(reply as Buffer);
    } catch (e) {
      this.drop();
      this.silent = true;
      const timedOut = (e as { code?: string }).code === 'EAGAIN';
      const why = timedOut ? `did not answer ${method} within ${Math.round(left / 100) / 10} s` : `could not be asked ${method}: ${(e as Error).message}`;
      this.opts.transcript?.rpc(this.opts.transcriptAs ?? 'trex', request, { error: why, durationMs: Date.now() - started });
      throw new TrexError(`${this.opts.name} (${this.opts.endpoint}) ${why}`, undefined, { cause: e });
    }
    this.silent = false;
    this.opts.transcript?.rpc(this.opts.transcriptAs ?? 'trex', request, { answer: text, durationMs: Date.now() - started });
    let answer: RpcAnswer;
    try {
      answer = JSON.parse(text) as RpcAnswer;
    } catch (e) {
      throw new TrexError(`${this.opts.name} answered ${method} with what is not JSON: ${text.slice(0, 200)}`, undefined, { cause: e });
    }
    if (answer.jsonrpc !== '2.0' || answer.id !== id || (!('result' in answer) && !answer.error))
      throw new TrexError(`${this.opts.name} answered ${method} (id ${id}) with a malformed reply: ${text.slice(0, 200)}`);
    return answer;
  }

  private open(): Request {
    if (!this.socket) {
      this.socket = new Request({ linger: 0 });
      this.socket.connect(this.opts.endpoint);
    }
    return this.socket;
  }

  private drop(): void {
    this.socket?.close();
    this.socket = null;
  }

  close(): void {
    this.drop();
  }
}

/**
 * The ports a run takes on a TRex server: acquired without force (a port
 * another user holds is an error naming them: dutlab never takes a port
 * away), each with its handler for the calls that need one, released at the
 * end whatever happened.
 */
export class TrexPorts {
  private readonly handlers = new Map<number, string>();

  constructor(
    private readonly rpc: TrexRpc,
    /** Who holds the ports, as TRex shows it to other users ("dutlab run <id> on <controller>"). */
    private readonly user: string,
    private readonly sessionId: number,
  ) {}

  /**
   * Takes each port, by role, never by force from another user: a refused
   * port releases those already taken. A port held by this very user (one
   * TRex user per controller: a dutlab run of this controller that died
   * without giving it back) is taken back only when `takeBack` says that
   * run is provably over, and the port is named in what this returns.
   */
  async acquire(ports: Record<string, number>, takeBack?: () => string | null): Promise<string[]> {
    const takenBack: string[] = [];
    for (const [role, port] of Object.entries(ports)) {
      if (this.handlers.has(port)) continue;
      const take = (force: boolean) => this.rpc.call<string>('acquire', { port_id: port, user: this.user, session_id: this.sessionId, force });
      try {
        this.handlers.set(port, await take(false));
      } catch (e) {
        // TRex's words (trex_rpc_cmds_common.cpp): "port is already taken by '<user>'", or "... owned by another session of '<user>'".
        const held = e instanceof TrexError ? /already (?:taken|owned) by (.*)$/.exec(e.message.replace(/ \(JSON-RPC error -?\d+\)$/, '')) : null;
        const owner = held?.[1]?.replace(/^(?:another session of )?'(.*)'$/, '$1');
        const proof = owner === this.user ? takeBack?.() : null;
        if (proof) {
          this.handlers.set(port, await take(true));
          takenBack.push(`TRex port ${port} (the ${role} port) was still held by '${owner}', this controller's TRex user: taken back (${proof})`);
          continue;
        }
        await this.release();
        if (held)
          throw new TrexError(
            `TRex port ${port} (the ${role} port) is held by ${held[1]}: dutlab never takes a port by force; wait for that user to release it, or point tg.trex.ports elsewhere`,
            TREX_ERR.execute,
            { cause: e },
          );
        throw e;
      }
    }
    return takenBack;
  }

  holds(port: number): boolean {
    return this.handlers.has(port);
  }

  handler(port: number): string {
    const h = this.handlers.get(port);
    if (!h) throw new TrexError(`TRex port ${port} was not acquired by this run`);
    return h;
  }

  /** Releases every port this run holds; what cannot be released is returned, not thrown. */
  async release(): Promise<string[]> {
    const problems: string[] = [];
    for (const [port, handler] of [...this.handlers]) {
      await this.rpc.call('release', { port_id: port, handler }).catch((e: unknown) => problems.push(`TRex port ${port}: ${(e as Error).message}`));
      this.handlers.delete(port);
    }
    return problems;
  }
}
