// The TRex driver's protocol: JSON-RPC 2.0 over ZeroMQ as trex-core defines
// it, against a server that speaks it (tests/helpers/trex-server.ts), reached
// as on a lab: through a local forward on the TG's SSH connection.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { failureKind } from '../../lib/errors.js';
import { compressMessage, decodeMessage, TREX_ERR, TrexError, TrexPorts, TrexRpc } from '../../lib/traffic/trex/rpc.js';
import { localForward, type LocalForward } from '../../lib/transport/forward.js';
import { SshShell } from '../../lib/transport/ssh.js';
import { Transcript } from '../../lib/transport/transcript.js';
import { newKeyPair, TestSshServer } from '../helpers/ssh-server.js';
import { RpcFault, TrexProtocolServer, type TrexServerOptions } from '../helpers/trex-server.js';
import { closedPort } from '../helpers/ports.js';

const dir = mkdtempSync(join(tmpdir(), 'dutlab-trex-'));
const transcript = new Transcript(join(dir, 'transcripts'));
const servers: TrexProtocolServer[] = [];
const clients: TrexRpc[] = [];
const closers: Array<() => Promise<void>> = [];
afterAll(async () => {
  for (const c of clients) c.close();
  for (const s of servers) s.close();
  for (const close of closers) await close();
  rmSync(dir, { recursive: true, force: true });
});

async function trex(opts: TrexServerOptions = {}): Promise<TrexProtocolServer> {
  const s = await new TrexProtocolServer(opts).start();
  servers.push(s);
  return s;
}

function client(endpoint: string, callTimeoutMs = 5000): TrexRpc {
  const c = new TrexRpc({ endpoint, name: 'TRex on tg', callTimeoutMs, transcript });
  clients.push(c);
  return c;
}

/** The TG's SSH connection, and a local forward on it to the server as the TG sees it. */
async function throughTg(server: TrexProtocolServer): Promise<LocalForward> {
  const key = newKeyPair();
  const keyFile = join(dir, `key-${servers.length}`);
  writeFileSync(keyFile, key.private, { mode: 0o600 });
  const sshd = new TestSshServer({ authorizedKey: key.public, forwardTcp: (p) => p === server.tcpPort });
  await sshd.listen();
  const tg = await SshShell.connect('tg', sshd.loginSpec(keyFile), { transcript });
  const fwd = await localForward(tg, '127.0.0.1', server.tcpPort);
  closers.push(
    () => fwd.close(),
    () => tg.close(),
    () => sshd.close(),
  );
  return fwd;
}

describe("TRex's RPC, as the driver speaks it", () => {
  it('syncs the API and calls through a local forward on the TG connection, compressed both ways, every call in the transcript', async () => {
    const server = await trex();
    const fwd = await throughTg(server);
    const rpc = client(`tcp://127.0.0.1:${fwd.port}`);
    const { apiH } = await rpc.connect();
    expect(apiH).toMatch(/^api/);
    expect(await rpc.call('get_version')).toMatchObject({ version: 'v3.08' });
    expect(server.received.map((r) => [r.method, r.compressed])).toEqual([
      ['api_sync_v2', true],
      ['get_version', true],
    ]);
    expect(server.received[0]!.params).toEqual({ name: 'STL', major: 5, minor: 1 });
    // Every call after the sync carries the API handle.
    expect(server.received[1]!.params).toEqual({ api_h: apiH });
    const log = readFileSync(transcript.fileFor('trex'), 'utf8');
    expect(log).toMatch(
      /rpc \{"jsonrpc":"2\.0","id":2,"method":"get_version","params":\{"api_h":"api\w+"\}\}\n--- answer in \d+ ms\n\{"jsonrpc":"2\.0","id":2,"result":\{"build_date":"[^"]+","build_time":"[^"]+","built_by":"unknown","mode":"STL","version":"v3\.08"/,
    );
  });

  it("refuses a server of another API version in the server's own words", async () => {
    const older = await trex({ api: { major: 5, minor: 0 } });
    const err = await client(older.endpoint)
      .connect()
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TrexError);
    expect((err as TrexError).message).toBe(
      "TRex on tg does not speak the API this driver does (STL 5.1): TRex on tg refused api_sync_v2: Version mismatch: your client version is too new to be supported by the server\n(API type 'STL': - server: '5.0', client: '5.1') (JSON-RPC error -32000)",
    );
    const newer = await trex({ api: { major: 6, minor: 0 } });
    await expect(client(newer.endpoint).connect()).rejects.toThrow(
      /RPC version mismatch: a newer client version is required\n\(API type 'STL': - server: '6\.0', client: '5\.1'\)/,
    );
    // The lab's problem, not the DUT's: exit 2.
    expect(failureKind(err)).toBe('infra');
  });

  it('never takes a port another user holds: the error names them, and what this run took is given back', async () => {
    const server = await trex({ owners: { 1: 'alice' } });
    const rpc = client(server.endpoint);
    await rpc.connect();
    const ports = new TrexPorts(rpc, 'dutlab run r1', 7);
    const err = await ports.acquire({ transmit: 0, receive: 1 }).catch((e: unknown) => e);
    expect((err as Error).message).toBe(
      "TRex port 1 (the receive port) is held by 'alice': dutlab never takes a port by force; wait for that user to release it, or point tg.trex.ports elsewhere",
    );
    expect(failureKind(err)).toBe('infra');
    expect(server.received.filter((r) => r.method === 'acquire').map((r) => r.params.force)).toEqual([false, false]);
    expect(server.ownerOf(0)).toBeUndefined();
    expect(server.ownerOf(1)).toBe('alice');
  });

  it('takes ports, calls with their handlers, and releases them', async () => {
    const server = await trex();
    server.method('set_l2', (p) => {
      server.owned(p);
      return {};
    });
    const rpc = client(server.endpoint);
    await rpc.connect();
    const ports = new TrexPorts(rpc, 'dutlab run r2', 8);
    await ports.acquire({ transmit: 0, receive: 1 });
    expect(server.ownerOf(0)).toBe('dutlab run r2');
    await rpc.call('set_l2', { port_id: 0, handler: ports.handler(0), dst_mac: '00:00:00:00:00:01' });
    await expect(rpc.call('set_l2', { port_id: 1, handler: 'not-mine', dst_mac: '00:00:00:00:00:01' })).rejects.toThrow(
      'TRex on tg refused set_l2: port is not owned by you or your current executing session (JSON-RPC error -32000)',
    );
    expect(await ports.release()).toEqual([]);
    expect([server.ownerOf(0), server.ownerOf(1)]).toEqual([undefined, undefined]);
  });

  it('bounds a call to a server that does not answer, or is not there, and asks afresh afterwards', async () => {
    const silent = await trex({ silent: true });
    const rpc = client(silent.endpoint, 400);
    const t0 = Date.now();
    await expect(rpc.connect()).rejects.toThrow(`TRex on tg (${silent.endpoint}) did not answer api_sync_v2 within 0.4 s`);
    expect(Date.now() - t0).toBeLessThan(3000);
    // Nothing listening: the same bound, the same words.
    const closed = await closedPort();
    const waiting = client(`tcp://127.0.0.1:${closed}`, 300);
    await expect(waiting.connect()).rejects.toThrow(/did not answer api_sync_v2 within 0\.3 s/);
    // The socket that waited in vain is dropped: once a server is there, the same client is answered.
    const late = await new TrexProtocolServer().start(closed);
    servers.push(late);
    await expect(waiting.connect()).resolves.toMatchObject({ apiH: expect.stringMatching(/^api/) });
    expect(readFileSync(transcript.fileFor('trex'), 'utf8')).toMatch(/--- error after \d+ ms: did not answer api_sync_v2 within 0\.4 s/);
  });

  it('asks a busy server again (-32001) within the bound, and says so past it', async () => {
    const server = await trex({ busy: { get_version: 2 } });
    const rpc = client(server.endpoint);
    await rpc.connect();
    expect(await rpc.call('get_version')).toMatchObject({ version: 'v3.08' });
    expect(server.received.filter((r) => r.method === 'get_version')).toHaveLength(3);
    const always = await trex({ busy: { get_version: 1000 } });
    const impatient = client(always.endpoint, 700);
    await impatient.connect();
    const err = await impatient.call('get_version').catch((e: unknown) => e);
    expect(err).toMatchObject({ code: TREX_ERR.tryAgain, message: 'TRex on tg was busy for 0.7 s: get_version answered "try again later" each time' });
  });

  it('polls work in progress (-32002) on its ticket until the result, and cancels the ticket past the bound', async () => {
    const server = await trex({ inProgress: { set_l2: 2 } });
    server.method('set_l2', (p) => {
      server.owned(p);
      return { done: true };
    });
    const rpc = client(server.endpoint);
    await rpc.connect();
    const ports = new TrexPorts(rpc, 'dutlab run r3', 9);
    await ports.acquire({ transmit: 0 });
    expect(await rpc.call('set_l2', { port_id: 0, handler: ports.handler(0), dst_mac: '00:00:00:00:00:01' })).toEqual({ done: true });
    const polls = server.received.filter((r) => r.method === 'get_async_results');
    expect(polls.map((r) => r.params.ticket_id)).toEqual([1000, 1000, 1000]);

    const stuck = await trex({ inProgress: { set_l2: 1000 } });
    stuck.method('set_l2', () => ({}));
    const impatient = client(stuck.endpoint, 700);
    await impatient.connect();
    await expect(impatient.call('set_l2', { port_id: 0 })).rejects.toThrow('TRex on tg did not finish set_l2 within 0.7 s (ticket 1000, cancelled)');
    expect(stuck.received.at(-1)).toMatchObject({ method: 'cancel_async_task', params: { ticket_id: 1000 } });
  });

  it("reads TRex's compressed messages by their header, plain ones as they are, and refuses a length that does not match", () => {
    const text = JSON.stringify({ jsonrpc: '2.0', id: 1, result: { version: 'v3.08' } });
    const wire = compressMessage(text);
    expect(wire.readUInt32BE(0)).toBe(0xabe85cea);
    expect(wire.readUInt32BE(4)).toBe(Buffer.byteLength(text));
    expect(decodeMessage(wire)).toBe(text);
    expect(decodeMessage(Buffer.from(text))).toBe(text);
    const lying = Buffer.from(wire);
    lying.writeUInt32BE(7, 4);
    expect(() => decodeMessage(lying)).toThrow(`a compressed message of ${Buffer.byteLength(text)} bytes says it has 7`);
  });

  it("passes a rejected stream on in TRex's words, as the lab's error", async () => {
    const server = await trex();
    server.method('add_stream', (p) => {
      server.owned(p);
      throw new RpcFault(TREX_ERR.execute, 'Bad packet size provided: 9. Should be between 14 and 9216');
    });
    const rpc = client(server.endpoint);
    await rpc.connect();
    const ports = new TrexPorts(rpc, 'dutlab run r4', 10);
    await ports.acquire({ transmit: 0 });
    const err = await rpc.call('add_stream', { handler: ports.handler(0), port_id: 0, stream_id: 1, stream: {} }).catch((e: unknown) => e);
    expect(err).toMatchObject({
      code: TREX_ERR.execute,
      message: 'TRex on tg refused add_stream: Bad packet size provided: 9. Should be between 14 and 9216 (JSON-RPC error -32000)',
    });
    expect(failureKind(err)).toBe('infra');
  });
});
