// npm run bench:ssh — what one command costs over the harness's SSH transport
// (a long-lived sh per host), against OpenSSH's one-shot `ssh host true` on the
// same virtual-lab host in the same run, and where each one's time goes on this
// box: the session loop's own work (the same loop over a local pipe, no SSH),
// one fork+exec on the lab host (what a slower box pays for each), and the
// user's rc files that bash reads for every command sshd runs (bash -c true
// with SSH_CLIENT set, against without). Prints figures and ratios; asserts nothing.
// Targets (issue 12): median <= 5 ms per command, >= 50x faster than OpenSSH one-shot.
import { execFileSync, spawn } from 'node:child_process';
import { ShellSession } from '../lib/transport/shell-session.js';
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

  // The session loop alone: the same sh loop over a local pipe, no SSH; in a session of its own, as sshd starts it.
  const child = spawn('sh', ['-s'], { stdio: ['pipe', 'pipe', 'inherit'], detached: true });
  const local = new ShellSession(child.stdin, child.stdout);
  await local.waitReady(5000);
  const loop: number[] = [];
  for (let i = 0; i < COMMANDS; i++) {
    const t0 = performance.now();
    await local.run('true');
    loop.push(performance.now() - t0);
  }
  local.close();

  // On the lab host: one fork+exec, and the rc files bash reads for a command sshd runs.
  const host = await SshShell.connect('host', spec);
  const perRun = async (script: string, n: number) => {
    const r = await host.run(`s=$(date +%s%N); ${script}; e=$(date +%s%N); echo $(( (e - s) / ${n} / 1000 ))`);
    return Number(r.stdout.trim()) / 1000;
  };
  const forkExec = await perRun('i=0; while [ $i -lt 100 ]; do /bin/true; i=$((i+1)); done', 100);
  const rcWith = await perRun('i=0; while [ $i -lt 5 ]; do env -i HOME="$HOME" PATH="$PATH" SSH_CLIENT="127.0.0.1 1 22" bash -c true; i=$((i+1)); done', 5);
  const rcWithout = await perRun('i=0; while [ $i -lt 5 ]; do env -i HOME="$HOME" PATH="$PATH" bash -c true; i=$((i+1)); done', 5);
  await host.close();

  const m = median(ours);
  const o = median(oneShot);
  console.log(
    `dutlab SshShell.run('true'), ${COMMANDS} commands: median ${ms(m)}, p90 ${ms(pct(ours, 0.9))}, max ${ms(Math.max(...ours))}  (target: median <= 5 ms)`,
  );
  console.log(`OpenSSH one-shot \`ssh host true\`, ${ONE_SHOTS} runs:   median ${ms(o)}, p90 ${ms(pct(oneShot, 0.9))}`);
  console.log(`ratio: ${(o / m).toFixed(1)}x faster than OpenSSH one-shot  (target: >= 50x)`);
  console.log('');
  console.log('where a command goes (this box):');
  console.log(
    `  the session loop alone, over a local pipe:     median ${ms(median(loop))}  (one fork and one exec a command: the substitution's subshell, sh)`,
  );
  console.log(`  one fork+exec on the lab host (/bin/true):    ${ms(forkExec)}  (a slower box pays this per process)`);
  console.log(`  SSH, the forwarder and the harness:            ${ms(Math.max(0, m - median(loop)))}  (the rest of the median)`);
  console.log('where a one-shot login goes:');
  console.log(`  bash -c true as sshd runs it (SSH_CLIENT set): ${ms(rcWith)}  (bash reads ~/.bashrc for every command sshd runs)`);
  console.log(`  bash -c true otherwise:                        ${ms(rcWithout)}`);
  console.log(
    `  so the rc files cost ${ms(rcWith - rcWithout)} of the one-shot's ${ms(o)}; the harness pays them once per host and run (one session), not per command`,
  );
} finally {
  await labDown({ id: ID });
}
