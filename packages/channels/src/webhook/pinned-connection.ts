import type { Socket } from 'node:net';
import { Agent, buildConnector } from 'undici';
import type { ResolvedAddress } from './resolve-destination.js';

/** Where the webhook gateway asks a connector to open a socket: the checked address, never a name. */
export interface ConnectTarget {
  /** The checked IP address to connect to. */
  address: string;
  family: 4 | 6;
  port: number;
  protocol: 'http:' | 'https:';
  /** The URL's hostname, for TLS SNI and certificate checks (absent for IP-literal URLs). */
  servername?: string | undefined;
}

/** Opens the socket of a webhook delivery. Injectable so tests can record and redirect connections. */
export type WebhookConnector = (target: ConnectTarget) => Promise<Socket>;

/** The default connector: undici's own TCP/TLS connector, pointed at the checked address. */
export function createDefaultConnector(connectTimeoutMs: number): WebhookConnector {
  const connect = buildConnector({ timeout: connectTimeoutMs });
  return (target) =>
    new Promise<Socket>((resolve, reject) => {
      connect(
        {
          hostname: target.address,
          host: target.address,
          protocol: target.protocol,
          port: String(target.port),
          ...(target.servername ? { servername: target.servername } : {}),
        },
        (error, socket) => (error || !socket ? reject(error ?? new Error('no socket')) : resolve(socket)),
      );
    });
}

/**
 * An undici dispatcher for one delivery whose every connection goes to `destination`, whatever
 * the URL's hostname would resolve to now: DNS rebinding between the check and the connection
 * cannot redirect it. The Host header and TLS name still come from the URL.
 */
export function createPinnedDispatcher(url: URL, destination: ResolvedAddress, connector: WebhookConnector): Agent {
  const protocol = url.protocol === 'https:' ? 'https:' : 'http:';
  const port = url.port ? Number(url.port) : protocol === 'https:' ? 443 : 80;
  const host = url.hostname.startsWith('[') ? undefined : url.hostname;
  const servername = host !== undefined && !/^[\d.]+$/.test(host) ? host : undefined;
  const target: ConnectTarget = { address: destination.address, family: destination.family, port, protocol, ...(servername ? { servername } : {}) };
  return new Agent({
    connections: 1,
    connect: (_options, callback) => {
      connector(target).then(
        (socket) => callback(null, socket),
        (error: unknown) => callback(error instanceof Error ? error : new Error(String(error)), null),
      );
    },
  });
}
