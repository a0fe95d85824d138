// npm run bench:lab — how long `lab up` and `lab down` take (packages installed). Prints figures.
import { labDown, labUp } from '../lib/vlab/lab.js';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const ID = 'bench';
const up: number[] = [];
const down: number[] = [];
await labDown({ id: ID });
for (let i = 0; i < ROUNDS; i++) {
  let t0 = performance.now();
  await labUp({ id: ID });
  up.push((performance.now() - t0) / 1000);
  t0 = performance.now();
  await labDown({ id: ID });
  down.push((performance.now() - t0) / 1000);
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const fmt = (xs: number[]) => `median ${median(xs).toFixed(2)} s, min ${Math.min(...xs).toFixed(2)} s, max ${Math.max(...xs).toFixed(2)} s`;
console.log(`${ROUNDS} rounds`);
console.log(`lab up:   ${fmt(up)}  (target: under 5 s)`);
console.log(`lab down: ${fmt(down)}`);
