import type { Logger } from '@crm-automation/core';
import type { ReceiptRoutesOptions } from '@crm-automation/http';
import type { AppConfig } from './app-config.js';

/**
 * The receipt routes' options for the configured providers, or undefined when none sends for real:
 * Twilio status callbacks (signed with the auth token, checked against PUBLIC_URL or, without it, the
 * request's own URL) and SendGrid's Event Webhook (with SENDGRID_WEBHOOK_PUBLIC_KEY). Bounces and
 * undelivered messages are logged as suppressions: the hook a contact policy would take.
 */
export function appReceipts(config: AppConfig, deliveries: ReceiptRoutesOptions['deliveries'], logger: Logger): ReceiptRoutesOptions | undefined {
  const twilio = config.TWILIO_ACCOUNT_SID && config.TWILIO_AUTH_TOKEN && config.TWILIO_FROM ? { authToken: config.TWILIO_AUTH_TOKEN, publicUrl: config.PUBLIC_URL } : undefined;
  const sendgrid = config.SENDGRID_WEBHOOK_PUBLIC_KEY ? { publicKey: config.SENDGRID_WEBHOOK_PUBLIC_KEY } : undefined;
  if (!twilio && !sendgrid) return undefined;
  return {
    deliveries,
    twilio,
    sendgrid,
    logger,
    onSuppression: (s) =>
      logger.warn({ accountId: s.accountId, channel: s.channel, provider: s.provider, reason: s.reason, deliveryId: s.deliveryId, detail: s.detail }, 'recipient to suppress (a receipt says so)'),
  };
}
