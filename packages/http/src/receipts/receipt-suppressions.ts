import { AutomationError } from '@crm-automation/core';
import type { Suppression } from './receipt-routes.js';
import type { SuppressionLedgerReason, SuppressionLedgerSource, SuppressionWriter } from './suppression-writer.js';

export interface ReceiptSuppressionsOptions {
  /** Told of notices that name no account or recipient, which cannot be written. */
  onUnwritable?: ((notice: Suppression, why: 'no-account' | 'no-recipient') => void) | undefined;
}

/** Twilio's "Attempt to send to unsubscribed recipient": the number replied STOP to Twilio itself. */
const TWILIO_OPTED_OUT = '21610';

/** The ledger's reason and source for a receipt's notice, or undefined when it is not a reason to stop writing. */
export function ledgerReasonOf(notice: Pick<Suppression, 'reason' | 'detail'>): { reason: SuppressionLedgerReason; source: SuppressionLedgerSource } | undefined {
  switch (notice.reason) {
    case 'bounce':
      return { reason: 'bounce', source: 'email-event' };
    case 'spamreport':
      return { reason: 'spam-report', source: 'email-event' };
    case 'unsubscribe':
    case 'group_unsubscribe':
      return { reason: 'unsubscribe', source: 'email-event' };
    case 'undelivered':
      // Other undelivered codes (an unreachable handset, a carrier filter) say nothing of consent.
      return notice.detail?.trim() === TWILIO_OPTED_OUT ? { reason: 'provider-opt-out', source: 'provider-error' } : undefined;
    default:
      return undefined;
  }
}

/**
 * The receipt routes' `onSuppression` hook, writing to a suppression list (`engine.suppressions`):
 * a hard bounce → `bounce`, a spam report → `spam-report`, an unsubscribe or group unsubscribe →
 * `unsubscribe` (source `email-event`), an undelivered text with Twilio error 21610 →
 * `provider-opt-out` (source `provider-error`); anything else is left alone. `by` is the provider,
 * `detail` the provider's code or reason and the delivery id. A notice without an account or a
 * recipient cannot be written and goes to `onUnwritable`. A failed write rejects (the routes log it).
 *
 * @example
 * await app.register(receiptRoutes, { deliveries: engine.deliveries, sendgrid: { publicKey }, onSuppression: suppressionsFromReceipts(engine.suppressions) });
 */
export function suppressionsFromReceipts(list: Pick<SuppressionWriter, 'add'>, options: ReceiptSuppressionsOptions = {}): (notice: Suppression) => Promise<void> {
  if (typeof list?.add !== 'function') throw new AutomationError('CRM_ERR_CONFIG', 'suppressionsFromReceipts needs a suppression list with add: engine.suppressions, or a client with add');
  return async (notice) => {
    const meaning = ledgerReasonOf(notice);
    if (!meaning) return;
    if (notice.accountId === undefined || notice.accountId === '') return options.onUnwritable?.(notice, 'no-account');
    if (notice.recipient === undefined || notice.recipient === '') return options.onUnwritable?.(notice, 'no-recipient');
    const detail = [notice.detail, notice.deliveryId === undefined ? undefined : `delivery ${notice.deliveryId}`].filter((part): part is string => part !== undefined && part !== '').join('; ');
    await list.add(notice.accountId, {
      channel: notice.channel,
      recipient: notice.recipient,
      reason: meaning.reason,
      source: meaning.source,
      by: notice.provider,
      ...(detail === '' ? {} : { detail }),
    });
  };
}
