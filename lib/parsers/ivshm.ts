// The IVSHMEM manager's STDOUT: the QEMU `-device ivshmem,...` argument to launch the guest with.
import { ParseError } from '../errors.js';

export interface IvshmemRegion {
  path: string;
  offset: string;
  length: string;
}

export interface IvshmemDevice {
  metadata: string;
  /** The argument exactly as printed: `-device ivshmem,size=64M,shm=fd:...`. */
  argument: string;
  size: string;
  regions: IvshmemRegion[];
}

export function parseIvshmCmdline(text: string, metadata?: string): IvshmemDevice {
  const m = /QEMU cmdline for metadata '([^']+)':\s*(-device ivshmem,(\S+))/.exec(text);
  if (!m || (metadata !== undefined && m[1] !== metadata)) {
    throw new ParseError('ovs-ivshm-mngr output', `a line "APP: QEMU cmdline for metadata '${metadata ?? '<name>'}': -device ivshmem,..."`, text.slice(-300));
  }
  const props = new Map(m[3]!.split(',').map((kv) => kv.split('=', 2) as [string, string]));
  const size = props.get('size');
  const shm = m[3]!.slice(m[3]!.indexOf('shm=') + 4);
  if (!size || !shm.startsWith('fd:')) throw new ParseError('ivshmem device argument', 'size=... and shm=fd:...', m[2]!);
  const parts = shm.slice(3).split(':');
  if (parts.length % 3 !== 0) throw new ParseError('ivshmem shm list', 'path:offset:length triples', shm);
  const regions: IvshmemRegion[] = [];
  for (let i = 0; i < parts.length; i += 3) {
    const [path, offset, length] = [parts[i]!, parts[i + 1]!, parts[i + 2]!];
    if (!path.startsWith('/') || !/^0x[0-9a-f]+$/i.test(offset) || !/^0x[0-9a-f]+$/i.test(length)) {
      throw new ParseError('ivshmem shm list', 'path:0xOFFSET:0xLENGTH triples', `${path}:${offset}:${length}`);
    }
    regions.push({ path, offset, length });
  }
  return { metadata: m[1]!, argument: m[2]!, size, regions };
}
