import { checkOptions, optionKeys } from '../config/check-options.js';
import type { ActionCommand, ChannelGateway } from '../ports/gateway.js';

export interface ConsoleChannelsOptions {
  /** Where lines go; defaults to console.log. */
  write?: ((line: string) => void) | undefined;
}

function describe(command: ActionCommand): string {
  const p = command.params;
  switch (command.type) {
    case 'sms':
      return `SMS to ${String(p['recipient'])}: ${String(p['message'])}`;
    case 'email':
      return `Email to ${String(p['recipient'])}: "${String(p['subject'])}"${p['templateId'] ? ` (template ${String(p['templateId'])})` : ''}`;
    case 'webhook':
      return `Webhook ${String(p['method'])} ${String(p['url'])} ${JSON.stringify(p['payload'] ?? null)}`;
    default:
      return `${command.type}: ${JSON.stringify(p)}`;
  }
}

/** Gateways that print each command instead of sending it: for demos and local development. */
export function createConsoleChannels(options: ConsoleChannelsOptions = {}): { sms: ChannelGateway; email: ChannelGateway; webhook: ChannelGateway } {
  checkOptions('createConsoleChannels', options, optionKeys<ConsoleChannelsOptions>()('write'));
  const write = options.write ?? ((line: string) => console.log(line));
  let n = 0;
  const gateway = (): ChannelGateway => ({
    name: 'console',
    async send(command) {
      n += 1;
      write(`  -> ${describe(command)}  [${command.metadata.idempotencyKey}]`);
      return { id: `console_${n}` };
    },
  });
  return { sms: gateway(), email: gateway(), webhook: gateway() };
}
