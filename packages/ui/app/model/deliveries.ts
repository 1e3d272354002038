import { ApiError } from '../api/client.js';
import type { Delivery, DeliveryEvent, DeliveryResolution, DeliveryState } from '../api/types.js';

/** Words for each state, so that a colour never carries the meaning alone. */
export const DELIVERY_STATE_LABELS: Record<DeliveryState, string> = {
  intent: 'Sending',
  accepted: 'Accepted',
  refused: 'Refused',
  unknown: 'Unknown',
  delivered: 'Delivered',
  undelivered: 'Undelivered',
  bounced: 'Bounced',
  failed: 'Failed',
  abandoned: 'Abandoned',
};

/** What each state means to someone reading the run. */
const STATE_MEANINGS: Record<DeliveryState, string> = {
  intent: 'Being sent: the provider has not answered yet.',
  accepted: 'The provider took the message; its receipts may still say whether it was delivered.',
  refused: 'The provider refused the message.',
  unknown: 'It may have reached the provider, but no answer says so (a timeout, or a send cut short). It is not sent again on its own.',
  delivered: 'The provider reports it delivered.',
  undelivered: 'The provider reports it could not be delivered.',
  bounced: "The recipient's server bounced it.",
  failed: 'The provider reports it failed after accepting it.',
  abandoned: 'Given up by an operator, who asked for the action to be sent again.',
};

export type DeliveryTone = 'success' | 'danger' | 'warning' | 'neutral' | 'progress';

const TONES: Record<DeliveryState, DeliveryTone> = {
  intent: 'progress',
  accepted: 'success',
  delivered: 'success',
  refused: 'danger',
  undelivered: 'danger',
  bounced: 'danger',
  failed: 'danger',
  unknown: 'warning',
  abandoned: 'neutral',
};

export const deliveryTone = (state: DeliveryState): DeliveryTone => TONES[state];

export const deliveryMeaning = (state: DeliveryState): string => STATE_MEANINGS[state];

const SOURCES: Record<DeliveryEvent['source'], string> = {
  engine: 'the engine',
  receipt: 'a provider receipt',
  operator: 'an operator',
  reconcile: 'the engine at start-up',
};

/**
 * One line of a delivery's timeline: what happened and who said so, with the provider's status word,
 * the operator's name and note or the error code (`detail`) when there is one.
 */
export function deliveryEventText(event: DeliveryEvent): string {
  const what = DELIVERY_STATE_LABELS[event.state];
  return `${what}, by ${SOURCES[event.source]}${event.detail ? ` (${event.detail})` : ''}`;
}

/** Only a send whose outcome is unknown waits for an operator; any other state has its answer. */
export const canResolve = (delivery: Delivery): boolean => delivery.state === 'unknown';

/** What the user is asked to confirm before a resend: the recipient may get the message twice. */
export function resendConfirmation(delivery: Delivery, actionLabel: string): string {
  const to = delivery.recipient ? ` to ${delivery.recipient}` : '';
  return `Send this ${actionLabel}${to} again? If ${delivery.provider} did take the first one, the recipient gets it twice.`;
}

/** What the screen says once a resolution was accepted. */
export function resolvedText(resolution: DeliveryResolution['as']): string {
  return resolution === 'sent' ? 'Marked as sent.' : 'The action will be sent again now.';
}

/** Why a resolution failed, in the user's terms (the API's message otherwise). */
export function resolveFailureText(error: unknown, resolution: DeliveryResolution['as']): string {
  if (!(error instanceof ApiError)) return 'Something went wrong. Try again.';
  if (error.status === 403) return 'Your API key cannot change runs (it lacks the triggers:write scope).';
  if (error.code === 'CRM_ERR_HTTP_DELIVERY_STATE') return `It has an outcome already, so it was not ${resolution === 'sent' ? 'marked as sent' : 'sent again'}.`;
  if (error.code === 'CRM_ERR_TRIGGER_STATE') return 'The run is still going: send it again once it has finished.';
  if (error.status === 404) return 'This send no longer exists (it may have been purged).';
  return error.message;
}
