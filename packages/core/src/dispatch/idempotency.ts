import { checkOptions, optionKeys } from '../config/check-options.js';
import { AutomationError } from '../errors.js';
import type { ActionCommand, ChannelGateway } from '../ports/gateway.js';
import type { IdempotencyStore } from '../ports/idempotency.js';

export interface IdempotencyOptions {
  /** How long a reservation blocks other senders if its holder dies mid-send. */
  lockMs?: number | undefined;
  /** How long a sent key is remembered. */
  ttlMs?: number | undefined;
}

export const DEFAULT_IDEMPOTENCY_LOCK_MS = 60_000;
export const DEFAULT_IDEMPOTENCY_TTL_MS = 7 * 86_400_000;

/** The key of a command: `metadata.idempotencyKey`, else `triggerId:actionIndex`. */
export function idempotencyKeyOf(command: ActionCommand): string {
  const m = command.metadata;
  return m.idempotencyKey || `${m.triggerId}:${m.actionIndex}`;
}

/**
 * Wraps a gateway so each idempotency key reaches the provider at most once while remembered: a key
 * already sent returns the stored result; a key held by another sender fails as transient, so the
 * caller retries later and then sees the stored result.
 *
 * Remaining window: a process that dies after the provider accepted the command but before
 * `complete` leaves the key reserved until `lockMs` passes; the retry then sends again. Gateways that
 * accept a provider-side idempotency key (webhook-id, SendGrid custom args) narrow that window further.
 */
export function withIdempotency<G extends ChannelGateway>(gateway: G, store: IdempotencyStore, options: IdempotencyOptions = {}): G {
  checkOptions('withIdempotency', options, optionKeys<IdempotencyOptions>()('lockMs', 'ttlMs'));
  const lockMs = options.lockMs ?? DEFAULT_IDEMPOTENCY_LOCK_MS;
  const ttlMs = options.ttlMs ?? DEFAULT_IDEMPOTENCY_TTL_MS;
  const wrapped: ChannelGateway = {
    ...gateway,
    async send(command, context) {
      const key = idempotencyKeyOf(command);
      const reservation = await store.acquire(key, lockMs);
      if (reservation.state === 'done') return reservation.result;
      if (reservation.state === 'in-flight') {
        throw new AutomationError('CRM_ERR_IDEMPOTENCY_IN_FLIGHT', `command ${key} is being sent by another worker`, { retryable: true });
      }
      let result: unknown;
      try {
        result = await gateway.send(command, context);
      } catch (error) {
        await store.release(key).catch(() => {});
        throw error;
      }
      // The provider accepted it: a failure to record must not turn into a resend. The engine also
      // records sent actions on the trigger, so only the lock's expiry window remains exposed.
      await store.complete(key, result ?? null, ttlMs).catch(() => undefined);
      return result;
    },
  };
  return wrapped as G;
}
