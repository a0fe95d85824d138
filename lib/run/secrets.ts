// Secrets never land in a transcript, a report, an archive, the store or the
// terminal. Where one can come from: a testbed's password variable (its
// value), PGPASSWORD, a password in a URL on the command line (--results);
// each is registered at the start (lib/transport/transcript.ts keeps the
// list) and masked in everything this process writes: the report's files
// (lib/run/lifecycle.ts writes them through `redact`) and its standard output and
// error. Inline secrets in a testbed are refused at load and never archived.
import type { Testbed } from '../testbed/schema.js';
import { redact, registerSecret } from '../transport/transcript.js';

/** The password of a URL (scheme://user:password@host), if it has one. */
export function urlPassword(text: string): string | undefined {
  const m = /^[a-z][a-z0-9+.-]*:\/\/[^/@\s:]*:([^@\s/]+)@/i.exec(text);
  return m ? decodeURIComponent(m[1]!) : undefined;
}

/** Registers the secrets of this process's environment and command line, and masks them in its stdout and stderr from now on. */
export function guardSecrets(argv: string[], env: NodeJS.ProcessEnv = process.env): void {
  if (env.PGPASSWORD) registerSecret(env.PGPASSWORD);
  for (const a of argv) {
    const pw = urlPassword(a.replace(/^--[\w-]+=/, ''));
    if (pw) registerSecret(pw);
  }
  for (const stream of [process.stdout, process.stderr]) {
    const write = stream.write.bind(stream) as (chunk: unknown, ...rest: unknown[]) => boolean;
    stream.write = ((chunk: unknown, ...rest: unknown[]) => write(typeof chunk === 'string' ? redact(chunk) : chunk, ...rest)) as typeof stream.write;
  }
}

/** The testbed's password variables' values: registered once the testbed is loaded, before any connection. */
export function registerTestbedSecrets(tb: Testbed, env: NodeJS.ProcessEnv = process.env): void {
  for (const spec of Object.values(tb.hosts)) {
    if ('passwordEnv' in spec.auth) {
      const value = env[spec.auth.passwordEnv];
      if (value) registerSecret(value);
    }
  }
}
