import { statSync } from 'node:fs';
import { execFileSync } from 'node:child_process';

/** The network namespace inode of a named namespace, as /proc/PID/ns/net shows it. */
export function netnsId(name: string): string {
  return `net:[${statSync(`/run/netns/${name}`).ino}]`;
}

/** What the root namespace shows: used to prove no lab address or link leaks into it. */
export function rootNs(args: string[]): string {
  return execFileSync('ip', args, { encoding: 'utf8' });
}
