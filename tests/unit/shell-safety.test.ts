// dutlab runs its plan as root on the DUT. Every string of the testbed gets
// shell metacharacters here: either the schema refuses the value, naming the
// field, or the value reaches every command line as one quoted word and
// nothing else in any line of any profile's plan changes.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { TestbedError } from '../../lib/errors.js';
import { planOf } from '../../lib/scenario/plan.js';
import { PROFILE_NAMES, profileByName } from '../../lib/profiles/index.js';
import { parseTestbed } from '../../lib/testbed/load.js';
import type { Testbed } from '../../lib/testbed/schema.js';
import { shq } from '../../lib/transport/quote.js';
import { commandScript } from '../../lib/transport/shell.js';

const FIXTURE = new URL('../../fixtures/testbeds/legacy-kni.yaml', import.meta.url).pathname;
const base = parseTestbed(readFileSync(FIXTURE, 'utf8'), FIXTURE);
// The DPDK lab's template: the fields only the ovs-dpdk profile reads (devargs, the tap's namespace, EAL arguments).
const DPDK_FIXTURE = new URL('../../fixtures/testbeds/virtual-dpdk.yaml', import.meta.url).pathname;
const dpdkBase = parseTestbed(readFileSync(DPDK_FIXTURE, 'utf8'), DPDK_FIXTURE);
const SENTINEL = 'dutlabsentinel9';
const PAYLOADS = ['x; touch /tmp/dutlab-pwned', '$(touch /tmp/dutlab-pwned)', '`touch /tmp/dutlab-pwned`', `a'b"c`, 'x && y | z > w', 'two\nlines', ''];

type Path = Array<string | number>;

/** Every string in the fully defaulted testbed, by its path. */
function stringPaths(v: unknown, path: Path = []): Path[] {
  if (typeof v === 'string') return [path];
  if (Array.isArray(v)) return v.flatMap((x, i) => stringPaths(x, [...path, i]));
  if (v && typeof v === 'object') return Object.entries(v).flatMap(([k, x]) => stringPaths(x, [...path, k]));
  return [];
}

function withValue(tb: Testbed, path: Path, value: string): string {
  const copy = structuredClone(tb) as unknown as Record<string | number, unknown>;
  let at = copy;
  for (const key of path.slice(0, -1)) at = at[key] as Record<string | number, unknown>;
  at[path.at(-1)!] = value;
  return stringify(copy);
}

/** Every command line of the plan of every profile that takes the testbed, as a shell would receive it: working directory and environment included. */
function planLines(tb: Testbed): string[] {
  return PROFILE_NAMES.map(profileByName)
    .filter((p) => (p.checkTestbed?.(tb) ?? []).length === 0)
    .flatMap((p) =>
      planOf(tb, p).flatMap((s) => s.commands.map((c) => commandScript(c.line, { ...(c.cwd ? { cwd: c.cwd } : {}), ...(c.env ? { env: c.env } : {}) }))),
    );
}

describe.each([
  ['the legacy fixture', base],
  ['the DPDK lab template', dpdkBase],
] as const)('no testbed value of %s can turn into another command', (_which, base) => {
  // The DPDK template adds the fields only the ovs-dpdk profile's plan reads; the others are the legacy fixture's.
  const onlyDpdk = (p: Path) => p[0] === 'ovsDpdk' || p.includes('dpdkDevargs') || p.includes('netns');
  const paths = stringPaths(base).filter((p) => base !== dpdkBase || onlyDpdk(p));
  it('covers every string field of the testbed', () => {
    expect(paths.length).toBeGreaterThan(base === dpdkBase ? 10 : 50);
    expect(paths.map((p) => p.join('.'))).toEqual(
      base === dpdkBase
        ? expect.arrayContaining(['ovsDpdk.vswitchd', 'ovsDpdk.filePrefix'])
        : expect.arrayContaining([
            'bridge',
            'paths.ovsRunDir',
            'vmPorts.0.guestIf',
            'guestBuild.patch',
            'paths.qemuBinary',
            'dpdk.qemu.name',
            'ovsDpdk.vswitchd',
          ]),
    );
    if (base === dpdkBase)
      expect(paths.map((p) => p.join('.'))).toEqual(expect.arrayContaining(['phyPorts.0.dpdkDevargs', 'vmPorts.0.netns', 'ovsDpdk.extraArgs.0']));
  });

  it.each(paths.map((p) => [p.join('.'), p] as const))('%s', (name, path) => {
    // A plain value of the field's own form stands where the payload will, to compare the plans.
    const original = path.reduce<unknown>((v, k) => (v as Record<string | number, unknown>)[k], base) as string;
    let expected: string[] | null = null;
    try {
      expected = planLines(parseTestbed(withValue(base, path, original.startsWith('/') ? `/${SENTINEL}` : SENTINEL)));
    } catch {
      // A field with a grammar no plain word fits (a MAC, an address): every payload must be refused.
    }
    for (const payload of PAYLOADS) {
      let tb: Testbed;
      try {
        tb = parseTestbed(withValue(base, path, payload));
      } catch (err) {
        // Refused: with the field's name, so the user knows what to fix.
        expect(err).toBeInstanceOf(TestbedError);
        expect((err as TestbedError).problems.map((p) => p.path).join(' ')).toContain(name.replace(/\.\d+\./, '.').split('.')[0]);
        continue;
      }
      // Accepted: the plan is the sentinel's, with the value quoted where the sentinel stood.
      expect(expected, `${name} accepted ${JSON.stringify(payload)}`).not.toBeNull();
      expect(planLines(tb), `${name} = ${JSON.stringify(payload)}`).toEqual(expected!.map((l) => l.replaceAll(SENTINEL, shq(payload))));
    }
  });
});

describe('values the guide itself uses pass, and what cannot work is refused', () => {
  const refused = (patch: (tb: Testbed) => void): string[] => {
    const tb = structuredClone(base);
    patch(tb);
    try {
      parseTestbed(stringify(tb));
      return [];
    } catch (err) {
      return (err as TestbedError).problems.map((p) => `${p.path}: ${p.message}`);
    }
  };

  it('takes the guide\'s values: ./qemu/x86_64-softmmu/qemu-system-x86_64, rte_kni_module_1_6.patch, "client 1", (0,0,2),(1,0,3)', () => {
    expect(base.paths.qemuBinary).toBe('./qemu/x86_64-softmmu/qemu-system-x86_64');
    expect(base.guestBuild.patch).toBe('rte_kni_module_1_6.patch');
    expect(base.dpdk.qemu.name).toBe('client 1');
    expect(base.dpdk.ovsDpdk.config).toBe('(0,0,2),(1,0,3)');
  });

  it('refuses "/" and "" as the OVS run dir, which the legacy plan removes with rm -rf', () => {
    expect(refused((tb) => (tb.paths.ovsRunDir = ''))[0]).toMatch(/^paths\.ovsRunDir: expected an absolute path/);
    expect(refused((tb) => (tb.paths.ovsRunDir = '/'))[0]).toMatch(/^paths\.ovsRunDir: refusing \/ itself/);
    expect(refused((tb) => (tb.paths.ovsRunDir = '/usr/local/..'))).toEqual([expect.stringMatching(/^paths\.ovsRunDir: expected a normalised path/)]);
    expect(refused((tb) => (tb.paths.shareDir = 'tmp/qemu_share'))).toEqual([expect.stringMatching(/^paths\.shareDir: expected an absolute path/)]);
  });

  it('refuses interface names Linux refuses: 16 characters, a slash, whitespace', () => {
    expect(refused((tb) => (tb.vmPorts[0].guestIf = 'vEth_port32_long'))).toEqual([
      expect.stringMatching(/^vmPorts\.0\.guestIf: an interface name has at most 15 characters/),
    ]);
    expect(refused((tb) => (tb.bridge = 'br/0'))[0]).toMatch(/^bridge: an interface name cannot hold/);
    expect(refused((tb) => (tb.phyPorts[1].tgPort = 'tg 1'))[0]).toMatch(/^phyPorts\.1\.tgPort: an interface name cannot hold/);
    expect(refused((tb) => (tb.vmPorts[0].guestIf = "vEth'32"))).toEqual([
      expect.stringMatching(/^vmPorts\.0\.guestIf: an interface name here holds letters, digits/),
    ]);
  });

  it('refuses duplicates: MACs, port names, guest interfaces, TG ports', () => {
    expect(refused((tb) => (tb.vmPorts[1].mac = tb.vmPorts[0].mac.toLowerCase()))).toEqual(['vmPorts/gateway: MAC address 00:4b:4e:49:30:00 is used twice']);
    expect(refused((tb) => (tb.vmPorts[1].name = 'port16'))).toEqual(['phyPorts/vmPorts: port name port16 is used twice']);
    expect(refused((tb) => (tb.vmPorts[1].guestIf = 'vEth_port32'))).toEqual(['vmPorts: guest interface vEth_port32 is used twice']);
    expect(refused((tb) => (tb.phyPorts[1].tgPort = tb.phyPorts[0].tgPort))).toEqual([`phyPorts: TG port ${base.phyPorts[0].tgPort} is used twice`]);
  });

  it('refuses a gateway that is a vEth address, both vEths in one subnet, network and broadcast addresses, a core mask of 0', () => {
    expect(refused((tb) => (tb.gateway.ip = '3.3.3.1'))).toEqual(["gateway.ip: 3.3.3.1 is vEth_port33's own address: the gateway must be another host"]);
    expect(refused((tb) => (tb.vmPorts[0].cidr = '3.3.3.7/24'))).toEqual([
      expect.stringMatching(/^vmPorts: vEth_port32 \(3\.3\.3\.7\/24\) and vEth_port33 \(3\.3\.3\.1\/24\) are in one subnet/),
    ]);
    expect(refused((tb) => (tb.vmPorts[0].cidr = '2.2.2.0/24'))).toEqual([
      'vmPorts.0.cidr: 2.2.2.0/24 is the network address of its subnet, not an interface address',
    ]);
    expect(refused((tb) => (tb.vmPorts[0].cidr = '2.2.2.255/24'))).toEqual([
      'vmPorts.0.cidr: 2.2.2.255/24 is the broadcast address of its subnet, not an interface address',
    ]);
    expect(refused((tb) => (tb.dpdk.ovsDpdk.coreMask = '0x00'))).toEqual(['dpdk.ovsDpdk.coreMask: a core mask of 0 selects no core']);
  });
});
