#!/usr/bin/env node
// The installed `dutlab` command: the TypeScript sources, run through tsx.
import { register } from 'tsx/esm/api';
register();
const { buildCli } = await import('../lib/cli/main.ts');
buildCli()
  .parseAsync(process.argv)
  .catch((err) => {
    process.stderr.write(`dutlab: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 2;
  });
