// The traffic generator: its two ports up, and the generator answering with
// its version (tcpreplay and tcpdump on a linux TG; the TRex server, through
// its RPC on a local forward, for a trex TG).
import { errorMessage } from '../errors.js';
import { topologyOf } from '../testbed/topology.js';
import { localForward, type Forwarder } from '../transport/forward.js';
import { shq } from '../transport/quote.js';
import { portStatus } from '../traffic/trex/port-modes.js';
import { TrexRpc } from '../traffic/trex/rpc.js';
import { fail, ok, warn, type AskingProbe, type CommandProbe, type ProbeContext } from './probe.js';

const linux = (c: ProbeContext) => (c.tb.tg.type === 'linux' ? null : `tg.type is ${c.tb.tg.type}`);
const trex = (c: ProbeContext) => (c.tb.tg.type === 'trex' ? null : `tg.type is ${c.tb.tg.type}`);

const linuxPorts: CommandProbe = {
  id: 'tg-ports',
  title: "the TG's two ports up",
  host: 'tg',
  notNeeded: linux,
  command: (c) => {
    const t = topologyOf(c.tb);
    return [t.tgTx, t.tgRx].map((p) => `echo "${p} $(cat /sys/class/net/${shq(p)}/operstate 2>/dev/null || echo absent)"`).join('; ');
  },
  judge: (r) => {
    const states = [...r.stdout.matchAll(/^(\S+) (\S+)$/gm)].map((m) => ({ port: m[1]!, state: m[2]! }));
    const said = states.map((s) => `${s.port} ${s.state}`).join(', ');
    const down = states.filter((s) => s.state !== 'up');
    if (down.length === 0) return ok(said);
    const absent = down.filter((s) => s.state === 'absent');
    if (absent.length > 0) return fail(said, `no such interface on the TG: ${absent.map((s) => s.port).join(', ')}; check phyPorts[].tgPort`);
    return fail(said, `ip link set dev ${down.map((s) => s.port).join(' up; ip link set dev ')} up, and check the cable to the DUT`);
  },
};

const linuxGenerator: CommandProbe = {
  id: 'generator',
  title: 'tcpreplay and tcpdump answer with their versions',
  host: 'tg',
  notNeeded: linux,
  command: () => 'tcpreplay --version 2>&1 | head -n 1; tcpdump --version 2>&1 | head -n 1',
  judge: (r) => {
    const replay = /tcpreplay version: (\S+)/.exec(r.stdout)?.[1];
    const dump = /tcpdump version (\S+)/.exec(r.stdout)?.[1];
    if (replay && dump) return ok(`tcpreplay ${replay}, tcpdump ${dump}`);
    return fail(`tcpreplay ${replay ?? 'missing'}, tcpdump ${dump ?? 'missing'}`, 'apt-get install tcpreplay tcpdump');
  },
};

const trexServer: AskingProbe = {
  id: 'generator',
  title: 'the TRex server answers, with its version and its ports up, free and as a run needs them (not left in service mode)',
  host: 'tg',
  notNeeded: trex,
  ask: async (shell, c, transcript) => {
    const x = c.tb.tg.trex!;
    const where = `${x.server.address}:${x.server.port}`;
    const fix = `start TRex in stateless mode on the TG (./t-rex-64 -i) listening on ${where}, or correct tg.trex.server`;
    if (!shell.forwardOut) return fail('the TG is not reached over SSH: nothing can be forwarded to TRex', 'reach the TG over SSH (hosts.tg)');
    const fwd = await localForward(shell as Forwarder, x.server.address, x.server.port);
    const rpc = new TrexRpc({
      endpoint: `tcp://127.0.0.1:${fwd.port}`,
      name: `TRex on the TG (${where} there)`,
      callTimeoutMs: Math.min(x.callTimeoutMs, 3000),
      ...(transcript ? { transcript } : {}),
    });
    try {
      await rpc.connect();
      const v = await rpc.call<{ version?: string }>('get_version');
      const down: string[] = [];
      const owned: string[] = [];
      const left: string[] = [];
      for (const [role, port] of Object.entries(x.ports)) {
        const st = await portStatus(rpc, port);
        if (!st.linkUp) down.push(`port ${port} (${role})`);
        if (st.owner) owned.push(`port ${port} (${role}) held by '${st.owner}'`);
        if (st.service) left.push(`port ${port} (${role}) in service mode`);
        if (st.promiscuous) left.push(`port ${port} (${role}) promiscuous`);
      }
      const said = [`TRex ${v.version ?? '?'} at ${where}, STL API answered`, ...owned, ...left].join('; ');
      if (down.length > 0)
        return fail(`${said}; link down: ${down.join(', ')}`, "check the TG ports' cables and TRex's port configuration (/etc/trex_cfg.yaml)");
      if (owned.length > 0)
        return warn(said, "a run takes no port by force: wait for that user to release it (dutlab takes back only its own, under the lab's lease)");
      if (left.length > 0) return warn(said, 'a run turns service mode off and puts promiscuity back as it found it: whoever left them so may expect them so');
      return ok(said);
    } catch (e) {
      return fail(errorMessage(e), fix);
    } finally {
      rpc.close();
      await fwd.close();
    }
  },
};

export const TG_PROBES = [linuxPorts, linuxGenerator, trexServer];
