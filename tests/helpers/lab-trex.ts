// The virtual lab's real TRex, reached from the tests as lab up reaches it:
// through the relay's Unix socket (lib/vlab/trex.ts), as a user of its own.
import { portStatus, type TrexPortStatus } from '../../lib/traffic/trex/port-modes.js';
import { TrexRpc } from '../../lib/traffic/trex/rpc.js';
import type { LabState } from '../../lib/vlab/lab.js';

/** A client of the lab's TRex (close it when done). */
export async function labTrex(lab: LabState): Promise<TrexRpc> {
  if (!lab.trex?.rpcSocket) throw new Error(`lab ${lab.id} has no TRex (lab up --tg trex)`);
  const rpc = new TrexRpc({ endpoint: `ipc://${lab.trex.rpcSocket}`, name: `lab ${lab.id}'s TRex`, callTimeoutMs: 5000 });
  await rpc.connect();
  return rpc;
}

/** Both ports' status as TRex gives it to anyone. */
export async function trexPorts(lab: LabState): Promise<TrexPortStatus[]> {
  const rpc = await labTrex(lab);
  try {
    return [await portStatus(rpc, 0), await portStatus(rpc, 1)];
  } finally {
    rpc.close();
  }
}

/** TRex's captures, server-wide. */
export async function trexCaptures(lab: LabState): Promise<Array<{ id: number; state: string }>> {
  const rpc = await labTrex(lab);
  try {
    return await rpc.call('capture', { command: 'status' });
  } finally {
    rpc.close();
  }
}
