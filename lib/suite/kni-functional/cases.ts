// The KNI functional suite's cases (DPDK's kni_test_plan.rst, without the
// legacy DTS's defects: no always-true check, no swallowed error, no sleep):
// the guest's vEth interfaces judged in their own right, whatever the profile
// puts behind them (KNI, veth, the tap PMD). Each case restores what it
// changed. Traffic goes through the TG's measuring face: a short burst of the
// stream at a low rate, its frames counted where they arrive.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CaptureError, CheckFailure } from '../../errors.js';
import { parseIpJson, parseNeighbours, parsePingSummary, type IpLink } from '../../parsers/net.js';
import { parseDumpFlows } from '../../parsers/ovs.js';
import { stateChanges } from '../../verify/state.js';
import type { Topology } from '../../testbed/topology.js';
import { shq } from '../../transport/quote.js';
import { ANY_EXIT, type CommandResult } from '../../transport/shell.js';
import { FRAME_KINDS, kindOf, mixedPcap, type FrameKind } from '../../traffic/frames.js';
import { writeStreamPcap } from '../../traffic/pcap.js';
import { streamFromTestbed } from '../../traffic/stream.js';
import type { MeasuringTrafficGenerator, TrialResult } from '../../traffic/tg.js';
import type { LabRun, Stage } from '../../scenario/lab-run.js';
import { Teardown } from '../../scenario/teardown.js';
import { GuestLinks } from './guest.js';
import { hostAddressIn, SUITE_FLOW_PRIORITY, type SuiteFlow } from './values.js';

/** Frames a case sends, and how fast: few and slow, so that a lost one is the DUT's. */
const BURST = { frames: 100, rate: 1000 };
/** The MTU case's MTU (DPDK's test plan uses 1300 on vEth_port33... here the egress vEth). */
const TEST_MTU = 1300;
/** Ethernet header and FCS around an IP packet on the wire. */
const L2 = 18;

/** Frames of each kind the capture case sends. */
const PER_KIND = 20;
/** Echo requests per ping, and how long to wait for the last reply. */
const PINGS = 3;

export interface EthtoolAnswer {
  command: string;
  supported: boolean;
  output: string;
}

export class KniFunctionalTest {
  private tg: MeasuringTrafficGenerator | null = null;
  /** The frame size whose trial pcap the generator holds now. */
  private loaded = 0;
  readonly ethtool: Record<string, EthtoolAnswer[]> = {};
  /** The guest's vEths: commands, their state, captures on them. */
  private readonly g: GuestLinks;

  constructor(
    private readonly run: LabRun,
    /** The flows the suite adds for its cases (its file lists them). */
    private readonly flows: (t: Topology) => SuiteFlow[] = () => [],
  ) {
    this.g = new GuestLinks(run);
  }

  stages(): Stage[] {
    const done = this.run.setupDone;
    // Each case that changes the lab must leave it as it found it: read before and after, compared.
    const c = (id: string, title: string, f: () => Promise<void>): Stage => ({
      id,
      title,
      group: 'checks',
      needs: ['kni.prepare'],
      run: () => this.restoring(id, f),
    });
    const { vmIngress, vmEgress } = this.run.topology;
    return [
      { id: 'kni.prepare', title: 'Prepare the traffic generator for the cases', group: 'traffic', needs: [done], run: () => this.prepare() },
      c('kni.ping', `ping: TG and guest ping each other across both vEth links, ARP resolved on the wire; a wrong address gets 100 % loss`, () => this.ping()),
      c(
        'kni.capture',
        `capture: tcpdump on ${vmIngress.guestIf} sees exactly the ${PER_KIND} frames of each kind the TG sent (UDP, TCP, ICMP, raw Ethernet)`,
        () => this.capture(),
      ),
      c('kni.statistics', `statistics: ${vmIngress.guestIf}'s RX counter rises by exactly the frames sent`, () => this.statistics()),
      c('kni.addresses', 'addresses: each vEth has its testbed IPv4 address; an IPv6 link-local one is added and removed', () => this.addresses()),
      c('kni.link', 'link: each vEth down, then up and RUNNING again, and the stream still crosses the guest', () => this.linkCase()),
      c(
        'kni.mtu',
        `MTU: ${vmEgress.guestIf} at ${TEST_MTU}: ${TEST_MTU}-byte DF packets forwarded, ${TEST_MTU + 1}-byte ones not (fragmentation needed sent back)`,
        () => this.mtu(),
      ),
      // No traffic: it needs only the setup (and runs on a lab whose generator is down).
      {
        id: 'kni.ethtool',
        title: 'ethtool: settings, driver, statistics and offloads answer, or are recorded unsupported by the driver',
        group: 'checks',
        needs: [done],
        run: () => this.ethtoolCase(),
      },
    ];
  }

  private async prepare(): Promise<void> {
    this.tg = await this.run.trafficGenerator();
    await this.addFlows();
    await this.run.runHookBeforeTraffic();
  }

  /** ovs-ofctl on the DUT host as the profile invokes it, with its environment: its output. */
  private async hostOfctl(args: string): Promise<string> {
    const p = this.run.profile;
    const s = this.run.session;
    return (await s.runCmd(s.shell('host'), { line: `${p.tool('ovs-ofctl')} ${args}`, ...p.hostContext(this.run.tb) })).stdout;
  }

  /** The suite's flows, in the guide's add-flow form; removed exactly, whatever happens, before the setup is undone. */
  private async addFlows(): Promise<void> {
    const flows = this.flows(this.run.topology);
    const bridge = shq(this.run.tb.bridge);
    const match = (f: SuiteFlow) => `priority=${SUITE_FLOW_PRIORITY},${f.match}`;
    this.run.teardown.defer('suite flows', async () => {
      if (!this.run.session.connected('host')) return;
      for (const f of flows) await this.hostOfctl(`--strict del-flows ${bridge} ${match(f)}`);
    });
    for (const f of flows) await this.hostOfctl(`add-flow ${bridge} ${match(f)},idle_timeout=0,action=output:${f.output}`);
  }

  /** A burst of the stream at one frame size (on the wire, FCS included). */
  private async burst(frame = 64): Promise<TrialResult> {
    if (this.loaded !== frame) {
      const file = join(this.run.dir, `kni-${frame}.pcap`);
      const spec = streamFromTestbed(this.run.tb, 2, { count: BURST.frames, sizes: [frame] });
      writeStreamPcap(file, spec);
      await this.tg!.prepareTrials(file, spec.count);
      this.loaded = frame;
    }
    return this.tg!.measure({ rate: BURST.rate, durationS: BURST.frames / BURST.rate, frame });
  }

  /**
   * The state the cases may touch, as lines: the guest's vEths (flags, MTU,
   * addresses), routes, neighbours and IPv6 switches; the TG's ports
   * (addresses, neighbours); the flow table (without its counters).
   */
  private async labState(): Promise<Record<string, string[]>> {
    const t = this.run.topology;
    const vEths = this.run.tb.vmPorts.map((k) => k.guestIf);
    const addrs = (l: IpLink) => l.addrs.map((a) => `${a.local}/${a.prefixlen}`).sort();
    const guestLinks = (await this.g.links()).filter((l) => vEths.includes(l.name));
    const neigh = (text: string, devs?: string[]) =>
      parseNeighbours(text)
        .filter((n) => !devs || devs.includes(n.dev))
        .map((n) => `${n.ip} dev ${n.dev} ${n.mac ?? '(none)'}${n.permanent ? ' permanent' : ''}`);
    const tgPorts = [t.tgTx, t.tgRx];
    const tgLinks = parseIpJson((await this.tgShell(`ip -j addr show`)).stdout).filter((l) => tgPorts.includes(l.name));
    const flows = parseDumpFlows(await this.hostOfctl(`dump-flows ${shq(this.run.tb.bridge)}`));
    return {
      'guest vEths': guestLinks.map((l) => `${l.name} mtu ${l.mtu} ${[...l.flags].sort().join(',')} ${addrs(l).join(' ')}`),
      'guest routes': (await this.g.run('ip -4 route show')).stdout.split('\n').filter((l) => l.trim() !== ''),
      'guest neighbours': neigh((await this.g.run('ip -j neigh show')).stdout),
      'guest IPv6 switches': (await this.g.run(vEths.map((v) => `sysctl ${shq(`net.ipv6.conf.${v}.disable_ipv6`)}`).join('; '))).stdout
        .split('\n')
        .filter(Boolean),
      'TG ports': tgLinks.map((l) => `${l.name} ${addrs(l).join(' ')}`),
      'TG neighbours': neigh((await this.tgShell('ip -j neigh show')).stdout, tgPorts),
      flows: flows.map((f) => `${f.match} actions=${f.actions}`),
    };
  }

  private async restoring(id: string, f: () => Promise<void>): Promise<void> {
    const before = await this.labState();
    const outcome = await f().then(
      () => null,
      (err: unknown) => err,
    );
    // After a failed case, what the case said matters more than a reading that fails too.
    const after = await this.labState().catch((err: unknown) => {
      if (outcome !== null) return null;
      throw err;
    });
    const changes = after ? stateChanges(before, after) : [];
    const left = `${id} left the lab changed: ${changes.join(' | ')}`;
    if (outcome !== null) {
      // A case that failed says why it failed; that it also left the lab changed is noted.
      if (changes.length > 0) this.run.note(left);
      throw outcome;
    }
    if (changes.length > 0) throw new CheckFailure('restore', left);
  }

  private tgShell(line: string, ok: number[] = [0]): Promise<CommandResult> {
    return this.run.session.shell('tg').run(line, { okExitCodes: ok });
  }

  private async pingFrom(where: 'tg' | 'guest', dev: string, to: string): Promise<{ transmitted: number; received: number }> {
    const line = `ping -c ${PINGS} -i 0.2 -W 2 -I ${shq(dev)} ${to}`;
    // 1: no reply (what the negative case wants); 2: another error, which parsing then names.
    const r = where === 'tg' ? await this.tgShell(line, [0, 1, 2]) : await this.g.run(line, [0, 1, 2]);
    return parsePingSummary(r.stdout);
  }

  /**
   * Each side of the guest: the TG's port gets an address in the vEth's
   * subnet; the TG pings the vEth's address (ARP and ICMP cross the switch by
   * the suite's flows), the guest pings the TG back, the TG's ARP entry is the
   * vEth's MAC learnt on the wire; an address nobody has gets no reply. Then
   * the addresses and the learnt entries are removed.
   */
  private async ping(): Promise<void> {
    const t = this.run.topology;
    const problems: string[] = [];
    // What the case sets up, undone last first when it ends, whatever happened.
    const scope = new Teardown();
    try {
      for (const [tgPort, vm] of [
        [t.tgTx, t.vmIngress],
        [t.tgRx, t.vmEgress],
      ] as const) {
        const vmIp = vm.cidr.split('/')[0]!;
        const tgIp = hostAddressIn(vm.cidr, [t.gateway.ip]);
        const nobody = hostAddressIn(vm.cidr, [t.gateway.ip, tgIp], true);
        const tgCidr = `${tgIp}/${vm.cidr.split('/')[1]}`;
        await scope.use(
          `the TG's address on ${tgPort}`,
          () => this.tgShell(`ip addr add ${tgCidr} dev ${shq(tgPort)}`),
          async () => void (await this.tgShell(`ip addr del ${tgCidr} dev ${shq(tgPort)}`, [0, 2])),
        );
        // The entries the pings will teach either side.
        scope.defer(`the TG's neighbours on ${tgPort}`, async () => {
          await this.tgShell(`ip neigh del ${vmIp} dev ${shq(tgPort)}; ip neigh del ${nobody} dev ${shq(tgPort)}`, [0, 2]);
        });
        scope.defer(`the guest's neighbour on ${vm.guestIf}`, async () => void (await this.g.run(`ip neigh del ${tgIp} dev ${shq(vm.guestIf)}`, [0, 2])));
        const there = await this.pingFrom('tg', tgPort, vmIp);
        if (there.received < there.transmitted)
          problems.push(`TG ${tgPort} (${tgIp}) -> guest ${vm.guestIf} (${vmIp}): ${there.received} of ${there.transmitted} echo replies`);
        // `ip -j neigh show dev X` leaves "dev" out: the whole table, then this port's entry.
        const learnt = parseNeighbours((await this.tgShell('ip -j neigh show')).stdout).find((n) => n.ip === vmIp && n.dev === tgPort);
        if (!learnt?.mac) problems.push(`TG ${tgPort} has no ARP entry for ${vmIp}: ARP was not resolved on the wire`);
        else if (learnt.mac !== vm.mac.toLowerCase())
          problems.push(`TG ${tgPort} learnt ${learnt.mac} for ${vmIp}, not ${vm.guestIf}'s ${vm.mac.toLowerCase()}`);
        else if (learnt.permanent) problems.push(`TG ${tgPort}'s entry for ${vmIp} is a static one, not learnt on the wire`);
        const back = await this.pingFrom('guest', vm.guestIf, tgIp);
        if (back.received < back.transmitted)
          problems.push(`guest ${vm.guestIf} (${vmIp}) -> TG ${tgPort} (${tgIp}): ${back.received} of ${back.transmitted} echo replies`);
        const wrong = await this.pingFrom('tg', tgPort, nobody);
        if (wrong.received > 0) problems.push(`TG ${tgPort} -> ${nobody}, an address nobody has: ${wrong.received} replies, expected 100 % loss`);
      }
    } finally {
      problems.push(...(await scope.run()).map((p) => `could not undo ${p}`));
    }
    CheckFailure.ifAny('ping', problems);
  }

  /**
   * The TG sends PER_KIND frames of each kind toward the ingress vEth (the
   * stream's addresses: the guide's flow carries IP of any protocol, the
   * suite's flow the raw frames); tcpdump on the vEth, filtered by the TG's
   * MAC, must see each exactly. A capture that dropped is the lab's, not the DUT's.
   */
  private async capture(): Promise<void> {
    const vm = this.run.topology.vmIngress;
    const spec = streamFromTestbed(this.run.tb, 2, { count: PER_KIND * FRAME_KINDS.length, rate: BURST.rate });
    const local = join(this.run.dir, 'kni-capture-sent.pcap');
    writeFileSync(local, mixedPcap(spec, PER_KIND));
    const from = spec.srcMac.toLowerCase();
    const frames = await this.g.capturing(vm.guestIf, 'in', `ether src ${from}`, `kni-capture-${vm.guestIf}`, async () => {
      await this.tg!.prepareTrials(local, spec.count);
      this.loaded = 0;
      const r = await this.tg!.measure({ rate: BURST.rate, durationS: spec.count / BURST.rate, frame: 64 });
      if (r.sent !== spec.count) throw new CaptureError(`the generator sent ${r.sent} of the ${spec.count} frames of the capture case`);
    });
    const seen = Object.fromEntries(FRAME_KINDS.map((k) => [k, 0])) as Record<FrameKind, number>;
    for (const f of frames) {
      const k = kindOf(f);
      if (k) seen[k] += 1;
    }
    const wrong = FRAME_KINDS.filter((k) => seen[k] !== PER_KIND);
    if (wrong.length > 0)
      throw new CheckFailure(
        'capture',
        `tcpdump on ${vm.guestIf} (ether src ${from}) saw ${FRAME_KINDS.map((k) => `${seen[k]} ${k}`).join(', ')} frames; the TG sent ${PER_KIND} of each: ${wrong.join(', ')} ${wrong.length === 1 ? 'is' : 'are'} off`,
      );
  }

  private async statistics(): Promise<void> {
    const name = this.run.topology.vmIngress.guestIf;
    const before = (await this.g.linkOf(name)).stats?.rxPackets ?? 0;
    const r = await this.burst();
    const after = (await this.g.linkOf(name)).stats?.rxPackets ?? 0;
    const rose = after - before;
    // The virtual lab's links carry nothing else (no IPv6, static ARP); a real lab's slack is the testbed's.
    const slack = this.run.tb.verify.counterSlack;
    if (rose < r.sent || rose > r.sent + slack)
      throw new CheckFailure(
        'statistics',
        `${name}'s RX counter rose by ${rose} while the TG sent ${r.sent} frames toward it${slack ? ` (slack ${slack})` : ''}`,
      );
  }

  /** The link-local address the case adds: fe80::/64 with the interface's MAC in it would collide with the kernel's own; this one is the suite's. */
  private static readonly LINK_LOCAL = 'fe80::d17:1';

  private async addresses(): Promise<void> {
    const problems: string[] = [];
    for (const k of this.run.tb.vmPorts) {
      const before = await this.g.linkOf(k.guestIf);
      if (!before.addrs.some((a) => a.family === 'inet' && `${a.local}/${a.prefixlen}` === k.cidr))
        problems.push(`${k.guestIf} lacks its testbed address ${k.cidr} (has ${before.addrs.map((a) => `${a.local}/${a.prefixlen}`).join(', ') || 'none'})`);
      // IPv6 may be off on the interface (the virtual lab turns it off to keep its counters to the stream): on for the case only.
      const sysctl = `net.ipv6.conf.${k.guestIf}.disable_ipv6`;
      const off = (await this.g.run(`sysctl -n ${shq(sysctl)}`)).stdout.trim() === '1';
      const ll = `${KniFunctionalTest.LINK_LOCAL}/64`;
      try {
        if (off) await this.g.run(`sysctl -qw ${shq(`${sysctl}=0`)}`);
        await this.g.run(`ip -6 addr add ${ll} dev ${shq(k.guestIf)}`);
        const added = (await this.g.linkOf(k.guestIf)).addrs.some((a) => a.family === 'inet6' && a.local === KniFunctionalTest.LINK_LOCAL);
        if (!added) problems.push(`${k.guestIf} does not show ${ll} after ip -6 addr add`);
        await this.g.run(`ip -6 addr del ${ll} dev ${shq(k.guestIf)}`);
        const gone = !(await this.g.linkOf(k.guestIf)).addrs.some((a) => a.local === KniFunctionalTest.LINK_LOCAL);
        if (!gone) problems.push(`${k.guestIf} still shows ${ll} after ip -6 addr del`);
      } finally {
        await this.g.run(`ip -6 addr del ${ll} dev ${shq(k.guestIf)}`, ANY_EXIT);
        if (off) await this.g.run(`sysctl -qw ${shq(`${sysctl}=1`)}`);
      }
    }
    CheckFailure.ifAny('addresses', problems);
  }

  /** The guest's IPv4 state to restore after a link has been down: its addresses, the default route, the static ARP entry. */
  private async restoreGuest(): Promise<void> {
    const t = this.run.tb;
    for (const k of t.vmPorts) {
      const l = await this.g.linkOf(k.guestIf);
      if (!l.addrs.some((a) => a.family === 'inet' && `${a.local}/${a.prefixlen}` === k.cidr)) await this.g.run(`ifconfig ${shq(k.guestIf)} ${k.cidr} up`);
    }
    const egress = shq(this.run.topology.vmEgress.guestIf);
    await this.g.run(`ip route replace default via ${t.gateway.ip} dev ${egress}`);
    await this.g.run(`ip neigh replace ${t.gateway.ip} lladdr ${t.gateway.mac} dev ${egress} nud permanent`);
  }

  private async linkCase(): Promise<void> {
    const problems: string[] = [];
    try {
      for (const k of this.run.tb.vmPorts) {
        await this.g.run(`ifconfig ${shq(k.guestIf)} down`);
        const down = await this.g.linkOf(k.guestIf);
        if (down.flags.includes('UP')) problems.push(`${k.guestIf} is still UP after ifconfig down (${down.flags.join(',')})`);
        await this.g.run(`ifconfig ${shq(k.guestIf)} up`);
        const up = await this.g.waitRunning(k.guestIf);
        if (!up.flags.includes('UP')) problems.push(`${k.guestIf} is not UP after ifconfig up (${up.flags.join(',')})`);
        else if (!up.flags.includes('LOWER_UP')) problems.push(`${k.guestIf} is UP but not RUNNING after ifconfig up: no carrier (${up.flags.join(',')})`);
      }
    } finally {
      await this.restoreGuest();
    }
    const r = await this.burst();
    if (r.received !== r.sent) problems.push(`after the links went down and up, ${r.received} of ${r.sent} frames crossed the guest`);
    CheckFailure.ifAny('link', problems);
  }

  private async mtu(): Promise<void> {
    const name = this.run.topology.vmEgress.guestIf;
    const original = (await this.g.linkOf(name)).mtu ?? 1500;
    const problems: string[] = [];
    try {
      await this.g.run(`ifconfig ${shq(name)} mtu ${TEST_MTU}`);
      const now = (await this.g.linkOf(name)).mtu;
      if (now !== TEST_MTU) problems.push(`${name}'s MTU reads ${now} after ifconfig mtu ${TEST_MTU}`);
      const fits = await this.burst(TEST_MTU + L2);
      if (fits.received !== fits.sent)
        problems.push(`${fits.received} of ${fits.sent} ${TEST_MTU}-byte DF packets were forwarded through ${name} (MTU ${TEST_MTU}): all should be`);
      // The guest's answer, seen on the wire: ICMP destination unreachable, fragmentation needed (3/4), toward the
      // stream's source by the guest's default route, with the next-hop MTU in it (RFC 1191).
      // What leaves the vEth is judged there, not at the TG: the suite's ICMP flows carry the guest's answers to the TG too.
      let big: TrialResult | undefined;
      const { srcIp, dstIp } = this.run.tb.traffic;
      const out = await this.g.capturing(name, 'out', `(udp and dst host ${dstIp}) or (icmp and icmp[0] == 3 and icmp[1] == 4)`, 'kni-mtu-out', async () => {
        big = await this.burst(TEST_MTU + 1 + L2);
      });
      const src = srcIp;
      const icmp = out.filter((f) => kindOf(f) === 'ICMP');
      const leaked = out.filter((f) => kindOf(f) === 'UDP').length;
      const toSource = icmp.filter((f) => f.length >= 42 && [...f.subarray(30, 34)].join('.') === src);
      const mtus = [...new Set(toSource.map((f) => f.readUInt16BE(40)))];
      if (leaked !== 0) problems.push(`${leaked} of ${big!.sent} ${TEST_MTU + 1}-byte DF packets went out of ${name} (MTU ${TEST_MTU}): none should`);
      if (toSource.length === 0)
        problems.push(`no ICMP "fragmentation needed" toward ${src} left ${name} for ${big!.sent} ${TEST_MTU + 1}-byte DF packets (${icmp.length} to anyone)`);
      else if (mtus.some((m) => m !== TEST_MTU))
        problems.push(`the guest's ICMP "fragmentation needed" gave a next-hop MTU of ${mtus.join(', ')}, not ${TEST_MTU}`);
    } finally {
      await this.g.run(`ifconfig ${shq(name)} mtu ${original}`);
    }
    CheckFailure.ifAny('mtu', problems);
  }

  /**
   * ethtool's four questions. What the driver does not support is recorded
   * as such with the driver's name (the KNI programmer's guide: no ethtool
   * for KNI in a VM), never passed off as checked; what fails otherwise, fails.
   */
  private async ethtoolCase(): Promise<void> {
    const problems: string[] = [];
    const notes: string[] = [];
    for (const k of this.run.tb.vmPorts) {
      const answers: EthtoolAnswer[] = [];
      for (const opt of ['', '-i', '-S', '-k']) {
        const command = `ethtool ${opt ? `${opt} ` : ''}${k.guestIf}`;
        // Any exit: what it printed says whether the driver lacks the operation or something else broke.
        const r = await this.g.run(['ethtool', opt, shq(k.guestIf)].filter(Boolean).join(' '), ANY_EXIT);
        const unsupported = r.exitCode !== 0 && /Operation not supported|no stats available|No data available/i.test(r.stderr + r.stdout);
        if (r.exitCode !== 0 && !unsupported) problems.push(`${command} failed (exit ${r.exitCode}): ${(r.stderr || r.stdout).trim().split('\n')[0]}`);
        answers.push({ command, supported: r.exitCode === 0, output: r.stdout });
      }
      this.ethtool[k.guestIf] = answers;
      const driver = /^driver: (\S+)/m.exec(answers.find((a) => a.command.includes(' -i '))?.output ?? '')?.[1] ?? 'not named: ethtool -i is not supported';
      const no = answers.filter((a) => !a.supported).map((a) => a.command);
      if (no.length > 0) notes.push(`${k.guestIf} (driver ${driver}): not supported: ${no.join(', ')}`);
      if (answers.every((a) => a.supported) && !/^driver: /m.test(answers[1]!.output)) problems.push(`ethtool -i ${k.guestIf} named no driver`);
    }
    for (const n of notes) this.run.note(`ethtool: ${n}`);
    this.run.table({
      title: 'ethtool on the guest',
      columns: ['command', 'answer'],
      rows: Object.values(this.ethtool).flatMap((as) => as.map((a) => [a.command, a.supported ? 'answered' : 'not supported by the driver'])),
    });
    CheckFailure.ifAny('ethtool', problems);
  }
}
