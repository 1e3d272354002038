export { startTcpProxy, type TcpProxy } from '@crm-automation/testing';

/** The host and port of a single-host `mongodb://` URI, and that URI pointed at 127.0.0.1:`port` instead. */
export function singleHostUri(uri: string): { host: string; port: number; via(port: number): string } {
  const match = /^mongodb:\/\/(?<auth>[^@/]*@)?(?<host>\[[^\]]+\]|[^:/,?]+)(?::(?<port>\d+))?(?<rest>[/?].*)?$/.exec(uri);
  if (!match?.groups) throw new Error('the outage test needs a single-host mongodb:// URI (not mongodb+srv, not a host list), to put a proxy in front of it');
  const { auth = '', host = '127.0.0.1', port = '27017', rest = '/' } = match.groups;
  const [path = '/', query = ''] = rest.split('?', 2);
  // directConnection: the driver must keep talking to the proxy, not to the hosts the server names.
  const params = new URLSearchParams(query);
  params.set('directConnection', 'true');
  return { host: host.replace(/^\[|\]$/g, ''), port: Number(port), via: (proxyPort) => `mongodb://${auth}127.0.0.1:${proxyPort}${path || '/'}?${params.toString()}` };
}
