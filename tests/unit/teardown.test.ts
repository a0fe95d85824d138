import { describe, expect, it } from 'vitest';
import { Teardown } from '../../lib/scenario/teardown.js';

describe('the fixtures undone at the end of a suite', () => {
  it('undoes them last first, every one of them whatever fails, and reports each problem under its name', async () => {
    const t = new Teardown();
    const undone: string[] = [];
    t.defer('connections', async () => void undone.push('connections'));
    t.defer('lab lock', async () => {
      undone.push('lab lock');
      throw new Error('[host] connection lost');
    });
    t.defer('setup', async () => {
      undone.push('setup');
      return ['bridge br0 still there'];
    });
    t.defer('traffic generator', async () => void undone.push('traffic generator'));
    expect(t.pending).toEqual(['traffic generator', 'setup', 'lab lock', 'connections']);
    expect(await t.run()).toEqual(['bridge br0 still there', 'lab lock: [host] connection lost']);
    expect(undone).toEqual(['traffic generator', 'setup', 'lab lock', 'connections']);
    // Once: a second call (an abort racing the suite's end) undoes nothing again.
    expect(await t.run()).toEqual([]);
    expect(undone).toHaveLength(4);
  });

  it('undoes a fixture only once it was set up (use): one whose setting up failed is never undone', async () => {
    const t = new Teardown();
    const undone: string[] = [];
    await expect(
      t.use(
        'address',
        async () => 'added',
        async () => void undone.push('address'),
      ),
    ).resolves.toBe('added');
    await expect(
      t.use(
        'route',
        async () => {
          throw new Error('RTNETLINK answers: Network is unreachable');
        },
        async () => void undone.push('route'),
      ),
    ).rejects.toThrow(/unreachable/);
    expect(t.pending).toEqual(['address']);
    expect(await t.run()).toEqual([]);
    expect(undone).toEqual(['address']);
  });
});
