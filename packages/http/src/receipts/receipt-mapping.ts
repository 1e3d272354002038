import type { DeliveryReceipt } from '@crm-automation/core';

type ReceiptState = DeliveryReceipt['state'];

/**
 * Twilio's `MessageStatus` as a delivery state. `queued`, `accepted`, `scheduled`, `sending` and
 * `sent` mean Twilio (or the carrier) has it; `delivered` and `read` that the handset has it;
 * `undelivered` and `failed` that it never arrived. Inbound statuses (`receiving`, `received`) and
 * anything unknown are ignored.
 */
export function twilioReceiptState(status: string): ReceiptState | undefined {
  switch (status) {
    case 'queued':
    case 'accepted':
    case 'scheduled':
    case 'sending':
    case 'sent':
      return 'accepted';
    case 'delivered':
    case 'read':
      return 'delivered';
    case 'undelivered':
      return 'undelivered';
    case 'failed':
    case 'canceled':
      return 'failed';
    default:
      return undefined;
  }
}

/** Why a recipient should not be written to again, as a receipt tells it. */
export type SuppressionReason = 'bounce' | 'undelivered' | 'spamreport' | 'unsubscribe' | 'group_unsubscribe';

/**
 * A SendGrid Event Webhook event as a delivery state or a suppression: `processed` → accepted,
 * `delivered` → delivered, `bounce` → bounced, `dropped` → failed; `spamreport`, `unsubscribe` and
 * `group_unsubscribe` are suppressions (the message itself arrived); `deferred`, opens, clicks and
 * anything unknown are ignored.
 */
export function sendgridEventMeaning(event: string): { state: ReceiptState } | { suppression: SuppressionReason } | undefined {
  switch (event) {
    case 'processed':
      return { state: 'accepted' };
    case 'delivered':
      return { state: 'delivered' };
    case 'bounce':
      return { state: 'bounced' };
    case 'dropped':
      return { state: 'failed' };
    case 'spamreport':
    case 'unsubscribe':
    case 'group_unsubscribe':
      return { suppression: event };
    default:
      return undefined;
  }
}

/** SendGrid's `sg_message_id` is the `X-Message-Id` of the send followed by `.filter...`. */
export function sendgridMessageId(sgMessageId: string): string {
  const dot = sgMessageId.indexOf('.');
  return dot === -1 ? sgMessageId : sgMessageId.slice(0, dot);
}
