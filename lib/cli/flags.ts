// A flag given twice (`--testbed A --testbed B`, `--profile` twice) is a
// usage error naming it, not the last one silently winning: a nightly whose
// wrapper script appends a flag would otherwise run on a testbed nobody
// chose. Flags meant to be repeated (`--suite`, `--suites-dir`, `--host`)
// collect a list: their default is one.
import type { Command } from 'commander';
import { EXIT_CODES } from '../report/verdict.js';

/** commander's preAction hook: refuses, before the action runs, any flag of the action's command given more than once. */
export function refuseRepeatedFlags(program: Command, action: Command): void {
  // commander keeps the command line it parsed on the program (not in its types).
  const argv = (program as unknown as { rawArgs?: string[] }).rawArgs ?? [];
  const seen = new Map<string, number>();
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i]!.startsWith('--') ? [argv[i]!.split('=')[0]!, argv[i]!.includes('=')] : [argv[i]!, false];
    const opt = action.options.find((o) => o.long === flag || o.short === flag);
    if (!opt) continue;
    if ((opt.required || opt.optional) && !inline) i++; // its value, whatever it looks like
    if (!Array.isArray(opt.defaultValue) && !opt.variadic) seen.set(opt.long ?? flag, (seen.get(opt.long ?? flag) ?? 0) + 1);
  }
  const twice = [...seen].filter(([, n]) => n > 1).map(([f, n]) => `${f} given ${n} times`);
  // Through commander's own error: printed as its usage errors are, then thrown (exitOverride) for main() to exit 2.
  if (twice.length > 0)
    action.error(`error: ${twice.join('; ')}: give each once (only --suite, --suites-dir and --host repeat)`, {
      exitCode: EXIT_CODES['infra-error'],
      code: 'dutlab.repeatedFlag',
    });
}
