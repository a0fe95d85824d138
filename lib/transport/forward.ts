// A local forward: a port on this machine's 127.0.0.1 whose connections are
// carried to an address as a lab host sees it, over that host's SSH
// connection (ssh -L). How the controller reaches a server on the TG (TRex's
// RPC port) without a new port opened to the lab network.
import { createServer, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';

export interface Forwarder {
  forwardOut(address: string, port: number): Promise<Duplex>;
}

export interface LocalForward {
  /** The port on 127.0.0.1 to connect to. */
  port: number;
  close(): Promise<void>;
}

/** Listens on 127.0.0.1 (an ephemeral port); each connection is a new channel to address:port from the other side. */
export async function localForward(via: Forwarder, address: string, port: number): Promise<LocalForward> {
  const sockets = new Set<Socket>();
  const server = createServer((local) => {
    sockets.add(local);
    local.on('close', () => sockets.delete(local));
    local.pause();
    via.forwardOut(address, port).then(
      (remote) => {
        remote.on('error', () => local.destroy());
        local.on('error', () => remote.destroy());
        remote.on('close', () => local.destroy());
        local.on('close', () => remote.destroy());
        local.pipe(remote);
        remote.pipe(local);
        local.resume();
      },
      () => local.destroy(),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  return {
    port: (server.address() as { port: number }).port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
