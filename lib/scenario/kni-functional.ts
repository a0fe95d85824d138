// The KNI functional suite's cases (DPDK's kni_test_plan.rst, without the
// legacy DTS's defects: no always-true check, no swallowed error, no sleep):
// the guest's vEth interfaces judged in their own right, whatever the profile
// puts behind them (KNI, veth, the tap PMD). Each case restores what it
// changed. Traffic goes through the TG's measuring face: a short burst of the
// stream at a low rate, its frames counted where they arrive.
import { join } from 'node:path';
import { CheckFailure } from '../errors.js';
import { parseIpJson, type IpLink } from '../parsers/net.js';
import { shq } from '../transport/quote.js';
import type { RunResult } from '../transport/shell.js';
import { measuringTrafficGenerator } from '../traffic/drivers.js';
import { writeStreamPcap } from '../traffic/pcap.js';
import { streamFromTestbed } from '../traffic/stream.js';
import type { MeasuringTrafficGenerator, TrialResult } from '../traffic/tg.js';
import type { LabRun, Stage } from './lab-run.js';

/** Frames a case sends, and how fast: few and slow, so that a lost one is the DUT's. */
const BURST = { frames: 100, rate: 1000 };
/** The MTU case's MTU (DPDK's test plan uses 1300 on vEth_port33... here the egress vEth). */
const TEST_MTU = 1300;
const ANY_EXIT = Array.from({ length: 256 }, (_, i) => i);
/** Ethernet header and FCS around an IP packet on the wire. */
const L2 = 18;

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

  constructor(private readonly run: LabRun) {
    run.teardown.defer('traffic generator', async () => {
      await this.tg?.cleanup();
    });
  }

  stages(): Stage[] {
    const done = this.run.setupDone;
    const c = (id: string, title: string, f: () => Promise<void>): Stage => ({ id, title, group: 'checks', needs: ['kni.prepare'], run: f });
    const { vmIngress, vmEgress } = this.run.topology;
    return [
      { id: 'kni.prepare', title: 'Prepare the traffic generator for the cases', group: 'traffic', needs: [done], run: () => this.prepare() },
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
    await this.run.session.connect('tg');
    this.tg = measuringTrafficGenerator(this.run.session.shell('tg'), this.run.tb, this.run.config.runId);
    await this.run.runHookBeforeTraffic();
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

  private guest(line: string, ok: number[] = [0]): Promise<RunResult> {
    return this.run.session.shell('guest').run(line, { okExitCodes: ok });
  }

  private async links(): Promise<IpLink[]> {
    return parseIpJson((await this.guest('ip -s -j addr')).stdout);
  }

  private async statistics(): Promise<void> {
    const name = this.run.topology.vmIngress.guestIf;
    const before = (await this.linkOf(name)).stats?.rxPackets ?? 0;
    const r = await this.burst();
    const after = (await this.linkOf(name)).stats?.rxPackets ?? 0;
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
      const before = await this.linkOf(k.guestIf);
      if (!before.addrs.some((a) => a.family === 'inet' && `${a.local}/${a.prefixlen}` === k.cidr))
        problems.push(`${k.guestIf} lacks its testbed address ${k.cidr} (has ${before.addrs.map((a) => `${a.local}/${a.prefixlen}`).join(', ') || 'none'})`);
      // IPv6 may be off on the interface (the virtual lab turns it off to keep its counters to the stream): on for the case only.
      const sysctl = `net.ipv6.conf.${k.guestIf}.disable_ipv6`;
      const off = (await this.guest(`sysctl -n ${shq(sysctl)}`)).stdout.trim() === '1';
      const ll = `${KniFunctionalTest.LINK_LOCAL}/64`;
      try {
        if (off) await this.guest(`sysctl -qw ${shq(`${sysctl}=0`)}`);
        await this.guest(`ip -6 addr add ${ll} dev ${shq(k.guestIf)}`);
        const added = (await this.linkOf(k.guestIf)).addrs.some((a) => a.family === 'inet6' && a.local === KniFunctionalTest.LINK_LOCAL);
        if (!added) problems.push(`${k.guestIf} does not show ${ll} after ip -6 addr add`);
        await this.guest(`ip -6 addr del ${ll} dev ${shq(k.guestIf)}`);
        const gone = !(await this.linkOf(k.guestIf)).addrs.some((a) => a.local === KniFunctionalTest.LINK_LOCAL);
        if (!gone) problems.push(`${k.guestIf} still shows ${ll} after ip -6 addr del`);
      } finally {
        await this.guest(`ip -6 addr del ${ll} dev ${shq(k.guestIf)}`, ANY_EXIT);
        if (off) await this.guest(`sysctl -qw ${shq(`${sysctl}=1`)}`);
      }
    }
    CheckFailure.ifAny('addresses', problems);
  }

  /** The guest's IPv4 state to restore after a link has been down: its addresses, the default route, the static ARP entry. */
  private async restoreGuest(): Promise<void> {
    const t = this.run.tb;
    for (const k of t.vmPorts) {
      const l = await this.linkOf(k.guestIf);
      if (!l.addrs.some((a) => a.family === 'inet' && `${a.local}/${a.prefixlen}` === k.cidr)) await this.guest(`ifconfig ${shq(k.guestIf)} ${k.cidr} up`);
    }
    const egress = shq(this.run.topology.vmEgress.guestIf);
    await this.guest(`ip route replace default via ${t.gateway.ip} dev ${egress}`);
    await this.guest(`ip neigh replace ${t.gateway.ip} lladdr ${t.gateway.mac} dev ${egress} nud permanent`);
  }

  private async linkCase(): Promise<void> {
    const problems: string[] = [];
    try {
      for (const k of this.run.tb.vmPorts) {
        await this.guest(`ifconfig ${shq(k.guestIf)} down`);
        const down = await this.linkOf(k.guestIf);
        if (down.flags.includes('UP')) problems.push(`${k.guestIf} is still UP after ifconfig down (${down.flags.join(',')})`);
        await this.guest(`ifconfig ${shq(k.guestIf)} up`);
        const up = await this.waitRunning(k.guestIf);
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

  private async linkOf(name: string): Promise<IpLink> {
    const l = (await this.links()).find((x) => x.name === name);
    if (!l) throw new CheckFailure('link', `the guest has no interface ${name}`);
    return l;
  }

  /** RUNNING comes with the carrier, a moment after UP: polled, bounded. */
  private async waitRunning(name: string): Promise<IpLink> {
    const deadline = Date.now() + 3000;
    let l = await this.linkOf(name);
    while (!l.flags.includes('LOWER_UP') && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
      l = await this.linkOf(name);
    }
    return l;
  }

  private async icmpOutDestUnreachs(): Promise<number> {
    const text = (await this.guest('cat /proc/net/snmp')).stdout;
    const lines = text.split('\n').filter((l) => l.startsWith('Icmp:'));
    const [names, values] = [lines[0]?.split(/\s+/) ?? [], lines[1]?.split(/\s+/) ?? []];
    const i = names.indexOf('OutDestUnreachs');
    if (i < 0) throw new CheckFailure('mtu', `the guest's /proc/net/snmp has no Icmp OutDestUnreachs`);
    return Number(values[i]);
  }

  private async mtu(): Promise<void> {
    const name = this.run.topology.vmEgress.guestIf;
    const original = (await this.linkOf(name)).mtu ?? 1500;
    const problems: string[] = [];
    try {
      await this.guest(`ifconfig ${shq(name)} mtu ${TEST_MTU}`);
      const now = (await this.linkOf(name)).mtu;
      if (now !== TEST_MTU) problems.push(`${name}'s MTU reads ${now} after ifconfig mtu ${TEST_MTU}`);
      const fits = await this.burst(TEST_MTU + L2);
      if (fits.received !== fits.sent)
        problems.push(`${fits.received} of ${fits.sent} ${TEST_MTU}-byte DF packets were forwarded through ${name} (MTU ${TEST_MTU}): all should be`);
      const icmpBefore = await this.icmpOutDestUnreachs();
      const big = await this.burst(TEST_MTU + 1 + L2);
      const icmp = (await this.icmpOutDestUnreachs()) - icmpBefore;
      if (big.received !== 0)
        problems.push(`${big.received} of ${big.sent} ${TEST_MTU + 1}-byte DF packets went out of ${name} (MTU ${TEST_MTU}): none should`);
      if (icmp < 1) problems.push(`the guest sent no ICMP "fragmentation needed" for ${big.sent} ${TEST_MTU + 1}-byte DF packets`);
    } finally {
      await this.guest(`ifconfig ${shq(name)} mtu ${original}`);
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
        const r = await this.guest(['ethtool', opt, shq(k.guestIf)].filter(Boolean).join(' '), ANY_EXIT);
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
