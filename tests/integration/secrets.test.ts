// A canary in every place a secret can come from: an inline password (refused
// at load), the name written in passwordEnv (a password typed where a name
// goes), the value of that variable, PGPASSWORD, the password of a --results
// URL, and a pool file's results: URL. Each is looked for in every file
// under the run's reports directory (the run directory, the archived
// testbed, JUnit, run.json, the embedded store's history) and on the
// terminal: it must be in none.
import { execa } from 'execa';
import { lstatSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseDocument } from 'yaml';
import { afterAll, describe, expect, it } from 'vitest';
import { REDACTED_NAME } from '../../lib/testbed/load.js';
import { fixturePath } from '../helpers/fixtures.js';

const ROOT = new URL('../..', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'dutlab-canary-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const CANARY = {
  inline: 'InlineCanary4711',
  name: 'CANARY_TYPED_AS_NAME_4712',
  value: 'EnvValueCanary4713',
  pg: 'PgPasswordCanary4714',
  url: 'UrlCanary4715',
  pool: 'PoolUrlCanary4716',
};

/** The virtual lab's testbed with every host's auth replaced, its hosts refusing connections (nothing listens on port 1). */
function testbed(name: string, auth: Record<string, string>): string {
  const doc = parseDocument(readFileSync(fixturePath('testbeds/virtual.yaml'), 'utf8'));
  for (const role of ['host', 'guest', 'tg']) {
    doc.setIn(['hosts', role, 'auth'], doc.createNode(auth));
    doc.setIn(['hosts', role, 'hostKey'], doc.createNode({ fingerprint: 'SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU' }));
    doc.setIn(['hosts', role, 'port'], 1);
    doc.setIn(['hosts', role, 'connectTimeoutMs'], 2000);
  }
  doc.setIn(['lock', 'path'], join(dir, `${name}.lock`));
  const file = join(dir, `${name}.yaml`);
  writeFileSync(file, doc.toString());
  return file;
}

function filesUnder(d: string): string[] {
  return readdirSync(d).flatMap((f) => {
    const p = join(d, f);
    const st = lstatSync(p);
    return st.isSymbolicLink() ? [] : st.isDirectory() ? filesUnder(p) : [p];
  });
}

/** Where any canary stands: "file: canary" for every file under `reports`, and "stdout"/"stderr". */
function canariesIn(reports: string, out: { stdout: string; stderr: string }): string[] {
  const texts: Array<[string, string]> = [
    ...filesUnder(reports).map((f) => [f, readFileSync(f, 'latin1')] as [string, string]),
    ['stdout', out.stdout],
    ['stderr', out.stderr],
  ];
  return texts.flatMap(([where, text]) =>
    Object.values(CANARY)
      .filter((c) => text.includes(c))
      .map((c) => `${where}: ${c}`),
  );
}

async function dutlab(args: string[], env: Record<string, string> = {}) {
  return execa('node', ['bin/dutlab.js', ...args], { cwd: ROOT, reject: false, timeout: 120_000, env, extendEnv: true });
}

describe('secrets', () => {
  it('are in no report, archive, store or terminal line, wherever they came from', async () => {
    const reports = { inline: join(dir, 'r-inline'), named: join(dir, 'r-named'), valued: join(dir, 'r-valued'), pool: join(dir, 'r-pool') };
    const pool = join(dir, 'pool.yaml');
    const pooledTb = testbed('pooled', { passwordEnv: 'DUTLAB_CANARY_PW' });
    writeFileSync(
      pool,
      `results: postgresql://lab:${CANARY.pool}@127.0.0.1:1/dutlab\ntestbeds:\n  - { name: pooled, testbed: ${pooledTb}, labels: [canary] }\n`,
    );
    const env = { DUTLAB_CANARY_PW: CANARY.value, PGPASSWORD: CANARY.pg };
    const [inline, named, valued, pooled] = await Promise.all([
      dutlab(['run', '--quiet', '--testbed', testbed('inline', { password: CANARY.inline }), '--profile', 'virtual', '--reports', reports.inline], env),
      dutlab(
        [
          'run',
          '--quiet',
          '--testbed',
          testbed('named', { passwordEnv: CANARY.name }),
          '--profile',
          'virtual',
          '--reports',
          reports.named,
          '--results',
          `postgresql://lab:${CANARY.url}@127.0.0.1:1/dutlab`,
        ],
        env,
      ),
      dutlab(['run', '--quiet', '--testbed', testbed('valued', { passwordEnv: 'DUTLAB_CANARY_PW' }), '--profile', 'virtual', '--reports', reports.valued], env),
      dutlab(['run', '--quiet', '--pool', pool, '--label', 'canary', '--profile', 'virtual', '--reports', reports.pool], env),
    ]);
    // Each failed as it should, for the reason it should: the check below is about runs that did go through the code that writes.
    expect(inline.exitCode, inline.stderr).toBe(2);
    expect(inline.stderr).toMatch(/hosts\.host\.auth\.password: an inline secret/);
    expect(named.exitCode, named.stderr).toBe(2);
    expect(named.stderr).toContain('the password variable that hosts.host.auth.passwordEnv names is not set');
    expect(named.stderr).toContain('the result was not stored in postgresql://lab:***@127.0.0.1:1/dutlab');
    expect(valued.exitCode, valued.stderr).toBe(2);
    expect(valued.stderr).toContain('cannot connect to root@127.0.0.1:1');
    expect(pooled.exitCode, pooled.stderr).toBe(2);
    expect(pooled.stderr).toContain('results: a PostgreSQL URL without a password');
    for (const [name, r] of [
      ['inline', inline],
      ['named', named],
      ['valued', valued],
      ['pool', pooled],
    ] as const) {
      expect(canariesIn(reports[name], r), `${name}: the canaries found`).toEqual([]);
    }
    // A refused testbed is not archived; one that validated is, its password variable's name replaced by a marker that loads.
    expect(filesUnder(reports.inline).some((f) => f.endsWith('testbed.yaml'))).toBe(false);
    const archived = filesUnder(reports.named).filter((f) => f.endsWith('testbed.yaml'));
    expect(archived).toHaveLength(1);
    expect(readFileSync(archived[0]!, 'utf8')).toContain(`passwordEnv: ${REDACTED_NAME}`);
  }, 150_000);
});
