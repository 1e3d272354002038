export { startTcpProxy, type TcpProxy } from '@crm-automation/testing';

/** `postgres://...` pointed at 127.0.0.1:`port` instead of its host, and the host and port it named. */
export function proxiedUrl(url: string): { host: string; port: number; via(port: number): string } {
  const parsed = new URL(url);
  const host = parsed.hostname.replace(/^\[|\]$/g, '');
  const port = Number(parsed.port || 5432);
  return {
    host,
    port,
    via: (proxyPort) => {
      const copy = new URL(url);
      copy.hostname = '127.0.0.1';
      copy.port = String(proxyPort);
      return copy.toString();
    },
  };
}
