// The main job (`dutlab e2e`, what the README's first command runs) interrupted
// mid-run: it brings a virtual lab up, runs, and must still take the lab down.
// In the lab tier: a lab up and down and most of a run (about 20 s of the fast
// tier's two cores, which it could not spare).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, describe, it } from 'vitest';
import { labLeftovers } from '../../lib/vlab/lab.js';
import { waitForStage } from '../helpers/cli.js';

const ROOT = new URL('../..', import.meta.url).pathname;
const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('the main job', () => {
  it('npm run e2e interrupted mid-run: the run tears down, the virtual lab goes down, exit 2', async ({ expect }) => {
    const reports = mkdtempSync(join(tmpdir(), 'dutlab-reports-'));
    dirs.push(reports);
    const child = execa('node', ['bin/dutlab.js', 'e2e', '--id', 'abrt-e2e', '--profiles', 'virtual', '--reports', reports], { cwd: ROOT, reject: false });
    await waitForStage(reports, 'guest.connect');
    child.kill('SIGINT');
    const r = await child;
    expect(r.exitCode, String(r.stderr)).toBe(2);
    expect(String(r.stderr)).toMatch(/dutlab: ABORTED \(exit 2\): interrupted by SIGINT/);
    expect(await labLeftovers('abrt-e2e')).toEqual([]);
  });
});
