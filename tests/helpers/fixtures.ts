import { readFileSync } from 'node:fs';

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
