// A TCP port on 127.0.0.1 that nothing listens on, for a test of "not there".
// Taken below the kernel's ephemeral range: a port found free by listening on
// port 0 and closing is the next one the kernel hands to another test's
// listen(0), which then answers where nothing should (CI once saw a TRex
// server of another test answer on the "closed" port).
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';

/** The first port of the ephemeral range (ip_local_port_range), 32768 where it cannot be read. */
function ephemeralLow(): number {
  try {
    return Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]) || 32768;
  } catch {
    return 32768;
  }
}

const listens = (port: number) =>
  new Promise<boolean>((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });

/** A port nothing listens on now, outside the range the kernel gives to listen(0). */
export async function closedPort(): Promise<number> {
  const [lo, hi] = [20_000, ephemeralLow() - 1];
  for (let i = 0; i < 50; i++) {
    const port = lo + Math.floor(Math.random() * (hi - lo + 1));
    if (await listens(port)) return port;
  }
  throw new Error(`no free port between ${lo} and ${hi} in 50 tries`);
}
