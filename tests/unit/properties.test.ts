// Property-based tests of every input surface dutlab reads (issue 21): the
// testbed, the history, a run directory's run.json and summary.json, the
// parsers of command output, pcap. Each property states its oracle:
//   - a valid input round-trips (written, then read, gives the same values);
//   - an input cut at any boundary, with a value of the wrong type, or too big,
//     fails with the surface's typed error naming the file (and the line or
//     field), or still reads as whole values;
//   - never a TypeError, a NaN, a hang, or anything that would become a verdict
//     on the DUT.
import { mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Command, Option } from 'commander';
import fc from 'fast-check';
import { stringify } from 'yaml';
import { afterAll, describe, expect, it } from 'vitest';
import { buildCli } from '../../lib/cli/main.js';
import { InputFileError, ParseError, PcapError, TestbedError } from '../../lib/errors.js';
import { FILE_LIMITS } from '../../lib/files.js';
import { parseHugepageUse } from '../../lib/parsers/hugepages.js';
import { parseGuestDropCounters } from '../../lib/parsers/kernel-counters.js';
import { parseIpJson, parseNeighbours, parseRoutes, parseSysctl } from '../../lib/parsers/net.js';
import { parsePmdStatsShow } from '../../lib/parsers/ovs-dpdk.js';
import { parseCoverageShow, parsePmdPerfShow, parseTaskStats, parseUpcallShow } from '../../lib/parsers/ovs-telemetry.js';
import { parseDumpPorts, type PortCounters } from '../../lib/parsers/ovs.js';
import { appendHistory, HISTORY_FILE, loadRun, readHistory } from '../../lib/store/file.js';
import type { HistoryEntry } from '../../lib/results/history.js';
import { SCHEMA_VERSION } from '../../lib/results/schema.js';
import { loadTestbed, parseTestbed } from '../../lib/testbed/load.js';
import { PCAP_HEADER_LEN, readPcap, RECORD_HEADER_LEN, writeStreamPcap } from '../../lib/traffic/pcap.js';
import { frameLength, streamFromTestbed } from '../../lib/traffic/stream.js';
import { MINIMAL_TESTBED, output } from '../helpers/fixtures.js';
import { dutlabInProcess as dutlab } from '../helpers/in-process.js';

const tmp = mkdtempSync(join(tmpdir(), 'dutlab-props-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** What a property may throw: its surface's typed error, and nothing else. */
function typedOrValue<T>(read: () => T, ...allowed: Array<new (...a: never[]) => Error>): { value?: T; error?: Error } {
  try {
    return { value: read() };
  } catch (err) {
    if (!allowed.some((E) => err instanceof E)) throw new Error(`not a typed error: ${(err as Error)?.stack ?? String(err)}`);
    return { error: err as Error };
  }
}

// ---- generators ----------------------------------------------------------------

const octet = fc.integer({ min: 1, max: 223 });
const ipv4 = fc.tuple(octet, fc.nat(255), fc.nat(255), fc.integer({ min: 1, max: 254 })).map((o) => o.join('.'));
const unicastMac = fc
  .tuple(
    fc.integer({ min: 0, max: 127 }).map((b) => b * 2),
    fc.array(fc.nat(255), { minLength: 5, maxLength: 5 }),
  )
  .filter(([first, rest]) => first !== 0 || rest.some((x) => x !== 0))
  .map(([first, rest]) => [first, ...rest].map((b) => b.toString(16).padStart(2, '0')).join(':'));
const word = fc.stringMatching(/^[a-z][a-z0-9-]{0,14}$/);

/** The values a testbed file states; everything else is the guide's default. */
const testbedValues = fc
  .record({
    name: word,
    bridge: fc.stringMatching(/^br[0-9]{1,3}$/),
    srcIp: ipv4,
    dstIp: ipv4,
    srcMac: unicastMac,
    ttl: fc.integer({ min: 2, max: 255 }),
    count: fc.integer({ min: 1, max: 10_000_000 }),
    rate: fc.integer({ min: 1, max: 1_000_000 }),
    frameSize: fc.integer({ min: 64, max: 1518 }),
    minRate: fc.integer({ min: 1, max: 100_000 }),
    span: fc.integer({ min: 0, max: 1_000_000 }),
    threshold: fc.double({ min: 0, max: 0.9, noNaN: true }),
    lossTolerance: fc.double({ min: 0, max: 1, noNaN: true }),
  })
  .map((v) => ({
    name: v.name,
    hosts: {
      host: { address: '10.0.0.1', auth: { privateKeyFile: '/k' }, hostKey: { knownHosts: '/kh' } },
      guest: { address: '127.0.0.1', port: 2222, jump: 'host', auth: { privateKeyFile: '/k' }, hostKey: { knownHosts: '/kh' } },
      tg: { address: '10.0.0.2', auth: { agent: true }, hostKey: { fingerprint: 'SHA256:qSQXWQtOtfKn4CEdtybB3wyN6MmKPl8grgKoeyYTK6A' } },
    },
    bridge: v.bridge,
    traffic: { srcIp: v.srcIp, dstIp: v.dstIp, srcMac: v.srcMac, ttl: v.ttl, count: v.count, rate: v.rate, frameSize: v.frameSize },
    throughput: { minRate: v.minRate, maxRate: v.minRate + v.span, regressionThreshold: v.threshold },
    verify: { lossTolerance: v.lossTolerance },
  }));

/** Every leaf of a plain object, as a dotted path. */
function leaves(o: unknown, at: string[] = []): string[] {
  if (o === null || typeof o !== 'object') return [at.join('.')];
  return Object.entries(o).flatMap(([k, v]) => leaves(v, [...at, k]));
}

function setPath(o: Record<string, unknown>, path: string, value: unknown): void {
  const keys = path.split('.');
  let cur = o as Record<string, unknown>;
  for (const k of keys.slice(0, -1)) cur = cur[k] as Record<string, unknown>;
  cur[keys.at(-1)!] = value;
}

/** What JSON and YAML tell apart: null, a list, a mapping, a string, a number, a boolean. */
const kindOf = (v: unknown) => (v === null ? 'null' : Array.isArray(v) ? 'list' : typeof v);

/** A value of another kind than the one at a leaf. */
const otherType = (v: unknown) => fc.constantFrom<unknown>(null, 'a-string', 12345, true, [1, 2], { nested: 1 }).filter((x) => kindOf(x) !== kindOf(v));

// ---- the testbed ---------------------------------------------------------------

describe('the testbed file', () => {
  it('round-trips: a valid file reads back as the values it states', () => {
    fc.assert(
      fc.property(testbedValues, (v) => {
        const tb = parseTestbed(stringify(v), 'gen.yaml');
        expect(tb.name).toBe(v.name);
        expect(tb.bridge).toBe(v.bridge);
        expect(tb.traffic).toMatchObject(v.traffic);
        expect(tb.throughput).toMatchObject(v.throughput);
        expect(tb.verify.lossTolerance).toBe(v.verify.lossTolerance);
      }),
      { numRuns: 150 },
    );
  });

  it('cut at any byte: reads whole, or is a TestbedError naming the file', () => {
    fc.assert(
      fc.property(testbedValues, fc.double({ min: 0, max: 1, noNaN: true }), (v, at) => {
        const text = stringify(v);
        const r = typedOrValue(() => parseTestbed(text.slice(0, Math.floor(text.length * at)), 'cut.yaml'), TestbedError);
        if (r.error) expect(r.error.message).toMatch(/^cut\.yaml: /);
        else expect(r.value!.hosts.host.address).toBe('10.0.0.1');
      }),
      { numRuns: 300 },
    );
  });

  it('a value of the wrong type anywhere: a TestbedError naming that field', () => {
    fc.assert(
      fc.property(
        testbedValues
          .chain((v) => fc.tuple(fc.constant(v), fc.constantFrom(...leaves(v))))
          .chain(([v, path]) => {
            const old = path.split('.').reduce<unknown>((o, k) => (o as Record<string, unknown>)[k], v);
            return fc.tuple(fc.constant(v), fc.constant(path), otherType(old));
          }),
        ([v, path, value]) => {
          const bad = structuredClone(v) as Record<string, unknown>;
          setPath(bad, path, value);
          const r = typedOrValue(() => parseTestbed(stringify(bad), 'swap.yaml'), TestbedError);
          // A few swaps stay valid (a number where a port takes a number-like...): then they read as themselves.
          if (r.value) return;
          const paths = (r.error as TestbedError).problems.map((p) => p.path);
          expect(paths.some((p) => p === path || path.startsWith(`${p}.`) || p.startsWith(`${path}.`) || (p === '' && path === 'name'))).toBe(true);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('too big, or not a file: refused by its size before it is read', () => {
    fc.assert(
      fc.property(testbedValues, fc.integer({ min: 1, max: 4096 }), (v, extra) => {
        const file = join(tmp, 'inflated.yaml');
        writeFileSync(file, `${stringify(v)}# ${'x'.repeat(FILE_LIMITS.testbed + extra)}\n`);
        const r = typedOrValue(() => loadTestbed(file), TestbedError);
        expect(r.error?.message).toMatch(/bytes, more than the 1048576 a testbed file may have/);
      }),
      { numRuns: 5 },
    );
  });
});

// ---- the history ----------------------------------------------------------------

const historyLine: fc.Arbitrary<HistoryEntry> = fc.record({
  schemaVersion: fc.constant(SCHEMA_VERSION),
  runId: fc.stringMatching(/^2026\d{4}-\d{6}-\d{4}$/),
  startedAt: fc.date({ noInvalidDate: true, min: new Date('2020-01-01'), max: new Date('2030-01-01') }).map((d) => d.toISOString()),
  testbed: word,
  profile: fc.constantFrom('virtual', 'ovs-dpdk', 'legacy-kni'),
  suites: fc.array(fc.constantFrom('pvp', 'throughput', 'kni-functional'), { maxLength: 3 }),
  versions: fc.record({ ovs: fc.string({ maxLength: 30 }), dpdk: fc.string({ maxLength: 30 }) }),
  verdict: fc.constantFrom('pass', 'fail', 'infra-error', 'aborted'),
  throughput: fc.array(
    fc.record({
      frame: fc.constantFrom(64, 512, 1518),
      goal: fc.constantFrom('NDR', 'PDR'),
      lower: fc.option(fc.integer({ min: 0, max: 1e8 }), { nil: null }),
      upper: fc.option(fc.integer({ min: 0, max: 1e8 }), { nil: null }),
      limitedByGenerator: fc.boolean(),
    }),
    { maxLength: 4 },
  ),
});

describe('the testbed: values that must agree with each other', () => {
  // Each relation, the field a refusal names, and whether the values keep it.
  const relations = [
    { field: 'ovsDpdk.socketLimitMb', holds: (v: Related) => v.limit >= v.mem },
    { field: 'dpdk.ovsDpdk.kniPorts', holds: (v: Related) => v.kni === 2 },
    { field: 'throughput.minRate', holds: (v: Related) => v.minRate <= v.maxRate },
    { field: 'throughput.ndr.lossRatio', holds: (v: Related) => v.ndr <= v.pdr },
  ];
  type Related = { mem: number; limit: number; kni: number; minRate: number; maxRate: number; ndr: number; pdr: number };
  const related = fc.record({
    mem: fc.integer({ min: 1, max: 8192 }),
    limit: fc.integer({ min: 1, max: 8192 }),
    kni: fc.integer({ min: 0, max: 4 }),
    minRate: fc.integer({ min: 1, max: 2_000_000 }),
    maxRate: fc.integer({ min: 1, max: 2_000_000 }),
    ndr: fc.double({ min: 0, max: 0.05, noNaN: true }),
    pdr: fc.double({ min: 0, max: 0.05, noNaN: true }),
  });

  it('a testbed whose values disagree is refused naming each field that disagrees; one that loads keeps every relation', () => {
    fc.assert(
      fc.property(related, (v) => {
        // The minimal testbed: the guide's two KNI vports.
        const text = `${MINIMAL_TESTBED}ovsDpdk: { socketMemMb: ${v.mem}, socketLimitMb: ${v.limit} }
dpdk: { ovsDpdk: { kniPorts: ${v.kni} } }
throughput: { minRate: ${v.minRate}, maxRate: ${v.maxRate}, ndr: { lossRatio: ${v.ndr} }, pdr: { lossRatio: ${v.pdr} } }
`;
        const r = typedOrValue(() => parseTestbed(text), TestbedError);
        const broken = relations.filter((x) => !x.holds(v)).map((x) => x.field);
        if (r.value) expect(broken).toEqual([]);
        else
          expect(
            (r.error as TestbedError).problems
              .map((p) => p.path)
              .filter((p) => relations.some((x) => x.field === p))
              .sort(),
          ).toEqual(broken.sort());
      }),
      { numRuns: 300 },
    );
  });
});

describe('the history', () => {
  it('round-trips: what is appended is read back, in order', () => {
    fc.assert(
      fc.property(fc.array(historyLine, { maxLength: 8 }), (entries) => {
        const dir = mkdtempSync(join(tmp, 'h-'));
        for (const e of entries) appendHistory(dir, e);
        expect(readHistory(dir)).toEqual({ entries, skipped: [] });
      }),
      { numRuns: 60 },
    );
  });

  it('cut at any byte, then appended to: every whole entry and the new one are kept; the cut line is skipped and named', () => {
    fc.assert(
      fc.property(fc.array(historyLine, { minLength: 1, maxLength: 6 }), historyLine, fc.double({ min: 0, max: 1, noNaN: true }), (entries, next, at) => {
        const dir = mkdtempSync(join(tmp, 'h-'));
        for (const e of entries) appendHistory(dir, e);
        const file = join(dir, HISTORY_FILE);
        const text = readFileSync(file, 'utf8');
        const cut = Math.floor(Buffer.byteLength(text) * at);
        truncateSync(file, cut);
        appendHistory(dir, next);
        // A line survives when its JSON is all before the cut (its newline may be gone: the append adds one).
        let end = 0;
        const whole = entries.filter((e) => {
          end += Buffer.byteLength(JSON.stringify(e));
          const kept = end <= cut;
          end += 1;
          return kept;
        }).length;
        const h = readHistory(dir);
        expect(h.entries).toEqual([...entries.slice(0, whole), next]);
        expect(h.skipped.length).toBeLessThanOrEqual(1);
        for (const s of h.skipped) expect(s).toMatch(new RegExp(`^${file}:${whole + 1}: skipped: `));
      }),
      { numRuns: 150 },
    );
  });

  it('a field of the wrong type in one line: that line is skipped, naming line and field; the others are read', () => {
    fc.assert(
      fc.property(
        fc.array(historyLine, { minLength: 2, maxLength: 5 }),
        fc.constantFrom('runId', 'startedAt', 'testbed', 'profile', 'suites', 'versions', 'verdict', 'throughput'),
        fc.nat(),
        (entries, field, which) => {
          const i = which % entries.length;
          const dir = mkdtempSync(join(tmp, 'h-'));
          const lines = entries.map((e, j) => JSON.stringify(j === i ? { ...e, [field]: field === 'suites' ? 'pvp' : 42 } : e));
          writeFileSync(join(dir, HISTORY_FILE), `${lines.join('\n')}\n`);
          const h = readHistory(dir);
          expect(h.entries).toEqual(entries.filter((_, j) => j !== i));
          expect(h.skipped).toEqual([expect.stringMatching(new RegExp(`:${i + 1}: skipped: ${field}: `))]);
        },
      ),
      { numRuns: 100 },
    );
  });
});

// ---- run.json and summary.json ---------------------------------------------------

const runFiles = fc
  .record({
    runId: fc.stringMatching(/^2026\d{4}-\d{6}-\d{4}$/),
    testbedName: word,
    profile: fc.constantFrom('virtual', 'ovs-dpdk'),
    statuses: fc.array(fc.constantFrom('passed', 'failed', 'skipped', 'blocked'), { minLength: 1, maxLength: 6 }),
    lower: fc.option(fc.integer({ min: 1000, max: 1e7 }), { nil: null }),
  })
  .map((v) => ({
    run: {
      schemaVersion: SCHEMA_VERSION,
      runId: v.runId,
      testbed: '/tb.yaml',
      testbedName: v.testbedName,
      profile: v.profile,
      startedAt: '2026-11-30T00:00:00.000Z',
      versions: { ovs: '3.1.0' },
      notes: [],
      teardownProblems: [],
      suites: [
        {
          suite: 'throughput',
          cases: v.statuses.map((status, i) => ({ id: `s.${i}`, name: `stage ${i}`, suite: 'throughput', group: 'setup', status, durationMs: 1 })),
          measured: {
            kind: 'throughput',
            results: [
              {
                frame: 64,
                goals: [
                  {
                    goal: 'NDR',
                    lowerBound: v.lower,
                    upperBound: null,
                    limitedByGenerator: v.lower !== null,
                    spread: { highestPass: v.lower, lowestExceed: null },
                  },
                ],
              },
            ],
          },
        },
      ],
    },
    summary: {
      schemaVersion: SCHEMA_VERSION,
      runId: v.runId,
      verdict: 'pass',
      exitCode: 0,
      cases: v.statuses.map((status, i) => ({ id: `s.${i}`, name: `stage ${i}`, suite: 'throughput', group: 'setup', status, durationMs: 1 })),
    },
  }));

function runDir(files: { run: unknown; summary: unknown }, edit?: { file: 'run.json' | 'summary.json'; text: string }): string {
  const dir = mkdtempSync(join(tmp, 'run-'));
  writeFileSync(join(dir, 'run.json'), JSON.stringify(files.run, null, 2));
  writeFileSync(join(dir, 'summary.json'), JSON.stringify(files.summary, null, 2));
  if (edit) writeFileSync(join(dir, edit.file), edit.text);
  return dir;
}

describe("a run directory's run.json and summary.json", () => {
  it('round-trip: a run read back as a baseline is the run written', () => {
    fc.assert(
      fc.property(runFiles, (f) => {
        const rec = loadRun(runDir(f), tmp);
        expect(rec.run).toEqual(f.run);
        expect(rec.cases).toEqual(f.summary.cases);
      }),
      { numRuns: 60 },
    );
  });

  it('a run.json of schema 2 (stages, the search at the top of its suite) reads back as the same run of today', () => {
    fc.assert(
      fc.property(runFiles, (f) => {
        // The same run as dutlab wrote it before schema 3.
        const { cases, measured, ...suite } = f.run.suites[0]!;
        const v2 = {
          ...f.run,
          schemaVersion: 2,
          suites: [{ ...suite, stages: cases.map(({ name, suite: _s, ...c }) => ({ ...c, title: name })), throughput: measured.results }],
        };
        const rec = loadRun(runDir({ run: v2, summary: f.summary }), tmp);
        expect(rec.run).toEqual({ ...f.run, schemaVersion: 2 });
      }),
      { numRuns: 40 },
    );
  });

  it('cut at any byte: an InputFileError naming the file, never a TypeError', () => {
    fc.assert(
      fc.property(runFiles, fc.constantFrom('run.json' as const, 'summary.json' as const), fc.double({ min: 0, max: 0.999, noNaN: true }), (f, file, at) => {
        const text = JSON.stringify(file === 'run.json' ? f.run : f.summary, null, 2);
        const dir = runDir(f, { file, text: text.slice(0, Math.floor(text.length * at)) });
        const r = typedOrValue(() => loadRun(dir, tmp), InputFileError);
        expect(r.error?.message.startsWith(join(dir, file))).toBe(true);
      }),
      { numRuns: 150 },
    );
  });

  it('a field of the wrong type: an InputFileError naming the file and the field', () => {
    fc.assert(
      fc.property(
        runFiles,
        fc.constantFrom(
          ['run.json', 'runId'],
          ['run.json', 'suites'],
          ['run.json', 'suites.0.cases'],
          ['run.json', 'suites.0.measured.results.0.frame'],
          ['run.json', 'suites.0.measured.results.0.goals.0.lowerBound'],
          ['summary.json', 'cases'],
          ['summary.json', 'cases.0.status'],
          ['summary.json', 'verdict'],
        ),
        fc.constantFrom<unknown>('text', { o: 1 }, [1], true, 7),
        (f, [file, path], value) => {
          const copy = structuredClone(f) as { run: Record<string, unknown>; summary: Record<string, unknown> };
          const old = path!.split('.').reduce<unknown>((o, k) => (o as Record<string, unknown>)[k], file === 'run.json' ? copy.run : copy.summary);
          fc.pre(kindOf(old) !== kindOf(value) && !(old === null && typeof value === 'number'));
          setPath(file === 'run.json' ? copy.run : copy.summary, path!, value);
          const r = typedOrValue(() => loadRun(runDir(copy), tmp), InputFileError);
          const err = r.error as InputFileError;
          expect(err).toBeInstanceOf(InputFileError);
          expect(err.file.endsWith(file!)).toBe(true);
          // The field itself, or the nearest one zod names on the way (a list of the wrong items: the first item).
          expect(err.field === path || path!.startsWith(`${err.field}.`) || err.field!.startsWith(`${path}.`), `${err.field} for ${path}`).toBe(true);
        },
      ),
      { numRuns: 150 },
    );
  });
});

// ---- parsers of command output ------------------------------------------------------

const counters: fc.Arbitrary<PortCounters> = fc.record({
  rxPackets: fc.nat(),
  rxBytes: fc.nat(),
  rxDropped: fc.nat(),
  rxErrors: fc.nat(),
  txPackets: fc.nat(),
  txBytes: fc.nat(),
  txDropped: fc.nat(),
  txErrors: fc.nat(),
});
const portsText = (ports: Array<[number, PortCounters]>) =>
  [
    `OFPST_PORT reply (xid=0x4): ${ports.length} ports`,
    ...ports.flatMap(([n, c]) => [
      `  port ${String(n).padStart(2)}: rx pkts=${c.rxPackets}, bytes=${c.rxBytes}, drop=${c.rxDropped}, errs=${c.rxErrors}, frame=0, over=0, crc=0`,
      `           tx pkts=${c.txPackets}, bytes=${c.txBytes}, drop=${c.txDropped}, errs=${c.txErrors}, coll=0`,
    ]),
  ].join('\n');
const uniquePorts = fc.uniqueArray(fc.tuple(fc.integer({ min: 1, max: 65279 }), counters), { minLength: 1, maxLength: 6, selector: ([n]) => n });

const SYSCTL_KEYS = ['net.ipv4.ip_forward', 'net.ipv4.conf.all.rp_filter', 'net.ipv4.conf.default.rp_filter', 'net.ipv6.conf.all.disable_ipv6'];
const route = fc.oneof(
  fc.record({ dst: fc.constant('default'), gateway: ipv4, dev: fc.stringMatching(/^vEth_port[0-9]{2}$/) }),
  fc.record({ dst: fc.tuple(ipv4, fc.integer({ min: 0, max: 32 })).map(([ip, n]) => `${ip}/${n}`), dev: fc.stringMatching(/^eth[0-9]$/) }),
);

describe('the parsers of command output', () => {
  it('ovs-ofctl dump-ports round-trips; cut at any byte it is whole or a ParseError, never a NaN', () => {
    fc.assert(
      fc.property(uniquePorts, fc.double({ min: 0, max: 1, noNaN: true }), (ports, at) => {
        const text = portsText(ports);
        expect([...parseDumpPorts(text)]).toEqual(ports.map(([n, c]) => [String(n), c]));
        const r = typedOrValue(() => parseDumpPorts(text.slice(0, Math.floor(text.length * at))), ParseError);
        for (const c of r.value?.values() ?? []) for (const x of Object.values(c)) expect(Number.isInteger(x)).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  it('ovs-ofctl dump-ports with a word where a count goes: a ParseError', () => {
    fc.assert(
      fc.property(uniquePorts, fc.nat(), fc.stringMatching(/^[a-z][a-z0-9]{0,5}$/), (ports, which, garbage) => {
        const text = portsText(ports);
        const counts = [...text.matchAll(/=(\d+)/g)];
        const m = counts[which % counts.length]!;
        const bad = text.slice(0, m.index + 1) + garbage + text.slice(m.index + m[0].length);
        const r = typedOrValue(() => parseDumpPorts(bad), ParseError);
        // frame=, over=, crc= and coll= are not read: garbage there changes nothing.
        if (r.value) expect([...r.value]).toEqual(ports.map(([n, c]) => [String(n), c]));
      }),
      { numRuns: 200 },
    );
  });

  it('sysctl round-trips; cut at any byte it is a ParseError or every key with a value', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 99 }), { minLength: 4, maxLength: 4 }), fc.double({ min: 0, max: 1, noNaN: true }), (values, at) => {
        const text = SYSCTL_KEYS.map((k, i) => `${k} = ${values[i]}`).join('\n');
        expect(parseSysctl(text, SYSCTL_KEYS)).toEqual(Object.fromEntries(SYSCTL_KEYS.map((k, i) => [k, String(values[i])])));
        const r = typedOrValue(() => parseSysctl(text.slice(0, Math.floor(text.length * at)), SYSCTL_KEYS), ParseError);
        if (r.value) for (const k of SYSCTL_KEYS) expect(r.value[k]).toMatch(/^\d+$/);
      }),
      { numRuns: 300 },
    );
  });

  it('ip route round-trips; cut at any byte every route read is a route (default, an address or prefix), or a ParseError', () => {
    fc.assert(
      fc.property(fc.array(route, { minLength: 1, maxLength: 5 }), fc.double({ min: 0, max: 1, noNaN: true }), (routes, at) => {
        const text = routes.map((r) => `${r.dst}${'gateway' in r ? ` via ${r.gateway}` : ''} dev ${r.dev}`).join('\n');
        expect(parseRoutes(text)).toEqual(routes);
        const r = typedOrValue(() => parseRoutes(text.slice(0, Math.floor(text.length * at))), ParseError);
        for (const x of r.value ?? []) expect(x.dst).toMatch(/^(default|\d+\.\d+\.\d+\.\d+(\/\d+)?)$/);
      }),
      { numRuns: 300 },
    );
  });
});

// ---- pcap ---------------------------------------------------------------------------------

const TB = parseTestbed(MINIMAL_TESTBED);

/** readPcap, bounded in time: a hang is a failure of the property, not of the test run. */
async function readPcapBounded(file: string): Promise<{ packets?: number; error?: Error }> {
  const timeout = new Promise<never>((_, reject) => setTimeout(() => reject(new Error('readPcap hung')), 5000).unref());
  try {
    return { packets: (await Promise.race([readPcap(file, () => undefined), timeout])).packets };
  } catch (err) {
    if (!(err instanceof PcapError)) throw err;
    return { error: err };
  }
}

describe('pcap files', () => {
  it('round-trip: a stream written is read back packet for packet', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 200 }), fc.integer({ min: 64, max: 1518 }), async (count, size) => {
        const file = join(tmp, 'rt.pcap');
        const spec = streamFromTestbed(TB, 1, { count, sizes: [size] });
        writeStreamPcap(file, spec);
        const lens: number[] = [];
        await readPcap(file, (d) => lens.push(d.length));
        expect(lens).toEqual(Array.from({ length: count }, (_, i) => frameLength(spec, i)));
      }),
      { numRuns: 40 },
    );
  });

  it('cut at any byte: the whole records before the cut, if it fell between records, else a PcapError', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 50 }), fc.double({ min: 0, max: 1, noNaN: true }), async (count, at) => {
        const file = join(tmp, 'cut.pcap');
        const spec = streamFromTestbed(TB, 1, { count, sizes: [64] });
        writeStreamPcap(file, spec);
        const size = readFileSync(file).length;
        const cut = Math.floor(size * at);
        truncateSync(file, cut);
        const r = await readPcapBounded(file);
        const record = RECORD_HEADER_LEN + frameLength(spec, 0);
        const between = cut >= PCAP_HEADER_LEN && (cut - PCAP_HEADER_LEN) % record === 0;
        if (between) expect(r.packets).toBe((cut - PCAP_HEADER_LEN) / record);
        else expect(r.error).toBeInstanceOf(PcapError);
      }),
      { numRuns: 150 },
    );
  });

  it('any header byte garbled: read whole or a PcapError, never a crash or a hang', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: PCAP_HEADER_LEN + RECORD_HEADER_LEN - 1 }), fc.nat(255), async (offset, byte) => {
        const file = join(tmp, 'garbled.pcap');
        writeStreamPcap(file, streamFromTestbed(TB, 1, { count: 5, sizes: [64] }));
        const b = readFileSync(file);
        b[offset] = byte;
        writeFileSync(file, b);
        const r = await readPcapBounded(file);
        if (r.packets !== undefined) expect(r.packets).toBeLessThanOrEqual(5);
      }),
      { numRuns: 200 },
    );
  });
});

// ---- every parser, its output cut at every line boundary -------------------------------------

describe('every parser of command output, cut at every line boundary', () => {
  // Formats that say where they end (a count in a header, a closing line or bracket, a section mark of
  // the command's own): a prefix of whole lines is read as the whole output, or refused; never read as
  // a smaller switch or host. ovs-vsctl show, dump-flows, ifconfig and ip route have no end of their own:
  // a prefix of them is a valid smaller output, so their whole is the transport's to prove (the shell
  // session returns a command's output only with its exit status: tests/unit/shell-session.test.ts).
  const whole: Array<[string, (t: string) => unknown, string]> = [
    ['ovs-ofctl dump-ports', parseDumpPorts, output('dump-ports-five-ports-after-100.txt')],
    ['ovs-ofctl dump-ports (fresh)', parseDumpPorts, output('dump-ports-two-ports-fresh.txt')],
    // /proc/net/snmp and arp_cache say nothing of where they end: they are read as sections of one command whose last line is its own.
    [
      "the guest's drop counters (snmp, netstat, arp_cache, nft)",
      parseGuestDropCounters,
      `${output('proc-net-snmp-netstat-fresh-netns.txt')}dutlab-section: arp_cache\n${output('proc-net-stat-arp-cache-two-cpus.txt')}dutlab-section: nft\n${output('nft-a-list-ruleset-forward-drops.txt')}dutlab-section: end\n`,
    ],
    ['ovs-appctl dpif-netdev/pmd-stats-show', parsePmdStatsShow, output('pmd-stats-show-one-pmd-3-packets.txt')],
    ['ovs-appctl dpif-netdev/pmd-stats-show (DPDK, cycles)', parsePmdStatsShow, output('pmd-stats-show-dpdk-one-pmd-after.txt')],
    ['ovs-appctl dpif-netdev/pmd-perf-show', parsePmdPerfShow, output('pmd-perf-show-dpdk-one-pmd-metrics-off.txt')],
    ['ovs-appctl upcall/show', parseUpcallShow, output('upcall-show-dpdk-two-flows.txt')],
    ['ovs-appctl coverage/show', parseCoverageShow, output('coverage-show-dpdk-after.txt')],
    ['/proc/<pid>/task/*/stat', parseTaskStats, output('proc-task-stat-ovs-vswitchd-dpdk-after.txt')],
    ['ip neigh', parseNeighbours, output('ip-neigh-static-gateway.txt')],
    ['ip -j addr', parseIpJson, output('ip-j-addr-guest-configured.json')],
    ['ip -j -s link', parseIpJson, output('ip-j-s-link-guest-egress-up.json')],
    [
      'the hugepage reading',
      parseHugepageUse,
      'free 4\nholder 17 8192 /usr/bin/qemu-system-x86_64 -name vm\nholder 42 131072 ovs-vswitchd --pidfile=/tmp/v.pid\nend\n',
    ],
  ];
  it.each(whole)('%s', (_name, parse, text) => {
    const all = parse(text);
    const lines = text.split('\n');
    for (let k = 1; k < lines.length; k++) {
      const cut = `${lines.slice(0, k).join('\n')}\n`;
      if (cut.trim() === text.trim()) continue;
      const r = typedOrValue(() => parse(cut), ParseError);
      if (r.value !== undefined) expect(r.value, `cut after line ${k} of ${lines.length}`).toEqual(all);
    }
  });
});

// ---- the command line ------------------------------------------------------------------------

describe('the command line: every flag given twice', () => {
  /** Every command that runs an action, with its full name (`lab up`). */
  const commands = (c: Command, at: string[] = []): Array<{ path: string[]; cmd: Command }> =>
    c.commands.flatMap((sub) => [...(sub.commands.length === 0 ? [{ path: [...at, sub.name()], cmd: sub }] : []), ...commands(sub, [...at, sub.name()])]);
  const aValueFor = (o: Option) => (o.long === '--reports' ? tmp : (o.argChoices?.[0] ?? '1'));
  const cases = commands(buildCli()).flatMap(({ path, cmd }) =>
    cmd.options
      .filter((o) => o.long && o.long !== '--help' && !Array.isArray(o.defaultValue) && !o.variadic)
      .map((o) => ({ path, cmd, o, name: `${path.join(' ')} ${o.long}` })),
  );

  it.each(cases.map((c) => [c.name, c] as const))('%s: exit 2 naming it', async (_name, { path, cmd, o }) => {
    const once = (x: Option) => (x.required || x.optional ? [x.long!, aValueFor(x)] : [x.long!]);
    // The mandatory flags once, and a run's refusal report in this test's directory, never the project's reports/.
    const mandatory = cmd.options.filter((x) => (x.mandatory || x.long === '--reports') && x !== o).flatMap(once);
    const positional = cmd.registeredArguments.map(() => 'x');
    const r = await dutlab(...path, ...positional, ...mandatory, ...once(o), ...once(o));
    expect(r.exitCode, r.stderr).toBe(2);
    expect(r.stderr).toContain(`${o.long} given 2 times`);
  });
});
