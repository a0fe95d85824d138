// Reading the files a user hands dutlab (a testbed, the history, a run's
// summary, a key): each has a bound, and what is past it, or what is not a
// regular file (/dev/zero, a FIFO), is refused with the file's name before
// it is read whole. A typo in --testbed must not read gigabytes.
import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs';
import { InputFileError } from './errors.js';

const MiB = 1 << 20;

/** What each kind of file may weigh: far above any real one, far below what would hurt. */
export const FILE_LIMITS = {
  testbed: 1 * MiB,
  history: 64 * MiB,
  runData: 64 * MiB,
  key: 64 * 1024,
  knownHosts: 16 * MiB,
} as const;

/** The whole of a regular file as UTF-8, if it holds at most maxBytes; an InputFileError naming it otherwise. */
export function readBounded(file: string, maxBytes: number, what: string): string {
  return readBoundedBuffer(file, maxBytes, what).toString('utf8');
}

export function readBoundedBuffer(file: string, maxBytes: number, what: string): Buffer {
  let fd: number;
  try {
    // O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer, forever.
    fd = openSync(file, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (err) {
    throw new InputFileError(file, `cannot read the ${what}: ${fileProblem(err)}`, { cause: err });
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new InputFileError(file, `the ${what} is not a regular file (${kindOf(st)}): refusing to read it`);
    if (st.size > maxBytes) throw new InputFileError(file, `the ${what} is ${st.size} bytes, more than the ${maxBytes} a ${what} may have`);
    // Read at most one byte past the bound: a file that grew since fstat is refused too.
    const chunks: Buffer[] = [];
    let total = 0;
    for (;;) {
      const chunk = Buffer.alloc(Math.min(1 * MiB, maxBytes + 1 - total));
      const n = readSync(fd, chunk, 0, chunk.length, null);
      if (n === 0) return Buffer.concat(chunks, total);
      chunks.push(chunk.subarray(0, n));
      total += n;
      if (total > maxBytes) throw new InputFileError(file, `the ${what} grew past the ${maxBytes} bytes a ${what} may have while it was read`);
    }
  } finally {
    closeSync(fd);
  }
}

/** What a failed file operation means, in words (the code after them, for a search): "no such file (ENOENT)". */
export function fileProblem(err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code;
  const words: Record<string, string> = {
    ENOENT: 'no such file or directory',
    ENOTDIR: 'a part of the path is not a directory',
    ELOOP: 'too many symbolic links (a link that points to itself?)',
    EACCES: 'permission denied',
    EPERM: 'operation not permitted',
    EISDIR: 'it is a directory',
    ENAMETOOLONG: 'the path is too long',
    EMFILE: 'too many open files',
    EIO: 'an I/O error',
  };
  return code ? `${words[code] ?? 'failed'} (${code})` : (err as Error).message;
}

function kindOf(st: { isDirectory(): boolean; isCharacterDevice(): boolean; isBlockDevice(): boolean; isFIFO(): boolean; isSocket(): boolean }): string {
  if (st.isDirectory()) return 'a directory';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isFIFO()) return 'a FIFO';
  if (st.isSocket()) return 'a socket';
  return 'not a file';
}
