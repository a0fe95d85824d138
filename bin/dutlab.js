#!/usr/bin/env node
// The installed `dutlab` command: the TypeScript sources, run through tsx.
// The packages it uses are loaded before tsx's hooks are registered: through
// the hooks, vitest's module graph alone costs a second of CPU at every start.
await Promise.all(['vitest/node', 'zod', 'yaml', 'ssh2', 'execa', 'commander'].map((m) => import(m)));
const { register } = await import('tsx/esm/api');
register();
const { main } = await import('../lib/cli/main.ts');
await main(process.argv);
