import { readFileSync } from 'node:fs';

export const fixturePath = (name: string) => new URL(`../../fixtures/${name}`, import.meta.url).pathname;
export const output = (name: string) => readFileSync(fixturePath(`outputs/${name}`), 'utf8');
export const GUIDE = new URL('../../../shared/seeds/dpdk-vswitch-kni-pvp-guide.md', import.meta.url).pathname;
