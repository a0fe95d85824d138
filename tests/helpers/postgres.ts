// A real PostgreSQL for the results store's tests: Debian's server
// (/usr/lib/postgresql/15/bin, installed by .ci/run with its service kept
// from starting), run as the package's `postgres` user (initdb and postgres
// refuse root), its data and its socket in a temporary directory owned by
// that user, no TCP at all (listen_addresses empty): a Unix socket only.
// Stopped by its recorded pid (a fast shutdown, then the directory removed).
import { chownSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa, type ResultPromise } from 'execa';
import pg from 'pg';
import { waitUntil } from '../../lib/wait.js';

const BIN = '/usr/lib/postgresql/15/bin';

export interface TestPostgres {
  /** A connection URL for the store: the database on the socket directory. */
  url: string;
  /** Makes another database on the same server; its URL. */
  createDatabase(name: string): Promise<string>;
  dir: string;
  pid: number;
  /** Stops the server by its recorded pid (a fast shutdown) and waits for it: the database goes away under its clients. */
  stop(): Promise<void>;
  /** Starts it again on the same data (after stop): the database is back. */
  start(): Promise<void>;
  /** Stops it and removes its directory. */
  destroy(): Promise<void>;
}

const asPostgres = (argv: string[]) => execa('runuser', ['-u', 'postgres', '--', ...argv], { stdin: 'ignore' });

export async function startPostgres(): Promise<TestPostgres> {
  const dir = mkdtempSync(join(tmpdir(), 'dutlab-pg-'));
  const { uid, gid } = await postgresIds();
  chownSync(dir, uid, gid);
  const data = join(dir, 'data');
  await asPostgres([`${BIN}/initdb`, '-D', data, '-A', 'trust', '-U', 'postgres', '--no-sync', '-E', 'UTF8']);
  let server: ResultPromise | null = null;
  const start = async () => {
    // The server itself, not pg_ctl: its pid is ours to record and to signal.
    server = execa('runuser', ['-u', 'postgres', '--', `${BIN}/postgres`, '-D', data, '-k', dir, '-c', 'listen_addresses=', '-c', 'fsync=off'], {
      reject: false,
      stdin: 'ignore',
      stdout: 'ignore',
      stderr: 'pipe',
    });
    await waitUntil(
      'PostgreSQL to accept connections on its socket',
      async () => (await execa(`${BIN}/pg_isready`, ['-h', dir], { reject: false })).exitCode === 0,
      {
        timeoutMs: 30_000,
        intervalMs: 100,
      },
    );
  };
  const stop = async () => {
    const s = server;
    server = null;
    if (!s) return;
    // runuser waits for postgres: the postmaster's pid is in its pidfile; SIGINT is its fast shutdown.
    const pid = Number(readFileSync(join(data, 'postmaster.pid'), 'utf8').split('\n')[0]);
    process.kill(pid, 'SIGINT');
    await s;
  };
  await start();
  const urlOf = (db: string) => `postgresql:///${db}?host=${encodeURIComponent(dir)}&user=postgres`;
  await asPostgres([`${BIN}/createdb`, '-h', dir, 'dutlab']);
  return {
    url: urlOf('dutlab'),
    async createDatabase(name) {
      await withClient(urlOf('dutlab'), (c) => c.query(`CREATE DATABASE ${name}`));
      return urlOf(name);
    },
    dir,
    get pid() {
      return Number(readFileSync(join(data, 'postmaster.pid'), 'utf8').split('\n')[0]);
    },
    stop,
    start,
    async destroy() {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function postgresIds(): Promise<{ uid: number; gid: number }> {
  const r = await execa('id', ['postgres']);
  const m = /uid=(\d+).*gid=(\d+)/.exec(r.stdout);
  if (!m) throw new Error(`no postgres user (the postgresql package installs it): ${r.stdout}`);
  return { uid: Number(m[1]), gid: Number(m[2]) };
}

/** A client of the database for the length of `use` (what a test reads back, as a dashboard would). */
export async function withClient<T>(url: string, use: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return await use(c);
  } finally {
    await c.end();
  }
}
