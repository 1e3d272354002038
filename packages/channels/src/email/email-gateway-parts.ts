import {
  AutomationError,
  checkOptions,
  emailCommandSchema,
  emailRuleParamsSchema,
  hasLineBreak,
  optionKeys,
  type EmailCommandParams,
} from '@crm-automation/core';
import { requireSenderAddress, requireValidCommand } from '../validation/command-params.js';

/*
 * What every email gateway (SendGrid, SMTP) checks alike: its configured sender, the schemas it
 * declares and the send-time check of a rendered command. Only the transport differs between them.
 */

/** A sender: an address, or an address with a display name. */
export type EmailSender = string | { email: string; name?: string | undefined };

const SENDER_KEYS = optionKeys<Exclude<EmailSender, string>>()('email', 'name');

/** Normalizes and checks a configured sender. */
export function senderOf(provider: string, from: EmailSender, factory: string = provider): { email: string; name?: string } {
  if (typeof from !== 'string') checkOptions(`${factory}: from`, from, SENDER_KEYS, true);
  const sender = typeof from === 'string' ? { email: from } : from;
  requireSenderAddress(provider, 'from', sender.email);
  if (sender.name !== undefined && (typeof sender.name !== 'string' || hasLineBreak(sender.name))) {
    throw new AutomationError('CRM_ERR_CONFIG', `${provider}: from.name contains a line break`);
  }
  return sender.name === undefined ? { email: sender.email } : { email: sender.email, name: sender.name };
}

/** The schemas an email gateway declares: rule params at save time, rendered commands at send time. */
export const emailGatewaySchemas = { paramsSchema: emailRuleParamsSchema, commandSchema: emailCommandSchema } as const;

/** A rendered email command's params, checked against the command schema (a permanent failure when not valid). */
export function validEmailCommand(provider: string, params: unknown): EmailCommandParams {
  requireValidCommand(provider, emailCommandSchema, params);
  return params as EmailCommandParams;
}
