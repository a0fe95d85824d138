// The virtual lab's daemons: an OpenSSH sshd in each namespace (keys made
// for the lab, its host keys pinned), the lab's own ovsdb-server and (netdev)
// ovs-vswitchd, and the 127.0.0.1 forwarders to the host's and the TG's sshd.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, connect as tcpConnect } from 'node:net';
import { join } from 'node:path';
import { fingerprintOf } from '../transport/known-hosts.js';
import { LocalShell } from '../transport/local.js';
import { cmd } from '../transport/quote.js';
import { waitUntil } from '../wait.js';
import { recordFromPidfile, spawnDaemon, stopProc, type ProcRecord } from './procs.js';
import { MGMT_GUEST, ROLES, type Datapath, type Role } from './wiring.js';

export async function makeKeys(sh: LocalShell, stateDir: string): Promise<void> {
  const keys = join(stateDir, 'keys');
  const names = ['client', ...ROLES.map((r) => `host-${r}`)];
  await sh.run(names.map((n) => cmd('ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-C', `dutlab-${n}`, '-f', join(keys, n))).join(' && '));
}

export function startSshd(role: Role, stateDir: string, ns: string): ProcRecord {
  const dir = join(stateDir, `sshd-${role}`);
  const config = join(dir, 'sshd_config');
  writeFileSync(
    config,
    [
      `ListenAddress ${role === 'guest' ? MGMT_GUEST : '127.0.0.1'}:22`,
      `HostKey ${join(stateDir, 'keys', `host-${role}`)}`,
      `AuthorizedKeysFile ${join(stateDir, 'keys', 'client.pub')}`,
      'PidFile none',
      'UsePAM no',
      'StrictModes no',
      'PermitRootLogin prohibit-password',
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      // The host is the guest's jump; the TG forwards to a generator's RPC port on its own loopback (TRex's, ssh -L).
      `AllowTcpForwarding ${role === 'host' ? 'yes' : role === 'tg' ? 'local' : 'no'}`,
      'X11Forwarding no',
      'PrintMotd no',
      'Subsystem sftp internal-sftp',
      // The harness's shell sessions keep their files here, inside the lab's state: lab down removes them all.
      `SetEnv TMPDIR=${join(stateDir, `tmp-${role}`)}`,
      'MaxStartups 50',
      'LogLevel VERBOSE',
      '',
    ].join('\n'),
  );
  mkdirSync('/run/sshd', { recursive: true });
  return spawnDaemon(`sshd-${role}`, ['ip', 'netns', 'exec', ns, '/usr/sbin/sshd', '-D', '-e', '-f', config], join(stateDir, 'logs', `sshd-${role}.log`));
}

export async function startOvs(sh: LocalShell, stateDir: string, ns: string, datapath: Datapath): Promise<ProcRecord[]> {
  const ovs = join(stateDir, 'ovs');
  const env = { OVS_RUNDIR: ovs, OVS_DBDIR: ovs, OVS_LOGDIR: ovs, OVS_SYSCONFDIR: ovs, OVS_PKGDATADIR: '/usr/share/openvswitch' };
  const inNs = (...words: string[]) => cmd('ip', 'netns', 'exec', ns, ...words);
  await sh.run(cmd('ovsdb-tool', 'create', join(ovs, 'conf.db'), '/usr/share/openvswitch/vswitch.ovsschema'), { env });
  await sh.run(
    inNs(
      'ovsdb-server',
      `--remote=punix:${join(ovs, 'db.sock')}`,
      `--pidfile=${join(ovs, 'ovsdb-server.pid')}`,
      '--detach',
      '--no-chdir',
      `--log-file=${join(ovs, 'ovsdb-server.log')}`,
      join(ovs, 'conf.db'),
    ),
    { env },
  );
  const ovsdb = recordFromPidfile('ovsdb-server', join(ovs, 'ovsdb-server.pid'));
  await sh.run(inNs('ovs-vsctl', `--db=unix:${join(ovs, 'db.sock')}`, '--no-wait', 'init'), { env });
  // The ovs-dpdk profile starts the DPDK build of ovs-vswitchd for each run and stops it after.
  if (datapath === 'dpdk') return [ovsdb];
  await sh.run(
    inNs(
      'ovs-vswitchd',
      `unix:${join(ovs, 'db.sock')}`,
      `--pidfile=${join(ovs, 'ovs-vswitchd.pid')}`,
      '--detach',
      '--no-chdir',
      `--log-file=${join(ovs, 'ovs-vswitchd.log')}`,
    ),
    { env },
  );
  return [ovsdb, recordFromPidfile('ovs-vswitchd', join(ovs, 'ovs-vswitchd.pid'))];
}

export async function startForwarder(role: 'host' | 'tg', stateDir: string, ns: string): Promise<{ port: number; proc: ProcRecord }> {
  // A port the kernel just handed out is free; socat takes it a moment later.
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = await freePort();
    const proc = spawnDaemon(
      `forwarder-${role}`,
      ['socat', `TCP-LISTEN:${port},bind=127.0.0.1,fork,reuseaddr`, `EXEC:ip netns exec ${ns} socat STDIO TCP\\:127.0.0.1\\:22`],
      join(stateDir, 'logs', `forwarder-${role}.log`),
    );
    try {
      await waitUntil(`forwarder ${role} on 127.0.0.1:${port}`, () => portOpen(port), { timeoutMs: 3000 });
      return { port, proc };
    } catch {
      await stopProc(proc, 500, true);
    }
  }
  throw new Error(`could not start the ${role} forwarder`);
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === 'object' && addr ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

export function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = tcpConnect({ host: '127.0.0.1', port });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

export async function sshdListening(ns: string, address: string): Promise<boolean> {
  const r = await new LocalShell('vlab').run(cmd('ip', 'netns', 'exec', ns, 'ss', '-ltnH', `src ${address}:22`), { okExitCodes: [0, 1] });
  return r.stdout.trim() !== '';
}

export function hostKeyFingerprint(stateDir: string, role: Role): string {
  const pub = readFileSync(join(stateDir, 'keys', `host-${role}.pub`), 'utf8').split(' ')[1]!;
  return fingerprintOf(Buffer.from(pub, 'base64'));
}
