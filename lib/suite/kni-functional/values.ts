// What the KNI cases add to the lab: the flows the suite's file lists (by the
// topology's roles), and the TG's addresses in the vEths' subnets.

/**
 * A flow the suite adds for its cases (the guide's flows carry only the
 * stream) and removes afterwards: the suite's file lists them, by the
 * topology's roles. Added at a priority of their own, so that they are
 * removed exactly (--strict) and never shadow the guide's flows.
 */
export interface SuiteFlow {
  match: string;
  output: number;
  /** Which case needs it. */
  why: string;
}
export const SUITE_FLOW_PRIORITY = 100;

/** An address for the TG in a vEth's subnet: the lowest host address that is neither the vEth's nor one to avoid (the gateway's). */
export function hostAddressIn(cidr: string, avoid: string[], fromTop = false): string {
  const [ip, len] = cidr.split('/') as [string, string];
  const bits = Number(len);
  const n = ip.split('.').reduce((a, o) => a * 256 + Number(o), 0);
  const size = 2 ** (32 - bits);
  const net = n - (n % size);
  const taken = new Set([ip, ...avoid]);
  const dotted = (x: number) => [24, 16, 8, 0].map((s) => Math.floor(x / 2 ** s) % 256).join('.');
  for (let i = 1; i < size - 1; i++) {
    const cand = dotted(fromTop ? net + size - 1 - i : net + i);
    if (!taken.has(cand)) return cand;
  }
  throw new Error(`no free host address in ${cidr}`);
}
