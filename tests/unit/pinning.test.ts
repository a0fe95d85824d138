// The switch and the generator on CPUs of their own (lab up --pin): the split
// of a box's CPUs, and the testbed's tg.cpus held to taskset's grammar.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { TestbedSchema } from '../../lib/testbed/schema.js';
import { pinningFor } from '../../lib/vlab/pinning.js';

const ROOT = new URL('../..', import.meta.url).pathname;

describe('pinning', () => {
  it('gives the switch CPU 0 and the generator the rest; one CPU cannot be split', () => {
    expect(pinningFor(2)).toEqual({ switch: '0', generator: '1' });
    expect(pinningFor(8)).toEqual({ switch: '0', generator: '1-7' });
    expect(() => pinningFor(1)).toThrow('--pin: this box has 1 CPU; the switch and the generator need one each');
  });

  it('takes tg.cpus as taskset -c does, and refuses anything else naming the field', () => {
    const raw = parse(readFileSync(`${ROOT}fixtures/testbeds/virtual.yaml`, 'utf8')) as Record<string, unknown>;
    const withCpus = (cpus: string) => TestbedSchema.safeParse({ ...raw, tg: { cpus } });
    for (const ok of ['1', '2-3', '1,3', '0-1,4']) expect(withCpus(ok).success, ok).toBe(true);
    for (const bad of ['1; reboot', '', 'a', '1-', '$(id)']) {
      const r = withCpus(bad);
      expect(r.success, bad).toBe(false);
      expect(r.error!.issues[0]!.path).toEqual(['tg', 'cpus']);
    }
  });
});
