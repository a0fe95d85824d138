// One long-lived `sh` per host: commands go down one channel one after
// another, so a command costs a fork and an exec on the remote side instead of
// an SSH session start (and the user's rc files, which a login shell reads
// for every `ssh host command`: 170 ms for root's .bashrc on this box).
//
// The protocol, all of it in loopScript below: the harness writes a header
// line "<id> <n> <nonce>" and the command's script as n lines. sh runs the
// script in a session of its own (setsid: a process group a timeout can kill,
// recorded in <dir>/<id>.pg), with stdin /dev/null, stderr in a file of its
// own, and answers with ONE printf:
//   R <id> <exit>\n <stdout> <nonce> <stderr> <nonce>
// The nonce is random per command and known only to the harness and to the
// loop's unexported variable: no command output can forge the framing.
// One write per answer matters: sshd does not set TCP_NODELAY on a session
// without a tty, and a second small write waits for the harness's delayed
// ACK (40 ms a command, seen with bench/ssh.ts). Commands run in a fresh
// `sh -c`: environment, working directory and shell state do not carry over.
// Like OpenSSH's own exec, a command ends when its stdout closes: what it
// leaves running must not hold its stdout (a background start redirects it).
// Output is text: a NUL byte is dropped (files travel by SFTP).
import { randomBytes } from 'node:crypto';
import type { Readable, Writable } from 'node:stream';

/** What a session answers for one command. */
export interface SessionResult {
  stdout: string;
  stderr: string;
  exitCode: number;
}

/** Stderr files are removed every this many commands, in one rm. */
const SWEEP_EVERY = 32;

/**
 * The loop the remote sh runs. Everything inside one `{ }`, so that sh parses
 * it whole before it reads any command from the same stdin. No EXIT trap: a
 * subshell that ran it would remove the session's directory.
 */
export function loopScript(readyToken: string): string {
  const cleanup = (code: number) => `trap 'rm -rf "$d"; exit ${code}'`;
  return [
    '{',
    // The directory is named for the loop's pid: a session killed outright (SIGKILL runs no trap) leaves
    // it behind, and the next session removes those whose loop is gone.
    't=${TMPDIR:-/tmp}',
    'for x in "$t"/dutlab-sh.*; do p=${x#"$t"/dutlab-sh.}; p=${p%%.*}; [ -d "$x" ] && ! [ -d /proc/"$p" ] && rm -rf "$x"; done',
    'd=$(mktemp -d "$t/dutlab-sh.$$.XXXXXX") || exit 125',
    `${cleanup(129)} HUP; ${cleanup(141)} PIPE; ${cleanup(143)} TERM`,
    // Does the loop lead its own process group (as sshd starts it: a session of its own)? Then a timeout
    // kills that group, the loop with it (a timed-out session is dropped anyway), and a command needs no
    // setsid: a process fewer each (3.6 ms of a 9 ms command on a slow box). Otherwise (a pipe to a
    // child that shares its parent's group) each command gets a session of its own, and that is killed.
    'g=; read -r _ _ _ _ g _ < /proc/$$/stat 2>/dev/null; [ "$g" = "$$" ] && own=1 || own=',
    `printf '%s %s\\n' ${readyToken} "$d"`,
    'while IFS=" " read -r id n k; do',
    '  s=; i=0',
    '  while [ "$i" -lt "$n" ]; do IFS= read -r l || break 2; s="$s$l',
    '"; i=$((i+1)); done',
    `  [ $((id % ${SWEEP_EVERY})) -eq 0 ] && rm -f "$d"/*`,
    // One fork and one exec a command (a fork or an exec costs milliseconds on a slow box): the
    // substitution's subshell execs sh, whose EXIT trap prints the x that keeps the trailing newlines
    // command substitution strips. The group a timeout kills is written to <id>.pg: the loop's own, or,
    // where the loop leads none, the command's: the subshell then execs setsid (not a group leader, it
    // makes a session without forking), whose sh writes its pid to the file named by $0.
    '  if [ -n "$own" ]; then echo "$$" > "$d/$id.pg"',
    `    o=$(exec sh -c "trap 'printf x' EXIT\n$s" < /dev/null 2> "$d/$id.e")`,
    `  else o=$(exec setsid sh -c "trap 'printf x' EXIT; echo \\$\\$ > \\"\\$0\\"\n$s" "$d/$id.pg" < /dev/null 2> "$d/$id.e")`,
    '  fi',
    '  rc=$?; e=x',
    '  [ -s "$d/$id.e" ] && e=$(cat "$d/$id.e"; printf x)',
    `  printf 'R %s %s\\n%s%s%s%s' "$id" "$rc" "\${o%x}" "$k" "\${e%x}" "$k"`,
    'done',
    'rm -rf "$d"',
    '}',
    '',
  ].join('\n');
}

/** The command that starts the loop on a channel: the loop itself comes on stdin, never in argv (where `ps` would show it). */
export const SESSION_COMMAND = 'exec sh -s';

export class SessionClosedError extends Error {}

interface Pending {
  id: number;
  nonce: Buffer;
  resolve(r: SessionResult): void;
  reject(e: Error): void;
}

/**
 * A sh running loopScript on a pair of streams. One command at a time: the
 * pool in ssh.ts hands out idle sessions.
 */
export class ShellSession {
  private buf: Buffer = Buffer.alloc(0);
  private pending: Pending | null = null;
  private nextId = 1;
  private dir: string | null = null;
  private closed: Error | null = null;
  private readyWaiters: Array<{ resolve(): void; reject(e: Error): void }> = [];
  private readonly token = `dutlab-shell-ready-${randomBytes(12).toString('hex')}`;

  constructor(
    private readonly input: Writable,
    output: Readable,
    private readonly onClose: () => void = () => undefined,
  ) {
    output.on('data', (d: Buffer) => this.onData(d));
    output.on('end', () => this.fail(new SessionClosedError('the shell session ended')));
    output.on('close', () => this.fail(new SessionClosedError('the shell session closed')));
    input.on('error', (e: Error) => this.fail(new SessionClosedError(`the shell session's input failed: ${e.message}`)));
    input.write(loopScript(this.token));
  }

  get usable(): boolean {
    return this.closed === null;
  }

  /** The file that holds the process group of the running command, for a kill from another channel. */
  get runningPgidFile(): string | null {
    return this.pending && this.dir ? `${this.dir}/${this.pending.id}.pg` : null;
  }

  /** Resolves when the remote sh has parsed the loop; rejects if it cannot (no sh, no mktemp, no /tmp). */
  waitReady(timeoutMs: number): Promise<void> {
    if (this.dir) return Promise.resolve();
    if (this.closed) return Promise.reject(this.closed);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new SessionClosedError(`no shell session within ${timeoutMs} ms`)), timeoutMs);
      this.readyWaiters.push({
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
    });
  }

  /** Runs one script in the session. */
  run(script: string): Promise<SessionResult> {
    if (this.closed) return Promise.reject(this.closed);
    if (!this.dir) return Promise.reject(new SessionClosedError('the shell session is not ready'));
    if (this.pending) return Promise.reject(new Error('ShellSession.run: one command at a time'));
    if (script.includes('\0')) return Promise.reject(new Error('a command line cannot hold a NUL byte'));
    const lines = script.split('\n');
    const id = this.nextId++;
    const nonce = `dutlab-end-${randomBytes(16).toString('hex')}`;
    return new Promise<SessionResult>((resolve, reject) => {
      this.pending = { id, nonce: Buffer.from(nonce), resolve, reject };
      this.input.write(`${id} ${lines.length} ${nonce}\n${lines.join('\n')}\n`);
    });
  }

  /** Ends the session: the remote sh reads EOF, leaves its loop and removes its temp dir. */
  close(): void {
    if (!this.closed) this.input.end();
    this.fail(new SessionClosedError('the shell session was closed by the harness'));
  }

  private fail(err: Error): void {
    if (this.closed) return;
    this.closed = err;
    this.readyWaiters.splice(0).forEach((w) => w.reject(err));
    const p = this.pending;
    this.pending = null;
    p?.reject(err);
    this.onClose();
  }

  private onData(d: Buffer): void {
    this.buf = this.buf.length === 0 ? d : Buffer.concat([this.buf, d]);
    if (!this.dir) {
      // The user's rc files may print before the loop starts: everything up to the token is theirs.
      const at = this.buf.indexOf(`${this.token} `);
      const nl = at < 0 ? -1 : this.buf.indexOf(10, at);
      if (nl < 0) return;
      this.dir = this.buf.subarray(at + this.token.length + 1, nl).toString('utf8');
      this.buf = this.buf.subarray(nl + 1);
      this.readyWaiters.splice(0).forEach((w) => w.resolve());
    }
    this.parse();
  }

  /** One answer: "R <id> <exit>\n", stdout, the nonce, stderr, the nonce. */
  private parse(): void {
    const p = this.pending;
    if (!p || this.buf.length === 0) return;
    const nl = this.buf.indexOf(10);
    if (nl < 0) return;
    const header = /^R (\d+) (\d+)$/.exec(this.buf.subarray(0, nl).toString('latin1'));
    if (!header || Number(header[1]) !== p.id) {
      this.fail(
        new SessionClosedError(`the shell session answered out of protocol: ${JSON.stringify(this.buf.subarray(0, Math.min(nl, 100)).toString('latin1'))}`),
      );
      return;
    }
    const endOut = this.buf.indexOf(p.nonce, nl + 1);
    if (endOut < 0) return;
    const endErr = this.buf.indexOf(p.nonce, endOut + p.nonce.length);
    if (endErr < 0) return;
    const stdout = this.buf.subarray(nl + 1, endOut).toString('utf8');
    const stderr = this.buf.subarray(endOut + p.nonce.length, endErr).toString('utf8');
    this.buf = this.buf.subarray(endErr + p.nonce.length);
    this.pending = null;
    p.resolve({ stdout, stderr, exitCode: Number(header[2]) });
  }
}
