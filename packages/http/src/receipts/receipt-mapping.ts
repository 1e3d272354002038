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
 * `delivered` → delivered, `open` and `click` → delivered too (the recipient has the message, as with
 * Twilio's `read`; the ledger moves forward only, so they never undo a bounce), `bounce` → bounced,
 * `dropped` → failed; `spamreport`, `unsubscribe` and `group_unsubscribe` are suppressions (the
 * message itself arrived); `deferred` (SendGrid still trying), `group_resubscribe` and anything
 * unknown are ignored.
 */
export function sendgridEventMeaning(event: string): { state: ReceiptState } | { suppression: SuppressionReason } | undefined {
  switch (event) {
    case 'processed':
      return { state: 'accepted' };
    case 'delivered':
    case 'open':
    case 'click':
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

/** Where SendGrid's own suffix starts in an `sg_message_id` (`.filterdrecv-...`, `.filter0001...`, `.recvd-...`). */
const SENDGRID_SUFFIX = /\.(?:filter|recvd)/i;

/**
 * The `X-Message-Id` of the send an `sg_message_id` is about: SendGrid's value is that id followed by
 * `.filter...` (or `.recvd...`). The id itself may hold dots (older ids look like
 * `14c5d75ce93.dfd.64b469`), so the cut is at SendGrid's suffix; without one, the whole value.
 */
export function sendgridMessageId(sgMessageId: string): string {
  const suffix = SENDGRID_SUFFIX.exec(sgMessageId);
  return suffix ? sgMessageId.slice(0, suffix.index) : sgMessageId;
}

/**
 * Every `X-Message-Id` an `sg_message_id` may stand for, the likeliest first: cut at SendGrid's
 * suffix, then at the first dot (a suffix of a form not seen yet), then the whole value.
 */
export function sendgridMessageIdCandidates(sgMessageId: string): string[] {
  const dot = sgMessageId.indexOf('.');
  return [...new Set([sendgridMessageId(sgMessageId), dot === -1 ? sgMessageId : sgMessageId.slice(0, dot), sgMessageId])].filter((id) => id !== '');
}
