import { createPrivateKey, sign, type KeyObject } from 'node:crypto';
import type { Logger } from 'pino';
import { twilioSignature } from './twilio-signature.js';

/** A receipt the stand-ins posted, and what the receiver answered (`GET /received`). */
export interface PostedReceipt {
  provider: 'twilio' | 'sendgrid';
  /** The Twilio status, or the SendGrid events of the batch. */
  status: string;
  /** The message SID or X-Message-Id it is about. */
  messageId: string;
  url: string;
  answer: number | 'unreachable';
  at: string;
}

/**
 * Posts delivery receipts the way the providers do, after a message is accepted: Twilio status
 * callbacks to the message's `StatusCallback` (form-encoded, `X-Twilio-Signature`), SendGrid Event
 * Webhook batches to the configured URL (JSON, ECDSA P-256 signature over timestamp + body).
 * Failures are logged and recorded, never retried (a provider would retry; tests read the log).
 */
export function receiptPoster(options: {
  twilioAuthToken: string;
  twilioAccountSid: string;
  /** Where SendGrid posts events, and its signing key (PKCS#8 PEM of a P-256 key); without both, none are posted. */
  sendgridWebhookUrl?: string | undefined;
  sendgridSigningKey?: string | undefined;
  logger: Logger;
  record: (receipt: PostedReceipt) => void;
}) {
  const signingKey: KeyObject | undefined = options.sendgridSigningKey ? createPrivateKey(options.sendgridSigningKey) : undefined;
  const post = async (receipt: Omit<PostedReceipt, 'answer' | 'at'>, init: RequestInit) => {
    let answer: PostedReceipt['answer'];
    try {
      const response = await fetch(receipt.url, { method: 'POST', ...init, signal: AbortSignal.timeout(5_000) });
      await response.arrayBuffer();
      answer = response.status;
    } catch {
      answer = 'unreachable';
    }
    options.record({ ...receipt, answer, at: new Date().toISOString() });
    options.logger.info({ provider: receipt.provider, status: receipt.status, messageId: receipt.messageId, answer }, 'receipt posted');
  };

  return {
    /** Twilio's status callbacks for one message, one after another. */
    async twilio(message: { sid: string; to: string; from: string; statusCallback: string }, statuses: readonly string[]): Promise<void> {
      for (const status of statuses) {
        const form = new URLSearchParams({
          AccountSid: options.twilioAccountSid,
          ApiVersion: '2010-04-01',
          From: message.from,
          MessageSid: message.sid,
          MessageStatus: status,
          SmsSid: message.sid,
          SmsStatus: status,
          To: message.to,
          ...(status === 'undelivered' || status === 'failed' ? { ErrorCode: '30003' } : {}),
        });
        await post(
          { provider: 'twilio', status, messageId: message.sid, url: message.statusCallback },
          { headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': twilioSignature(options.twilioAuthToken, message.statusCallback, form) }, body: form.toString() },
        );
      }
    },
    /** One Event Webhook batch for one mail: an event per name, its custom args at the top level as SendGrid sends them. */
    async sendgrid(mail: { messageId: string; to: string; customArgs: Record<string, string> }, events: readonly string[]): Promise<void> {
      const url = options.sendgridWebhookUrl;
      if (!url || !signingKey || events.length === 0) return;
      const timestamp = Math.floor(Date.now() / 1000);
      const body = JSON.stringify(
        events.map((event, i) => ({ ...mail.customArgs, email: mail.to, timestamp, event, sg_event_id: `${mail.messageId}-${i}`, sg_message_id: `${mail.messageId}.filter0001-1-1` })),
      );
      const signature = sign('sha256', Buffer.from(`${timestamp}${body}`), signingKey).toString('base64');
      await post(
        { provider: 'sendgrid', status: events.join(','), messageId: mail.messageId, url },
        { headers: { 'content-type': 'application/json', 'x-twilio-email-event-webhook-signature': signature, 'x-twilio-email-event-webhook-timestamp': String(timestamp) }, body },
      );
    },
  };
}
