// `dutlab` in the test's own process (no child, no second Node.js start): what the CLI tests call.
import { main } from '../../lib/cli/main.js';

/** main() as bin/dutlab.js calls it, in this process: its exit code and what it wrote. */
export async function dutlabInProcess(...args: string[]): Promise<{ exitCode: number; stdout: string; stderr: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const [write, writeErr, saved] = [process.stdout.write, process.stderr.write, process.exitCode];
  process.stdout.write = ((chunk: string) => out.push(String(chunk)) > 0) as typeof process.stdout.write;
  process.stderr.write = ((chunk: string) => err.push(String(chunk)) > 0) as typeof process.stderr.write;
  process.exitCode = undefined;
  try {
    await main(['node', 'dutlab', ...args]);
    return { exitCode: Number(process.exitCode ?? 0), stdout: out.join(''), stderr: err.join('') };
  } finally {
    [process.stdout.write, process.stderr.write, process.exitCode] = [write, writeErr, saved];
  }
}
