// A product suite is one folder of lib/suite, and no list names it: this test
// adds one from tests/suites/added-product/ (copied in, its imports made
// those of its new place), lists it and runs it; and sends a run of it two
// signals while its teardown hangs, which must still leave the run's reports.
// Its cases touch no lab: any testbed file does.
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { SUITES_DIR } from '../../lib/suite/catalog.js';
import { waitUntil } from '../../lib/wait.js';
import { fixturePath } from '../helpers/fixtures.js';

const ROOT = new URL('../..', import.meta.url).pathname;
const TEMPLATE = new URL('../suites/added-product', import.meta.url).pathname;
const PREFIX = 'added-product-';
const tmp = mkdtempSync(join(tmpdir(), 'dutlab-suite-folder-'));
/** On lib/'s file system (a rename into lib/suite): the reports directory, which git ignores. */
mkdirSync(join(ROOT, 'reports'), { recursive: true });
const STAGING = mkdtempSync(join(ROOT, 'reports', '.suite-folder-'));

/**
 * The template as a folder of lib/suite named `name`: its imports of lib/ made
 * relative to lib/suite/<name>/, its UNDO_MS as given. Made beside, then moved
 * in whole (a rename): the architecture test, which may read lib/ meanwhile,
 * never sees half of it.
 */
function addSuite(name: string, undoMs: number): string {
  const dir = join(STAGING, name);
  cpSync(TEMPLATE, dir, { recursive: true });
  for (const f of readdirSync(dir)) {
    const file = join(dir, f);
    const text = readFileSync(file, 'utf8')
      .replaceAll("'../../../lib/suite/", "'../")
      .replaceAll("name: 'added-product'", `name: '${name}'`)
      .replace('export const UNDO_MS = 0;', `export const UNDO_MS = ${undoMs};`);
    writeFileSync(file, text);
  }
  renameSync(dir, join(SUITES_DIR, name));
  return join(SUITES_DIR, name);
}

/** Each added folder moved out whole, then removed. */
function removeAdded(): void {
  for (const f of readdirSync(SUITES_DIR).filter((x) => x.startsWith(PREFIX))) {
    renameSync(join(SUITES_DIR, f), join(STAGING, `${f}-gone`));
    rmSync(join(STAGING, `${f}-gone`), { recursive: true, force: true });
  }
}

/** The legacy lab's testbed with its key and known hosts in files of the test's own: the run reads them, connects nowhere. */
function testbedFile(): string {
  writeFileSync(join(tmp, 'key'), 'not a key: the suite connects nowhere\n');
  writeFileSync(join(tmp, 'known_hosts'), '');
  const text = readFileSync(fixturePath('testbeds/legacy-kni.yaml'), 'utf8')
    .replaceAll('~/.ssh/dutlab_ed25519', join(tmp, 'key'))
    .replaceAll('~/.ssh/known_hosts', join(tmp, 'known_hosts'));
  writeFileSync(join(tmp, 'testbed.yaml'), text);
  return join(tmp, 'testbed.yaml');
}

const run = (name: string, reports: string) =>
  execa('node', ['bin/dutlab.js', 'run', '--testbed', join(tmp, 'testbed.yaml'), '--profile', 'legacy-kni', '--suite', name, '--reports', reports, '--quiet'], {
    cwd: ROOT,
    reject: false,
  });
const summaryOf = (reports: string) => JSON.parse(readFileSync(join(reports, 'latest', 'summary.json'), 'utf8'));

beforeAll(() => {
  testbedFile();
  // A folder a killed earlier run of this test left behind.
  removeAdded();
});
afterAll(() => {
  removeAdded();
  rmSync(tmp, { recursive: true, force: true });
  rmSync(STAGING, { recursive: true, force: true });
});

describe.concurrent('a product suite added as one folder', () => {
  it('is listed by `dutlab suites` and run by `dutlab run`: its cases pass, its table is in the report', async ({ expect }) => {
    const name = `${PREFIX}ok`;
    addSuite(name, 0);
    const listed = await execa('node', ['bin/dutlab.js', 'suites'], { cwd: ROOT });
    expect(listed.stdout).toMatch(
      new RegExp(`^${name} +A product suite added as one folder: .*\\n +requires: nothing; .*file: lib/suite/${name}/suite\\.ts$`, 'm'),
    );
    const reports = join(tmp, 'ok');
    const r = await run(name, reports);
    expect(r.exitCode, r.stderr).toBe(0);
    const s = summaryOf(reports);
    expect(s.cases.map((c: { id: string; status: string }) => [c.id, c.status])).toEqual([
      ['added.testbed', 'passed'],
      ['added.undo', 'passed'],
    ]);
    expect(readFileSync(join(reports, 'latest', 'summary.md'), 'utf8')).toMatch(/## Testbed\n\n\| name \| profile \|\n\|---\|---\|\n\| \S+ \| legacy-kni \|/);
  });

  it('a second signal while the teardown hangs: exit 2 at once, the reports of what ran written, the run marked not stored', async ({ expect }) => {
    const name = `${PREFIX}signals`;
    addSuite(name, 120_000);
    const reports = join(tmp, 'signals');
    const child = run(name, reports);
    const casesDone = join(reports, 'latest', name, 'cases-done');
    let exited = false;
    void child.finally(() => {
      exited = true;
    });
    await waitUntil("the added suite's cases to end", () => existsSync(casesDone) || exited, { timeoutMs: 30_000 });
    expect(exited, 'the run ended before its teardown').toBe(false);
    const t0 = Date.now();
    child.kill('SIGINT');
    await waitUntil('the abort file of the first signal', () => existsSync(join(reports, 'latest', 'abort')), { timeoutMs: 10_000 });
    child.kill('SIGTERM');
    const r = await child;
    expect(Date.now() - t0).toBeLessThan(60_000);
    expect(r.exitCode, r.stderr).toBe(2);
    expect(r.stderr).toMatch(/SIGINT: tearing down/);
    expect(r.stderr).toMatch(/SIGTERM again: exiting now/);
    const s = summaryOf(reports);
    expect(s.verdict).toBe('aborted');
    expect(s.reason).toMatch(/interrupted by SIGTERM, and exited at a second SIGTERM before its teardown ended/);
    expect(s.cases.map((c: { id: string; status: string }) => [c.id, c.status])).toEqual([
      ['added.testbed', 'passed'],
      ['added.undo', 'passed'],
    ]);
    expect(readFileSync(join(reports, 'latest', 'junit.xml'), 'utf8')).toContain('name="The testbed as the run loaded it"');
    expect(existsSync(join(reports, 'latest', 'not-stored.txt'))).toBe(true);
  });
});
