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
import { orOnTimeout, waitUntil } from '../../lib/wait.js';
import { RpcFault, TrexProtocolServer } from './trex-server.js';

interface PortState {
  iface: string;
  state: 'IDLE' | 'STREAMS' | 'TX' | 'PCAP_TX';
  opackets: number;
  obytes: number;
  streams: Array<{ frame: Buffer; pps: number; latencyId?: number }>;
  /** What sends or measures on the port now: its state is TX (or PCAP_TX) until all of it ended. */
  active: Set<ChildProcess>;
  pending: number;
}

/** A latency stream's frames carry this at their end: the magic, the pg_id, the sequence (TRex stamps its own signature likewise). */
const LATENCY_MAGIC = 0x4c415431;

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

/** TRex's latency section of one pg_id (trex_stl_fs.cpp, time_histogram.cpp) from the stream's departures and arrivals, in microseconds. */
function latencyJson(arrivals: Array<{ seq: number; us: number }>, leftAt: Map<number, number>, sent: number): Record<string, unknown> {
  const seen = new Set<number>();
  let dup = 0;
  let ooo = 0;
  let highest = -1;
  const samples: number[] = [];
  for (const a of arrivals) {
    if (seen.has(a.seq)) {
      dup++;
      continue;
    }
    seen.add(a.seq);
    if (a.seq < highest) ooo++;
    highest = Math.max(highest, a.seq);
    const left = leftAt.get(a.seq);
    if (left !== undefined) samples.push(Math.max(0, a.us - left));
  }
  const histogram: Record<string, number> = {};
  for (const us of samples) {
    // Key K of decade B holds [K, K + B): 10 holds 10-19 us, 200 holds 200-299 us; below 10 us, key 0.
    const base = us < 10 ? 0 : 10 ** Math.floor(Math.log10(us));
    const key = base === 0 ? 0 : Math.floor(us / base) * base;
    histogram[String(key)] = (histogram[String(key)] ?? 0) + 1;
  }
  let jitter = 0;
  for (let i = 1; i < samples.length; i++) jitter += (Math.abs(samples[i]! - samples[i - 1]!) - jitter) / 16;
  const er: Record<string, number> = {};
  if (sent - seen.size > 0) er.drp = sent - seen.size;
  if (ooo > 0) er.ooo = ooo;
  if (dup > 0) er.dup = dup;
  const round = (x: number) => Math.round(x * 100) / 100;
  return {
    lat: {
      total_min: samples.length ? round(Math.min(...samples)) : 0,
      total_max: samples.length ? round(Math.max(...samples)) : 0,
      average: samples.length ? round(samples.reduce((a, b) => a + b, 0) / samples.length) : 0,
      jit: Math.round(jitter),
      histogram,
    },
    er,
  };
}

async function main(): Promise<void> {
  const { listen, ports: ifaces, work, parent, owners } = args();
  mkdirSync(work, { recursive: true });
  const ports = new Map<number, PortState>(
    [...ifaces].map(([id, iface]) => [id, { iface, state: 'IDLE', opackets: 0, obytes: 0, streams: [], active: new Set(), pending: 0 }]),
  );
  /** Each latency stream's statistics, as get_pgid_stats gives them. */
  const pgStats = new Map<number, { flow: { tp: Record<string, number>; rp: Record<string, number> }; latency: Record<string, unknown> }>();
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

  /**
   * tcpdump on a port, as the linux driver captures (lib/traffic/tcpdump.ts: a snapshot length and a buffer that
   * hold a burst), returned once it says it listens (or is gone, which its stop then says).
   */
  const tcpdump = async (iface: string, direction: 'in' | 'out', file: string, filter: string[]) => {
    const r = run('tcpdump', ['-i', iface, '-Q', direction, '-nn', '-s', '2048', '-B', '16384', '-U', '--immediate-mode', '-w', file, ...filter]);
    const ready = () => /listening on/.test(r.output()) || r.child.exitCode !== null;
    await waitUntil(`tcpdump on ${iface} to listen`, ready, { timeoutMs: 5000, intervalMs: 50 }).catch(orOnTimeout(() => undefined));
    return r;
  };

  /** The port's state once nothing runs on it any more. */
  const settle = (ps: PortState) => {
    if (ps.active.size === 0 && ps.pending === 0) ps.state = ps.streams.length > 0 ? 'STREAMS' : 'IDLE';
  };

  /** Sends with tcpreplay on a port: its state while it runs, its count once it ends (stopped at `stopAfterMs`, whatever it sent by then). */
  const send = (ps: PortState, state: PortState['state'], argv: string[], stopAfterMs?: number): Promise<{ packets: number }> => {
    const r = run('tcpreplay', ['-i', ps.iface, ...argv]);
    ps.state = state;
    ps.active.add(r.child);
    const timer = stopAfterMs === undefined ? undefined : setTimeout(() => r.child.kill('SIGINT'), stopAfterMs);
    return r.done.then((out) => {
      clearTimeout(timer);
      const s = sentBy(out);
      ps.opackets += s.packets;
      ps.obytes += s.bytes;
      ps.active.delete(r.child);
      settle(ps);
      return s;
    });
  };

  /**
   * A latency stream: its frames stamped with a sequence, captured as they
   * leave and as they come back on the other ports (a BPF filter on the
   * stamp), the one-way latency of each from the two capture times (one
   * box, one clock), kept for get_pgid_stats in TRex's shape.
   */
  const measureLatency = async (txId: number, ps: PortState, frame: Buffer, pps: number, pgId: number, durationS: number) => {
    ps.pending++;
    try {
      const count = Math.max(1, Math.round(pps * durationS));
      const frames = Array.from({ length: count }, (_, seq) => {
        const f = Buffer.from(frame);
        f.writeUInt32BE(LATENCY_MAGIC, f.length - 16);
        f.writeUInt32BE(pgId, f.length - 12);
        f.writeUInt32BE(seq, f.length - 8);
        f.writeUInt32BE(0, f.length - 4);
        return { data: f, timeUs: 0 };
      });
      const file = join(work, `latency-${pgId}.pcap`);
      writeFramesPcap(file, frames);
      const filter = `ether[len - 16:4] = ${LATENCY_MAGIC} and ether[len - 12:4] = ${pgId}`;
      const dumps = await Promise.all(
        [...ports].map(async ([id, p]) => {
          const out = join(work, `latency-${pgId}-${id}.pcap`);
          return { id, out, r: await tcpdump(p.iface, id === txId ? 'out' : 'in', out, [filter]) };
        }),
      );
      const sent = await send(ps, 'TX', [`--pps=${Math.max(1, Math.round(pps))}`, file], Math.round(durationS * 1000 * 1.05) + 100);
      // What is still in flight through the DUT arrives, then the captures stop.
      await new Promise((res) => setTimeout(res, 200));
      for (const d of dumps) d.r.child.kill('SIGINT');
      await Promise.all(dumps.map((d) => d.r.done));
      const times = async (f: string) => {
        const got: Array<{ seq: number; us: number }> = [];
        await readPcap(f, (data, us) => got.push({ seq: data.readUInt32BE(data.length - 8), us })).catch(() => undefined);
        return got;
      };
      const leftAt = new Map((await times(dumps.find((d) => d.id === txId)!.out)).map((x) => [x.seq, x.us]));
      const rp: Record<string, number> = {};
      const arrivals: Array<{ seq: number; us: number }> = [];
      for (const d of dumps.filter((x) => x.id !== txId)) {
        const got = await times(d.out);
        rp[String(d.id)] = got.length;
        arrivals.push(...got);
      }
      arrivals.sort((a, b) => a.us - b.us);
      pgStats.set(pgId, { flow: { tp: { [String(txId)]: sent.packets }, rp }, latency: latencyJson(arrivals, leftAt, sent.packets) });
      for (const d of dumps) rmSync(d.out, { force: true });
    } finally {
      ps.pending--;
      settle(ps);
    }
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
    ps.streams = [];
    ps.state = 'IDLE';
    return {};
  });
  server.method('add_stream', (p) => {
    const ps = ports.get(server.owned(p))!;
    const stream = p.stream as
      | {
          packet?: { binary?: string };
          mode?: { type?: string; rate?: { type?: string; value?: number } };
          flow_stats?: { enabled?: boolean; rule_type?: string; stream_id?: number };
        }
      | undefined;
    const frame = Buffer.from(stream?.packet?.binary ?? '', 'base64');
    if (frame.length < 14 || frame.length > 9216)
      throw new RpcFault(TREX_ERR.execute, `Bad packet size provided: ${frame.length}. Should be between 14 and 9216`);
    if (stream?.mode?.type !== 'continuous' || stream.mode.rate?.type !== 'pps')
      throw new RpcFault(TREX_ERR.execute, 'this server takes continuous streams at a pps rate only');
    const fs = stream.flow_stats;
    if (fs?.enabled && fs.rule_type !== 'latency')
      throw new RpcFault(TREX_ERR.execute, `this server measures flow statistics of rule type latency only, not ${fs.rule_type}`);
    if (fs?.enabled && frame.length < 42 + 16) throw new RpcFault(TREX_ERR.execute, 'a latency stream needs 16 bytes of payload for its stamp');
    ps.streams.push({ frame, pps: Number(stream.mode.rate.value), ...(fs?.enabled ? { latencyId: Number(fs.stream_id) } : {}) });
    ps.state = 'STREAMS';
    return {};
  });
  server.method('start_traffic', (p) => {
    const txId = server.owned(p);
    const ps = ports.get(txId)!;
    if (ps.streams.length === 0) throw new RpcFault(TREX_ERR.execute, 'start_traffic: no streams attached to port');
    if (ps.state === 'TX') throw new RpcFault(TREX_ERR.execute, 'start_traffic: port is already active');
    const mul = p.mul as { type?: string; op?: string; value?: number } | undefined;
    const duration = Number(p.duration);
    if ((mul?.type !== 'raw' && mul?.type !== 'pps') || mul.op !== 'abs' || !(Number(mul.value) > 0))
      throw new RpcFault(TREX_ERR.invalidParams, 'multiplier: raw or pps, abs, above zero');
    if (!(duration > 0)) throw new RpcFault(TREX_ERR.invalidParams, 'this server sends for a duration only');
    // raw: a factor on each stream's rate; pps: the port's total rate, shared in the streams' proportions.
    const total = ps.streams.reduce((n, x) => n + x.pps, 0);
    const factor = mul.type === 'raw' ? Number(mul.value) : Number(mul.value) / total;
    ps.streams.forEach((st, i) => {
      const pps = st.pps * factor;
      if (st.latencyId !== undefined) return void measureLatency(txId, ps, st.frame, pps, st.latencyId, duration);
      const file = join(work, `stream-${txId}-${i}.pcap`);
      writeFramesPcap(file, [{ data: st.frame, timeUs: 0 }]);
      const loops = Math.max(1, Math.round(pps * duration));
      // TRex sends for the duration, whatever it managed by then: a slow sender is short, not late.
      void send(ps, 'TX', [`--pps=${Math.round(pps)}`, `--loop=${loops}`, '--preload-pcap', file], Math.round(duration * 1000 * 1.05) + 100);
    });
    ps.state = 'TX';
    return { multiplier: factor };
  });
  server.method('stop_traffic', (p) => {
    const ps = ports.get(server.owned(p))!;
    for (const child of ps.active) child.kill('SIGINT');
    return {};
  });
  server.method('get_pgid_stats', (p) => {
    const ids = (p.pgids as number[] | undefined) ?? [...pgStats.keys()];
    const flow_stats: Record<string, unknown> = {};
    const latency: Record<string, unknown> = {};
    for (const id of ids) {
      const st = pgStats.get(id);
      if (!st) continue;
      flow_stats[String(id)] = st.flow;
      latency[String(id)] = st.latency;
    }
    return { flow_stats, latency, ver_id: {} };
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
      const r = await tcpdump(ps.iface, w.origin === 'TX' ? 'out' : 'in', file, filter);
      c.dumps.push({ proc: r.child, file, port: w.port, origin: w.origin, said: r.output });
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
