// One SSH connection attempt, as the testbed says: through the jump host if
// there is one, with the testbed's authentication (a key file read with a
// bound, the agent, a password from the environment, never logged), and the
// host key verified against the pinned fingerprint or known_hosts.
import type { Duplex } from 'node:stream';
import { AbortError } from 'p-retry';
import { Client, type ConnectConfig } from 'ssh2';
import { ConnectionError, HostKeyError } from '../errors.js';
import { FILE_LIMITS, readBoundedBuffer } from '../files.js';
import type { HostSpec } from '../testbed/schema.js';
import { fingerprintOf, knownKeysFor, readKnownHosts, sameFingerprint } from './known-hosts.js';
import { registerSecret } from './transcript.js';

export interface ConnectOptions {
  /** The host to jump through: a connection that forwards to the target. */
  jump?: { forwardOut(address: string, port: number): Promise<Duplex> };
  keepaliveIntervalMs?: number;
  keepaliveCountMax?: number;
  /** Where warnings go (the insecure host-key opt-out). */
  warn?: (msg: string) => void;
}

export function connectOnce(role: string, spec: HostSpec, options: ConnectOptions): Promise<{ client: Client; sock?: Duplex }> {
  return (async () => {
    const sock = options.jump ? await options.jump.forwardOut(spec.address, spec.port) : undefined;
    return new Promise<{ client: Client; sock?: Duplex }>((resolve, reject) => {
      const client = new Client();
      let hostKeyProblem: HostKeyError | null = null;
      const config: ConnectConfig = {
        host: spec.address,
        port: spec.port,
        username: spec.user,
        readyTimeout: Math.min(20_000, spec.connectTimeoutMs),
        keepaliveInterval: options.keepaliveIntervalMs ?? 5000,
        keepaliveCountMax: options.keepaliveCountMax ?? 3,
        ...(sock ? { sock } : {}),
        ...authConfig(role, spec),
        hostVerifier: (key: Buffer) => {
          hostKeyProblem = verifyHostKey(role, spec, key, options.warn);
          return hostKeyProblem === null;
        },
      };
      client.once('ready', () => resolve({ client, ...(sock ? { sock } : {}) }));
      client.once('error', (err: Error & { level?: string }) => {
        client.end();
        if (hostKeyProblem) return reject(hostKeyProblem);
        if (err.level === 'client-authentication') {
          return reject(new AbortError(new ConnectionError(role, `authentication as ${spec.user} failed (${authName(spec)}): ${err.message}`)));
        }
        reject(err);
      });
      client.connect(config);
    });
  })();
}

// A password variable is named by its field, never by its name: the name may be the password, typed where a name goes.
function authName(spec: HostSpec): string {
  const a = spec.auth;
  return 'privateKeyFile' in a ? `key ${a.privateKeyFile}` : 'agent' in a ? 'ssh-agent' : 'the password from the variable auth.passwordEnv names';
}

function authConfig(role: string, spec: HostSpec): Partial<ConnectConfig> {
  const a = spec.auth;
  if ('privateKeyFile' in a) {
    try {
      return { privateKey: readBoundedBuffer(a.privateKeyFile, FILE_LIMITS.key, 'private key') };
    } catch (err) {
      throw new AbortError(new ConnectionError(role, `cannot read the private key ${a.privateKeyFile}: ${(err as Error).message}`));
    }
  }
  if ('agent' in a) {
    const sock = process.env.SSH_AUTH_SOCK;
    if (!sock) throw new AbortError(new ConnectionError(role, 'auth says agent, but SSH_AUTH_SOCK is not set'));
    return { agent: sock };
  }
  const password = process.env[a.passwordEnv];
  if (password === undefined) throw new AbortError(new ConnectionError(role, `the password variable that hosts.${role}.auth.passwordEnv names is not set`));
  registerSecret(password);
  return { password, tryKeyboard: false };
}

function verifyHostKey(role: string, spec: HostSpec, key: Buffer, warn: (m: string) => void = (m) => void process.stderr.write(m + '\n')): HostKeyError | null {
  const fp = fingerprintOf(key);
  const hk = spec.hostKey;
  if ('insecureAcceptAny' in hk) {
    warn(`WARNING: [${role}] host key NOT verified (hostKey.insecureAcceptAny); ${spec.address}:${spec.port} presented ${fp}`);
    return null;
  }
  if ('fingerprint' in hk) {
    return sameFingerprint(fp, hk.fingerprint)
      ? null
      : new HostKeyError(
          role,
          `host key mismatch at ${spec.address}:${spec.port}: it presented ${fp}, the testbed pins ${hk.fingerprint}; refusing to connect`,
        );
  }
  let text: string;
  try {
    text = readKnownHosts(hk.knownHosts);
  } catch (err) {
    return new HostKeyError(role, `cannot read known_hosts ${hk.knownHosts}: ${(err as Error).message}`);
  }
  const known = knownKeysFor(text, spec.address, spec.port);
  if (known.length === 0) return new HostKeyError(role, `${spec.address}:${spec.port} is not in ${hk.knownHosts} (it presented ${fp}); refusing to connect`);
  return known.includes(key.toString('base64'))
    ? null
    : new HostKeyError(
        role,
        `host key mismatch at ${spec.address}:${spec.port}: it presented ${fp}, which ${hk.knownHosts} does not list; refusing to connect`,
      );
}
