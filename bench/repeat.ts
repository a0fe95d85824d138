// npm run test:repeat -- PATTERN [TIMES] [FILE] — runs the tests whose names
// match PATTERN TIMES times in a row (default 20; default file: the fault
// tests), each run a fresh vitest, and prints how many passed: how a flaky
// test is shown not to be. Stops at the first failure and prints its output.
import { execa } from 'execa';

const [pattern, times = '20', file = 'tests/lab/faults.test.ts'] = process.argv.slice(2);
if (!pattern) {
  console.error('usage: npm run test:repeat -- PATTERN [TIMES] [FILE]');
  process.exit(2);
}
const n = Number(times);
let passed = 0;
for (let i = 1; i <= n; i++) {
  const t0 = performance.now();
  const r = await execa('npx', ['vitest', 'run', file, '-t', pattern, '--reporter=verbose'], { reject: false, env: { NO_COLOR: '1' } });
  const out = r.stdout.replace(/\x1b\[[0-9;]*m/g, '');
  const ran = /Tests\s+(\d+) passed/.exec(out);
  const ok = r.exitCode === 0 && ran !== null && Number(ran[1]) > 0;
  console.log(
    `${String(i).padStart(2)}/${n}: ${ok ? `passed (${ran![1]} test${ran![1] === '1' ? '' : 's'})` : 'FAILED'} in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
  );
  if (!ok) {
    console.log(out.split('\n').slice(-60).join('\n'));
    break;
  }
  passed++;
}
console.log(`${passed} of ${n} in a row passed: ${pattern}`);
process.exitCode = passed === n ? 0 : 1;
