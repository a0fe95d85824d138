// Files by their content: `<sha256> <path>` lines, as the build read-back
// prints them for the DPDK libraries and drivers a daemon has mapped (read
// through /proc/<pid>/root, so a driver directory bind-mounted over another in
// the daemon's mount namespace is read as the daemon sees it) and for a
// build's own files. Content, not device and inode: on an overlay filesystem
// /proc/<pid>/maps names the layer's inode while stat(1) names the overlay's.
// Pure.
import { ParseError } from '../errors.js';

export interface HashedFile {
  sha256: string;
  path: string;
}

/** Each `<sha256> <path>` line; blank lines skipped, anything else refused. */
export function parseFileHashes(text: string, what: string): HashedFile[] {
  return text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((line) => {
      const m = /^([0-9a-f]{64}) (\/.*)$/.exec(line);
      if (!m) throw new ParseError(what, 'a sha256 and a path on each line', line);
      return { sha256: m[1]!, path: m[2]! };
    });
}
