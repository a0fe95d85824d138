// Host key verification: an OpenSSH SHA256 fingerprint pin, or a known_hosts file.
import { createHash, createHmac } from 'node:crypto';
import { FILE_LIMITS, readBounded } from '../files.js';

/** The OpenSSH form of a key's fingerprint: SHA256:<base64 without padding>. */
export function fingerprintOf(key: Buffer): string {
  return 'SHA256:' + createHash('sha256').update(key).digest('base64').replace(/=+$/, '');
}

export function sameFingerprint(a: string, b: string): boolean {
  return a.replace(/=+$/, '') === b.replace(/=+$/, '');
}

/** The name a host has in known_hosts: `addr`, or `[addr]:port` when the port is not 22. */
export function knownHostsName(address: string, port: number): string {
  return port === 22 ? address : `[${address}]:${port}`;
}

function hostPatternMatches(pattern: string, name: string): boolean {
  if (pattern.startsWith('|1|')) {
    const [, , salt, hash] = pattern.split('|');
    if (!salt || !hash) return false;
    const h = createHmac('sha1', Buffer.from(salt, 'base64')).update(name).digest('base64');
    return h === hash;
  }
  return pattern.split(',').some((p) => p === name);
}

/** The base64 key blobs known_hosts holds for a host (revoked and cert-authority lines are skipped). */
export function knownKeysFor(knownHostsText: string, address: string, port: number): string[] {
  const name = knownHostsName(address, port);
  const keys: string[] = [];
  for (const raw of knownHostsText.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#') || line.startsWith('@')) continue;
    const [hosts, , blob] = line.split(/\s+/);
    if (hosts && blob && hostPatternMatches(hosts, name)) keys.push(blob);
  }
  return keys;
}

export function readKnownHosts(file: string): string {
  return readBounded(file, FILE_LIMITS.knownHosts, 'known_hosts file');
}
