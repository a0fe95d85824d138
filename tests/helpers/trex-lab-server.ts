// The TRex protocol server of the virtual lab: run in the TG's namespace,
// listening on its 127.0.0.1 only, it answers TRex's stateless API
// (trex-server.ts) and really sends and captures on the TG's ports with the
// lab's own tools, as TRex would on its NICs:
// - push_remote: tcpreplay of a pcap on the TG at the asked gap (PCAP_TX);
// - add_stream / start_traffic: the stream's one frame looped at the asked
//   rate, stopped at the asked duration whatever was sent by then (TX);
// - capture: tcpdump on each port (TX: out, RX: in), fetched as TRex's
//   capture API gives packets (base64, a time, the port, the origin);
// - get_port_stats: what it sent (tcpreplay's count), and the port's
//   received counters from the kernel (a NIC counts all it receives).
// Usage: node --import tsx trex-lab-server.ts --listen 4501 --port 0=tg0 --port 1=tg1 --work DIR --parent PID [--owner 1=alice]
// It exits when its parent is gone, stopping what it started.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { readPcap, writeFramesPcap } from '../../lib/traffic/pcap.js';
import { parseTcpdumpStats } from '../../lib/traffic/tcpdump.js';
import { TREX_ERR } from '../../lib/traffic/trex/rpc.js';
import { RpcFault, TrexProtocolServer } from './trex-server.js';

interface PortState {
  iface: string;
  state: 'IDLE' | 'STREAMS' | 'TX' | 'PCAP_TX';
  opackets: number;
  obytes: number;
  stream: { frame: Buffer; pps: number } | null;
  sender: ChildProcess | null;
}

interface Capture {
  id: number;
  limit: number;
  startTs: number;
  dumps: Array<{ proc: ChildProcess; file: string; port: number; origin: 'RX' | 'TX'; said: () => string }>;
  packets: Array<{ binary: string; ts: number; port: number; origin: 'RX' | 'TX'; index: number }> | null;
}

function args(): { listen: number; ports: Map<number, string>; work: string; parent: number; owners: Record<number, string> } {
  const a = process.argv.slice(2);
  const ports = new Map<number, string>();
  const owners: Record<number, string> = {};
  let listen = 4501;
  let work = '/tmp/dutlab-trex-server';
  let parent = process.ppid;
  for (let i = 0; i < a.length; i += 2) {
    const [k, v] = [a[i], a[i + 1] ?? ''];
    if (k === '--listen') listen = Number(v);
    else if (k === '--work') work = v;
    else if (k === '--parent') parent = Number(v);
    else if (k === '--owner') {
      // A port another user holds already: --owner 1=alice.
      const [id, user] = v.split('=');
      owners[Number(id)] = user!;
    } else if (k === '--port') {
      const [id, iface] = v.split('=');
      ports.set(Number(id), iface!);
    } else throw new Error(`unknown argument ${k}`);
  }
  return { listen, ports, work, parent, owners };
}

const sysStat = (iface: string, name: string) => Number(readFileSync(`/sys/class/net/${iface}/statistics/${name}`, 'utf8').trim());

/** tcpreplay's own count of what went on the wire. */
function sentBy(output: string): { packets: number; bytes: number } {
  const packets = Number(/Successful packets:\s+(\d+)/.exec(output)?.[1] ?? 0);
  const actual = /Actual: (\d+) packets \((\d+) bytes\)/.exec(output);
  const bytes = actual && Number(actual[1]) > 0 ? Math.round((Number(actual[2]) / Number(actual[1])) * packets) : 0;
  return { packets, bytes };
}

async function main(): Promise<void> {
  const { listen, ports: ifaces, work, parent, owners } = args();
  mkdirSync(work, { recursive: true });
  const ports = new Map<number, PortState>(
    [...ifaces].map(([id, iface]) => [id, { iface, state: 'IDLE', opackets: 0, obytes: 0, stream: null, sender: null }]),
  );
  const captures = new Map<number, Capture>();
  const children = new Set<ChildProcess>();
  let nextCapture = 1;
  const server = new TrexProtocolServer({ ports: ports.size, owners });
  const port = (p: Record<string, unknown>) => ports.get(server.port(p))!;

  const run = (cmd: string, argv: string[]) => {
    const child = spawn(cmd, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
    children.add(child);
    let out = '';
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    const done = new Promise<string>((resolve) =>
      child.on('close', () => {
        children.delete(child);
        resolve(out);
      }),
    );
    return { child, done, output: () => out };
  };

  /** Sends with tcpreplay on a port: its state while it runs, its count once it ends. */
  const send = (ps: PortState, state: PortState['state'], argv: string[], stopAfterMs?: number) => {
    const r = run('tcpreplay', ['-i', ps.iface, ...argv]);
    ps.state = state;
    ps.sender = r.child;
    const timer = stopAfterMs === undefined ? undefined : setTimeout(() => r.child.kill('SIGINT'), stopAfterMs);
    void r.done.then((out) => {
      clearTimeout(timer);
      const s = sentBy(out);
      ps.opackets += s.packets;
      ps.obytes += s.bytes;
      ps.sender = null;
      ps.state = ps.stream ? 'STREAMS' : 'IDLE';
    });
  };

  server.method('get_system_info', () => ({
    hostname: 'dutlab-trex-lab-server',
    port_count: ports.size,
    ports: [...ports].map(([index, p]) => ({ index, description: `veth ${p.iface} (the virtual lab)`, driver: 'net_veth', is_virtual: true })),
  }));
  server.method('get_port_status', (p) => {
    const ps = port(p);
    const up = readFileSync(`/sys/class/net/${ps.iface}/operstate`, 'utf8').trim() === 'up';
    return { owner: server.ownerOf(server.port(p)) ?? '', state: up ? ps.state : 'DOWN', attr: { link: { up } } };
  });
  server.method('get_port_stats', (p) => {
    const ps = port(p);
    return {
      opackets: ps.opackets,
      obytes: ps.obytes,
      ipackets: sysStat(ps.iface, 'rx_packets'),
      ibytes: sysStat(ps.iface, 'rx_bytes'),
      ierrors: 0,
      oerrors: 0,
    };
  });
  server.method('push_remote', (p) => {
    const ps = ports.get(server.owned(p))!;
    if (ps.state === 'TX' || ps.state === 'PCAP_TX') throw new RpcFault(TREX_ERR.execute, `push_remote: port is already transmitting (state ${ps.state})`);
    const ipg = Number(p.ipg_usec);
    if (!(ipg > 0)) throw new RpcFault(TREX_ERR.invalidParams, "field 'ipg_usec' must be positive here");
    send(ps, 'PCAP_TX', [`--pps=${Math.max(1, Math.round(1e6 / ipg))}`, String(p.pcap_filename)]);
    return {};
  });
  server.method('remove_all_streams', (p) => {
    const ps = ports.get(server.owned(p))!;
    if (ps.state === 'TX') throw new RpcFault(TREX_ERR.execute, 'remove_all_streams: port is active');
    ps.stream = null;
    ps.state = 'IDLE';
    return {};
  });
  server.method('add_stream', (p) => {
    const ps = ports.get(server.owned(p))!;
    const stream = p.stream as { packet?: { binary?: string }; mode?: { type?: string; rate?: { type?: string; value?: number } } } | undefined;
    const frame = Buffer.from(stream?.packet?.binary ?? '', 'base64');
    if (frame.length < 14 || frame.length > 9216)
      throw new RpcFault(TREX_ERR.execute, `Bad packet size provided: ${frame.length}. Should be between 14 and 9216`);
    if (stream?.mode?.type !== 'continuous' || stream.mode.rate?.type !== 'pps')
      throw new RpcFault(TREX_ERR.execute, 'this server takes continuous streams at a pps rate only');
    ps.stream = { frame, pps: Number(stream.mode.rate.value) };
    ps.state = 'STREAMS';
    return {};
  });
  server.method('start_traffic', (p) => {
    const ps = ports.get(server.owned(p))!;
    if (!ps.stream) throw new RpcFault(TREX_ERR.execute, 'start_traffic: no streams attached to port');
    const mul = p.mul as { type?: string; op?: string; value?: number } | undefined;
    const duration = Number(p.duration);
    if (mul?.type !== 'pps' || mul.op !== 'abs' || !(Number(mul.value) > 0)) throw new RpcFault(TREX_ERR.invalidParams, 'multiplier: pps, abs, above zero');
    const pps = Math.round(Number(mul.value));
    const file = join(work, `stream-${server.port(p)}.pcap`);
    writeFramesPcap(file, [{ data: ps.stream.frame, timeUs: 0 }]);
    const loops = duration > 0 ? Math.max(1, Math.round(pps * duration)) : 0;
    // TRex sends for the duration, whatever it managed by then: a slow sender is short, not late.
    send(ps, 'TX', [`--pps=${pps}`, `--loop=${loops}`, '--preload-pcap', file], duration > 0 ? Math.round(duration * 1000 * 1.05) + 100 : undefined);
    return { multiplier: pps };
  });
  server.method('stop_traffic', (p) => {
    const ps = ports.get(server.owned(p))!;
    ps.sender?.kill('SIGINT');
    return {};
  });
  server.method('capture', async (p) => {
    switch (p.command) {
      case 'start':
        return startCapture(p);
      case 'stop':
        return stopCapture(capture(p));
      case 'fetch': {
        const c = capture(p);
        if (!c.packets) throw new RpcFault(TREX_ERR.execute, `capture ${c.id} is still active: stop it before fetching`);
        const pkts = c.packets.splice(0, Number(p.pkt_limit) || 50);
        return { pkts, pending: c.packets.length, start_ts: c.startTs };
      }
      case 'remove': {
        const c = capture(p);
        for (const d of c.dumps) d.proc.kill('SIGTERM');
        for (const d of c.dumps) rmSync(d.file, { force: true });
        captures.delete(c.id);
        return {};
      }
      default:
        throw new RpcFault(TREX_ERR.invalidParams, `unknown capture command ${JSON.stringify(p.command)}`);
    }
  });

  const capture = (p: Record<string, unknown>): Capture => {
    const c = captures.get(Number(p.capture_id));
    if (!c) throw new RpcFault(TREX_ERR.execute, `capture ID ${String(p.capture_id)} does not exist`);
    return c;
  };

  const startCapture = async (p: Record<string, unknown>) => {
    const id = nextCapture++;
    const c: Capture = { id, limit: Number(p.limit) || 1000, startTs: Date.now() / 1000, dumps: [], packets: null };
    const want = [
      ...((p.tx as number[]) ?? []).map((port) => ({ port, origin: 'TX' as const })),
      ...((p.rx as number[]) ?? []).map((port) => ({ port, origin: 'RX' as const })),
    ];
    for (const w of want) {
      const ps = ports.get(w.port);
      if (!ps) throw new RpcFault(TREX_ERR.invalidParams, `invalid port id ${w.port}`);
      const file = join(work, `capture-${id}-${w.origin}-${w.port}.pcap`);
      const filter = typeof p.filter === 'string' && p.filter ? [p.filter] : [];
      // As the linux driver captures (lib/traffic/tcpdump.ts): a snapshot length and a buffer that hold a burst.
      const direction = w.origin === 'TX' ? 'out' : 'in';
      const r = run('tcpdump', ['-i', ps.iface, '-Q', direction, '-nn', '-s', '2048', '-B', '16384', '-U', '--immediate-mode', '-w', file, ...filter]);
      c.dumps.push({ proc: r.child, file, port: w.port, origin: w.origin, said: r.output });
      // Ready once tcpdump says it listens (or gone, which the stop says).
      for (let i = 0; i < 100 && !/listening on/.test(r.output()) && r.child.exitCode === null; i++) await new Promise((res) => setTimeout(res, 50));
    }
    c.startTs = Date.now() / 1000;
    captures.set(id, c);
    return { capture_id: id, start_ts: c.startTs };
  };

  const stopCapture = async (c: Capture) => {
    if (c.packets) return { pkt_count: c.packets.length };
    await Promise.all(
      c.dumps.map(
        (d) =>
          new Promise<void>((resolve) => {
            if (d.proc.exitCode !== null) return resolve();
            d.proc.once('close', () => resolve());
            d.proc.kill('SIGINT');
          }),
      ),
    );
    // A capture that dropped is not passed off as complete: TRex's own captures do not drop, so this one says so instead.
    const dropped = c.dumps.map((d) => ({ d, stats: parseTcpdumpStats(d.said()) })).filter((x) => !x.stats || x.stats.dropped > 0);
    if (dropped.length > 0)
      throw new RpcFault(
        TREX_ERR.execute,
        `capture ${c.id} is incomplete: ${dropped.map((x) => `${x.d.origin} on port ${x.d.port}: ${x.stats ? `dropped ${x.stats.droppedBy}` : 'no statistics from tcpdump'}`).join('; ')}`,
      );
    const all: Array<{ binary: string; ts: number; port: number; origin: 'RX' | 'TX' }> = [];
    for (const d of c.dumps)
      await readPcap(d.file, (data, timeUs) => all.push({ binary: data.toString('base64'), ts: timeUs / 1e6, port: d.port, origin: d.origin })).catch(
        () => undefined,
      );
    all.sort((a, b) => a.ts - b.ts);
    // Mode fixed: once full, newer packets are dropped; the count says how many matched.
    c.packets = all.slice(0, c.limit).map((x, index) => ({ ...x, index }));
    return { pkt_count: all.length };
  };

  await server.start(listen);
  const stop = () => {
    for (const child of children) child.kill('SIGKILL');
    server.close();
    rmSync(work, { recursive: true, force: true });
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  // Its parent gone (a test killed outright), it goes too.
  setInterval(() => {
    try {
      process.kill(parent, 0);
    } catch {
      stop();
    }
  }, 1000).unref();
  process.stdout.write(`listening on ${server.endpoint}\n`);
}

void main();
