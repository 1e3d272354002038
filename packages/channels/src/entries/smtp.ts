import { createTransport } from 'nodemailer';
import { smtpEmailGateway, type ClosableChannelGateway, type SmtpEmailOptions } from '../email/smtp-email.js';

export type { SmtpEmailOptions, RenderedEmail, ClosableChannelGateway } from '../email/smtp-email.js';

/**
 * Email through your own SMTP server with nodemailer (an optional peer: `npm install nodemailer`),
 * for teams that self-host mail. The Message-ID is derived from the idempotency key, so a resent
 * command carries the same Message-ID and receiving systems that de-duplicate by it show it once;
 * the key also travels as the `X-Automation-Idempotency-Key` header. 4xx replies and connection
 * failures are transient, 5xx permanent.
 *
 * @example
 * import { createSmtpEmail } from '@crm-automation/channels/smtp';
 * const email = createSmtpEmail({ host: 'smtp.internal', port: 587, auth: { user, pass }, from: 'crm@example.com' });
 */
export function createSmtpEmail(options: SmtpEmailOptions): ClosableChannelGateway {
  return smtpEmailGateway(createTransport, options);
}
