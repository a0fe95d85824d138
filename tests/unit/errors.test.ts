// Whose fault a failure is: decided in one place (lib/errors.ts failureKind),
// by the error's type first, then by the role of the host a command ran on.
import { describe, expect, it } from 'vitest';
import {
  AbortedError,
  CaptureError,
  CheckFailure,
  CommandError,
  CommandTimeoutError,
  ConnectionError,
  GuestKernelFailure,
  KniGateError,
  LockError,
  ParseError,
  TestbedError,
  failureKind,
} from '../../lib/errors.js';
import { trafficGenerator } from '../../lib/traffic/drivers.js';
import { LinuxTrafficGenerator } from '../../lib/traffic/tg-linux.js';
import { parseTestbed } from '../../lib/testbed/load.js';
import { LocalShell } from '../../lib/transport/local.js';

describe('whose fault a failure is', () => {
  it("is the DUT's for a check that failed, whatever host it read", () => {
    expect(failureKind(new CheckFailure('counters', 'lost'))).toBe('dut');
    expect(failureKind(new KniGateError('NOT found', ''))).toBe('dut');
    // A guest lost because its kernel said it failed: the DUT's, though what the run saw was a connection lost.
    const panicked = new GuestKernelFailure(['Kernel panic - not syncing: Fatal exception'], "the guest's kernel failed", {
      cause: new ConnectionError('guest', 'connection lost'),
    });
    expect(failureKind(panicked)).toBe('dut');
    expect(panicked.message).toBe(
      "guest kernel: the guest's kernel failed; its console since the run began says:\nKernel panic - not syncing: Fatal exception",
    );
  });

  it("is the lab's for what says nothing of the DUT: connection, testbed, lock, capture, unreadable output, an interrupted run, the unforeseen", () => {
    for (const err of [
      new ConnectionError('host', 'connection lost'),
      new TestbedError('x.yaml', []),
      new LockError('in use'),
      new CaptureError('dropped'),
      new ParseError('ip route', 'lines', ''),
      new AbortedError('interrupted by SIGINT'),
      new Error('a bug'),
      'a string',
    ]) {
      expect(failureKind(err), String(err)).toBe('infra');
    }
  });

  it("is, for a command, the fault of the host it ran on by its role; a missing tool is always the lab's", () => {
    expect(failureKind(new CommandError('host', 'ovs-vsctl add-br br0', 1, null, ''))).toBe('dut');
    expect(failureKind(new CommandError('guest', 'sysctl -w x=1', 255, null, ''))).toBe('dut');
    expect(failureKind(new CommandTimeoutError('guest', 'ip route', 100))).toBe('dut');
    expect(failureKind(new CommandError('tg', 'tcpreplay', 1, null, ''))).toBe('infra');
    expect(failureKind(new CommandTimeoutError('tg', 'tcpreplay', 100))).toBe('infra');
    expect(failureKind(new CommandError('host', 'ovs-vsctl', 127, null, 'not found'))).toBe('infra');
    expect(failureKind(new CommandError('guest', './kni_client', 126, null, 'Permission denied'))).toBe('infra');
    // The controller's own fault-injection hook is no machine of the testbed.
    expect(failureKind(new CommandError('local', 'ip netns exec ...', 1, null, ''))).toBe('infra');
  });
});

describe('the traffic generator the testbed names', () => {
  it('is the linux driver by default', () => {
    const tb = parseTestbed(`name: t
hosts:
  host: { address: h, auth: { agent: true }, hostKey: { insecureAcceptAny: true } }
  guest: { address: g, auth: { agent: true }, hostKey: { insecureAcceptAny: true } }
  tg: { address: t, auth: { agent: true }, hostKey: { insecureAcceptAny: true } }
`);
    expect(tb.tg.type).toBe('linux');
    expect(trafficGenerator(new LocalShell('tg'), tb, 'r1')).toBeInstanceOf(LinuxTrafficGenerator);
  });
});
