import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { buildCli } from '../../lib/cli/main.js';
import { fixturePath } from '../helpers/fixtures.js';

const ROOT = new URL('../..', import.meta.url).pathname;
const dutlab = (...args: string[]) => execa('node', ['bin/dutlab.js', ...args], { cwd: ROOT, reject: false });

describe('the dutlab command', () => {
  const commands = buildCli().commands.flatMap((c) => (c.commands.length ? c.commands.map((s) => [c.name(), s.name()]) : [[c.name()]]));

  it('has the subcommands the README names', () => {
    expect(commands.map((c) => c.join(' '))).toEqual(['run', 'plan', 'e2e', 'lab up', 'lab down', 'lab status']);
  });

  it.each(commands.map((c) => c.join(' ')))('answers --help for `dutlab %s`', async (words) => {
    const r = await dutlab(...words.split(' '), '--help');
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toMatch(/^Usage: dutlab /);
  });

  it('prints the plan without connecting anywhere', async () => {
    const r = await dutlab('plan', '--testbed', fixturePath('testbeds/legacy-kni.yaml'), '--profile', 'legacy-kni');
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toContain('./utilities/ovs-ofctl add-flow br0 in_port=16,dl_type=0x0800,nw_src=1.1.1.1,nw_dst=6.6.6.2,idle_timeout=0,action=output:32');
  });

  it('says clearly what is wrong with a bad testbed or profile', async () => {
    const bad = await dutlab('plan', '--testbed', '/nonexistent.yaml', '--profile', 'virtual');
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr).toContain('/nonexistent.yaml: 1 problem(s) in the testbed file');
    const profile = await dutlab('plan', '--testbed', fixturePath('testbeds/legacy-kni.yaml'), '--profile', 'kni');
    expect(profile.exitCode).not.toBe(0);
    expect(profile.stderr).toMatch(/Allowed choices are legacy-kni, virtual/);
  });
});
