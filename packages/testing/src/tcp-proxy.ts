import net from 'node:net';
import { Transform } from 'node:stream';

/**
 * A loopback TCP proxy a test controls: the way to take a server away from its clients without
 * stopping it (a server that keeps its data in memory would lose it in a restart), or to let a request
 * reach the server while its reply is lost. Point the client at 127.0.0.1:`port`.
 */
export interface TcpProxy {
  /** The port the proxy listens on (127.0.0.1), kept across `cut()` / `restore()`. */
  readonly port: number;
  /** Connections accepted so far. */
  readonly accepted: number;
  /** Destroys every open connection and stops listening, so new connections are refused. */
  cut(): Promise<void>;
  /**
   * Stops passing the server's replies on (requests still reach it) until `cut()`: a write then lands
   * (commits) while its client never learns so, as when a connection dies between the server's write and its reply.
   */
  muteReplies(): void;
  /** Listens again on the same port. */
  restore(): Promise<void>;
  close(): Promise<void>;
}

/** Proxies 127.0.0.1:<port> to `target`, piping bytes both ways. */
export async function startTcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  const open = new Set<net.Socket>();
  let accepted = 0;
  let muted = false;
  const server = net.createServer((client) => {
    accepted += 1;
    const upstream = net.connect(target.port, target.host);
    const pair = [client, upstream];
    for (const socket of pair) {
      open.add(socket);
      socket.on('error', () => pair.forEach((s) => s.destroy()));
      socket.on('close', () => {
        open.delete(socket);
        pair.forEach((s) => s.destroy());
      });
    }
    client.pipe(upstream);
    const replies = new Transform({ transform: (chunk: Buffer, _encoding, done) => done(null, muted ? undefined : chunk) });
    upstream.pipe(replies).pipe(client);
  });
  const listen = (port: number) =>
    new Promise<number>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        server.off('error', reject);
        const address = server.address();
        resolve(typeof address === 'object' && address ? address.port : port);
      });
    });
  const stop = () =>
    new Promise<void>((resolve) => {
      if (!server.listening) return resolve();
      server.close(() => resolve());
      for (const socket of open) socket.destroy();
    });
  const port = await listen(0);
  return {
    port,
    get accepted() {
      return accepted;
    },
    cut: async () => {
      await stop();
      muted = false;
    },
    muteReplies: () => {
      muted = true;
    },
    restore: async () => void (await listen(port)),
    close: stop,
  };
}
