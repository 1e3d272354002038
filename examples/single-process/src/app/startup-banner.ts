/** What a person starting the app needs first: where it is, where the UI is, and the key to use. */
export interface StartupBannerInput {
  /** The address the server listens on, as Fastify reports it. */
  host: string;
  port: number;
  /** Whether the Management UI's app is built (else /ui says how to build it). */
  uiBuilt: boolean;
  /** The development key, when there is one: made up now, or given by DEV_API_KEY. */
  devKey?: { accountId: string; key: string; fromEnv: boolean } | undefined;
}

/** The command that starts this app, as its README gives it. */
export const APP_COMMAND = 'npm run app -w @crm-automation/example-single-process';

/** A wildcard address is not one a browser can open; the loopback one reaches the same server. */
function browsable(host: string): string {
  if (host === '' || host === '0.0.0.0') return '127.0.0.1';
  if (host === '::') return '[::1]';
  return host.includes(':') ? `[${host}]` : host;
}

/**
 * The lines printed once the server listens: its address, the Management UI's (and how to build it
 * when it is not), and the development key with how to keep it across restarts, since a made-up key
 * changes on every start and a browser tab signed in with it stops working.
 */
export function startupBanner(input: StartupBannerInput): string {
  const base = `http://${browsable(input.host)}:${input.port}`;
  const lines = [`listening on ${base}`, `Management UI:  ${base}/ui/${input.uiBuilt ? '' : '   (not built yet: npm run build -w @crm-automation/ui, then restart)'}`];
  if (input.devKey) {
    const { accountId, key, fromEnv } = input.devKey;
    lines.push(`API key for account ${accountId} (development${fromEnv ? ', from DEV_API_KEY' : ''}):  ${key}`);
    if (!fromEnv) lines.push(`A new key is made up on every start; to keep this one:  DEV_API_KEY=${key} ${APP_COMMAND}`);
  }
  return `\n${lines.map((line) => `  ${line}`).join('\n')}\n\n`;
}
