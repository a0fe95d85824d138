// A real SSH server in-process (ssh2's own Server), for protocol cases. By
// default it runs each command for real with sh; a script can answer instead
// (the scripted legacy lab, for what cannot run here).
import { spawn } from 'node:child_process';
import { createServer, connect as tcpConnect, type Server as NetServer, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import ssh2 from 'ssh2';
import type { HostSpec } from '../../lib/testbed/schema.js';
import { fingerprintOf } from '../../lib/transport/known-hosts.js';

const { Server, utils } = ssh2;

export interface Answer {
  stdout?: string;
  stderr?: string;
  code?: number;
  /** No answer: the server drops the whole connection, as a host whose kernel died does (to the client, the connection is lost). */
  hangUp?: true;
}

export interface TestServerOptions {
  /** Public key (OpenSSH format) a client may log in with. */
  authorizedKey?: string;
  password?: string;
  /** Answers a command instead of running it; return null to run it for real. */
  script?: (command: string) => Answer | null;
  /** TMPDIR of the commands it runs for real (the harness's shell sessions keep their files there). */
  tmpDir?: string;
  /** Where a forwarded channel (direct-tcpip) goes: the jump to the guest. */
  forward?: (host: string, port: number) => TestSshServer | undefined;
  /** Forwarded channels to these TCP ports of 127.0.0.1 are carried there (ssh -L to a server on the host). */
  forwardTcp?: (port: number) => boolean;
}

export interface KeyPair {
  private: string;
  public: string;
}

/**
 * A new ed25519 key pair. ssh2 1.17's generator strips a public key's leading
 * zero byte, so about one key in 256 cannot be parsed back (mscdex/ssh2#1513):
 * such a pair is drawn again.
 */
export function newKeyPair(): KeyPair {
  for (;;) {
    const k = utils.generateKeyPairSync('ed25519');
    if (!(utils.parseKey(k.private) instanceof Error) && !(utils.parseKey(k.public) instanceof Error)) return { private: k.private, public: k.public };
  }
}

export class TestSshServer {
  readonly hostKey = newKeyPair();
  readonly commands: string[] = [];
  connections = 0;
  private server: InstanceType<typeof Server>;
  port = 0;

  constructor(private readonly opts: TestServerOptions = {}) {
    this.server = new Server({ hostKeys: [this.hostKey.private] }, (client) => {
      this.connections++;
      client.on('error', () => undefined);
      client.on('authentication', (ctx) => {
        if (ctx.method === 'publickey' && this.opts.authorizedKey) {
          const allowed = utils.parseKey(this.opts.authorizedKey);
          if (!(allowed instanceof Error) && ctx.key.data.equals(allowed.getPublicSSH())) return ctx.accept();
        }
        if (ctx.method === 'password' && this.opts.password !== undefined && ctx.password === this.opts.password) return ctx.accept();
        ctx.reject(['publickey', 'password']);
      });
      client.on('ready', () => {
        client.on('session', (accept) => {
          const session = accept();
          session.on('exec', (acceptExec, _reject, info) => this.exec(acceptExec(), info.command, client));
        });
        client.on('tcpip', (accept, reject, info) => {
          const target = this.opts.forward?.(info.destIP, info.destPort);
          if (target) return target.inject(accept());
          if (info.destIP !== '127.0.0.1' || !this.opts.forwardTcp?.(info.destPort)) return reject();
          const channel = accept();
          const tcp = tcpConnect(info.destPort, '127.0.0.1');
          tcp.on('error', () => channel.destroy());
          channel.on('error', () => tcp.destroy());
          channel.on('close', () => tcp.destroy());
          tcp.on('close', () => channel.destroy());
          channel.pipe(tcp).pipe(channel);
        });
      });
    });
  }

  get fingerprint(): string {
    const k = utils.parseKey(this.hostKey.public);
    if (k instanceof Error) throw k;
    return fingerprintOf(k.getPublicSSH());
  }

  /** How the harness logs in here (a testbed's host): this address and port, the key file, this host key pinned. */
  loginSpec(keyFile: string, overrides: Partial<HostSpec> = {}): HostSpec {
    return {
      address: '127.0.0.1',
      port: this.port,
      user: 'root',
      auth: { privateKeyFile: keyFile },
      sudo: false,
      hostKey: { fingerprint: this.fingerprint },
      connectTimeoutMs: 5000,
      ...overrides,
    };
  }

  /** The host key as a known_hosts key blob. */
  get publicBlob(): string {
    return this.hostKey.public.split(' ')[1]!;
  }

  listen(port = 0): Promise<number> {
    return new Promise((resolve) =>
      this.server.listen(port, '127.0.0.1', () => {
        this.port = (this.server.address() as { port: number }).port;
        resolve(this.port);
      }),
    );
  }

  /** Serves a connection that arrives over another channel (a jump host's forward). */
  inject(stream: Duplex): void {
    this.server.injectSocket(stream as unknown as Socket);
  }

  private exec(channel: ssh2.ServerChannel, command: string, client: { end(): void }): void {
    this.commands.push(command);
    const answer = this.opts.script?.(command);
    if (answer?.hangUp) {
      client.end();
      return;
    }
    if (answer) {
      if (answer.stdout) channel.write(answer.stdout);
      if (answer.stderr) channel.stderr.write(answer.stderr);
      channel.exit(answer.code ?? 0);
      channel.end();
      return;
    }
    const env = this.opts.tmpDir ? { ...process.env, TMPDIR: this.opts.tmpDir } : process.env;
    const child = spawn('sh', ['-c', command], { stdio: ['pipe', 'pipe', 'pipe'], env });
    child.stdout.pipe(channel, { end: false });
    child.stderr.pipe(channel.stderr, { end: false });
    channel.on('data', (d: Buffer) => child.stdin.write(d));
    channel.on('end', () => child.stdin.end());
    child.on('close', (code, signal) => {
      if (code !== null) channel.exit(code);
      else channel.exit(signal ?? 'KILL', false, '');
      channel.end();
    });
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

/** A TCP proxy that can stop passing bytes either way: a cable pulled without a FIN. */
export class BlackholeProxy {
  private server: NetServer;
  private sockets: Socket[] = [];
  port = 0;
  private dropped = false;

  constructor(private readonly target: number) {
    this.server = createServer((down) => {
      const up = tcpConnect(this.target, '127.0.0.1');
      this.sockets.push(down, up);
      for (const s of [down, up]) s.on('error', () => undefined);
      down.on('data', (d) => this.dropped || up.write(d));
      up.on('data', (d) => this.dropped || down.write(d));
    });
  }

  listen(): Promise<number> {
    return new Promise((resolve) => this.server.listen(0, '127.0.0.1', () => resolve((this.port = (this.server.address() as { port: number }).port))));
  }

  drop(): void {
    this.dropped = true;
  }

  close(): Promise<void> {
    this.sockets.forEach((s) => s.destroy());
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}
