import { execa } from 'execa';
import { labDown, labUp } from '../lib/vlab/lab.js';
const n = Number(process.argv[2] ?? 3);
const labs = await Promise.all(Array.from({ length: n }, (_, i) => labUp({ id: `pr${i}` })));
const t0 = performance.now();
await Promise.all(labs.map(async (lab, i) => {
  const r = await execa('node', ['bin/dutlab.js', 'run', '--quiet', '--reports', `/tmp/pr-rep${i}`, '--testbed', lab.testbedFile, '--profile', 'virtual'], { reject: false });
  console.log(`run ${i}: exit ${r.exitCode} in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
}));
await Promise.all(labs.map((l) => labDown({ id: l.id })));
