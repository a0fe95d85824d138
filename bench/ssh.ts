// npm run bench:ssh — what one command costs over the harness's SSH transport
// (a long-lived sh per host), against OpenSSH's one-shot `ssh host true` on the
// same virtual-lab host in the same run. Prints figures and the ratio; asserts nothing.
// Targets (issue 12): median <= 5 ms per command, >= 50x faster than OpenSSH one-shot.
import { execFileSync } from 'node:child_process';
import { loadTestbed } from '../lib/testbed/load.js';
import { SshShell } from '../lib/transport/ssh.js';
import { labDown, labUp } from '../lib/vlab/lab.js';

const COMMANDS = Number(process.env.BENCH_COMMANDS ?? 300);
const ONE_SHOTS = Number(process.env.BENCH_ONE_SHOTS ?? 20);
const ID = 'bench-ssh';

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))]!;
const ms = (x: number) => `${x.toFixed(2)} ms`;

await labDown({ id: ID });
const lab = await labUp({ id: ID });
try {
  const tb = loadTestbed(lab.testbedFile);
  const spec = tb.hosts.host;
  const sh = await SshShell.connect('host', spec);
  await sh.run('true'); // the session's start (and the rc files) once, outside the figures
  const ours: number[] = [];
  for (let i = 0; i < COMMANDS; i++) {
    const t0 = performance.now();
    await sh.run('true');
    ours.push(performance.now() - t0);
  }
  await sh.close();

  const key = 'privateKeyFile' in spec.auth ? spec.auth.privateKeyFile : '';
  const knownHosts = `${lab.stateDir}/bench_known_hosts`;
  execFileSync('sh', ['-c', `printf '[127.0.0.1]:%s %s\\n' ${spec.port} "$(cut -d' ' -f1,2 ${lab.stateDir}/keys/host-host.pub)" > ${knownHosts}`]);
  const oneShot: number[] = [];
  for (let i = 0; i < ONE_SHOTS; i++) {
    const t0 = performance.now();
    execFileSync('ssh', [
      '-o',
      'BatchMode=yes',
      '-o',
      `UserKnownHostsFile=${knownHosts}`,
      '-o',
      'StrictHostKeyChecking=yes',
      '-i',
      key,
      '-p',
      String(spec.port),
      `root@${spec.address}`,
      'true',
    ]);
    oneShot.push(performance.now() - t0);
  }

  const m = median(ours);
  const o = median(oneShot);
  console.log(
    `dutlab SshShell.run('true'), ${COMMANDS} commands: median ${ms(m)}, p90 ${ms(pct(ours, 0.9))}, max ${ms(Math.max(...ours))}  (target: median <= 5 ms)`,
  );
  console.log(`OpenSSH one-shot \`ssh host true\`, ${ONE_SHOTS} runs:   median ${ms(o)}, p90 ${ms(pct(oneShot, 0.9))}`);
  console.log(`ratio: ${(o / m).toFixed(1)}x faster than OpenSSH one-shot  (target: >= 50x)`);
} finally {
  await labDown({ id: ID });
}
