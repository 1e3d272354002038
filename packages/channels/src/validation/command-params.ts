import { AutomationError } from '@crm-automation/core';
import { permanentFailure } from '../outcome/gateway-failure.js';

/** E.164: a plus, a non-zero country digit and up to 14 more digits. */
export const E164_PATTERN = /^\+[1-9]\d{6,14}$/;
// Deliberately simple (one @, no whitespace, quotes, brackets or separators, a dot in the domain):
// the provider does the full check; this one stops header tricks and obvious mistakes.
const EMAIL_PATTERN = /^[^\s@<>()[\]\\,;:"]+@[^\s@<>()[\]\\,;:"]+\.[^\s@<>()[\]\\,;:"]+$/;
const LINE_BREAK = /[\r\n\u2028\u2029\0]/;
export const HEADER_NAME_PATTERN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

export function isE164(value: string): boolean {
  return E164_PATTERN.test(value);
}

export function isEmailAddress(value: string): boolean {
  return value.length <= 320 && EMAIL_PATTERN.test(value);
}

/** True when `value` could end a header line early (CR, LF, NUL, Unicode line separators). */
export function hasLineBreak(value: string): boolean {
  return LINE_BREAK.test(value);
}

export interface SmsFields {
  recipient: string;
  message: string;
}

export interface EmailFields {
  recipient: string;
  subject: string;
  body?: string | undefined;
  html?: string | undefined;
  templateId?: string | undefined;
  templateData?: Record<string, unknown> | undefined;
}

function text(provider: string, params: Record<string, unknown>, field: string, required: boolean): string | undefined {
  const value = params[field];
  if (value === undefined || value === null) {
    if (required) throw permanentFailure(provider, `params.${field} is required`, 'invalid_params');
    return undefined;
  }
  if (typeof value !== 'string') throw permanentFailure(provider, `params.${field} must be a string`, 'invalid_params');
  return value;
}

function singleLine(provider: string, field: string, value: string): string {
  if (hasLineBreak(value)) throw permanentFailure(provider, `params.${field} contains a line break (header injection refused)`, 'header_injection');
  return value;
}

/** Send-time check of SMS params: an E.164 recipient and a non-empty message of at most 1,600 characters. */
export function requireSmsFields(provider: string, params: Record<string, unknown>): SmsFields {
  const recipient = singleLine(provider, 'recipient', text(provider, params, 'recipient', true) ?? '');
  if (!isE164(recipient)) throw permanentFailure(provider, `recipient ${JSON.stringify(recipient.slice(0, 40))} is not an E.164 number such as +15557654321`, 'invalid_recipient');
  const message = text(provider, params, 'message', true) ?? '';
  if (message.trim() === '') throw permanentFailure(provider, 'params.message is empty', 'invalid_params');
  if (message.length > 1_600) throw permanentFailure(provider, `message is ${message.length} characters; the limit is 1600`, 'invalid_params');
  return { recipient, message };
}

/** Send-time check of email params: an address, a single-line subject and something to send. */
export function requireEmailFields(provider: string, params: Record<string, unknown>): EmailFields {
  const recipient = singleLine(provider, 'recipient', text(provider, params, 'recipient', true) ?? '');
  if (!isEmailAddress(recipient)) throw permanentFailure(provider, `recipient ${JSON.stringify(recipient.slice(0, 80))} is not an email address`, 'invalid_recipient');
  const subject = singleLine(provider, 'subject', text(provider, params, 'subject', false) ?? '');
  if (subject.length > 998) throw permanentFailure(provider, 'subject is longer than 998 characters', 'invalid_params');
  const body = text(provider, params, 'body', false);
  const html = text(provider, params, 'html', false);
  const templateId = text(provider, params, 'templateId', false);
  if (templateId !== undefined) singleLine(provider, 'templateId', templateId);
  const data = params['templateData'];
  if (data !== undefined && (typeof data !== 'object' || data === null || Array.isArray(data))) {
    throw permanentFailure(provider, 'params.templateData must be an object', 'invalid_params');
  }
  if (body === undefined && html === undefined && templateId === undefined) {
    throw permanentFailure(provider, 'email needs a body, html or templateId', 'invalid_params');
  }
  return { recipient, subject, body, html, templateId, templateData: data as Record<string, unknown> | undefined };
}

/** Refuses a configured sender address that is not an address or could inject headers. */
export function requireSenderAddress(provider: string, field: string, value: string): string {
  if (hasLineBreak(value) || !isEmailAddress(value)) throw new AutomationError('CRM_ERR_CONFIG', `${provider}: ${field} ${JSON.stringify(value)} is not an email address`);
  return value;
}
