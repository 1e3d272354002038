import { z } from 'zod';
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
