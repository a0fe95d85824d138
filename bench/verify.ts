// npm run bench:verify — how fast return-packet verification reads a capture,
// against tcpdump reading the same file in the same run. Prints figures; asserts nothing.
import { execFileSync, spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, statSync, writeSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RECORD_HEADER_LEN, pcapGlobalHeader, readPcap, writeRecordHeader } from '../lib/traffic/pcap.js';
import { buildFrame, forwardFrame, streamFromTestbed, type StreamSpec } from '../lib/traffic/stream.js';
import { loadTestbed } from '../lib/testbed/load.js';
import { topologyOf } from '../lib/testbed/topology.js';
import { verifyCapture } from '../lib/verify/packets.js';
import { pcapFrames } from '../lib/traffic/pcap.js';

const COUNT = Number(process.env.BENCH_PACKETS ?? 1_000_000);
const ROUNDS = 3;
// The virtual lab's testbed (its stream and the guest router's MACs), a million packets of it.
const TESTBED = loadTestbed(new URL('../fixtures/testbeds/virtual.yaml', import.meta.url).pathname);
const spec: StreamSpec = streamFromTestbed(TESTBED, 1, { count: COUNT, rate: 1_000_000 });
/** What the guest's router writes: the gateway's MAC as destination, its egress vEth's as source. */
const GATEWAY_MAC = TESTBED.gateway.mac;
const EGRESS_MAC = topologyOf(TESTBED).vmEgress.mac;

/** A capture of the whole stream as the guest's router returns it. */
function writeReturnCapture(file: string): void {
  const fd = openSync(file, 'w');
  writeSync(fd, pcapGlobalHeader());
  const rec = RECORD_HEADER_LEN + 60;
  const chunk = Buffer.alloc(rec * 50_000);
  let used = 0;
  for (let seq = 0; seq < COUNT; seq++) {
    writeRecordHeader(chunk, used, seq, 60);
    forwardFrame(buildFrame(spec, seq, chunk.subarray(used + RECORD_HEADER_LEN, used + rec)), GATEWAY_MAC, EGRESS_MAC);
    used += rec;
    if (used === chunk.length) {
      writeSync(fd, chunk);
      used = 0;
    }
  }
  writeSync(fd, chunk, 0, used);
  closeSync(fd);
}

async function best(what: () => Promise<unknown> | unknown): Promise<number> {
  let min = Infinity;
  for (let i = 0; i < ROUNDS; i++) {
    const t0 = process.hrtime.bigint();
    await what();
    min = Math.min(min, Number(process.hrtime.bigint() - t0) / 1e9);
  }
  return min;
}

// "On one core": the benchmark runs itself again pinned to CPU 0, and tcpdump,
// started from it, inherits the pinning, so both figures are one core's.
if (process.env.BENCH_PINNED === undefined && spawnSync('taskset', ['-c', '0', 'true']).status === 0) {
  const pinned = spawnSync('taskset', ['-c', '0', process.execPath, ...process.execArgv, ...process.argv.slice(1)], {
    stdio: 'inherit',
    env: { ...process.env, BENCH_PINNED: 'cpu 0' },
  });
  process.exit(pinned.status ?? 1);
}

// The figures mean little without the patch; say when `npm ci` did not apply it.
const parserSource = readFileSync(createRequire(import.meta.url).resolve('pcap-parser'), 'utf8');
const patched = parserSource.includes("var le = this.endianness === 'LE';");

const dir = mkdtempSync(join(tmpdir(), 'dutlab-bench-'));
try {
  const file = join(dir, 'rx.pcap');
  writeReturnCapture(file);
  if (!patched) console.log('pcap-parser is NOT patched (run `npm ci`, or `npx patch-package`): expect about half the speed');
  console.log(
    `capture: ${COUNT} packets of 64 bytes, ${(statSync(file).size / 1e6).toFixed(1)} MB; best of ${ROUNDS} rounds each; ${process.env.BENCH_PINNED ? `pinned to ${process.env.BENCH_PINNED} (taskset)` : 'NOT pinned to one core (no taskset)'}`,
  );
  let verdict = '';
  const tVerify = await best(async () => {
    const v = await verifyCapture(pcapFrames(file), { stream: spec, dstMac: GATEWAY_MAC, srcMac: EGRESS_MAC, lossTolerance: 0, maxProblems: 5 });
    verdict = v.summary;
  });
  const tParser = await best(() => readPcap(file, () => undefined));
  const hasTcpdump = spawnSync('tcpdump', ['--version']).status === 0;
  const tTcpdump = hasTcpdump ? await best(() => execFileSync('sh', ['-c', `tcpdump -nn -r ${file} > /dev/null 2>&1`])) : NaN;
  const pps = (t: number) => `${(COUNT / t / 1e6).toFixed(2)} M packets/s`;
  console.log(`verdict:                    ${verdict}`);
  console.log(`dutlab verify:              ${tVerify.toFixed(3)} s  ${pps(tVerify)}  (target: >= 1.00 M packets/s on one core)`);
  console.log(
    `pcap-parser alone:          ${tParser.toFixed(3)} s  ${pps(tParser)}  (0.2.1 with patches/pcap-parser+0.2.1.patch; the floor: verification reads through it)`,
  );
  if (hasTcpdump) {
    console.log(`tcpdump -nn -r > /dev/null: ${tTcpdump.toFixed(3)} s  ${pps(tTcpdump)}`);
    console.log(`ratio tcpdump / verify:     ${(tTcpdump / tVerify).toFixed(2)}x  (target: >= 2x)`);
    console.log(`ratio tcpdump / pcap-parser alone: ${(tTcpdump / tParser).toFixed(2)}x`);
  } else console.log('tcpdump: not installed, no ratio');
} finally {
  rmSync(dir, { recursive: true, force: true });
}
