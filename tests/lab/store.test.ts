// The results store (lib/report/history.ts's ResultsStore): the same tests
// against the embedded store (a reports directory) and against PostgreSQL,
// Debian's server started by the test (tests/helpers/postgres.ts: its own
// user, a Unix socket only, stopped by its recorded pid). A database that
// goes away under a run, and the run stored later (`dutlab results push`).
// In the lab tier: a PostgreSQL to start costs the fast tier more than its budget has left.
import { cpSync, existsSync, mkdtempSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FileStore } from '../../lib/store/file.js';
import type { ResultsStore, StoredRun } from '../../lib/store/store.js';
import { SCHEMA_VERSION } from '../../lib/results/schema.js';
import { findRun, keepRun, LAST_PASS, NOT_STORED, openStore, storedRunOf } from '../../lib/store/open.js';
import { DATABASE_VERSION, MIGRATIONS, NewerDatabaseError, PgStore } from '../../lib/store/pg.js';
import { fixturePath } from '../helpers/fixtures.js';
import { dutlabInProcess } from '../helpers/in-process.js';
import { startPostgres, withClient, type TestPostgres } from '../helpers/postgres.js';

const ROOT = new URL('../..', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'dutlab-store-'));
let db: TestPostgres;
beforeAll(async () => {
  db = await startPostgres();
}, 60_000);
afterAll(async () => {
  await db?.destroy();
  rmSync(dir, { recursive: true, force: true });
});

/** A real run of the virtual lab (PVP and a throughput search), as a store keeps it. */
const fixture = storedRunOf(fixturePath('runs/pvp-throughput-schema-2'), dir);

/** The fixture as another run: its id, start, testbed, profile, suites and verdict. */
function runLike(id: string, at: string, o: { testbed?: string; profile?: string; suites?: string[]; verdict?: string } = {}): StoredRun {
  const suites = o.suites ?? ['pvp', 'throughput'];
  const run = { ...fixture.run!, runId: id, startedAt: at, testbedName: o.testbed ?? 'lab-1', profile: o.profile ?? 'virtual' };
  run.suites = suites.map((s) => ({ ...(fixture.run!.suites.find((x) => x.suite === s) ?? fixture.run!.suites[0]!), suite: s }));
  return {
    entry: { ...fixture.entry, runId: id, startedAt: at, testbed: run.testbedName, profile: run.profile, suites, verdict: o.verdict ?? 'pass' },
    run,
    cases: fixture.cases,
  };
}

let stores = 0;
const STORES: Array<[string, () => { store: ResultsStore; reports: string }]> = [
  [
    'the embedded store (history.jsonl)',
    () => {
      const reports = join(dir, `reports${stores++}`);
      return { store: new FileStore(reports), reports };
    },
  ],
  [
    'PostgreSQL',
    () => {
      const reports = join(dir, `reports${stores++}`);
      // A database of its own for each test: the same server.
      return { store: openStore(db.url.replace('/dutlab?', `/s${stores}?`), reports), reports };
    },
  ],
];

/** The embedded store keeps a run's record in its run directory: one made as a run makes it. */
function place(reports: string, r: StoredRun): void {
  cpSync(fixturePath('runs/pvp-throughput-schema-2'), join(reports, r.entry.runId), { recursive: true });
  const f = join(reports, r.entry.runId, 'run.json');
  const onDisk = { ...r.run, schemaVersion: SCHEMA_VERSION };
  writeFileSync(f, JSON.stringify(onDisk));
  const s = join(reports, r.entry.runId, 'summary.json');
  writeFileSync(s, JSON.stringify({ ...JSON.parse(readFileSync(s, 'utf8')), runId: r.entry.runId, verdict: r.entry.verdict }));
}

describe.each(STORES)('%s', (_name, make) => {
  async function filled(runs: StoredRun[]): Promise<{ store: ResultsStore; reports: string }> {
    const s = make();
    if (s.store instanceof FileStore) for (const r of runs) place(s.reports, r);
    else await db.createDatabase(`s${stores}`);
    for (const r of runs) await s.store.add(r);
    return s;
  }

  it('keeps runs: the history in the order they started, each run whole (record and testcases), a run stored twice once', async () => {
    const a = runLike('run-a', '2026-11-01T00:00:00.000Z');
    const b = runLike('run-b', '2026-11-02T00:00:00.000Z', { verdict: 'fail' });
    const { store } = await filled([b, a]);
    try {
      await store.add(a);
      const h = await store.history();
      expect(h.entries.map((e) => [e.runId, e.verdict])).toEqual([
        ['run-a', 'pass'],
        ['run-b', 'fail'],
      ]);
      expect(h.entries[0]).toEqual(a.entry);
      const rec = await store.run('run-b');
      expect(rec!.run.runId).toBe('run-b');
      expect(rec!.cases).toEqual(b.cases);
      expect(await store.run('run-z')).toBeNull();
    } finally {
      await store.close();
    }
  });

  it('picks last-pass: the newest passing run of the same testbed, profile and suites before the candidate, on a history of them mixed', async () => {
    const runs = [
      runLike('a-pass', '2026-11-01T00:00:00.000Z'),
      runLike('b-fail', '2026-11-02T00:00:00.000Z', { verdict: 'fail' }),
      runLike('c-other-testbed', '2026-11-03T00:00:00.000Z', { testbed: 'lab-2' }),
      runLike('d-other-profile', '2026-11-04T00:00:00.000Z', { profile: 'ovs-dpdk' }),
      runLike('e-other-suites', '2026-11-05T00:00:00.000Z', { suites: ['pvp'] }),
      runLike('f-infra', '2026-11-06T00:00:00.000Z', { verdict: 'infra-error' }),
      runLike('g-after', '2026-11-09T00:00:00.000Z'),
    ];
    const { store, reports } = await filled(runs);
    try {
      const candidate = { run: runLike('cand', '2026-11-07T00:00:00.000Z').run!, cases: [] };
      expect((await findRun(LAST_PASS, store, reports, candidate)).run.runId).toBe('a-pass');
      const later = { run: runLike('cand2', '2026-11-10T00:00:00.000Z').run!, cases: [] };
      expect((await findRun(LAST_PASS, store, reports, later)).run.runId).toBe('g-after');
      const elsewhere = { run: runLike('cand3', '2026-11-10T00:00:00.000Z', { testbed: 'lab-3' }).run!, cases: [] };
      await expect(findRun(LAST_PASS, store, reports, elsewhere)).rejects.toThrow(
        /^last-pass: no passing run of testbed lab-3, profile virtual, suites pvp throughput before 2026-11-10T00:00:00\.000Z in /,
      );
    } finally {
      await store.close();
    }
  });
});

describe('PostgreSQL as the fleet store', () => {
  it('keeps the figures a dashboard draws in tables of their own: NDR and PDR, every trial, latency per load, every testcase', async () => {
    const url = await db.createDatabase('figures');
    const store = openStore(url, dir);
    const r = runLike('fig-1', '2026-11-01T00:00:00.000Z');
    r.entry.latency = [
      {
        frame: 64,
        of: 'dut',
        load: 0.5,
        rate: 20000,
        sent: 2000,
        received: 1990,
        lost: 10,
        reordered: 0,
        duplicated: 0,
        minUs: 10,
        avgUs: 40,
        maxUs: 900,
        jitterUs: 3,
        p50Us: 35,
        p90Us: 60,
        p99Us: 120,
        p999Us: 800,
      },
    ];
    await store.add(r);
    await store.close();
    await withClient(url, async (c) => {
      const count = async (t: string) => Number((await c.query(`SELECT count(*) AS n FROM ${t} WHERE run_id = 'fig-1'`)).rows[0].n);
      expect(await count('throughput')).toBe(r.entry.throughput.length);
      expect(await count('trials')).toBe(r.entry.trials!.length);
      expect(await count('cases')).toBe(r.cases!.length);
      expect((await c.query("SELECT p99_us, lost FROM latency WHERE run_id = 'fig-1'")).rows).toEqual([{ p99_us: 120, lost: 10 }]);
      expect((await c.query("SELECT verdict, ovs_version FROM runs WHERE run_id = 'fig-1'")).rows[0]).toEqual({
        verdict: 'pass',
        ovs_version: r.entry.versions.ovs,
      });
    });
  });

  it('a database gone when the run ends: the run keeps its report and its exit code and says it was not stored; `dutlab results push` stores it once the database is back', async () => {
    const url = await db.createDatabase('away');
    const reports = join(dir, 'away');
    const r = runLike('away-1', '2026-11-01T00:00:00.000Z');
    place(reports, r);
    const runDir = join(reports, 'away-1');
    let latest = '';
    await db.stop();
    try {
      const store = openStore(url, reports);
      const said = await keepRun(store, runDir, r);
      await store.close();
      expect(said).toMatch(
        /^the result was not stored in postgresql:\/\/\/away\?host=\S+: .*; its report is in \S+away-1, and `dutlab results push away-1` stores it$/,
      );
      expect(readFileSync(join(runDir, NOT_STORED), 'utf8')).toMatch(/^postgresql:\/\/\/away/);
      // A whole `dutlab run` the same: its exit code its own (2: its testbed cannot be read), its report written.
      const run = await dutlabInProcess(
        'run',
        '--quiet',
        '--testbed',
        join(dir, 'no-such.yaml'),
        '--profile',
        'virtual',
        '--reports',
        reports,
        '--results',
        url,
      );
      expect(run.exitCode).toBe(2);
      latest = readlinkSync(join(reports, 'latest'));
      expect(run.stderr).toMatch(
        new RegExp(`^dutlab: the result was not stored in postgresql:///away\\?host=\\S+: .*\`dutlab results push ${latest}\` stores it$`, 'm'),
      );
      expect(existsSync(join(reports, latest, 'summary.md'))).toBe(true);
      expect(existsSync(join(reports, latest, NOT_STORED))).toBe(true);
    } finally {
      await db.start();
    }
    const push = await dutlabInProcess('results', 'push', 'away-1', latest, '--reports', reports, '--results', url);
    expect(push.stdout).toMatch(/^away-1: stored in postgresql:\/\/\/away/);
    expect(existsSync(join(runDir, NOT_STORED))).toBe(false);
    expect(existsSync(join(reports, latest, NOT_STORED))).toBe(false);
    const store = openStore(url, reports);
    try {
      expect((await store.history()).entries.map((e) => [e.runId, e.verdict])).toEqual([
        ['away-1', 'pass'],
        [latest, 'infra-error'],
      ]);
    } finally {
      await store.close();
    }
  });

  it('migrates: a database made before migrations is brought to the newest schema with its runs still read; one a newer dutlab migrated is refused, untouched', async () => {
    const url = await db.createDatabase('migrated');
    const first = new PgStore(url);
    await first.add(runLike('old-1', '2026-11-01T00:00:00.000Z'));
    await first.close();
    // What dutlab before migrations left: the same tables, no record of versions.
    await withClient(url, (c) => c.query('DROP TABLE schema_migrations'));
    const again = new PgStore(url);
    expect((await again.history()).entries.map((e) => e.runId)).toEqual(['old-1']);
    await again.close();
    const versions = await withClient(url, (c) => c.query('SELECT version FROM schema_migrations ORDER BY version'));
    expect(versions.rows.map((r) => r.version)).toEqual(MIGRATIONS.map((m) => m.version));
    // Version 2: a frame is text, a mix's name beside the sizes older rows hold as their digits.
    const mixed = runLike('imix-1', '2026-11-01T01:00:00.000Z');
    mixed.entry = { ...mixed.entry, throughput: mixed.entry.throughput.map((t) => ({ ...t, frame: 'imix' })) };
    const withMix = new PgStore(url);
    await withMix.add(mixed);
    await withMix.close();
    const frames = await withClient(url, (c) => c.query('SELECT DISTINCT run_id, frame FROM throughput ORDER BY run_id'));
    expect(frames.rows).toEqual([
      { run_id: 'imix-1', frame: 'imix' },
      { run_id: 'old-1', frame: '64' },
    ]);
    await withClient(url, (c) => c.query("INSERT INTO schema_migrations (version, what) VALUES ($1, 'a newer dutlab')", [DATABASE_VERSION + 1]));
    const older = new PgStore(url);
    await expect(older.history()).rejects.toThrow(NewerDatabaseError);
    await expect(older.add(runLike('old-2', '2026-11-02T00:00:00.000Z'))).rejects.toThrow(`version ${DATABASE_VERSION + 1}, written by a newer dutlab`);
    await older.close();
    const runs = await withClient(url, (c) => c.query('SELECT run_id FROM runs ORDER BY run_id'));
    expect(runs.rows).toEqual([{ run_id: 'imix-1' }, { run_id: 'old-1' }]);
  });

  it('two `dutlab results push` of one run at once into a new database: both exit 0, the run stored once (the schema made under an advisory lock), three times over', async () => {
    const reports = join(dir, 'twice');
    const r = runLike('twice-1', '2026-11-02T00:00:00.000Z');
    place(reports, r);
    for (let i = 0; i < 3; i++) {
      const url = await db.createDatabase(`twice${i}`);
      const push = () => execa('node', ['bin/dutlab.js', 'results', 'push', 'twice-1', '--reports', reports, '--results', url], { cwd: ROOT, reject: false });
      const [a, b] = await Promise.all([push(), push()]);
      expect([a.exitCode, b.exitCode], `${a.stderr}\n${b.stderr}`).toEqual([0, 0]);
      const rows = await withClient(url, (c) => c.query("SELECT count(*)::int AS n FROM runs WHERE run_id = 'twice-1'"));
      expect(rows.rows[0]).toEqual({ n: 1 });
    }
  });

  it('`dutlab results import` moves a reports directory’s history into the database; `compare last-pass` then reads both runs from it', async () => {
    const url = await db.createDatabase('moved');
    const reports = join(dir, 'moved');
    const local = new FileStore(reports);
    for (const r of [runLike('m-1', '2026-11-01T00:00:00.000Z'), runLike('m-2', '2026-11-02T00:00:00.000Z'), runLike('m-3', '2026-11-03T00:00:00.000Z')]) {
      place(reports, r);
      await local.add(r);
    }
    rmSync(join(reports, 'm-1'), { recursive: true });
    const imported = await dutlabInProcess('results', 'import', '--reports', reports, '--results', url);
    expect(imported.stdout).toMatch(/3 run\(s\) of \S+history\.jsonl in postgresql:\/\/\/moved\S* \(2 with their record, 1 their history line only\)/);
    // The CI runner that ran m-2 is gone: its record comes from the database, the candidate's from its directory.
    rmSync(join(reports, 'm-2'), { recursive: true });
    const empty = join(dir, 'empty');
    const cmp = await dutlabInProcess('compare', LAST_PASS, join(reports, 'm-3'), '--results', url, '--reports', empty);
    expect(cmp.stdout).toMatch(/m-2/);
    expect(cmp.exitCode).toBe(0);
    // A run the database has only the history line of cannot be compared with, and compare says why.
    const before = await dutlabInProcess('compare', LAST_PASS, 'm-2', '--results', url, '--reports', empty);
    expect(before.stderr).toMatch(/m-1: neither a run directory nor a run id in postgresql:\/\/\/moved\S*, which has its history line but not its record/);
    expect(before.exitCode).toBe(2);
  });
});

/**
 * A panel's SQL as Grafana sends it: its PostgreSQL macros expanded as
 * Grafana's PostgreSQL data source expands them, for a time range, and the
 * multi-value variables as Grafana quotes them ('a','b').
 */
function expandGrafana(sql: string, range: { from: string; to: string }, vars: Record<string, string[]>): string {
  const seconds = (interval: string) => {
    const m = /^(\d+)([smhd])$/.exec(interval.trim())!;
    return Number(m[1]) * { s: 1, m: 60, h: 3600, d: 86400 }[m[2] as 's' | 'm' | 'h' | 'd'];
  };
  let out = sql
    .replace(/\$__timeFilter\(([^)]+)\)/g, (_m, col: string) => `${col} BETWEEN '${range.from}' AND '${range.to}'`)
    .replace(
      /\$__timeGroupAlias\(([^,]+),\s*([^)]+)\)/g,
      (_m, col: string, iv: string) => `floor(extract(epoch from ${col})/${seconds(iv)})*${seconds(iv)} AS "time"`,
    )
    .replace(/\$__timeFrom\(\)/g, `'${range.from}'`)
    .replace(/\$__timeTo\(\)/g, `'${range.to}'`);
  for (const [name, values] of Object.entries(vars)) out = out.replaceAll(`$${name}`, values.map((v) => `'${v.replace(/'/g, "''")}'`).join(','));
  if (/\$\w/.test(out)) throw new Error(`a macro or variable left unexpanded: ${out}`);
  return out;
}

interface Panel {
  title: string;
  type: string;
  targets: Array<{ format: string; rawSql: string }>;
}

describe('the Grafana dashboard (ci/grafana/dutlab.json)', () => {
  const dash = JSON.parse(readFileSync(fixturePath('../ci/grafana/dutlab.json'), 'utf8')) as {
    panels: Panel[];
    templating: { list: Array<{ name: string; type: string; query: string }> };
  };

  it("runs every panel's query and every variable's against a store of runs, each answering in the shape its panel draws", async () => {
    const url = await db.createDatabase('dash');
    const store = openStore(url, dir);
    const runs = [
      runLike('d-1', '2026-11-01T00:00:00.000Z'),
      runLike('d-2', '2026-11-02T00:00:00.000Z', { verdict: 'fail' }),
      runLike('d-3', '2026-11-03T00:00:00.000Z', { testbed: 'lab-2', profile: 'ovs-dpdk' }),
    ];
    // The fixture's PDR search found no lower bound: these runs did.
    for (const r of runs) r.entry.throughput = r.entry.throughput.map((t) => (t.goal === 'PDR' ? { ...t, lower: 30_000, upper: 31_000 } : t));
    runs[1]!.cases = [{ ...fixture.cases![0]!, status: 'failed', kind: 'dut', message: 'return packets: 10 of 1000 lost' }];
    for (const r of runs)
      r.entry.latency = [
        {
          frame: 64,
          of: 'dut',
          load: 0.5,
          rate: 1,
          sent: 100,
          received: 100,
          lost: 0,
          reordered: 0,
          duplicated: 0,
          minUs: 5,
          avgUs: 9,
          maxUs: 50,
          jitterUs: 1,
          p50Us: 8,
          p90Us: 12,
          p99Us: 40,
          p999Us: 50,
        },
      ];
    // The telemetry trial's figures: cycles per packet and the lookup shares are drawn, a figure not offered is not.
    for (const [i, r] of runs.entries())
      r.entry.telemetry = [
        {
          frame: 64,
          rate: 30_000,
          goal: 'PDR',
          durationS: 2,
          sent: 60_000,
          received: 60_000,
          perfMetrics: true,
          metrics: [
            { id: 'pmd.cycles_per_packet.processing', scope: 'core 1', label: 'processing cycles per packet', unit: 'cycles/packet', value: 20_000 + i },
            { id: 'pmd.hits.emc', scope: 'core 1', label: 'exact-match cache hits', unit: '% of packets', value: 99 },
            { id: 'pmd.hits.smc', scope: 'core 1', label: 'signature-match cache hits', unit: '% of packets', value: null, notOffered: 'made up' },
          ],
        },
      ];
    for (const r of runs) await store.add(r);
    await store.close();
    await withClient(url, async (c) => {
      const vars: Record<string, string[]> = {};
      for (const v of dash.templating.list.filter((x) => x.type === 'query')) {
        vars[v.name] = (await c.query(v.query)).rows.map((row) => String(Object.values(row)[0]));
      }
      expect(vars).toEqual({ testbed: ['lab-1', 'lab-2'], profile: ['ovs-dpdk', 'virtual'] });
      const range = { from: '2026-10-01T00:00:00Z', to: '2026-12-01T00:00:00Z' };
      const answers = new Map<string, Record<string, unknown>[]>();
      for (const p of dash.panels)
        for (const t of p.targets) {
          const rows = (await c.query(expandGrafana(t.rawSql, range, vars))).rows as Record<string, unknown>[];
          expect(rows.length, p.title).toBeGreaterThan(0);
          if (t.format === 'time_series') expect(Object.keys(rows[0]!).sort(), p.title).toEqual(['metric', 'time', 'value']);
          answers.set(p.title, rows);
        }
      // The NDR panel draws the stored lower bounds, one point per run and frame size.
      const ndr = answers.get('NDR (lower bound) per testbed, profile and frame size')!;
      const want = fixture.entry.throughput.filter((t) => t.goal === 'NDR');
      expect(ndr.map((r) => Number(r.value))).toEqual(runs.flatMap(() => want.map((t) => t.lower)));
      expect(ndr[0]!.metric).toBe(`lab-1 virtual ${want[0]!.frame} B`);
      expect(answers.get('Failed testcases')!.map((r) => [r.run_id, r.message])).toEqual([['d-2', 'return packets: 10 of 1000 lost']]);
      expect(answers.get('PMD cycles per packet (telemetry trial at the PDR)')!.map((r) => Number(r.value))).toEqual([20_000, 20_001, 20_002]);
      expect(answers.get('PMD cycles per packet (telemetry trial at the PDR)')![0]!.metric).toBe('lab-1 virtual 64 core 1 pmd.cycles_per_packet.processing');
      expect(answers.get('Lookup hit shares (telemetry trial at the PDR)')!.map((r) => r.metric)).toEqual(
        runs.map((r) => `${r.entry.testbed} ${r.entry.profile} 64 core 1 pmd.hits.emc`),
      );
      // The figure not offered is a row with no value, never a zero.
      const smc = await c.query("SELECT value, not_offered FROM telemetry WHERE metric = 'pmd.hits.smc' LIMIT 1");
      expect(smc.rows).toEqual([{ value: null, not_offered: 'made up' }]);
      // A time range without runs draws nothing.
      const none = await c.query(expandGrafana(dash.panels[0]!.targets[0]!.rawSql, { from: '2020-01-01T00:00:00Z', to: '2020-02-01T00:00:00Z' }, vars));
      expect(none.rows).toEqual([]);
    });
  });
});
