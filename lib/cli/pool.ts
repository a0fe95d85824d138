// `dutlab pool status|list|quarantine|release`, and what `run --pool` reads
// of its command line. The pool file lists the testbeds; their leases and
// quarantines are read from (and written to) their DUT hosts.
import { type Command, InvalidArgumentError } from 'commander';
import { byName, loadPool, type Pool } from '../pool/pool.js';
import { formatStatus, operator, poolStatus, quarantine, releaseLab, sshHost } from '../pool/lab-state.js';
import { EXIT_CODES } from '../report/verdict.js';
import { loadTestbed } from '../testbed/load.js';

const log = (line: string) => process.stdout.write(`${line}\n`);

/** `--wait`: whole seconds, at most a day. */
export function parseWait(v: string): number {
  if (!/^\d+$/.test(v) || Number(v) > 86_400) throw new InvalidArgumentError(`--wait ${v}: whole seconds, from 0 to 86400`);
  return Number(v);
}

/** `run --testbed F` or `run --pool P --label L`: exactly one, and a label with a pool. */
export function runTarget(o: {
  testbed?: string;
  pool?: string;
  label?: string;
  wait: number;
}): { testbed: string } | { pool: Pool; label: string; waitS: number } {
  if (o.testbed && o.pool) throw new InvalidArgumentError('--testbed and --pool: give one of them');
  if (o.pool) {
    if (!o.label) throw new InvalidArgumentError('--pool needs --label: which of its testbeds may run this');
    return { pool: loadPool(o.pool), label: o.label, waitS: o.wait };
  }
  if (!o.testbed) throw new InvalidArgumentError('a testbed to run on: --testbed FILE, or --pool FILE --label LABEL');
  if (o.label) throw new InvalidArgumentError('--label chooses among the testbeds of a --pool');
  return { testbed: o.testbed };
}

export function addPoolCommands(program: Command): void {
  const pool = program.command('pool').description("a pool of testbeds (pool.yaml): their labels, leases and quarantines, read from each testbed's DUT host");
  pool
    .command('list')
    .description('the testbeds of the pool, their labels and testbed files (reaches no host)')
    .argument('<pool>', 'the pool file')
    .action((file: string) => {
      for (const t of loadPool(file).testbeds) log(`${t.name}  [${t.labels.join(', ')}]  ${t.testbed}`);
    });
  pool
    .command('status')
    .description(
      "each testbed's lease (free, or held by which run, renewed when, expiring when) and quarantine (since when, by whom, why); exit 2 when a DUT host cannot be read",
    )
    .argument('<pool>', 'the pool file')
    .option('--json', 'as JSON')
    .action(async (file: string, o: { json?: boolean }) => {
      const rows = await poolStatus(loadPool(file));
      if (o.json)
        log(
          JSON.stringify(
            rows.map((r) => ({ name: r.entry.name, labels: r.entry.labels, ...r.state, ...(r.problem ? { problem: r.problem } : {}) })),
            null,
            2,
          ),
        );
      else log(formatStatus(rows));
      process.exitCode = rows.some((r) => r.problem) ? EXIT_CODES['infra-error'] : EXIT_CODES.pass;
    });
  pool
    .command('quarantine')
    .description('keeps every run off a testbed until `pool release`, naming why (on its DUT host: every controller sees it)')
    .argument('<pool>', 'the pool file')
    .argument('<testbed>', "the testbed's name in the pool")
    .requiredOption('--reason <text>', 'why, for whoever finds it quarantined')
    .action(async (file: string, name: string, o: { reason: string }) => {
      const tb = loadTestbed(byName(loadPool(file), name).testbed);
      const shell = await sshHost()(tb);
      try {
        await quarantine(shell, tb, operator(), o.reason);
      } finally {
        await shell.close();
      }
      log(`${name}: quarantined: ${o.reason}`);
    });
  pool
    .command('release')
    .description(
      "lifts a testbed's quarantine; with --lease, also ends its lease: its run, if it still lives, stops before its next stage or command on the lab, and no other run can take the lab until that run's last renewal has run out (said in seconds)",
    )
    .argument('<pool>', 'the pool file')
    .argument('<testbed>', "the testbed's name in the pool")
    .option('--lease', 'also break the lease, whoever holds it')
    .action(async (file: string, name: string, o: { lease?: boolean }) => {
      const tb = loadTestbed(byName(loadPool(file), name).testbed);
      const shell = await sshHost()(tb);
      try {
        const did = await releaseLab(shell, tb, operator(), o.lease === true);
        log(`${name}: ${did.length > 0 ? did.join('; ') : 'nothing to release: neither quarantined nor (with --lease) held'}`);
      } finally {
        await shell.close();
      }
    });
}
