// `dutlab trend`: the history drawn as one self-contained page, and with
// --check, jumpavg's verdict on each series' newest group.
import type { Command } from 'commander';
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { newestAnomalies } from '../report/anomalies.js';
import { openStore } from '../store/open.js';
import { trendHtml } from '../report/trend.js';
import { EXIT_CODES } from '../report/verdict.js';
import { log, shown } from './common.js';
import { readReportsOf, resultsOption } from './results.js';

export function addTrendCommand(program: Command): void {
  program
    .command('trend')
    .description('a self-contained HTML page (no network) with charts of NDR, PDR and verdicts per testbed and profile across the history')
    .option('--reports <dir>', 'the reports directory whose history.jsonl to draw', undefined)
    .option('--out <file>', 'where the page goes (default: <reports>/trend.html)')
    .option('--check', "exit 1 when a series' newest jumpavg group is a regression (a slow slide no single compare sees), naming where it began")
    .addOption(resultsOption())
    .action(async (o: { reports?: string; results?: string; out?: string; check?: boolean }) => {
      const reports = readReportsOf(o);
      const out = resolve(o.out ?? join(reports, 'trend.html'));
      const store = openStore(o.results, reports);
      const history = await store.history().finally(() => store.close());
      for (const line of history.skipped) log(line);
      writeFileSync(out, trendHtml(history.entries));
      log(`trend of ${history.entries.length} run(s): ${shown(out)}`);
      if (!o.check) return;
      const verdicts = newestAnomalies(history.entries);
      for (const v of verdicts) process.stdout.write(`${v.text}\n`);
      if (verdicts.length === 0) process.stdout.write('no throughput series in the history: nothing to check\n');
      process.exitCode = verdicts.some((v) => v.regression) ? EXIT_CODES.fail : EXIT_CODES.pass;
    });
}
