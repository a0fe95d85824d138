// The results store of a fleet: PostgreSQL (npm `pg`), chosen with
// `--results postgresql://…` or the pool file's `results:`. Every run of
// every lab and controller in one database: a row per run (its history line,
// its record and testcases as JSON, so that `compare` and `--baseline` need
// no run directory of a CI runner long gone), and the figures a dashboard
// draws in tables of their own (ci/grafana/dutlab.json reads them): NDR and
// PDR, every trial, latency per load, every testcase. The schema is made and
// brought up to date on first use, by migrations (MIGRATIONS: each applied
// once, in order, recorded in schema_migrations); a run already stored is not
// stored twice.
import pg from 'pg';
import type { HistoryEntry } from '../results/history.js';
import type { RunRecord } from '../results/run.js';
import type { HistoryRead, ResultsStore, SeriesKey, StoredRun } from './store.js';
import { shownUrl } from './url.js';

/** The first schema (dutlab before migrations made it as it is, with IF NOT EXISTS: migration 1 finds such a database made). */
const SCHEMA_1 = `
CREATE TABLE IF NOT EXISTS runs (
  run_id text PRIMARY KEY,
  started_at timestamptz NOT NULL,
  testbed text NOT NULL,
  profile text NOT NULL,
  suites text NOT NULL,
  verdict text NOT NULL,
  ovs_version text,
  dpdk_version text,
  host_kernel text,
  guest_kernel text,
  entry jsonb NOT NULL,
  record jsonb,
  cases jsonb
);
CREATE INDEX IF NOT EXISTS runs_series ON runs (testbed, profile, suites, started_at);
CREATE TABLE IF NOT EXISTS throughput (
  run_id text NOT NULL REFERENCES runs ON DELETE CASCADE,
  frame integer NOT NULL,
  goal text NOT NULL,
  lower_fps double precision,
  upper_fps double precision,
  limited_by_generator boolean NOT NULL
);
CREATE TABLE IF NOT EXISTS trials (
  run_id text NOT NULL REFERENCES runs ON DELETE CASCADE,
  seq integer NOT NULL,
  frame integer NOT NULL,
  rate_fps double precision NOT NULL,
  duration_s double precision NOT NULL,
  offered bigint NOT NULL,
  sent bigint NOT NULL,
  received bigint NOT NULL,
  loss_ratio double precision NOT NULL,
  generator_short boolean NOT NULL
);
CREATE TABLE IF NOT EXISTS latency (
  run_id text NOT NULL REFERENCES runs ON DELETE CASCADE,
  frame integer NOT NULL,
  of text NOT NULL,
  load double precision NOT NULL,
  rate_fps double precision NOT NULL,
  received integer NOT NULL,
  lost integer NOT NULL,
  min_us double precision,
  avg_us double precision,
  p50_us double precision,
  p90_us double precision,
  p99_us double precision,
  p999_us double precision,
  max_us double precision,
  jitter_us double precision,
  invalid text,
  hdrh text
);
CREATE TABLE IF NOT EXISTS cases (
  run_id text NOT NULL REFERENCES runs ON DELETE CASCADE,
  suite text,
  id text NOT NULL,
  name text NOT NULL,
  status text NOT NULL,
  kind text,
  message text,
  duration_ms double precision NOT NULL
);
`;

/**
 * The database's schema as a list of changes. A later change to the database
 * (a kind of measurement gets a table, a column is added) is a new entry here,
 * never an edit of one a database may already have applied; its SQL runs once,
 * in the transaction that records it.
 */
export const MIGRATIONS: ReadonlyArray<{ version: number; what: string; sql: string }> = [
  { version: 1, what: 'runs, and the figures a dashboard draws: throughput, trials, latency, cases', sql: SCHEMA_1 },
  {
    version: 2,
    what: "frame sizes or mixes: a search's frame is its size ('64') or its mix's name ('imix', 'mix-64x3-1518x1')",
    sql: ['throughput', 'trials', 'latency'].map((t) => `ALTER TABLE ${t} ALTER COLUMN frame TYPE text USING frame::text;`).join('\n'),
  },
  {
    version: 3,
    what: "the telemetry trial's figures: one row per figure and scope, a null value where the datapath does not offer it (not_offered says why)",
    sql: `CREATE TABLE IF NOT EXISTS telemetry (
  run_id text NOT NULL REFERENCES runs ON DELETE CASCADE,
  frame text NOT NULL,
  rate_fps double precision NOT NULL,
  duration_s double precision NOT NULL,
  metric text NOT NULL,
  scope text NOT NULL,
  unit text NOT NULL,
  value double precision,
  not_offered text
);
CREATE INDEX IF NOT EXISTS telemetry_metric ON telemetry (metric, run_id);`,
  },
];

/** The newest schema this dutlab writes. */
export const DATABASE_VERSION = MIGRATIONS.at(-1)!.version;

const MIGRATIONS_TABLE = `CREATE TABLE IF NOT EXISTS schema_migrations (
  version integer PRIMARY KEY,
  what text NOT NULL,
  applied_at timestamptz NOT NULL DEFAULT now()
)`;

/** A database a newer dutlab has changed: this one would misread it, and writes nothing. */
export class NewerDatabaseError extends Error {}

/** Cuts a connection attempt that would otherwise wait for the kernel's TCP timeout. */
const CONNECT_TIMEOUT_MS = 5000;

/** The advisory lock the schema is made under: one number for every dutlab ("dutl" in ASCII). */
const SCHEMA_LOCK = 0x6475746c;

export class PgStore implements ResultsStore {
  private readonly pool: pg.Pool;
  private ready: Promise<void> | null = null;

  constructor(private readonly url: string) {
    this.pool = new pg.Pool({ connectionString: url, max: 2, connectionTimeoutMillis: CONNECT_TIMEOUT_MS, idleTimeoutMillis: 1000 });
    // An idle connection the server closed (the database went away) is an error of the pool's, not a crash of dutlab.
    this.pool.on('error', () => undefined);
  }

  get where(): string {
    return shownUrl(this.url);
  }

  private schema(): Promise<void> {
    this.ready ??= this.makeSchema().catch((e: unknown) => {
      this.ready = null;
      throw e;
    });
    return this.ready;
  }

  /**
   * The migrations the database lacks, under a transaction-scoped advisory
   * lock: two dutlab processes storing into a new database at once would
   * otherwise race in PostgreSQL's catalog (`CREATE TABLE IF NOT EXISTS` is
   * not atomic against itself: one gets a duplicate key on pg_type) and one
   * would fail. A database a newer dutlab migrated further is refused.
   */
  private makeSchema(): Promise<void> {
    return this.transaction(async (client) => {
      await client.query('SELECT pg_advisory_xact_lock($1)', [SCHEMA_LOCK]);
      await client.query(MIGRATIONS_TABLE);
      const applied = await client.query<{ v: number | null }>('SELECT max(version) AS v FROM schema_migrations');
      const at = applied.rows[0]?.v ?? 0;
      if (at > DATABASE_VERSION)
        throw new NewerDatabaseError(
          `${this.where}: its schema is at version ${at}, written by a newer dutlab; this one knows versions up to ${DATABASE_VERSION} and leaves it alone (use the newer dutlab)`,
        );
      for (const m of MIGRATIONS.filter((x) => x.version > at)) {
        await client.query(m.sql);
        await client.query('INSERT INTO schema_migrations (version, what) VALUES ($1, $2)', [m.version, m.what]);
      }
    });
  }

  /** One transaction on one connection of the pool: committed, or rolled back when `work` throws. */
  private async transaction(work: (client: pg.PoolClient) => Promise<void>): Promise<void> {
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      await work(client);
      await client.query('COMMIT');
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      client.release();
    }
  }

  async add(r: StoredRun): Promise<void> {
    await this.schema();
    const e = r.entry;
    await this.transaction(async (client) => {
      const inserted = await client.query(
        `INSERT INTO runs (run_id, started_at, testbed, profile, suites, verdict, ovs_version, dpdk_version, host_kernel, guest_kernel, entry, record, cases)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) ON CONFLICT (run_id) DO NOTHING`,
        [
          e.runId,
          e.startedAt,
          e.testbed,
          e.profile,
          e.suites.join(' '),
          e.verdict,
          e.versions.ovs ?? null,
          e.versions.dpdk ?? null,
          e.versions.hostKernel ?? null,
          e.versions.guestKernel ?? null,
          JSON.stringify(e),
          r.run ? JSON.stringify(r.run) : null,
          r.cases ? JSON.stringify(r.cases) : null,
        ],
      );
      if (inserted.rowCount === 1) await insertFigures(client, e, r);
    });
  }

  async history(): Promise<HistoryRead> {
    await this.schema();
    const rows = await this.pool.query<{ entry: HistoryEntry }>('SELECT entry FROM runs ORDER BY started_at, run_id');
    return { entries: rows.rows.map((r) => r.entry), skipped: [] };
  }

  async run(runId: string): Promise<RunRecord | null> {
    await this.schema();
    const rows = await this.pool.query<{ record: RunRecord['run'] | null; cases: RunRecord['cases'] | null }>(
      'SELECT record, cases FROM runs WHERE run_id = $1',
      [runId],
    );
    const row = rows.rows[0];
    return row?.record ? { run: row.record, cases: row.cases ?? [] } : null;
  }

  async lastPass(key: SeriesKey, before: string): Promise<string | null> {
    await this.schema();
    const rows = await this.pool.query<{ run_id: string }>(
      `SELECT run_id FROM runs WHERE testbed = $1 AND profile = $2 AND suites = $3 AND verdict = 'pass' AND started_at < $4
       ORDER BY started_at DESC LIMIT 1`,
      [key.testbed, key.profile, key.suites.join(' '), before],
    );
    return rows.rows[0]?.run_id ?? null;
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}

/** The run's figures in the dashboard's tables (in the transaction that stored its row). */
async function insertFigures(client: pg.PoolClient, e: HistoryEntry, r: StoredRun): Promise<void> {
  for (const t of e.throughput)
    await client.query('INSERT INTO throughput VALUES ($1, $2, $3, $4, $5, $6)', [e.runId, t.frame, t.goal, t.lower, t.upper, t.limitedByGenerator]);
  for (const [i, t] of (e.trials ?? []).entries())
    await client.query('INSERT INTO trials VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)', [
      e.runId,
      i,
      t.frame,
      t.rate,
      t.durationS,
      t.offered,
      t.sent,
      t.received,
      t.lossRatio,
      t.generatorShort,
    ]);
  for (const l of e.latency ?? [])
    await client.query('INSERT INTO latency VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)', [
      e.runId,
      l.frame,
      l.of,
      l.load,
      l.rate,
      l.received,
      l.lost,
      l.received > 0 ? l.minUs : null,
      l.received > 0 ? l.avgUs : null,
      l.p50Us,
      l.p90Us,
      l.p99Us,
      l.p999Us ?? null,
      l.received > 0 ? l.maxUs : null,
      l.jitterUs,
      l.invalid ?? null,
      l.hdrh ?? null,
    ]);
  for (const t of e.telemetry ?? [])
    for (const m of t.metrics)
      await client.query('INSERT INTO telemetry VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)', [
        e.runId,
        String(t.frame),
        t.rate,
        t.durationS,
        m.id,
        m.scope,
        m.unit,
        m.value,
        m.notOffered ?? null,
      ]);
  for (const c of r.cases ?? [])
    await client.query('INSERT INTO cases VALUES ($1, $2, $3, $4, $5, $6, $7, $8)', [
      e.runId,
      c.suite ?? null,
      c.id,
      c.name,
      c.status,
      c.kind ?? null,
      c.message ?? null,
      c.durationMs,
    ]);
}
