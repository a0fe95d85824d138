import { readFileSync } from 'node:fs';
import { expect } from 'vitest';
import { TestbedError } from '../../lib/errors.js';
import { parseTestbed } from '../../lib/testbed/load.js';

export const fixturePath = (name: string) => new URL(`../../fixtures/${name}`, import.meta.url).pathname;
export const output = (name: string) => readFileSync(fixturePath(`outputs/${name}`), 'utf8');
export const GUIDE = new URL('../../../shared/seeds/dpdk-vswitch-kni-pvp-guide.md', import.meta.url).pathname;

/** The least a testbed file must say: three hosts; everything else is the guide's default. */
export const MINIMAL_TESTBED = `
name: lab-a
hosts:
  host: { address: 10.0.0.1, auth: { privateKeyFile: /k }, hostKey: { knownHosts: /kh } }
  guest: { address: 127.0.0.1, port: 2222, jump: host, auth: { privateKeyFile: /k }, hostKey: { knownHosts: /kh } }
  tg: { address: 10.0.0.2, auth: { agent: true }, hostKey: { fingerprint: "SHA256:qSQXWQtOtfKn4CEdtybB3wyN6MmKPl8grgKoeyYTK6A" } }
`;

/** The problems a testbed text is refused with, each with its field's path (the error names the file); fails the test if it is accepted. */
export function testbedProblems(text: string, file = 'bad.yaml'): Array<{ path: string; message: string }> {
  try {
    parseTestbed(text, file);
  } catch (err) {
    expect(err).toBeInstanceOf(TestbedError);
    expect((err as TestbedError).message).toContain(file);
    return (err as TestbedError).problems;
  }
  throw new Error('the testbed was accepted');
}
