// The `linux` traffic generator against the virtual lab's TG (OpenSSH in its
// namespace), where things go wrong: a port that is not there, nothing coming
// back, a run cut short. Each failure is an infrastructure error that names
// what and where, and the TG is left with no tcpdump and no pcap of the run.
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CommandError, failureKind } from '../../lib/errors.js';
import { virtual } from '../../lib/profiles/virtual.profile.js';
import { Session } from '../../lib/scenario/session.js';
import { loadTestbed } from '../../lib/testbed/load.js';
import type { Testbed } from '../../lib/testbed/schema.js';
import { seenInCapture } from '../../lib/traffic/latency-stream.js';
import { phasedTimes, readPcap, writeStreamPcap } from '../../lib/traffic/pcap.js';
import { streamFromTestbed } from '../../lib/traffic/stream.js';
import { LinuxTrafficGenerator } from '../../lib/traffic/tg-linux.js';
import { labDown, labUp } from '../../lib/vlab/lab.js';
import { pidsInNetns } from '../../lib/vlab/procs.js';
import { netnsId } from '../helpers/lab.js';

const ID = 'tgdrv';
let tb: Testbed;
let session: Session;
const dir = mkdtempSync(join(tmpdir(), 'dutlab-tg-'));

beforeAll(async () => {
  const lab = await labUp({ id: ID });
  tb = loadTestbed(lab.testbedFile);
  session = new Session(tb, virtual);
  await session.connect('tg');
}, 120_000);

/** Every driver a test made is cleaned up, whether the test got that far or not. */
const drivers: LinuxTrafficGenerator[] = [];
function driver(testbed: Testbed, runId: string): LinuxTrafficGenerator {
  const tg = new LinuxTrafficGenerator(session.shell('tg'), testbed, runId);
  drivers.push(tg);
  return tg;
}
afterEach(async () => {
  for (const tg of drivers.splice(0)) await tg.cleanup().catch(() => undefined);
});

afterAll(async () => {
  await session?.close();
  await labDown({ id: ID });
  rmSync(dir, { recursive: true, force: true });
});

/** The testbed with one TG port renamed to one that does not exist. */
function withTgPort(which: 0 | 1, name: string): Testbed {
  const phy = [...tb.phyPorts] as Testbed['phyPorts'];
  phy[which] = { ...phy[which], tgPort: name };
  return { ...tb, phyPorts: phy };
}

/** Names of the processes running in the TG's namespace other than the way in (sshd, the forwarder's socat, a command's shell). */
function tgProcesses(): string[] {
  return pidsInNetns(netnsId(`dutlab-${ID}-tg`))
    .map((pid) => {
      // A process that ended between the listing and the read (a shell's short-lived child) is not running.
      try {
        return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
      } catch {
        return 'sh';
      }
    })
    .filter((comm) => !['sshd', 'socat', 'sh', 'setsid', 'sleep', 'cat', 'rm'].includes(comm));
}

/** The files of a run the driver left in the TG's work dir. */
async function runFilesOnTg(runId: string): Promise<string> {
  const r = await session.shell('tg').run(`ls ${tb.paths.workDir} | grep -F ${runId} || true`);
  return r.stdout.trim();
}

function txPcap(count: number): { file: string; stream: ReturnType<typeof streamFromTestbed> } {
  const stream = streamFromTestbed(tb, 5, { count, rate: 1000 });
  const file = join(dir, `tx-${count}.pcap`);
  writeStreamPcap(file, stream);
  return { file, stream };
}

async function failure(p: Promise<unknown>): Promise<CommandError> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(CommandError);
  return err as CommandError;
}

describe('linux traffic generator, when things go wrong', () => {
  it("names a TG port that does not exist when preparing, as the lab's fault", async () => {
    const err = await failure(driver(withTgPort(1, 'nosuch1'), 'prep').prepare());
    expect(err.message).toMatch(/^\[tg\] `ip link set dev nosuch1 up` exited 1: .*nosuch1/);
    expect(failureKind(err)).toBe('infra');
  });

  /** The one capturing call with a stream of `count` packets, its captures into this test's directory. */
  const sendAndCapture = (tg: LinuxTrafficGenerator, name: string, count: number) => {
    const { file, stream } = txPcap(count);
    return tg.sendAndCapture({
      pcap: file,
      packets: stream.count,
      rate: stream.rate,
      into: { rx: join(dir, `${name}-rx.pcap`), tx: join(dir, `${name}-tx.pcap`) },
    });
  };

  it.each([
    ['return', 1, 'nosuch1', 'cap'],
    ['send', 0, 'nosuch0', 'txcap'],
  ] as const)('says what tcpdump said when it cannot capture on the %s port, and leaves no tcpdump running', async (_role, which, port, runId) => {
    const tg = driver(withTgPort(which, port), runId);
    const err = await failure(sendAndCapture(tg, runId, 10));
    expect(err.message).toMatch(new RegExp(`^\\[tg\\] \`tcpdump\` .*tcpdump exited: .*${port}`, 's'));
    expect(failureKind(err)).toBe('infra');
    expect(tgProcesses()).toEqual([]);
    await tg.cleanup();
    expect(await runFilesOnTg(runId)).toBe('');
  });

  it('says what tcpreplay said when it cannot send the stream (a pcap it cannot read), with no capture left running; cleanup removes the pcaps', async () => {
    const tg = driver(tb, 'send');
    await tg.prepare();
    const garbage = join(dir, 'garbage.pcap');
    writeFileSync(garbage, 'not a pcap file at all, but long enough to be one');
    const err = await failure(tg.sendAndCapture({ pcap: garbage, packets: 10, rate: 1000, into: { rx: join(dir, 'g-rx.pcap'), tx: join(dir, 'g-tx.pcap') } }));
    expect(err.message).toMatch(/^\[tg\] `tcpreplay -T nano -i tg0 --pps=1000 \S*send-tx\.pcap` exited \d+/);
    expect(failureKind(err)).toBe('infra');
    expect(tgProcesses()).toEqual([]);
    expect(await runFilesOnTg('send')).toMatch(/send-tx\.pcap/);
    await tg.cleanup();
    expect(await runFilesOnTg('send')).toBe('');
  });

  it('runs three captures (return port, send port, the stream alone) while it sends, and none after', async () => {
    const tg = driver(tb, 'three');
    await tg.prepare();
    let during: string[] = [];
    const { file, stream } = txPcap(5);
    await tg.sendAndCapture({
      pcap: file,
      packets: stream.count,
      rate: stream.rate,
      into: { rx: join(dir, 'three-rx.pcap'), tx: join(dir, 'three-tx.pcap') },
      around: { before: { last: async () => void (during = tgProcesses()) } },
    });
    expect(during).toEqual(['tcpdump', 'tcpdump', 'tcpdump']);
    expect(tgProcesses()).toEqual([]);
    await tg.cleanup();
    expect(await runFilesOnTg('three')).toBe('');
  });

  it('stops waiting after the quiet period when nothing comes back, with a complete, empty capture', async () => {
    // No bridge on this lab's switch: what the TG sends goes nowhere.
    const tg = driver(tb, 'quiet');
    await tg.prepare();
    const started = Date.now();
    const r = await sendAndCapture(tg, 'quiet', 20);
    expect(r.sent.packetsSent).toBe(20);
    // Well before the driver's hard deadline of 30 s: it gave up on the quiet period, not on the deadline.
    expect(Date.now() - started).toBeLessThan(15_000);
    await tg.cleanup();
    expect(await readPcap(join(dir, 'quiet-rx.pcap'), () => undefined)).toEqual({ packets: 0 });
    expect(tgProcesses()).toEqual([]);
    expect(await runFilesOnTg('quiet')).toBe('');
  });

  it('times a latency stream beside a load with two filtered captures; with nothing coming back, every latency packet is lost and there are no figures, not a guess', async () => {
    // No bridge on this lab's switch: nothing returns.
    const tg = driver(tb, 'lat');
    const { file, stream } = txPcap(100);
    await tg.prepareTrials(file, stream.count);
    const measuring = tg.measure({ rate: 2000, durationS: 0.5, frame: 64, latency: { streamId: 7, rate: 200 } });
    // While it measures: two captures (the latency stream leaving and arriving) beside the two tcpreplays.
    let seen: string[] = [];
    for (let i = 0; i < 40 && !seen.includes('tcpreplay'); i++) {
      await new Promise((ok) => setTimeout(ok, 50));
      seen = tgProcesses();
    }
    const r = await measuring;
    expect(seen.filter((p) => p === 'tcpdump')).toHaveLength(2);
    // The load runs 0.3 s before and after the stream: 1.1 s at 2000 frames/s.
    expect(r.sent).toBe(2200);
    expect(r.latency).toMatchObject({ sent: 100, received: 0, lost: 100, p50Us: null, p99Us: null });
    expect(r.latency!.invalid).toBeUndefined();
    // The packets the generator saw leave, in memory for the figures per hop: the stream's own numbers.
    expect(r.latencyPackets!.sent.map((p) => p.seq)).toEqual(Array.from({ length: 100 }, (_, i) => i));
    expect(tgProcesses()).toEqual([]);
    await tg.cleanup();
    expect(await runFilesOnTg('lat')).toBe('');
  });
});

describe('linux traffic generator on a pinned lab (lab up --pin)', () => {
  const PIN = 'tgpin';
  afterAll(async () => {
    await labDown({ id: PIN });
  });

  it('sends a burst of exactly the frames asked, back to back from its looped trial pcap, and how long it lasted leaving', async () => {
    const tg = driver(tb, 'burst');
    const { file, stream } = txPcap(20);
    await tg.prepareTrials(file, stream.count);
    // 50 frames of a 20-frame pcap: --limit stops the third loop at the 50th.
    const b = await tg.burst(50);
    // Every frame of it captured leaving: its length on the wire is read from them.
    expect(b).toMatchObject({ frames: 50, sent: 50, received: 0, captured: 50 });
    expect(b.seconds).toBeGreaterThan(0);
    // At its utmost: far above any paced load of this lab.
    expect(b.sent / b.seconds).toBeGreaterThan(10_000);
    await tg.cleanup();
    expect(tgProcesses()).toEqual([]);
  });

  it("replays a stream as timed: each phase at its own rate, as the pcap's timestamps say (the system recovery's stream)", async () => {
    const tg = driver(tb, 'timed');
    await tg.prepare();
    const stream = streamFromTestbed(tb, 6, { count: 300, rate: 1000 });
    const file = join(dir, 'timed.pcap');
    // 200 frames at 2000 frames/s (0.1 s), then 100 at 500 frames/s (0.2 s).
    writeStreamPcap(
      file,
      stream,
      phasedTimes([
        { rate: 2000, frames: 200 },
        { rate: 500, frames: 100 },
      ]),
    );
    const into = { rx: join(dir, 'timed-rx.pcap'), tx: join(dir, 'timed-tx.pcap') };
    const r = await tg.sendAndCapture({ pcap: file, packets: 300, rate: 1000, timed: true, into });
    expect(r.sent.packetsSent).toBe(300);
    const left = (await seenInCapture(into.tx, 6)).sort((a, b) => a.seq - b.seq);
    expect(left).toHaveLength(300);
    const gapUs = (from: number, to: number) => (left[to]!.us - left[from]!.us) / (to - from);
    expect(Math.abs(gapUs(0, 199) - 500) / 500).toBeLessThan(0.2);
    expect(Math.abs(gapUs(200, 299) - 2000) / 2000).toBeLessThan(0.2);
    // Nothing between the two phases but the schedule's step.
    expect(left[200]!.us - left[199]!.us).toBeLessThan(2000 * 1.5);
  });

  it("runs the switch on CPU 0, and tcpreplay and its captures on the testbed's tg.cpus", async () => {
    const lab = await labUp({ id: PIN, pin: true });
    const pinned = loadTestbed(lab.testbedFile);
    expect(pinned.tg.cpus).toBe('1');
    const allowed = (pid: number | string) => /Cpus_allowed_list:\s*(\S+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
    const vswitchd = lab.processes.find((p) => p.name === 'ovs-vswitchd')!.pid;
    for (const task of readdirSync(`/proc/${vswitchd}/task`)) expect(allowed(task)).toBe('0');
    const s = new Session(pinned, virtual);
    try {
      const tg = new LinuxTrafficGenerator(await s.connect('tg'), pinned, 'pin');
      const stream = streamFromTestbed(pinned, 5, { count: 100, rate: 1000 });
      const file = join(dir, 'pin-tx.pcap');
      writeStreamPcap(file, stream);
      await tg.prepareTrials(file, stream.count);
      const trial = tg.measure({ rate: 1000, durationS: 1, frame: 64, latency: { streamId: 7, rate: 100 } });
      const seen = new Map<string, string>();
      for (let i = 0; i < 40 && seen.size < 2; i++) {
        await new Promise((ok) => setTimeout(ok, 50));
        for (const pid of pidsInNetns(netnsId(`dutlab-${PIN}-tg`))) {
          try {
            const comm = readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
            if (comm === 'tcpreplay' || comm === 'tcpdump') seen.set(comm, allowed(pid)!);
          } catch {
            // gone between the listing and the read
          }
        }
      }
      await trial;
      expect(Object.fromEntries(seen)).toEqual({ tcpreplay: '1', tcpdump: '1' });
      await tg.cleanup();
    } finally {
      await s.close();
    }
  });
});
