// The upgrade sections' checks across fields (lib/testbed/upgrade-schema.ts
// has each field's own): builds that are one, a restart to a build that is
// not there, a downtime bound finer than the stream can resolve.
import type { TestbedProblem } from '../errors.js';
import type { Testbed } from './schema.js';

/** Each build's identity: two builds that start the same daemon on the same libraries, or claim the same daemon's version, are one. */
export function buildProblems(tb: Testbed): TestbedProblem[] {
  const d = tb.ovsDpdk;
  const names = Object.keys(d.builds);
  const problems: TestbedProblem[] = [];
  if (d.build !== undefined && !names.includes(d.build))
    problems.push({ path: 'ovsDpdk.build', message: `${d.build} is not one of ovsDpdk.builds (${names.join(', ') || 'none'})` });
  // Two builds are one where they start the same daemon with the same libraries, or claim the same daemon's version.
  const keys = (n: string) => {
    const b = d.builds[n]!;
    const vswitchd = b.vswitchd ?? d.vswitchd;
    // A policed build is another (a known regression of the same daemon).
    const policed = b.policeIngressKbps === undefined ? '' : ` policed ${b.policeIngressKbps}`;
    return [`${vswitchd} ${b.libDir ?? d.systemLibDir}${policed}`, `${vswitchd} ${b.dpdkVersion}${policed}`];
  };
  names.forEach((n, i) => {
    const [files, claim] = keys(n);
    const same = names.slice(0, i).find((m) => keys(m)[0] === files || keys(m)[1] === claim);
    if (same) problems.push({ path: `ovsDpdk.builds.${n}`, message: `the same build as ${same}: two builds that are one compare nothing` });
  });
  return problems;
}

/** The restart's build is one of the testbed's; its downtime bound is no finer than one frame of its stream. */
export function restartProblems(tb: Testbed): TestbedProblem[] {
  const r = tb.restart;
  const names = Object.keys(tb.ovsDpdk.builds);
  const problems: TestbedProblem[] = [];
  if (r.to !== undefined && !names.includes(r.to))
    problems.push({ path: 'restart.to', message: `${r.to} is not one of ovsDpdk.builds (${names.join(', ') || 'none'})` });
  const rate = r.rate ?? tb.traffic.rate;
  const resolutionMs = 1000 / rate;
  if (r.maxDowntimeMs < resolutionMs)
    problems.push({
      path: 'restart.maxDowntimeMs',
      message: `${r.maxDowntimeMs} ms is below the measurement's resolution (one frame at ${rate} frames/s: ${resolutionMs} ms): raise it, or the rate`,
    });
  return problems;
}
