// The built-in virtual lab, built for real: namespaces, veth pairs, OpenSSH
// sshd, Open vSwitch; reached only through the harness's SSH transport.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect as tcpConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CommandTimeoutError } from '../../lib/errors.js';
import { parseIpJson, parseRoutes } from '../../lib/parsers/net.js';
import { parseOvsVsctlShow } from '../../lib/parsers/ovs.js';
import { loadTestbed } from '../../lib/testbed/load.js';
import type { Testbed } from '../../lib/testbed/schema.js';
import { SshShell } from '../../lib/transport/ssh.js';
import { waitUntil } from '../../lib/wait.js';
import { isAlive } from '../../lib/vlab/procs.js';
import { labDown, labLeftovers, labUp, labStatus, type LabState } from '../../lib/vlab/lab.js';
import { netnsId, rootNs } from '../helpers/lab.js';

const ID = 'itest';
let lab: LabState;
let tb: Testbed;
const sh: Record<'host' | 'guest' | 'tg', SshShell> = {} as never;
const LAB_ADDRESSES = ['1.1.1.1', '6.6.6.2', '2.2.2.1', '3.3.3.1', '3.3.3.2', '169.254.77.1', '169.254.77.2'];

beforeAll(async () => {
  lab = await labUp({ id: ID });
  tb = loadTestbed(lab.testbedFile);
  sh.host = await SshShell.connect('host', tb.hosts.host);
  sh.tg = await SshShell.connect('tg', tb.hosts.tg);
  sh.guest = await SshShell.connect('guest', tb.hosts.guest, { jump: sh.host });
}, 120_000);

afterAll(async () => {
  for (const s of Object.values(sh)) await s?.close();
  await labDown({ id: ID });
});

async function links(shell: SshShell) {
  return parseIpJson((await shell.run('ip -j link')).stdout);
}

describe('virtual lab', () => {
  it('writes a testbed that reaches host and tg through 127.0.0.1 forwarders and the guest through the host', () => {
    expect(tb.hosts.host).toMatchObject({ address: '127.0.0.1', port: lab.forwarders.host, hostKey: { fingerprint: expect.stringMatching(/^SHA256:/) } });
    expect(tb.hosts.tg).toMatchObject({ address: '127.0.0.1', port: lab.forwarders.tg });
    expect(tb.hosts.guest).toMatchObject({ address: '169.254.77.2', jump: 'host' });
  });

  it('lands each SSH session in its own namespace', async () => {
    for (const role of ['host', 'guest', 'tg'] as const) {
      expect((await sh[role].run('readlink /proc/self/ns/net')).stdout.trim()).toBe(netnsId(lab.namespaces[role]));
    }
  });

  it('wires each veth pair between the right namespaces: TG ports to phy ports, KNI vports to guest vEths', async () => {
    const [host, tg, guest] = [await links(sh.host), await links(sh.tg), await links(sh.guest)];
    const raw = async (s: SshShell) => JSON.parse((await s.run('ip -j link')).stdout) as Array<{ ifname: string; ifindex: number; link_index?: number }>;
    const [rh, rt, rg] = [await raw(sh.host), await raw(sh.tg), await raw(sh.guest)];
    const peerOf = (list: typeof rh, name: string) => list.find((l) => l.ifname === name)!;
    for (const p of tb.phyPorts) {
      expect(peerOf(rt, p.tgPort).link_index).toBe(peerOf(rh, p.name).ifindex);
      expect(peerOf(rh, p.name).link_index).toBe(peerOf(rt, p.tgPort).ifindex);
    }
    for (const k of tb.vmPorts) {
      expect(peerOf(rg, k.guestIf).link_index).toBe(peerOf(rh, k.name).ifindex);
      expect(peerOf(rh, k.name).link_index).toBe(peerOf(rg, k.guestIf).ifindex);
    }
    expect(host.map((l) => l.name)).toEqual(expect.arrayContaining(['port16', 'port17', 'port32', 'port33']));
    expect(tg.map((l) => l.name)).toEqual(expect.arrayContaining(['tg0', 'tg1']));
    // The guest's vEths are the scenario's to configure: down and unaddressed after lab up.
    expect(guest.find((l) => l.name === 'vEth_port32')!.flags).not.toContain('UP');
  });

  it('runs Open vSwitch (ovsdb-server and ovs-vswitchd) in the host namespace, and answers ovs-vsctl show', async () => {
    const show = parseOvsVsctlShow((await sh.host.run('ovs-vsctl show', { env: { OVS_RUNDIR: tb.paths.ovsRunDir } })).stdout);
    expect(show.ovsVersion ?? show.uuid).toBeTruthy();
    expect((await sh.host.run('ovs-appctl version', { env: { OVS_RUNDIR: tb.paths.ovsRunDir } })).stdout).toMatch(/Open vSwitch/);
  });

  it('routes no lab address from the root namespace and puts no lab link in it', () => {
    const routes = parseRoutes(rootNs(['route']));
    const addrs = rootNs(['-j', 'addr']);
    for (const a of LAB_ADDRESSES) expect(addrs).not.toContain(`"${a}"`);
    for (const r of routes) expect(['2.2.2.0/24', '3.3.3.0/24', '169.254.77.0/30', '1.1.1.1', '6.6.6.2']).not.toContain(r.dst);
    const names = (JSON.parse(rootNs(['-j', 'link'])) as Array<{ ifname: string }>).map((l) => l.ifname);
    for (const n of ['tg0', 'tg1', 'port16', 'port17', 'port32', 'port33', 'vEth_port32', 'vEth_port33', 'mgmt0']) expect(names).not.toContain(n);
  });

  it('gives no namespace a route out', async () => {
    for (const role of ['host', 'guest', 'tg'] as const) {
      const routes = parseRoutes((await sh[role].run('ip route')).stdout);
      expect(routes.filter((r) => r.dst === 'default')).toEqual([]);
      const r = await sh[role].run('ip route get 192.0.2.1', { okExitCodes: [0, 2] });
      expect(r.stderr).toMatch(/Network is unreachable/);
    }
  });

  it('runs commands with sudo over OpenSSH', async () => {
    expect((await sh.tg.run('echo "$(id -u) $SUDO_COMMAND"', { sudo: true })).stdout).toMatch(/^0 .*sh -c/);
  });

  it('puts and gets files over SFTP', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dutlab-sftp-'));
    try {
      writeFileSync(join(dir, 'up.bin'), Buffer.from([0, 1, 2, 255]));
      const remote = `${tb.paths.workDir}/sftp-test.bin`;
      await sh.tg.put(join(dir, 'up.bin'), remote);
      expect((await sh.tg.run(`od -An -tx1 ${remote}`)).stdout.trim()).toBe('00 01 02 ff');
      await sh.tg.get(remote, join(dir, 'down.bin'));
      expect(readFileSync(join(dir, 'down.bin'))).toEqual(Buffer.from([0, 1, 2, 255]));
      await sh.tg.run(`rm -f ${remote}`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('starts a background process on the guest, knows it by pid, and stops exactly that pid', async () => {
    const a = await sh.guest.start('sleep 300', { logFile: `${tb.paths.workDir}/a.log` });
    const b = await sh.guest.start('sleep 300', { logFile: `${tb.paths.workDir}/b.log` });
    expect(await a.isAlive()).toBe(true);
    await a.stop('SIGTERM', 2000);
    expect(await a.isAlive()).toBe(false);
    expect(await b.isAlive()).toBe(true);
    await b.stop();
    // Stopped means gone or a zombie waiting for init to reap it: nothing that runs.
    expect((await sh.guest.run(`ps -o stat= -p ${a.pid},${b.pid} | grep -v '^Z'`, { okExitCodes: [0, 1] })).stdout.trim()).toBe('');
  });

  it('leaves no process behind after a timed-out command', async () => {
    await expect(sh.guest.run('sleep 77 & sleep 78', { timeoutMs: 500 })).rejects.toBeInstanceOf(CommandTimeoutError);
    await new Promise((r) => setTimeout(r, 1000));
    expect((await sh.guest.run("ps -eo args | grep -c '^sleep 7[78]'", { okExitCodes: [0, 1] })).stdout.trim()).toBe('0');
  });

  it('leaves no process behind when its connection closes while a command still runs (a run interrupted mid-stream)', async () => {
    const tg = await SshShell.connect('tg', tb.hosts.tg);
    const running = tg.run('sleep 87 & sleep 88', { timeoutMs: 60_000 }).catch((e: unknown) => e);
    await waitUntil(
      'the command to start',
      async () => (await sh.tg.run("ps -eo args | grep -c '^sleep 8[78]'", { okExitCodes: [0, 1] })).stdout.trim() === '2',
      {
        timeoutMs: 5000,
        intervalMs: 100,
      },
    );
    await tg.close();
    expect(await running).toBeInstanceOf(Error);
    expect((await sh.tg.run("ps -eo args | grep -c '^sleep 8[78]'", { okExitCodes: [0, 1] })).stdout.trim()).toBe('0');
  });

  it('reports its state', async () => {
    const st = await labStatus(ID);
    expect(st.namespaces.sort()).toEqual(Object.values(lab.namespaces).sort());
    expect(st.processes.every((p) => p.alive)).toBe(true);
    expect(st.processes.map((p) => p.name)).toEqual(
      expect.arrayContaining(['sshd-host', 'sshd-guest', 'sshd-tg', 'ovsdb-server', 'ovs-vswitchd', 'forwarder-host', 'forwarder-tg']),
    );
  });
});

describe('virtual lab teardown', () => {
  it('lab up with a mistyped --template names the file and leaves the lab of that id as it is', async () => {
    const missing = join(lab.stateDir, 'no-such-template.yaml');
    await expect(labUp({ id: ID, template: missing })).rejects.toThrow(
      new RegExp(`${missing}: .*cannot read the testbed file: no such file or directory \\(ENOENT\\)`, 's'),
    );
    expect((await labStatus(ID)).processes.every((p) => p.alive)).toBe(true);
    expect((await sh.host.run('echo still here')).stdout).toBe('still here\n');
  });

  it('lab up after a crashed run clears the leftovers first', async () => {
    for (const s of Object.values(sh)) await s.close();
    const crashed = lab;
    lab = await labUp({ id: ID }); // no lab down in between: as after a crash
    expect(crashed.processes.filter(isAlive)).toEqual([]);
    expect((await labStatus(ID)).processes.every((p) => p.alive)).toBe(true);
  }, 60_000);

  it('lab down leaves no namespace, process, forwarder or state file, and can run again', async () => {
    const forwarders = Object.values(lab.forwarders);
    await labDown({ id: ID });
    expect(await labLeftovers(ID, lab.processes)).toEqual([]);
    expect(existsSync(lab.stateDir)).toBe(false);
    for (const ns of Object.values(lab.namespaces)) expect(existsSync(`/run/netns/${ns}`)).toBe(false);
    for (const port of forwarders) {
      const refused = await new Promise<boolean>((res) => {
        const s = tcpConnect(port, '127.0.0.1');
        s.once('connect', () => {
          s.destroy();
          res(false);
        });
        s.once('error', () => res(true));
      });
      expect(refused).toBe(true);
    }
    await expect(labDown({ id: ID })).resolves.toEqual([]);
  }, 60_000);
});
