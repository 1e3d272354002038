import { createConsoleChannels, type ChannelGateway } from '@crm-automation/core';
import { createSendgridEmail, createTwilioSms, createWebhook } from '@crm-automation/channels';
import type { AppConfig } from './app-config.js';

/**
 * The gateways by action type: Twilio, SendGrid and real webhooks where configured, the console
 * elsewhere, so the app runs with no accounts at all and each channel can be switched on alone.
 */
export function appGateways(config: AppConfig, write: (line: string) => void): { channels: Record<string, ChannelGateway>; describe: Record<string, string> } {
  const console = createConsoleChannels({ write });
  const sms =
    config.TWILIO_ACCOUNT_SID && config.TWILIO_AUTH_TOKEN && config.TWILIO_FROM
      ? createTwilioSms({
          accountSid: config.TWILIO_ACCOUNT_SID,
          authToken: config.TWILIO_AUTH_TOKEN,
          from: config.TWILIO_FROM,
          baseUrl: config.TWILIO_BASE_URL,
          // Twilio reports each message's fate to the app's receipt routes (see appReceipts).
          statusCallback: config.PUBLIC_URL ? `${config.PUBLIC_URL.replace(/\/+$/, '')}/receipts/twilio` : undefined,
        })
      : console.sms;
  const email =
    config.SENDGRID_API_KEY && config.SENDGRID_FROM
      ? createSendgridEmail({ apiKey: config.SENDGRID_API_KEY, from: config.SENDGRID_FROM, baseUrl: config.SENDGRID_BASE_URL })
      : console.email;
  // The configuration guarantees a secret, or WEBHOOK_UNSIGNED=true said out loud.
  const webhook =
    config.WEBHOOKS === 'real'
      ? createWebhook(config.WEBHOOK_SIGNING_SECRET ? { signingSecret: config.WEBHOOK_SIGNING_SECRET, allowHosts: config.WEBHOOK_ALLOW_HOSTS } : { unsigned: true, allowHosts: config.WEBHOOK_ALLOW_HOSTS })
      : console.webhook;
  return {
    channels: { sms, email, webhook },
    describe: { sms: sms === console.sms ? 'console' : 'twilio', email: email === console.email ? 'console' : 'sendgrid', webhook: webhook === console.webhook ? 'console' : 'webhook' },
  };
}
