import { z } from 'zod';
import { hasLineBreak, isE164, MAX_EMAIL_LENGTH } from './contact-points.js';
import { recipientField, renderedRecipient, templateString } from './fields.js';

/** Longest SMS body (10 concatenated segments), rendered or as a template. */
export const MAX_SMS_LENGTH = 1_600;

const notBlank = (s: string) => s.trim().length > 0;

/** `params` of an `sms` action in a rule: templates allowed. */
export const smsRuleParamsSchema = z.strictObject({
  recipient: recipientField('sms'),
  message: templateString(MAX_SMS_LENGTH).refine(notBlank, 'message must not be empty'),
});

/** `params` of a rendered `sms` command, as gateways and the Notification Service receive them. */
export const smsCommandSchema = z.strictObject({
  recipient: renderedRecipient('sms'),
  message: z.string().max(MAX_SMS_LENGTH).refine(notBlank, 'message must not be empty'),
});

/**
 * True only for params {@link smsCommandSchema} accepts (a plain object of exactly a single-line E.164
 * `recipient` and a non-blank `message` within length), checked without zod: rendering checks every
 * command it sends, and zod's parse was a few percent of the in-memory fire path. Anything else, valid
 * or not, is for the schema to decide (and word the issues of).
 */
export function isPlainValidSmsCommand(params: unknown): boolean {
  if (typeof params !== 'object' || params === null || Object.getPrototypeOf(params) !== Object.prototype) return false;
  const keys = Object.keys(params);
  if (keys.length !== 2) return false;
  const { recipient, message } = params as { recipient?: unknown; message?: unknown };
  return (
    typeof recipient === 'string' &&
    typeof message === 'string' &&
    Object.prototype.hasOwnProperty.call(params, 'recipient') &&
    Object.prototype.hasOwnProperty.call(params, 'message') &&
    recipient.length <= MAX_EMAIL_LENGTH &&
    !hasLineBreak(recipient) &&
    isE164(recipient) &&
    message.length <= MAX_SMS_LENGTH &&
    notBlank(message)
  );
}
