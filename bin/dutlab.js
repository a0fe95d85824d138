#!/usr/bin/env node
// The installed `dutlab` command: the TypeScript sources, run through tsx.
import { register } from 'tsx/esm/api';
register();
const { main } = await import('../lib/cli/main.ts');
await main(process.argv);
