// Every command on every host, with what it printed, for the person who has
// to find out afterwards what happened. Secrets are redacted before writing.
import { appendFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { CommandResult } from './shell.js';

const secrets = new Set<string>();

/** Registers a value that must never be written anywhere (a password read from the environment). */
export function registerSecret(value: string): void {
  if (value.length >= 3) secrets.add(value);
}

export function redact(text: string): string {
  let out = text;
  for (const s of secrets) out = out.split(s).join('***');
  return out;
}

const RPC_ANSWER_MAX = 4000;

export class Transcript {
  constructor(readonly dir: string) {
    mkdirSync(dir, { recursive: true });
  }

  fileFor(host: string): string {
    return join(this.dir, `${host}.log`);
  }

  command(host: string, command: string, result: CommandResult | { error: string; durationMs: number }): void {
    const head = `### ${new Date().toISOString()} ${command}`;
    const body =
      'error' in result
        ? `--- error after ${result.durationMs} ms: ${result.error}`
        : [
            `--- exit ${result.exitCode ?? `signal ${result.signal}`} in ${result.durationMs} ms`,
            ...(result.stdout ? ['--- stdout', result.stdout.trimEnd()] : []),
            ...(result.stderr ? ['--- stderr', result.stderr.trimEnd()] : []),
          ].join('\n');
    appendFileSync(this.fileFor(host), redact(`${head}\n${body}\n\n`));
  }

  /** A call to a server's API (TRex's JSON-RPC) and its answer, as a command and its output are. */
  rpc(server: string, request: string, result: { answer: string; durationMs: number } | { error: string; durationMs: number }): void {
    // A capture's packets come back as answers of megabytes: their head is enough to read the transcript by.
    const answer = (a: string) => (a.length > RPC_ANSWER_MAX ? `${a.slice(0, RPC_ANSWER_MAX)}… (${a.length} characters in all)` : a.trimEnd());
    const body =
      'error' in result ? `--- error after ${result.durationMs} ms: ${result.error}` : `--- answer in ${result.durationMs} ms\n${answer(result.answer)}`;
    appendFileSync(this.fileFor(server), redact(`### ${new Date().toISOString()} rpc ${request}\n${body}\n\n`));
  }

  note(host: string, text: string): void {
    appendFileSync(this.fileFor(host), redact(`### ${new Date().toISOString()} # ${text}\n\n`));
  }
}
