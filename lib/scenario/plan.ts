// The exact commands each host will run, in order, without connecting anywhere.
import type { Testbed } from '../testbed/schema.js';
import { topologyOf } from '../testbed/topology.js';
import { profileFor, type Cmd, type Profile, type StepContext } from '../profiles/profile.js';

export const IVSHMEM_PLACEHOLDER = '<-device ivshmem,... as printed by ovs-ivshm-mngr>';

export interface PlannedStep {
  id: string;
  title: string;
  host: string;
  commands: Cmd[];
}

/** The plan; values a step captures at run time show as placeholders unless given. */
export function planOf(tb: Testbed, profile: Profile, values: Partial<Record<'ivshmem-device', string>> = {}): PlannedStep[] {
  const ctx: StepContext = { tb, topology: topologyOf(tb), profile, value: (name) => values[name] ?? IVSHMEM_PLACEHOLDER };
  return profileFor(profile, tb).steps.map((s) => ({ id: s.id, title: s.title, host: s.host, commands: s.commands(ctx) }));
}

/** The command as a person would type it: the guide's `&` for what runs in the background. */
export function commandText(c: Cmd): string {
  return c.background ? `${c.line} &` : c.line;
}

export function formatPlan(tb: Testbed, profile: Profile, plan: PlannedStep[]): string {
  const out = [`# dutlab plan: testbed ${tb.name}, profile ${profile.name}`, ''];
  for (const s of plan) {
    out.push(`[${s.host}] ${s.id}: ${s.title}`);
    if (s.commands.length === 0)
      out.push(
        s.id === 'guest.connect'
          ? `    # ssh ${tb.hosts.guest.user}@${tb.hosts.guest.address}:${tb.hosts.guest.port}${tb.hosts.guest.jump ? ' through host' : ''}`
          : '    # dmesg | tail -n 1 on host and guest',
      );
    let where = '';
    for (const c of s.commands) {
      const ctx = [c.cwd ? `cd ${c.cwd}` : '', ...Object.entries(c.env ?? {}).map(([k, v]) => `export ${k}=${v}`)].filter(Boolean).join('; ');
      if (ctx && ctx !== where) out.push(`    # ${ctx}`);
      where = ctx;
      out.push(`    ${commandText(c)}`);
    }
    out.push('');
  }
  return out.join('\n');
}
